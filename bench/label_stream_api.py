"""The label stream over HTTP, Redis-backed, with 100,000 open tasks: a real worker.

    .venv/bin/python -m bench.label_stream_api                  # 100,000 tasks, 5,000 annotators
    .venv/bin/python -m bench.label_stream_api --tasks 20000 --annotators 1000
    .venv/bin/python -m bench.label_stream_api --stream-rate 2000   # with annotation traffic
    .venv/bin/python -m bench.label_stream_api --stream-rate 2000 --split   # on its own worker

A fresh deployment (topic prefix ``lsapi-<UTC time>``) and a ``quorum worker``; one
project configured with ``distribute: true`` (overlap 3, 2 additional annotators,
reservations of one day). ``--tasks`` tasks are imported and ``--annotators`` annotators
join through the workflow topic, and the bench waits until the workflow agent applied
them all. Then, one client with a keep-alive connection, one request at a time:

* ``reserve``: every annotator asks ``POST /projects/P/annotators/A/next-task`` once: each
  answer reserves a new task, journaled in Redis (one script call) and published as a
  ``quorum.assignment/v1`` event before the answer is sent;
* ``held``: every annotator asks again and gets the task they hold (no write);
* baseline, in the same run and on the same connection: ``GET /`` of the same worker's web
  server (faust's status page): what the HTTP stack costs with no work behind it.

With ``--stream-rate R``, annotation events of other projects (`bench.events`) are produced
to the same worker at R events/s while the requests are timed: the annotations agent then
shares the worker's event loop with the label stream, as in one ``quorum worker``. With
``--split`` the timed worker runs ``--agents workflow`` and a second one ``--agents
annotations`` takes the annotation traffic, as a deployment that splits them would.

Rounds alternate (reserve, baseline, held, baseline) so drift hits all of them. Every
request is timed from send to parsed answer (``perf_counter_ns``); p50, p99 and max per
kind go to stdout and ``bench/results/label-stream-api-<time>.json``. Needs Kafka and Redis
up (``quorum infra up``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from redis.asyncio import Redis

from bench.events import generate
from bench.pacing import paced_batches, prepare
from streams import topics
from streams.kafka import delete_topics, ensure_topics, plain_producer
from streams.models.project import ProjectConfig
from streams.models.workflow import annotator_event, task_event
from streams.operations import delete_state, publish_project_config
from streams.roles import WorkerAgents
from streams.settings import REPO_ROOT, Settings
from streams.state.keys import Keys
from streams.worker_process import WorkerProcess

PROJECT = "bench-project"
RESULTS = REPO_ROOT / "bench" / "results"


async def _produce(settings: Settings, bodies: list[dict[str, Any]]) -> None:
    producer = plain_producer(settings)
    await producer.start()
    try:
        topic = settings.topic(topics.WORKFLOW)
        futures = [await producer.send(topic, value=orjson.dumps(b), key=PROJECT.encode())
                   for b in bodies]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _wait_applied(settings: Settings, expected: int, timeout_s: float = 600) -> float:
    """Seconds until the workflow partition's applied offset reaches ``expected`` - 1."""
    redis = Redis.from_url(settings.redis_url)
    keys = Keys(settings.key_prefix)
    start = time.monotonic()
    try:
        while time.monotonic() - start < timeout_s:
            offsets = [await redis.get(keys.workflow_offset(p))
                       for p in range(settings.partitions)]
            if sum(int(o) + 1 for o in offsets if o) >= expected:
                return time.monotonic() - start
            await asyncio.sleep(0.2)
    finally:
        await redis.aclose()
    raise RuntimeError(f"the workflow agent did not apply {expected} events in {timeout_s} s")


async def _time(session: aiohttp.ClientSession, method: str, url: str) -> tuple[int, Any]:
    start = time.perf_counter_ns()
    async with session.request(method, url) as response:
        body = await response.read()
        status = response.status
    elapsed = time.perf_counter_ns() - start
    if status != 200:
        raise RuntimeError(f"{method} {url}: HTTP {status}: {body[:300]!r}")
    return elapsed, body


def _summary(nanos: list[int]) -> dict[str, float]:
    ordered = sorted(nanos)
    n = len(ordered)
    return {"requests": n, "p50_ms": ordered[n // 2] / 1e6,
            "p99_ms": ordered[min(n - 1, n * 99 // 100)] / 1e6, "max_ms": ordered[-1] / 1e6}


async def _stream(settings: Settings, rate: float, seconds: float
                  ) -> tuple[Any, Callable[[asyncio.Event], Awaitable[dict[str, Any]]]]:
    """Annotation events of other projects at ``rate``/s for at most ``seconds``, prepared
    now (keys hashed, values encoded) so that the timed part only sends them: returns the
    producer and the sender (which stops when its event is set)."""
    producer = plain_producer(settings)
    await producer.start()
    topic = settings.topic(topics.ANNOTATIONS)
    events = list(generate(int(rate * seconds) // 3 * 3, run=settings.topic_prefix))
    prepared = await prepare(producer, topic, events)

    async def send(stop: asyncio.Event) -> dict[str, Any]:
        try:
            return await paced_batches(producer, topic, events, rate, prepared=prepared,
                                       stop=stop)
        finally:
            await producer.stop()

    return producer, send


async def run(tasks: int, annotators: int, rounds: int, stream_rate: float = 0.0,
              split: bool = False) -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    name = f"lsapi-{stamp}"
    settings = Settings().model_copy(update={"topic_prefix": name,
                                             "consumer_group": f"{name}-g"})
    await ensure_topics(settings)
    worker = WorkerProcess(settings, RESULTS / f"{name}-worker.log",
                           agents=WorkerAgents.WORKFLOW if split else WorkerAgents.ALL)
    hot = (WorkerProcess(settings, RESULTS / f"{name}-annotations-worker.log",
                         agents=WorkerAgents.ANNOTATIONS) if split else None)
    try:
        await worker.wait_owning(settings.partitions, workflow=True)
        if hot is not None:
            await hot.wait_owning(settings.partitions)
        config = ProjectConfig(PROJECT, annotations_per_task=3, max_additional_annotators=2,
                               distribute=True)
        assert await publish_project_config(settings, config, wait_s=60)
        people = [f"a{i}" for i in range(annotators)]
        started = time.monotonic()
        await _produce(settings, [annotator_event(PROJECT, a, "joined") for a in people])
        await _produce(settings, [task_event(PROJECT, f"t{i}", "imported")
                                  for i in range(tasks)])
        applied_s = await _wait_applied(settings, tasks + annotators)
        print(f"{tasks:,} tasks and {annotators:,} annotators applied "
              f"{time.monotonic() - started:.1f} s after the first was sent", flush=True)
        base = f"{worker.web_url}/projects/{PROJECT}/annotators"
        timings: dict[str, list[int]] = {"reserve": [], "held": [], "baseline": []}
        connector = aiohttp.TCPConnector(limit=1)
        stop = asyncio.Event()
        streaming = None
        if stream_rate > 0:
            _, send = await _stream(settings, stream_rate, seconds=120)
            streaming = asyncio.ensure_future(send(stop))
        timed_from = time.monotonic()
        async with aiohttp.ClientSession(connector=connector) as session:
            await _time(session, "GET", f"{worker.web_url}/")  # connect once
            per_round = max(1, annotators // rounds)
            for first in range(0, annotators, per_round):
                chunk = people[first:first + per_round]
                for annotator in chunk:
                    elapsed, body = await _time(session, "POST", f"{base}/{annotator}/next-task")
                    if orjson.loads(body)["queue"] == "reserved":
                        raise RuntimeError("a first request found a task already held")
                    timings["reserve"].append(elapsed)
                for _ in chunk:
                    timings["baseline"].append((await _time(session, "GET",
                                                            f"{worker.web_url}/"))[0])
                for annotator in chunk:
                    elapsed, body = await _time(session, "POST", f"{base}/{annotator}/next-task")
                    if orjson.loads(body)["queue"] != "reserved":
                        raise RuntimeError("a second request did not return the held task")
                    timings["held"].append(elapsed)
                for _ in chunk:
                    timings["baseline"].append((await _time(session, "GET",
                                                            f"{worker.web_url}/"))[0])
        streamed: dict[str, Any] = {}
        if streaming is not None:
            stop.set()
            streamed = await streaming
        result = {
            "run": name, "tasks": tasks, "annotators": annotators,
            "stream_rate": stream_rate, "split": split,
            "streamed_rate": streamed.get("achieved_rate"),
            "streamed_s": streamed.get("send_seconds"), "timed_s": time.monotonic() - timed_from,
            "open_tasks_at_end": tasks - annotators, "setup_applied_s": applied_s,
            **{kind: _summary(values) for kind, values in timings.items()},
        }
        return result
    finally:
        worker.stop()
        if hot is not None:
            hot.stop()
        await delete_state(settings)
        await delete_topics(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--stream-rate", type=float, default=0.0,
                        help="annotation events/s of other projects meanwhile (default none)")
    parser.add_argument("--split", action="store_true",
                        help="time a `--agents workflow` worker; a second worker runs "
                             "`--agents annotations` and takes the annotation traffic")
    args = parser.parse_args()
    result = asyncio.run(run(args.tasks, args.annotators, args.rounds, args.stream_rate,
                             split=args.split))
    if args.stream_rate:
        where = "a separate annotations worker" if args.split else "the same worker"
        print(f"annotation traffic meanwhile, to {where}: {result['streamed_rate']:,.0f} "
              f"events/s for {result['streamed_s']:.0f} of the {result['timed_s']:.0f} "
              "timed seconds")
    for kind in ("reserve", "held", "baseline"):
        r = result[kind]
        print(f"{kind:>9}: {r['requests']:,} requests  p50 {r['p50_ms']:.2f} ms  "
              f"p99 {r['p99_ms']:.2f} ms  max {r['max_ms']:.2f} ms")
    ratio = result["reserve"]["p99_ms"] / result["baseline"]["p99_ms"]
    print(f"reserve p99 / baseline p99: {ratio:.1f}x; target: reserve p99 < 5 ms with "
          f"{result['open_tasks_at_end']:,}+ open tasks")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"label-stream-api-{result['run'][6:]}.json"
    path.write_text(json.dumps(result, indent=2))
    print(f"results: {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
