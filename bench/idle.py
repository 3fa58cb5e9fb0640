"""What an idle worker costs: its CPU and the broker's while no annotation comes, with the
fetch hold switched off while idle (the default, streams/fetch_hold.py) against the hold
kept while idle (``QUORUM_FETCH_IDLE_WAIT_MS=0``, the behaviour before session 17).

    .venv/bin/python -m bench.idle                    # 3 alternated pairs, 20 s each
    .venv/bin/python -m bench.idle --repeats 5 --seconds 30

Per run: a fresh prefix and a fresh ``quorum worker``, waited for until it owns its
partitions, 5 s to settle, then the worker's and the broker's CPU over ``--seconds`` of
nothing. The two variants alternate, the first one swapped each repeat. The broker's
figure is all of its CPU, its own housekeeping included. Needs Kafka and Redis up
(`make up`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import uuid
from typing import Any

from bench.latency import RESULTS
from bench.pipeline import CpuMeter
from streams.kafka import delete_topics, ensure_topics
from streams.operations import delete_state
from streams.settings import Settings
from streams.worker_process import WorkerProcess

_SETTLE_S = 5.0
VARIANTS = {"idle switch (default)": None, "hold kept while idle": 0}


async def measure(idle_wait_ms: int | None, seconds: float) -> dict[str, Any]:
    """Cores used by a fresh idle worker and by the broker over ``seconds``."""
    name = f"idle{uuid.uuid4().hex[:8]}"
    update: dict[str, Any] = {"topic_prefix": name, "consumer_group": f"{name}-g"}
    if idle_wait_ms is not None:
        update["fetch_idle_wait_ms"] = idle_wait_ms
    settings = Settings().model_copy(update=update)
    await ensure_topics(settings)
    worker = WorkerProcess(settings, RESULTS / f"{name}-worker.log")
    cpu = CpuMeter(settings.redis_url, worker.process.pid)
    try:
        await worker.wait_owning(settings.partitions)
        await asyncio.sleep(_SETTLE_S)
        await cpu.mark()
        await asyncio.sleep(seconds)
        await cpu.mark()
    finally:
        worker.stop()
        await delete_state(settings)
        await delete_topics(settings)
    cores = cpu.cores(digits=4)
    if cores["worker"] is None:
        raise RuntimeError(f"the worker's CPU could not be read; see {worker.log_path}")
    return cores


async def main(repeats: int, seconds: float) -> None:
    results: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    order = list(VARIANTS)
    for repeat in range(repeats):
        for variant in order if repeat % 2 == 0 else order[::-1]:
            cores = await measure(VARIANTS[variant], seconds)
            results[variant].append(cores)
            kafka = "-" if cores["kafka"] is None else f"{cores['kafka']:.3f}"
            print(f"repeat {repeat + 1}, {variant}: worker {cores['worker']:.3f} cores, "
                  f"broker {kafka} cores", flush=True)
    print(f"\nidle for {seconds:.0f} s, medians of {repeats} (cores):")
    medians = {}
    for variant, runs in results.items():
        worker = statistics.median(r["worker"] for r in runs)
        brokers = [r["kafka"] for r in runs if r["kafka"] is not None]
        broker = statistics.median(brokers) if brokers else float("nan")
        medians[variant] = (worker, broker)
        print(f"  {variant:<24} worker {worker:.3f}  broker {broker:.3f}")
    (w_new, k_new), (w_old, k_old) = medians[order[0]], medians[order[1]]
    print(f"  switch / kept: worker {w_new / w_old:.2f}, broker {k_new / k_old:.2f}")


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    os.environ.pop("QUORUM_FETCH_IDLE_WAIT_MS", None)  # the variants set it
    asyncio.run(main(args.repeats, args.seconds))


if __name__ == "__main__":
    cli()
