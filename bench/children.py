"""The baselines, each run in its own child process by :mod:`bench.pipeline`.

``python -m bench.children bare --in T --out T2 --events N [--burn-us U] [--ready F]``
    Baseline A: a bare aiokafka ``getmany`` loop, one produced event per input (the input
    bytes and key, to the same partition of the output topic), no processing. With
    ``--burn-us``, a fixed amount of Python work per event (U microseconds of CPU when
    calibrated at start): a consumer that costs what a worker costs per event and nothing
    per cycle beyond the client's (`bench.synthetic`). ``--ready`` is created once the
    consumer reads.
``python -m bench.children faust --mode send|count --app-id ID --in T --out T2 --events N``
    Baseline B: a faust-streaming agent, event by event (``async for value in stream``).

Each child writes one JSON object to ``--result`` when it has seen N events (its own timing:
first input seen -> N-th input handled), then exits (bare) or waits to be killed (faust).
Everything is bounded by ``--timeout``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

RESULT: list[str] = []


def _work(n: int) -> int:
    """``n`` steps of plain Python arithmetic: work a stalled machine stretches as it
    stretches a worker's (a loop on the clock would end early instead)."""
    x = 0
    for i in range(n):
        x ^= i
    return x


def _steps_per_us() -> float:
    """Steps of :func:`_work` per microsecond of this process's CPU: the best of five."""
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        _work(200_000)
        best = min(best, time.process_time() - started)
    return 200_000 / (best * 1e6)


def _emit(**fields: object) -> None:
    """Write the result file atomically (faust redirects stdout to its logger)."""
    path = RESULT[0]
    with open(path + ".tmp", "w") as f:
        f.write(json.dumps(fields))
    os.replace(path + ".tmp", path)


async def _bare(args: argparse.Namespace) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streams.agents.annotations import make_producer
    from streams.settings import Settings

    settings = Settings(kafka_bootstrap=args.bootstrap)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # The same fetch sizes and CRC checks as the Quorum annotations agent.
        max_partition_fetch_bytes=1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
        check_crcs=settings.kafka_check_crcs,
    )
    # The Quorum output producer itself, with its settings.
    producer = make_producer(settings)
    steps = round(args.burn_us * _steps_per_us()) if args.burn_us else 0
    await producer.start()
    await consumer.start()
    try:
        tps = [TopicPartition(args.input, p) for p in range(args.partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        if args.ready:
            open(args.ready, "w").close()
        seen = 0
        first = None
        deadline = time.monotonic() + args.timeout
        while seen < args.events and time.monotonic() < deadline:
            fetched = await consumer.getmany(timeout_ms=50, max_records=2000)
            if not fetched:
                continue
            if first is None:
                first = time.time()
            if steps:
                _work(steps * sum(len(ms) for ms in fetched.values()))
            futures = []
            for tp, messages in fetched.items():
                for m in messages:
                    futures.append(
                        await producer.send(args.output, value=m.value, key=m.key,
                                            partition=tp.partition)
                    )
            await asyncio.gather(*futures)  # at-least-once: the batch is out before the next
            seen += sum(len(ms) for ms in fetched.values())
        _emit(variant="bare", events=seen, first=first, done=time.time(), pid=os.getpid(),
              burn_steps_per_event=steps)
    finally:
        await consumer.stop()
        await producer.stop()


def _faust(args: argparse.Namespace) -> None:
    import faust

    app = faust.App(
        args.app_id,
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        web_enabled=False,
        topic_partitions=4,
        consumer_auto_offset_reset="earliest",
    )
    in_topic = app.topic(args.input, key_serializer="raw", value_serializer="raw")
    out_topic = app.topic(args.output, key_serializer="raw", value_serializer="raw")
    state = {"seen": 0, "first": None}
    send = args.mode == "send"

    @app.agent(in_topic)
    async def relay(stream):  # type: ignore[no-untyped-def]
        async for value in stream:
            if state["first"] is None:
                state["first"] = time.time()
            if send:
                await out_topic.send(value=value)
            state["seen"] += 1
            if state["seen"] == args.events:
                _emit(variant=f"faust-{args.mode}", events=state["seen"], first=state["first"],
                      done=time.time(), pid=os.getpid())

    @app.timer(1.0)
    async def watchdog() -> None:
        if time.monotonic() > started + args.timeout:
            _emit(variant=f"faust-{args.mode}", events=state["seen"], first=state["first"],
                  done=None, timeout=True, pid=os.getpid())
            os._exit(3)

    started = time.monotonic()
    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.children")
    parser.add_argument("kind", choices=["bare", "faust"])
    parser.add_argument("--mode", choices=["send", "count"], default="send")
    parser.add_argument("--app-id", default="bench-faust")
    parser.add_argument("--bootstrap", default="127.0.0.1:19092")
    parser.add_argument("--in", dest="input", required=True)
    parser.add_argument("--out", dest="output", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--result", required=True, help="file to write the JSON result to")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--burn-us", type=float, default=0.0,
                        help="bare: Python work per event, in microseconds of CPU")
    parser.add_argument("--ready", help="bare: a file to create once the consumer reads")
    args = parser.parse_args()
    RESULT.append(args.result)
    if args.kind == "bare":
        asyncio.run(_bare(args))
    else:
        _faust(args)


if __name__ == "__main__":
    main()
