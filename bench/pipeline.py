"""Quorum's hot path against bare aiokafka and faust, on one broker and one generated input.

    .venv/bin/python -m bench.pipeline [--events 600000] [--repeats 3] [--rate-fraction 0.5]

Per repeat (fresh topic prefix, the variants interleaved in a rotating order):

* ``bare``        baseline A: a bare aiokafka getmany loop, one output per input, no work;
* ``faust-send``  baseline B: a faust agent, ``async for value in stream`` + ``await send``;
* ``faust-count`` a faust agent that only counts;
* ``quorum``      ``quorum worker`` on the same backlog; rate of ``<prefix>.task-quality``.

All of them read the same N events from ``<prefix>.annotations`` (4 partitions), filled
before the variants start (the faust variants only the first ``--faust-events``).
Throughput is measured from outside for the variants that produce (the output topic's
end offsets, polled every 20 ms: first output -> N-th output) and from inside for
``faust-count`` (first event -> N-th event). Then the latency run: a fresh prefix, an
idle worker, events produced at ``rate-fraction`` x Quorum's median max rate for
``--latency-seconds``, ``--latency-repeats`` times (``bench.latency`` with the Java load
generator: latency from the broker's append times of the input's due time and of its
task-quality event; ``--latency-producer python`` for the older in-process generator and
reader). Results: a table on stdout and ``bench/results/pipeline-<time>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import platform
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from redis.asyncio import Redis

from bench.events import Event, generate, now_iso
from bench.java_producer import describe_pauses
from bench.pacing import paced_batches
from streams import native, topics
from streams.infra import kafka_pid
from streams.kafka import ensure_topics, plain_producer
from streams.operations import delete_keys
from streams.settings import REPO_ROOT, Settings
from streams.state.keys import Keys
from streams.worker_process import free_port

RESULTS = Path(__file__).resolve().parent / "results"
PYTHON = sys.executable
VARIANTS = ("bare", "faust-send", "faust-count", "quorum")
POLL_S = 0.02
# A broker younger than this gets one uncounted latency run before the repeats.
_BROKER_WARM_S = 600.0
_BROKER_WARM_UP_RUN_S = 30.0  # at least; shorter runs left it at 0.5 cores


class _BrokerErrors(logging.Handler):
    """Counts connection errors logged by aiokafka in this process (a broker restart)."""

    count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR and "onnect" in record.getMessage():
            _BrokerErrors.count += 1


logging.getLogger("aiokafka").addHandler(_BrokerErrors())
DISTURBANCE_MARKERS = (b"Connection at 127.0.0.1", b"Connect call failed",
                       b"Unable connect to node")


def disturbed_logs(logdir: Path) -> list[str]:
    """Child logs of this repeat that show the broker going away."""
    hits = []
    for path in sorted(logdir.glob("*.log")):
        data = path.read_bytes()
        if any(m in data for m in DISTURBANCE_MARKERS):
            hits.append(path.name)
    return hits


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


@dataclass
class Child:
    """A child process in its own process group; killed with the whole group."""

    name: str
    proc: asyncio.subprocess.Process
    stderr_path: Path
    result_path: Path

    async def result(self, timeout: float) -> dict[str, Any] | None:
        """The JSON the child writes to its result file, once it is there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.result_path.exists():
                return json.loads(self.result_path.read_text())
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(POLL_S)
        return json.loads(self.result_path.read_text()) if self.result_path.exists() else None

    async def stop(self) -> None:
        if self.proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()


CHILDREN: list[Child] = []


async def spawn(name: str, argv: list[str], env: dict[str, str], logdir: Path) -> Child:
    logdir.mkdir(parents=True, exist_ok=True)
    err = logdir / f"{name}.log"
    result = logdir / f"{name}.result.json"
    result.unlink(missing_ok=True)
    if argv[1:3] == ["-m", "bench.children"]:
        argv = [*argv, "--result", str(result)]
    with err.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, cwd=str(REPO_ROOT), stdin=asyncio.subprocess.DEVNULL,
            stdout=stderr, stderr=stderr, start_new_session=True,
        )
    child = Child(name, proc, err, result)
    CHILDREN.append(child)
    return child


def kill_all_children() -> None:
    """Last resort (exit path): SIGKILL every child's process group still alive."""
    for child in CHILDREN:
        if child.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.proc.pid, signal.SIGKILL)


# --------------------------------------------------------------------------- cpu


def _proc_cpu(pid: int) -> float | None:
    """User + system CPU seconds of one process, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _process_age_s(pid: int) -> float | None:
    """Seconds since the process started, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except OSError:
        return None
    return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds used by the worker, this process, the broker and Redis between marks."""

    def __init__(self, redis_url: str, worker_pid: int | None) -> None:
        self.redis_url = redis_url
        self.worker_pid = worker_pid
        self.kafka_pid = kafka_pid(Settings())
        self.marks: list[tuple[float, dict[str, float | None]]] = []

    async def mark(self) -> None:
        redis = Redis.from_url(self.redis_url)
        try:
            info = await redis.info("cpu")
            redis_cpu = float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        except Exception:
            redis_cpu = None
        finally:
            await redis.aclose()
        self.marks.append((time.perf_counter(), {
            "worker": _proc_cpu(self.worker_pid) if self.worker_pid else None,
            "bench": time.process_time(),
            "kafka": _proc_cpu(self.kafka_pid) if self.kafka_pid else None,
            "redis": redis_cpu,
        }))

    def cores(self, digits: int = 2) -> dict[str, float | None]:
        """Average cores used by each between the first and the last mark."""
        if len(self.marks) < 2:
            return {}
        (t0, a), (t1, b) = self.marks[0], self.marks[-1]
        cores: dict[str, float | None] = {}
        for k, start in a.items():
            end = b[k]
            cores[k] = (None if start is None or end is None
                        else round((end - start) / (t1 - t0), digits))
        return cores


# --------------------------------------------------------------------------- kafka helpers


async def create_topics(bootstrap: str, names: list[str], partitions: int = 4) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        new = [NewTopic(n, num_partitions=partitions, replication_factor=1)
               for n in names if n not in existing]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()


async def delete_run_topics(bootstrap: str, run: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        doomed = [t for t in await admin.list_topics() if t.startswith(run)]
        if doomed:
            await admin.delete_topics(doomed)
        return len(doomed)
    finally:
        await admin.close()


async def delete_run_keys(redis_url: str, run: str) -> int:
    return await delete_keys(redis_url, f"{run}*")


async def fill(settings: Settings, events: list[Event]) -> float:
    """Produce the backlog to ``<prefix>.annotations``; return the seconds it took."""
    producer = plain_producer(settings)
    await producer.start()
    topic = settings.topic(topics.ANNOTATIONS)
    started = time.perf_counter()
    try:
        for start in range(0, len(events), 5000):
            futures = [await producer.send(topic, value=e.encode(), key=e.key)
                       for e in events[start:start + 5000]]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.perf_counter() - started


class EndOffsets:
    """Polls a topic's end offsets: how many messages it holds, cheaply, from outside."""

    def __init__(self, bootstrap: str, topic: str, partitions: int = 4) -> None:
        self.topic = topic
        self.partitions = partitions
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                         enable_auto_commit=False)
        self.tps: list[TopicPartition] = []

    async def start(self) -> None:
        await self.consumer.start()
        self.tps = [TopicPartition(self.topic, p) for p in range(self.partitions)]

    async def count(self) -> int:
        """Messages in the topic; retried for up to 30 s (a new topic's metadata, a hiccup)."""
        deadline = time.monotonic() + 30
        while True:
            try:
                ends = await asyncio.wait_for(self.consumer.end_offsets(self.tps), 10)
                return sum(ends.values())
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        await self.consumer.stop()

    async def watch(self, n: int, timeout: float, child: Child | None = None,
                    cpu: CpuMeter | None = None) -> dict[str, Any]:
        """Wait until the topic holds ``n`` more messages; first output -> n-th output."""
        base = await self.count()
        deadline = time.monotonic() + timeout
        first_t = first_c = None
        last_c = base
        while time.monotonic() < deadline:
            c = await self.count() - base
            t = time.time()
            if c > 0 and first_t is None:
                first_t, first_c = t, c
                if cpu:
                    await cpu.mark()
            last_c = c
            if c >= n:
                if cpu:
                    await cpu.mark()
                assert first_t is not None and first_c is not None
                span = t - first_t
                rate = (c - first_c) / span if span > 0 else float("nan")
                return {"outputs": c, "first_output": first_t, "done": t,
                        "seconds": span, "rate": rate}
            if child is not None and child.proc.returncode not in (None, 0):
                break
            await asyncio.sleep(POLL_S)
        return {"outputs": last_c, "error": "timed out or the process died", "rate": None}


# --------------------------------------------------------------------------- variants


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


async def run_bare(settings: Settings, n: int, timeout: float, logdir: Path,
                   burn_us: float = 0.0) -> dict[str, Any]:
    """Baseline A on the backlog; with ``burn_us``, Python work per event (`bench.synthetic`)."""
    name = "bare" if not burn_us else "bare-burn"
    out = settings.topic(f"bench-{name}-out")
    await create_topics(settings.kafka_bootstrap, [out])
    watcher = EndOffsets(settings.kafka_bootstrap, out)
    await watcher.start()
    child = await spawn(name, [PYTHON, "-m", "bench.children", "bare",
                               "--bootstrap", settings.kafka_bootstrap,
                               "--in", settings.topic(topics.ANNOTATIONS), "--out", out,
                               "--events", str(n), "--timeout", str(timeout),
                               "--burn-us", repr(burn_us)],
                        child_env(), logdir)
    try:
        result = await watcher.watch(n, timeout, child)
        inner = await child.result(10)
        result["inner_rate"] = _inner_rate(inner, n)
        return result
    finally:
        await child.stop()
        await watcher.stop()


async def run_faust(settings: Settings, mode: str, n: int, timeout: float,
                    logdir: Path) -> dict[str, Any]:
    out = settings.topic(f"bench-faust-{mode}-out")
    await create_topics(settings.kafka_bootstrap, [out])
    app_id = f"{settings.topic_prefix}-faust-{mode}"
    child = await spawn(f"faust-{mode}",
                        [PYTHON, "-m", "bench.children", "faust", "--mode", mode,
                         "--app-id", app_id, "--bootstrap", settings.kafka_bootstrap,
                         "--in", settings.topic(topics.ANNOTATIONS), "--out", out,
                         "--events", str(n), "--timeout", str(timeout)],
                        child_env(), logdir)
    try:
        if mode == "send":
            watcher = EndOffsets(settings.kafka_bootstrap, out)
            await watcher.start()
            try:
                result = await watcher.watch(n, timeout, child)
            finally:
                await watcher.stop()
            inner = await child.result(10)
            result["inner_rate"] = _inner_rate(inner, n)
            return result
        inner = await child.result(timeout)
        rate = _inner_rate(inner, n)
        return {"rate": rate, "inner_rate": rate,
                **({} if rate else {"error": f"no result: {inner}"})}
    finally:
        await child.stop()


def _inner_rate(line: dict[str, Any] | None, n: int) -> float | None:
    if not line or not line.get("done") or not line.get("first") or line.get("events", 0) < n:
        return None
    return (n - 1) / (line["done"] - line["first"])


def quorum_env(settings: Settings) -> dict[str, str]:
    return child_env({
        "QUORUM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "QUORUM_REDIS_URL": settings.redis_url,
        "QUORUM_TOPIC_PREFIX": settings.topic_prefix,
        "QUORUM_CONSUMER_GROUP": settings.consumer_group,
        "QUORUM_PARTITIONS": str(settings.partitions),
        "QUORUM_WEB_PORT": str(free_port(settings.web_host)),
    })


async def start_worker(settings: Settings, logdir: Path, name: str) -> Child:
    quorum = str(Path(PYTHON).with_name("quorum"))
    return await spawn(name, [quorum, "worker", "--log-level", "info"],
                       quorum_env(settings), logdir)


async def applied_events(settings: Settings) -> int:
    """Sum over partitions of (applied offset + 1), from Redis."""
    keys = Keys(settings.key_prefix)
    redis = Redis.from_url(settings.redis_url)
    try:
        raw = await redis.mget([keys.offset(p) for p in range(settings.partitions)])
    finally:
        await redis.aclose()
    return sum(int(v) + 1 for v in raw if v is not None)


async def run_quorum(settings: Settings, n: int, timeout: float, logdir: Path) -> dict[str, Any]:
    watcher = EndOffsets(settings.kafka_bootstrap, settings.topic(topics.TASK_QUALITY))
    await watcher.start()
    dead = EndOffsets(settings.kafka_bootstrap, settings.topic(topics.DEAD_LETTER))
    await dead.start()
    started = time.time()
    child = await start_worker(settings, logdir, "quorum")
    cpu = CpuMeter(settings.redis_url, child.proc.pid)
    try:
        result = await watcher.watch(n, timeout, child, cpu)
        result["cpu_cores"] = cpu.cores()
        if result.get("first_output"):
            result["startup_s"] = result["first_output"] - started
        result["redis_applied"] = await applied_events(settings)
        result["dead_letters"] = await dead.count()
        return result
    finally:
        await child.stop()
        await watcher.stop()
        await dead.stop()


# --------------------------------------------------------------------------- latency


async def wait_owned(settings: Settings, timeout: float) -> bool:
    keys = Keys(settings.key_prefix)
    redis = Redis.from_url(settings.redis_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            owners = await redis.mget([keys.owner(p) for p in range(settings.partitions)])
            if all(o is not None for o in owners):
                return True
            await asyncio.sleep(0.1)
        return False
    finally:
        await redis.aclose()


async def log_append_time(bootstrap: str, topic: str) -> None:
    """Let the broker stamp ``topic``'s messages: when each output appeared, whoever reads."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(
            ConfigResourceType.TOPIC, topic,
            configs={"message.timestamp.type": "LogAppendTime"})])
    finally:
        await admin.close()


async def paced_send(settings: Settings, events: list[Event], rate: float,
                     sent_at: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """Produce ``events`` at ``rate``/s in batches (`bench.pacing`); ``sent_at[event_id]``
    = (perf time, wall time) at which the event was due."""
    producer = plain_producer(settings)
    await producer.start()

    def due(event: Event, perf: float, wall: float) -> None:
        sent_at[event.event_id] = (perf, wall)

    try:
        return await paced_batches(producer, settings.topic(topics.ANNOTATIONS), events, rate,
                                   encode=lambda e: e.encode(now_iso()), on_due=due)
    finally:
        await producer.stop()


async def collect(settings: Settings, sent_at: dict[str, tuple[float, float]], expect: int,
                  latencies: list[float], stop_at: list[float],
                  appended: list[float] | None = None) -> int:
    """Read task-quality from the start; latency of every output whose source we sent.

    ``latencies``: received here (this process's own delays included); ``appended``: the
    broker's LogAppendTime of the output (ms resolution), independent of this reader.
    """
    topic = settings.topic(topics.TASK_QUALITY)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                fetch_max_wait_ms=100)
    await consumer.start()
    seen = 0
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while len(latencies) < expect and time.perf_counter() < stop_at[0]:
            fetched = await consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.perf_counter()
            for messages in fetched.values():
                for m in messages:
                    seen += 1
                    source = source_event_id(m.value)
                    t = sent_at.pop(source, None) if source is not None else None
                    if t is not None:
                        latencies.append(now - t[0])
                        if appended is not None and m.timestamp_type == 1:
                            appended.append(m.timestamp / 1000 - t[1])
    finally:
        await consumer.stop()
    return seen


_MARK = b'"source_event_id":"'


def source_event_id(value: bytes) -> str | None:
    """The field without decoding the whole event (orjson writes no spaces)."""
    i = value.find(_MARK)
    if i < 0:
        found: str | None = orjson.loads(value).get("source_event_id")
        return found
    i += len(_MARK)
    return value[i:value.index(b'"', i)].decode()


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


async def run_latency(base: Settings, run: str, rate: float, seconds: float,
                      logdir: Path) -> dict[str, Any]:
    settings = base.model_copy(update={"topic_prefix": f"{run}-lat",
                                       "consumer_group": f"{run}-lat-group"})
    await ensure_topics(settings)
    await log_append_time(settings.kafka_bootstrap, settings.topic(topics.TASK_QUALITY))
    worker = await start_worker(settings, logdir, "quorum-latency")
    try:
        if not await wait_owned(settings, 60):
            return {"error": "the worker did not claim its partitions within 60 s"}
        count = int(rate * seconds) // 3 * 3
        warm = max(300, int(rate)) // 3 * 3  # about one second of warm-up, not measured
        all_events = list(generate(warm + count, seed=7, run=f"{run}-lat"))
        warm_events, events = all_events[:warm], all_events[warm:]
        # Warm-up: connections, JIT-free Python caches, the first Lua script load.
        sent_at: dict[str, tuple[float, float]] = {}
        lat_warm: list[float] = []
        stop = [time.perf_counter() + 30]
        col = asyncio.ensure_future(collect(settings, sent_at, warm, lat_warm, stop))
        await paced_send(settings, warm_events, rate, sent_at)
        await asyncio.wait_for(col, 35)
        sent_at.clear()
        log(f"latency: warm-up done ({len(lat_warm)}/{warm}); {count} events at {rate:.0f}/s")
        latencies: list[float] = []
        appended: list[float] = []
        stop = [time.perf_counter() + seconds + 60]
        gc.collect()
        gc.freeze()  # the generated events: no full collections walking them meanwhile
        cpu = CpuMeter(settings.redis_url, worker.proc.pid)
        await cpu.mark()
        col = asyncio.ensure_future(
            collect(settings, sent_at, count, latencies, stop, appended))
        sender = await paced_send(settings, events, rate, sent_at)
        await cpu.mark()
        stop[0] = min(stop[0], time.perf_counter() + 15)  # at most 15 s for stragglers
        await asyncio.wait_for(col, 80)
        ms = sorted(x * 1000 for x in latencies)
        broker_ms = sorted(x * 1000 for x in appended)
        return {
            "target_rate": rate, "seconds": seconds, **sender, "cpu_cores": cpu.cores(),
            "broker_p50_ms": percentile(broker_ms, 0.50),
            "broker_p90_ms": percentile(broker_ms, 0.90),
            "broker_p99_ms": percentile(broker_ms, 0.99),
            "broker_max_ms": broker_ms[-1] if broker_ms else float("nan"),
            "received": len(ms), "missing": count - len(ms),
            "p50_ms": percentile(ms, 0.50), "p90_ms": percentile(ms, 0.90),
            "p99_ms": percentile(ms, 0.99), "p999_ms": percentile(ms, 0.999),
            "max_ms": ms[-1] if ms else float("nan"),
            "mean_ms": statistics.fmean(ms) if ms else float("nan"),
        }
    finally:
        await worker.stop()


async def java_latency(rate: float, seconds: float, repeats: int) -> dict[str, Any]:
    """``bench.latency`` with the Java load generator, ``repeats`` times at ``rate``: each
    a fresh worker; latency from the broker's append times (see that module)."""
    from bench.latency import measure  # it imports this module's helpers

    warm_up = None
    kafka = kafka_pid(Settings())
    age = _process_age_s(kafka) if kafka else None
    if age is not None and age < _BROKER_WARM_S:
        # A broker started minutes ago takes 0.6 cores instead of 0.2-0.3 at these rates
        # (its JIT compiling): one uncounted run first, or the first repeat measures that.
        log(f"the broker started {age:.0f} s ago: one uncounted warm-up run first")
        warm_up = await measure(rate, max(seconds, _BROKER_WARM_UP_RUN_S), producer="java")
        warm_up.pop("timeline", None)
        log(f"warm-up: p99 {warm_up['p99']:.0f} ms; cores {warm_up['cores']}")
    runs = []
    for i in range(repeats):
        r = await measure(rate, seconds, producer="java")
        r.pop("timeline", None)
        log(f"latency repeat {i + 1}: p50 {r['p50']:.0f} ms, p99 {r['p99']:.0f} ms, "
            f"worker p99 {r['worker_99']:.0f} ms; cores {r['cores']}; "
            f"{describe_pauses(r.get('producer_gc_ms', []))}")
        runs.append(r)
    return {"target_rate": rate, "seconds": seconds, "producer": "java", "runs": runs,
            "median_p99_ms": statistics.median(r["p99"] for r in runs),
            "broker_age_s": age, "warm_up": warm_up}


# --------------------------------------------------------------------------- main


@dataclass
class Report:
    config: dict[str, Any]
    machine: dict[str, Any]
    repeats: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    latency: dict[str, Any] | None = None


def machine_info() -> dict[str, Any]:
    import aiokafka
    import faust
    import redis

    return {
        "cpus": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "aiokafka": aiokafka.__version__,
        # Which build: a distribution's (PGO and LTO) ran this code 10-17% faster than a
        # plain source build of the same version (bench/README.md, session 25).
        "python_executable": os.path.realpath(sys.executable),
        "faust": faust.__version__, "redis_py": redis.__version__,
        # The worker child runs the same tree: compiled or not (streams/native.py).
        "hot_path": native.state().describe,
    }


async def main_async(args: argparse.Namespace) -> Report:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    run = f"bench-{stamp}"
    base = Settings()
    logdir = RESULTS / f"logs-{stamp}"
    variants = [v for v in VARIANTS if v in args.variants]
    report = Report(config={**vars(args), "run": run, "started": now_iso()},
                    machine=machine_info())
    n = args.events // 3 * 3
    events = list(generate(n, seed=args.seed, run=run))
    log(f"run {run}: {n} events, {args.repeats} repeats, variants {variants}")
    try:
        r = 0
        good = 0
        while good < args.repeats and r < args.repeats + args.max_extra_repeats:
            settings = base.model_copy(update={"topic_prefix": f"{run}-r{r}",
                                               "consumer_group": f"{run}-r{r}-group"})
            errors_before = _BrokerErrors.count
            await ensure_topics(settings)
            fill_s = await fill(settings, events)
            log(f"repeat {r + 1}: filled {n} events in {fill_s:.1f} s")
            order = variants[r % len(variants):] + variants[:r % len(variants)]
            row: dict[str, Any] = {"repeat": r + 1, "order": order, "fill_s": fill_s}
            for v in order:
                if v == "bare":
                    res = await run_bare(settings, n, args.timeout, logdir / f"r{r}")
                elif v == "quorum":
                    res = await run_quorum(settings, n, args.timeout, logdir / f"r{r}")
                else:
                    res = await run_faust(settings, v.split("-")[1],
                                          min(n, args.faust_events // 3 * 3), args.timeout,
                                          logdir / f"r{r}")
                row[v] = res
                rate = res.get("rate")
                log(f"repeat {r + 1}: {v}: " + (f"{rate:,.0f} events/s" if rate else
                                                 f"FAILED {res.get('error')}"))
                await asyncio.sleep(args.pause)
            # Another process may restart the shared broker: such a repeat is kept in the
            # JSON, left out of the medians, and replaced by an extra one.
            hits = disturbed_logs(logdir / f"r{r}")
            if _BrokerErrors.count > errors_before:
                hits.append("bench process")
            row["disturbed"] = hits
            if hits:
                log(f"repeat {r + 1}: the broker went away during it ({', '.join(hits)}); "
                    "left out of the medians")
            else:
                good += 1
            report.repeats.append(row)
            if not args.keep:
                # Each repeat starts from an empty broker and Redis, and so does the
                # latency phase: a Redis holding the earlier repeats' 100,000s of task
                # records rewrites a bigger AOF, more often, under the later runs.
                prefix = settings.topic_prefix
                await delete_run_topics(base.kafka_bootstrap, f"{prefix}.")
                await delete_run_topics(base.kafka_bootstrap, f"{prefix}-")
                await delete_keys(base.redis_url, f"{prefix}:*")
            r += 1
        report.summary = summarize(report.repeats, variants)
        q = report.summary.get("quorum", {}).get("median_rate")
        if not args.skip_latency:
            rate = args.latency_rate or (q * args.rate_fraction if q else None)
            if rate:
                log(f"latency run at {rate:,.0f} events/s for {args.latency_seconds:.0f} s")
                if args.latency_producer == "java":
                    report.latency = await java_latency(rate, args.latency_seconds,
                                                        args.latency_repeats)
                else:
                    report.latency = await run_latency(base, run, rate, args.latency_seconds,
                                                       logdir / "latency")
                report.latency["rate_fraction"] = None if args.latency_rate else args.rate_fraction
    finally:
        for child in CHILDREN:
            await child.stop()
        if not args.keep:
            with contextlib.suppress(Exception):
                t = await delete_run_topics(base.kafka_bootstrap, run)
                k = await delete_run_keys(base.redis_url, run)
                log(f"cleaned up {t} topics and {k} Redis keys of {run}")
    return report


def summarize(repeats: list[dict[str, Any]], variants: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    repeats = [row for row in repeats if not row.get("disturbed")]
    for v in variants:
        rates = [row[v]["rate"] for row in repeats if row.get(v, {}).get("rate")]
        out[v] = {"rates": rates, "median_rate": statistics.median(rates) if rates else None}
    base = out.get("bare", {}).get("median_rate")
    for v in variants:
        med = out[v]["median_rate"]
        out[v]["ratio_to_bare"] = med / base if med and base else None
    # The ratio per repeat too: the variants of one repeat ran back to back.
    if "quorum" in variants and "bare" in variants:
        per = [row["quorum"]["rate"] / row["bare"]["rate"] for row in repeats
               if row.get("quorum", {}).get("rate") and row.get("bare", {}).get("rate")]
        out["quorum"]["ratio_per_repeat"] = per
        out["quorum"]["median_ratio_per_repeat"] = statistics.median(per) if per else None
    return out


def print_table(report: Report, variants: list[str]) -> None:
    rows = report.repeats
    w = 13
    print()
    print(f"events: {report.config['events']}  repeats: {len(rows)}  "
          f"cpus: {report.machine['cpus']}  run: {report.config['run']}")
    print(f"hot path: {report.machine['hot_path']}  python: {report.machine.get('python', '?')} "
          f"({report.machine.get('python_executable', '?')})")
    print("variant".ljust(14)
          + "".join((f"rep {r['repeat']}" + ("*" if r.get("disturbed") else "")).rjust(w)
                    for r in rows)
          + "median".rjust(w) + "vs bare".rjust(w))
    for v in variants:
        cells = []
        for r in rows:
            rate = r.get(v, {}).get("rate")
            cells.append(f"{rate:,.0f}".rjust(w) if rate else "failed".rjust(w))
        s = report.summary[v]
        med = f"{s['median_rate']:,.0f}" if s["median_rate"] else "-"
        ratio = f"{s['ratio_to_bare']:.0%}" if s["ratio_to_bare"] else "-"
        print(v.ljust(14) + "".join(cells) + med.rjust(w) + ratio.rjust(w))
    print("(events/s; 'bare' = baseline A, faust-send = baseline B"
          + ("; * = broker restarted during the repeat, not in the medians)"
             if any(r.get("disturbed") for r in rows) else ")"))
    q = report.summary.get("quorum", {})
    if q.get("median_ratio_per_repeat") is not None:
        # One decimal: a median of 39.5% printed as 40% once read as the target met.
        per = ", ".join(f"{x:.1%}" for x in q["ratio_per_repeat"])
        median = q["median_ratio_per_repeat"]
        print(f"quorum / bare per repeat: {per}; median {median:.1%} "
              f"(target >= 40%: {'met' if median >= 0.40 else 'missed'})")
    lat = report.latency
    if lat and "runs" in lat:
        p99s = ", ".join(f"{r['p99']:.0f}" for r in lat["runs"])
        print(f"latency at {lat['target_rate']:,.0f} events/s, {lat['seconds']:.0f} s per run, "
              f"Java load generator, produce -> output appended: p99 per run {p99s} ms, "
              f"median {lat['median_p99_ms']:.0f} ms (target p99 < 100 ms: "
              f"{'met' if lat['median_p99_ms'] < 100 else 'missed'})")
        for r in lat["runs"]:
            print(f"  p50 {r['p50']:.0f} ms  p90 {r['p90']:.0f} ms  p99 {r['p99']:.0f} ms  "
                  f"max {r['max']:.0f} ms; worker p50/p99 {r['worker_50']:.0f}/"
                  f"{r['worker_99']:.0f} ms; cores {r['cores']}")
    elif lat and "p50_ms" in lat:
        print(f"latency at {lat['target_rate']:,.0f} events/s (achieved "
              f"{lat['achieved_rate']:,.0f}) for {lat['seconds']:.0f} s: "
              f"p50 {lat['p50_ms']:.1f} ms  p90 {lat['p90_ms']:.1f} ms  "
              f"p99 {lat['p99_ms']:.1f} ms  max {lat['max_ms']:.1f} ms  "
              f"(received {lat['received']}, missing {lat['missing']}; target p99 < 100 ms)")
        if lat.get("broker_p99_ms") is not None:
            print(f"  by the broker's append time of the output: p50 {lat['broker_p50_ms']:.0f} ms"
                  f"  p90 {lat['broker_p90_ms']:.0f} ms  p99 {lat['broker_p99_ms']:.0f} ms"
                  f"  max {lat['broker_max_ms']:.0f} ms")
        print(f"  producer loop max backlog {lat['max_backlog_in_producer_loop']} events; "
              f"cores used: {lat.get('cpu_cores')}")
    elif lat:
        print(f"latency: {lat}")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    # Long enough for the steady state: the worker's task cache (20,000 records) is full
    # after about 60,000 events, and a 100,000-event backlog ran mostly before that, 15-25%
    # faster than the worker sustains (bench/README.md, session 20).
    p.add_argument("--events", type=int, default=600_000, help="backlog size (default 600000)")
    p.add_argument("--faust-events", type=int, default=100_000,
                   help="the faust variants read only this many of the backlog's events "
                        "(default 100000): they hold no state, and go a few thousand a second")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rate-fraction", type=float, default=0.5,
                   help="latency run rate as a fraction of Quorum's median max rate")
    p.add_argument("--latency-rate", type=float, default=None,
                   help="absolute latency run rate (events/s), overrides --rate-fraction")
    p.add_argument("--latency-seconds", type=float, default=20.0)
    p.add_argument("--latency-producer", choices=("java", "python"), default="java",
                   help="load generator of the latency runs: bench/java/PacedProducer.java "
                        "(default: little CPU taken from the worker) or this process")
    p.add_argument("--latency-repeats", type=int, default=3,
                   help="latency runs (Java producer), each with a fresh worker")
    p.add_argument("--skip-latency", action="store_true")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    p.add_argument("--timeout", type=float, default=300.0, help="per variant, seconds")
    p.add_argument("--max-extra-repeats", type=int, default=2,
                   help="extra repeats allowed to replace ones disturbed by a broker restart")
    p.add_argument("--pause", type=float, default=2.0, help="seconds between variants")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the run's topics and Redis keys")
    args = p.parse_args()
    if not args.skip_latency and (args.latency_seconds <= 0 or args.latency_repeats < 1):
        # Checked now, not after the throughput runs: a latency phase of nothing has no p99.
        p.error("--latency-seconds must be above 0 and --latency-repeats at least 1; "
                "--skip-latency leaves the latency runs out")
    variants = [v for v in VARIANTS if v in args.variants]

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    try:
        report = asyncio.run(main_async(args))
    finally:
        kill_all_children()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"pipeline-{report.config['run'].removeprefix('bench-')}.json"
    path.write_text(json.dumps(report.__dict__, indent=2, default=str))
    print_table(report, variants)
    print(f"results: {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
