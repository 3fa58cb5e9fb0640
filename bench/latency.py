"""End-to-end latency of one worker at fixed input rates: annotation produced -> its
task-quality event appended.

    .venv/bin/python -m bench.latency 2000 5000 8000 10000     # events/s, 10 s each
    .venv/bin/python -m bench.latency 8000 --reader live        # the reader runs meanwhile

Per rate: a fresh prefix and a fresh ``quorum worker``, about a second of warm-up events
(not counted), then events produced at the rate through `bench.pacing` (batched per
partition like a lingering producer; an event's send time is when it was *due*). Both
topics are set to ``LogAppendTime``, so the broker stamps when each input and each output
was appended: the latency of an event is its output's append time minus its due time
(ms resolution), split into producer-to-input and worker (input appended to output
appended).

``--reader after`` (the default) reads the outputs back once the last one is appended,
so the probe spends its CPU only on producing: on this 2-core machine the worker, the
broker, Redis and the probe share the cores, and a live reader of 10,000 outputs/s cost
the probe about a quarter of a core that a deployment's consumers would not take from
the worker. ``--reader live`` reads while producing and also reports when this process
received each output (the old figure). The cores each process used during the run are
printed with the figures. Needs Kafka and Redis up (`make up`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.events import Event, generate
from bench.java_producer import JavaProducer, describe_pauses, pauses_while_sending
from bench.pacing import paced_batches
from bench.pipeline import CpuMeter, _proc_cpu, create_topics, log_append_time
from streams import topics
from streams.kafka import delete_topics, ensure_topics, plain_producer
from streams.operations import delete_state
from streams.settings import REPO_ROOT, Settings
from streams.worker_process import WorkerProcess

_WARM_UP_S = 2.0
RESULTS = REPO_ROOT / "bench" / "results"


async def measure(rate: float, seconds: float, *, reader: str = "after",
                  producer: str = "java", workers: int = 1,
                  burn_us: float | None = None) -> dict[str, Any]:
    """Latencies (ms) of ``rate`` events/s for ``seconds`` through ``workers`` fresh
    workers (one consumer group: they share the partitions); with ``burn_us``, through
    the bare consume-and-produce loop instead, working that long per event (Java
    producer only)."""
    if burn_us is not None and (producer != "java" or workers != 1):
        raise ValueError("the bare loop is measured with the Java producer and alone")
    name = f"lat{uuid.uuid4().hex[:8]}"
    settings = Settings().model_copy(
        update={"topic_prefix": name, "consumer_group": f"{name}-g"}
    )
    in_topic, out_topic = settings.topic(topics.ANNOTATIONS), settings.topic(topics.TASK_QUALITY)
    mark = b'"source_event_id":"'
    await ensure_topics(settings)
    warm = max(300, int(rate * _WARM_UP_S)) // 3 * 3
    count = int(rate * seconds) // 3 * 3
    worker: WorkerProcess | BareConsumer
    if burn_us is None:
        worker = WorkerProcess(settings, RESULTS / f"{name}-worker.log")
    else:
        # The bare loop copies each input, whose own event id is the mark.
        out_topic, mark = settings.topic("bench-bare-out"), b'"event_id":"'
        await create_topics(settings.kafka_bootstrap, [out_topic])
        worker = BareConsumer(settings, out_topic, warm + count, burn_us,
                              RESULTS / f"{name}-bare.log")
    others: list[WorkerProcess] = []
    due_wall: dict[str, float] = {}  # event id -> when it was due (ms since the epoch)
    in_append: dict[str, float] = {}  # event id -> the broker's append time of the input
    received: dict[str, float] = {}  # live reader: event id -> received (perf seconds)
    out_append: dict[str, float] = {}  # event id -> the broker's append time of its output
    extra: dict[str, Any] = {}
    java: JavaProducer | None = None
    try:
        for topic in (in_topic, out_topic):
            await log_append_time(settings.kafka_bootstrap, topic)
        if isinstance(worker, WorkerProcess):
            await worker.wait_owning(settings.partitions)
        else:
            await worker.wait_ready()
        for i in range(1, workers):
            others.append(WorkerProcess(settings, RESULTS / f"{name}-worker{i}.log"))
            await _wait_logged(others[-1], "owning partitions [")
        if others:
            await asyncio.sleep(3)  # the first worker gives partitions up: let it settle
        generated = list(generate(warm + count, run=name))
        events = generated[warm:]
        cpu = CpuMeter(settings.redis_url, worker.process.pid)
        cpu_others = [[_proc_cpu(w.process.pid)] for w in others]
        if producer == "java":
            # One continuous stream: its first second warms the worker up, uncounted.
            java = JavaProducer(settings.kafka_bootstrap, in_topic, generated, rate, RESULTS)
            await java.start()
            start_ms = await java.go()
            await asyncio.sleep(warm / rate)
            await cpu.mark()
            java_cpu = [_proc_cpu(java.pid) if java.pid else None]
            cpu_others = [[_proc_cpu(w.process.pid)] for w in others]
            sent = await java.done(start_ms, timeout=seconds + 120)
            await cpu.mark()
            java_cpu.append(_proc_cpu(java.pid) if java.pid else None)
            for w, used in zip(others, cpu_others, strict=True):
                used.append(_proc_cpu(w.process.pid))
            window = cpu.marks[-1][0] - cpu.marks[0][0]
            extra = {"achieved_rate": sent.sent / sent.seconds, "producer_errors": sent.errors,
                     "other_workers_cores": [
                         None if None in used else round((used[1] - used[0]) / window, 2)  # type: ignore[operator]
                         for used in cpu_others],
                     "java_cores": None if None in java_cpu
                     else round((java_cpu[1] - java_cpu[0]) / window, 2),  # type: ignore[operator]
                     "producer_gc_ms": pauses_while_sending()}
            due_wall = {e.event_id: start_ms + i * 1000 / rate for i, e in enumerate(generated)}
            await _wait_outputs(settings, out_topic, warm + count, timeout=60)
            await _read_all(settings, in_topic, warm + count, b'"event_id":"', {}, in_append)
        else:
            extra = await _send_python(settings, rate, warm, generated, cpu, reader, due_wall,
                                       in_append, received, out_append)
        if producer == "java" or reader == "after":
            await _read_all(settings, out_topic, warm + count, mark, received, out_append)
    finally:
        if java is not None:
            await java.stop()
        worker.stop()
        for other in others:
            other.stop()
        await delete_state(settings)
        await delete_topics(settings)
    measured = [e.event_id for e in events if e.event_id in out_append]
    total = [out_append[i] - due_wall[i] for i in measured]
    to_input = [in_append[i] - due_wall[i] for i in measured if i in in_append]
    in_worker = [out_append[i] - in_append[i] for i in measured if i in in_append]
    result: dict[str, Any] = {
        "rate": rate, "events": len(events), "outputs": len(measured), "reader": reader,
        "producer": producer, **extra, "cores": cpu.cores(),
        **{f"p{q}": _quantile(total, q) for q in (50, 90, 99)},
        "max": max(total, default=float("nan")),
        **{f"{part}_{q}": _quantile(values, q) for part, values in
           (("input", to_input), ("worker", in_worker)) for q in (50, 99)},
    }
    # Per event, for a look at when the slow ones happened: due, input and output appended.
    result["timeline"] = [(due_wall[i], in_append.get(i), out_append[i]) for i in measured]
    if producer == "java":
        result["cores"]["java producer"] = result.pop("java_cores")
        for i, used in enumerate(result.pop("other_workers_cores"), start=2):
            result["cores"][f"worker {i}"] = used
    if reader == "live" and producer == "python":
        due_perf = extra.pop("due_perf")
        seen = [(received[i] - due_perf[i]) * 1000 for i in measured if i in received]
        result.update({f"received_p{q}": _quantile(seen, q) for q in (50, 99)})
    result.pop("due_perf", None)
    return result


class BareConsumer:
    """`bench.children bare` in a child process, reading the run's input from its start:
    the bare loop, with ``burn_us`` of Python work per event, for ``events`` events."""

    def __init__(self, settings: Settings, out_topic: str, events: int, burn_us: float,
                 log_path: Path) -> None:
        self.log_path = log_path
        self.ready = log_path.with_suffix(".ready")
        self.ready.unlink(missing_ok=True)
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.children", "bare",
             "--bootstrap", settings.kafka_bootstrap,
             "--in", settings.topic(topics.ANNOTATIONS), "--out", out_topic,
             "--events", str(events), "--partitions", str(settings.partitions),
             "--burn-us", repr(burn_us), "--ready", str(self.ready),
             "--result", str(log_path.with_suffix(".result.json")), "--timeout", "600"],
            cwd=REPO_ROOT, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True)

    async def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bare loop did not start; see {self.log_path}")
            await asyncio.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        self.ready.unlink(missing_ok=True)


async def _send_python(settings: Settings, rate: float, warm: int, generated: list[Event],
                       cpu: CpuMeter, reader: str, due_wall: dict[str, float],
                       in_append: dict[str, float], received: dict[str, float],
                       out_append: dict[str, float]) -> dict[str, Any]:
    """The same load from this process (`bench.pacing`, aiokafka): a warm-up, then the
    timed events; with ``reader`` live, the outputs are read meanwhile."""
    in_topic, out_topic = settings.topic(topics.ANNOTATIONS), settings.topic(topics.TASK_QUALITY)
    producer = plain_producer(settings)
    due_perf: dict[str, float] = {}

    def appended(batch: list[Event], future: asyncio.Future[Any]) -> None:
        if not future.exception():
            stamp = future.result().timestamp
            for event in batch:
                in_append[event.event_id] = stamp

    def batch_sent(batch: list[Event], future: asyncio.Future[Any]) -> None:
        future.add_done_callback(functools.partial(appended, batch))

    def due(event: Event, perf: float, wall: float) -> None:
        due_perf[event.event_id] = perf
        due_wall[event.event_id] = wall * 1000

    await producer.start()
    try:
        # Warm-up: connections, the Lua scripts' first load, the worker's caches.
        await paced_batches(producer, in_topic, generated[:warm], rate)
        await _wait_outputs(settings, out_topic, warm, timeout=30)
        live = asyncio.ensure_future(_read(settings, out_topic, b'"source_event_id":"',
                                           received, out_append)) if reader == "live" else None
        gc.collect()
        gc.freeze()  # the generated events: no full collections walking them meanwhile
        await cpu.mark()
        sender = await paced_batches(producer, in_topic, generated[warm:], rate,
                                     on_due=due, on_batch=batch_sent)
        await cpu.mark()
        await _wait_outputs(settings, out_topic, len(generated), timeout=60)
        if live is not None:
            await asyncio.sleep(0.5)  # the reader's last fetch
            live.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await live
    finally:
        await producer.stop()
        gc.unfreeze()
    return {**sender, "due_perf": due_perf}


async def _wait_logged(worker: WorkerProcess, text: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in worker.log():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{worker.log_path} never said {text!r}")
        await asyncio.sleep(0.2)


async def _wait_outputs(settings: Settings, topic: str, expect: int, *, timeout: float) -> None:
    """Until ``topic`` holds ``expect`` messages (one output per input) or ``timeout``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum((await consumer.end_offsets(tps)).values()) >= expect:
                return
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop()


async def _read_all(settings: Settings, topic: str, expect: int, mark: bytes,
                    received: dict[str, float], appended: dict[str, float]) -> None:
    """:func:`_read` until ``expect`` messages are in ``appended`` (or 60 s)."""
    reading = asyncio.ensure_future(_read(settings, topic, mark, received, appended))
    deadline = time.monotonic() + 60
    while len(appended) < expect and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    reading.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reading


async def _read(settings: Settings, topic: str, mark: bytes, received: dict[str, float],
                appended: dict[str, float]) -> None:
    """Read ``topic`` from its start: per event id (the string after ``mark``: orjson
    writes no spaces), when it arrived here and when the broker appended it."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                enable_auto_commit=False, fetch_max_wait_ms=20)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while True:
            fetched = await consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.perf_counter()
            for messages in fetched.values():
                for message in messages:
                    start = message.value.find(mark)
                    if start >= 0:
                        start += len(mark)
                        source = message.value[start:message.value.index(b'"', start)].decode()
                        received[source] = now
                        appended[source] = message.timestamp
    finally:
        await consumer.stop()


def _quantile(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * q // 100)] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rates", type=float, nargs="+", help="events per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--producer", choices=("java", "python"), default="java",
                        help="the load generator: bench/java/PacedProducer.java (default) "
                             "or this process (bench.pacing)")
    parser.add_argument("--reader", choices=("after", "live"), default="after",
                        help="python producer: read the outputs back after the run "
                             "(default) or during it")
    parser.add_argument("--workers", type=int, default=1,
                        help="workers sharing the partitions (default 1; Java producer)")
    parser.add_argument("--save", action="store_true",
                        help="write each rate's figures and per-event times to "
                             "bench/results/latency-<time>-<rate>.json")
    args = parser.parse_args()
    for rate in args.rates:
        r = asyncio.run(measure(rate, args.seconds, reader=args.reader,
                                producer=args.producer, workers=args.workers))
        cores = ", ".join(f"{k} {v:.2f}" for k, v in r["cores"].items() if v is not None)
        print(f"{r['rate']:>8,.0f}/s (achieved {r['achieved_rate']:,.0f}/s)  outputs "
              f"{r['outputs']:,}/{r['events']:,}  produce -> output appended: p50 "
              f"{r['p50']:.0f} ms  p90 {r['p90']:.0f} ms  p99 {r['p99']:.0f} ms  max "
              f"{r['max']:.0f} ms", flush=True)
        print(f"          p50/p99: to the input {r['input_50']:.0f}/{r['input_99']:.0f} ms, "
              f"worker {r['worker_50']:.0f}/{r['worker_99']:.0f} ms; cores: {cores}",
              flush=True)
        if "producer_gc_ms" in r:
            print(f"          {describe_pauses(r['producer_gc_ms'])}", flush=True)
        if args.save:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            path = RESULTS / f"latency-{stamp}-{rate:.0f}.json"
            path.write_text(json.dumps(r))
            print(f"          saved {path.relative_to(REPO_ROOT)}", flush=True)
        if "received_p50" in r:
            print(f"          received by the live reader: p50 {r['received_p50']:.0f} ms, "
                  f"p99 {r['received_p99']:.0f} ms", flush=True)


if __name__ == "__main__":
    main()
