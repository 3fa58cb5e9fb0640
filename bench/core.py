"""CPU cost per event of the pure processing core: no Kafka, no Redis.

    .venv/bin/python -m bench.core            # min over 7 runs of 60,000 benchmark events
    PROF=1 .venv/bin/python -m bench.core     # and a cProfile of one more run

The same events as ``bench.pipeline``, in partition batches of 1,600 (what the agent
fetches under load), each batch reading its tasks from the previous batches' stored
records: parse, apply (the core), encode the outbox entry, serialize the records. The
garbage collector is tuned as in the worker (``tune_garbage_collector``).
"""

from __future__ import annotations

import cProfile
import os
import pstats
import time

from bench.events import generate
from streams.batch import InputRecord, apply_batch, encode_outputs, parse_batch
from streams.garbage import tune_garbage_collector

BATCH = 1600
PHASES = ("total", "parse", "apply", "encode", "records")


def run(records: list[InputRecord]) -> dict[str, float]:
    """One pass; microseconds per event for each phase."""
    store: dict[tuple[str, str], bytes] = {}
    spent = dict.fromkeys(PHASES, 0.0)
    start = time.perf_counter()
    for first in range(0, len(records), BATCH):
        t0 = time.perf_counter()
        batch = parse_batch(0, "bench", records[first:first + BATCH], max_bytes=1 << 20)
        t1 = time.perf_counter()
        outcome = apply_batch(batch, {r: store.get(r) for r in batch.task_refs}, {},
                              after_offset=None)
        t2 = time.perf_counter()
        encode_outputs(outcome.outputs)
        t3 = time.perf_counter()
        store.update({ref: record.to_json() for ref, record in outcome.records.items()})
        t4 = time.perf_counter()
        spent["parse"] += t1 - t0
        spent["apply"] += t2 - t1
        spent["encode"] += t3 - t2
        spent["records"] += t4 - t3
    spent["total"] = time.perf_counter() - start
    return {phase: seconds / len(records) * 1e6 for phase, seconds in spent.items()}


def main() -> None:
    records = [InputRecord(i, e.encode()) for i, e in enumerate(generate(60_000))]
    tune_garbage_collector()  # as the worker does
    runs = [run(records) for _ in range(7)]
    best = {phase: min(r[phase] for r in runs) for phase in PHASES}
    print("us per event (min of 7): " + "  ".join(f"{p} {best[p]:.1f}" for p in PHASES))
    if os.environ.get("PROF"):
        profiler = cProfile.Profile()
        profiler.enable()
        run(records)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(22)


if __name__ == "__main__":
    main()
