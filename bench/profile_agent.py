"""Where the annotations hot path spends its time: an in-process run of ``AnnotationsAgent``.

    .venv/bin/python -m bench.profile_agent [--events 100000] [--cprofile]

Fills a fresh ``bench-prof-<time>.annotations`` with the benchmark's events, runs the
agent built as ``streams.app`` builds it (no faust around it) until it has applied them
all, and prints the wall time spent in each step of a batch (fetch wait, parse, Redis
load, core, Redis apply, publish), the event loop thread's CPU time per event (steadier
than the rate on a noisy machine) and, with ``--cprofile``, the top functions. Topics
and Redis keys of the run are deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import io
import pstats
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

import streams.agents.annotations as annotations_mod
from bench.events import generate
from bench.pipeline import delete_run_keys, delete_run_topics, fill
from streams.agents.annotations import AnnotationsAgent, make_producer
from streams.kafka import ensure_topics
from streams.settings import Settings
from streams.state.keys import Keys
from streams.state.store import StateStore

SPENT: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)


def timed_async(name: str, fn: Any) -> Any:
    @functools.wraps(fn)
    async def wrapper(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        try:
            return await fn(*a, **k)
        finally:
            SPENT[name] += time.perf_counter() - t
            CALLS[name] += 1
    return wrapper


def timed_sync(name: str, fn: Any) -> Any:
    @functools.wraps(fn)
    def wrapper(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            SPENT[name] += time.perf_counter() - t
            CALLS[name] += 1
    return wrapper


async def main_async(args: argparse.Namespace) -> None:
    run = f"bench-prof-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}"
    settings = Settings().model_copy(update={"topic_prefix": run,
                                             "consumer_group": f"{run}-group"})
    n = args.events // 3 * 3
    await ensure_topics(settings)
    await fill(settings, list(generate(n, seed=1, run=run)))
    print(f"filled {n} events into {settings.topic('annotations')}")
    redis = Redis.from_url(settings.redis_url)
    producer = make_producer(settings)
    await producer.start()
    store = StateStore(redis, Keys(settings.key_prefix))
    agent = AnnotationsAgent(settings, store, producer)
    # Time each step of a batch (module-level functions are looked up at call time).
    annotations_mod.parse_batch = timed_sync("parse_batch", annotations_mod.parse_batch)
    annotations_mod.apply_batch = timed_sync("apply_batch (core)", annotations_mod.apply_batch)
    annotations_mod.encode_outputs = timed_sync("encode_outputs", annotations_mod.encode_outputs)
    store.load = timed_async("store.load (redis)", store.load)  # type: ignore[method-assign]
    store.apply = timed_async("store.apply (redis lua)", store.apply)  # type: ignore[method-assign]
    agent._publish = timed_async("_publish (kafka)", agent._publish)  # type: ignore[method-assign]
    agent._process = timed_async(  # type: ignore[method-assign]
        "_process (one fetch)", agent._process
    )
    halt = asyncio.Event()
    profiler = cProfile.Profile() if args.cprofile else None
    first = None
    try:
        runner = asyncio.ensure_future(agent.run(halt))
        deadline = time.monotonic() + args.timeout
        while agent.stats.events < n and time.monotonic() < deadline:
            if first is None and agent.stats.events > 0:
                first = (time.perf_counter(), agent.stats.events, time.thread_time())
                SPENT.clear()
                CALLS.clear()
                if profiler:
                    profiler.enable()
            await asyncio.sleep(0.005)
        end = time.perf_counter()
        cpu = time.thread_time() - first[2] if first else 0.0
        if profiler:
            profiler.disable()
        halt.set()
        await asyncio.wait_for(runner, 30)
    finally:
        await producer.stop()
        await redis.aclose()
        await delete_run_topics(settings.kafka_bootstrap, run)
        await delete_run_keys(settings.redis_url, run)
    assert first is not None
    wall = end - first[0]
    done = agent.stats.events - first[1]
    print(f"\n{done} events in {wall:.2f} s after the first batch: {done / wall:,.0f} events/s; "
          f"{agent.stats.batches} partition batches, "
          f"{agent.stats.events / max(agent.stats.batches, 1):.0f} events per partition batch; "
          f"{1e6 * cpu / done:.1f} us of the event loop thread's CPU per event")
    print(f"{'step':28}{'seconds':>9}{'share':>8}{'calls':>8}")
    for name, spent in sorted(SPENT.items(), key=lambda kv: -kv[1]):
        print(f"{name:28}{spent:9.2f}{spent / wall:8.0%}{CALLS[name]:8}")
    print("(share of wall time; _process includes load, core, apply and publish; the rest "
          "of the wall time is the getmany fetch and the event loop)")
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue())


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.profile_agent")
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--cprofile", action="store_true")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--timeout", type=float, default=300.0)
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
