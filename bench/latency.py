"""End-to-end latency of one worker at fixed input rates: annotation produced -> its
task-quality event read back.

    .venv/bin/python -m bench.latency 200 2000 5000 9000      # events/s, 6 s each

A lighter probe than the latency phase of ``bench.pipeline``: one process produces at
the given rate (send time kept per event id) and reads ``<prefix>.task-quality`` with a
short fetch wait; a fresh prefix and a fresh ``quorum worker`` per rate. Prints p50, p90,
p99 and max in milliseconds. Needs Kafka and Redis up (`make up`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer

from bench.events import Event, generate
from bench.pacing import paced_batches
from bench.pipeline import log_append_time, source_event_id
from streams.kafka import delete_topics, ensure_topics, plain_producer
from streams.operations import delete_state
from streams.settings import REPO_ROOT, Settings
from streams.worker_process import WorkerProcess


async def measure(rate: float, seconds: float) -> dict[str, float]:
    """Latencies (ms) of ``rate`` events/s for ``seconds`` through a fresh worker."""
    name = f"lat{uuid.uuid4().hex[:8]}"
    settings = Settings().model_copy(
        update={"topic_prefix": name, "consumer_group": f"{name}-g"}
    )
    await ensure_topics(settings)
    worker = WorkerProcess(settings, REPO_ROOT / "bench" / "results" / f"{name}-worker.log")
    consumer = AIOKafkaConsumer(
        settings.topic("task-quality"), bootstrap_servers=settings.kafka_bootstrap,
        auto_offset_reset="latest", fetch_max_wait_ms=20,
    )
    producer = plain_producer(settings)
    sent: dict[str, float] = {}
    sent_wall: dict[str, float] = {}
    in_append: dict[str, float] = {}  # the broker's append time of the input (ms)
    latencies: list[float] = []
    # Where the time goes, from the broker's append times (ms resolution): producer and
    # broker until the input is appended, worker until the output is appended, reader.
    to_input: list[float] = []
    in_worker: list[float] = []
    to_reader: list[float] = []

    async def read() -> None:
        while True:
            fetched = await consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for messages in fetched.values():
                wall = time.time() * 1000
                for message in messages:
                    source = source_event_id(message.value)
                    if source in sent:
                        latencies.append((now - sent[source]) * 1000)
                        if source in in_append:
                            to_input.append(in_append[source] - sent_wall[source])
                            in_worker.append(message.timestamp - in_append[source])
                            to_reader.append(wall - message.timestamp)

    def appended(batch: list[Event], future: asyncio.Future[Any]) -> None:
        if not future.exception():
            for event in batch:
                in_append[event.event_id] = future.result().timestamp

    try:
        for topic in ("annotations", "task-quality"):
            await log_append_time(settings.kafka_bootstrap, settings.topic(topic))
        await worker.wait_owning(settings.partitions)
        await consumer.start()
        await producer.start()
        await asyncio.sleep(1)  # the reader's partitions assigned at "latest"
        reader = asyncio.create_task(read())
        events = list(generate(int(rate * seconds), run=name))

        def due(event: Event, perf: float, wall: float) -> None:
            sent[event.event_id] = perf
            sent_wall[event.event_id] = wall * 1000

        def batch_sent(batch: list[Event], future: asyncio.Future[Any]) -> None:
            future.add_done_callback(functools.partial(appended, batch))

        await paced_batches(producer, settings.topic("annotations"), events, rate,
                            on_due=due, on_batch=batch_sent)
        deadline = time.monotonic() + 30
        while len(latencies) < len(events) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    finally:
        await producer.stop()
        await consumer.stop()
        worker.stop()
        await delete_state(settings)
        await delete_topics(settings)
    latencies.sort()
    n = len(latencies)
    return {
        "rate": rate, "events": len(sent), "received": n,
        "p50": latencies[n // 2], "p90": latencies[int(n * 0.9)],
        "p99": latencies[int(n * 0.99)], "max": latencies[-1],
        **{f"{name}_{q}": _quantile(values, q) for name, values in
           (("input", to_input), ("worker", in_worker), ("reader", to_reader))
           for q in (50, 99)},
    }


def _quantile(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * q // 100)] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rates", type=float, nargs="+", help="events per second")
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    for rate in args.rates:
        r = asyncio.run(measure(rate, args.seconds))
        print(f"{r['rate']:>8,.0f}/s  received {r['received']:,}/{r['events']:,}  "
              f"p50 {r['p50']:6.1f} ms  p90 {r['p90']:6.1f} ms  p99 {r['p99']:6.1f} ms  "
              f"max {r['max']:6.1f} ms", flush=True)
        print("          p50/p99 by the broker's append times: to the input "
              f"{r['input_50']:.0f}/{r['input_99']:.0f} ms, worker "
              f"{r['worker_50']:.0f}/{r['worker_99']:.0f} ms, to the reader "
              f"{r['reader_50']:.0f}/{r['reader_99']:.0f} ms", flush=True)


if __name__ == "__main__":
    main()
