"""The label stream's ``next_task`` against a linear scan of every task, in one run.

    .venv/bin/python -m bench.label_stream                    # 100,000 tasks, 10,000 calls
    .venv/bin/python -m bench.label_stream --tasks 20000 --calls 2000 --baseline-calls 50

Pure core, no I/O; GC tuned as in the worker. One project: overlap 3, up to 2 additional
annotators, show-overlap-first, reservations of 30 s; ``--annotators`` (50) join, then
``--tasks`` (100,000) tasks are imported. Then ``--calls`` (10,000) ``next_task`` calls,
the annotators in turn, the clock advancing 50 ms per call. After each call the annotator
submits (89%), skips (10%, requeue for others) or walks away for 40 s (1%), so its
reservation expires and the task goes to someone else. A task reaching its overlap gets
one more annotator 15% of the time (the consensus's REASSIGN, up to 5), else completes.

Two scenarios, on fresh projects:

* ``steady``: the above from the start.
* ``skewed``: first one annotator labels ``--skew`` (20,000) tasks alone, so 20,000
  started tasks, each waiting for two more annotators, head the stream of everyone else,
  and the stream of that annotator must pass over all of them: the case where one heap
  shared by all annotators would walk 20,000 entries per call.

Every call is timed (``perf_counter_ns``). Every ``calls / baseline-calls``-th call, the
linear scan (``Distribution.linear_scan``, every task read) is timed first on the same
state, and the run fails unless it names the same task as ``next_task``. Output: p50, p99
and max per call for both, and ``bench/results/label-stream-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assignment.consensus import ConsensusPolicy
from assignment.distribution import Distribution, DistributionPolicy
from assignment.label_stream import Queue
from streams.agents.annotations import tune_garbage_collector

RESULTS = Path(__file__).resolve().parent / "results"
POOL = {Queue.LOW_AGREEMENT, Queue.STARTED, Queue.OVERLAP, Queue.SEQUENCE}
POLICY = DistributionPolicy(ConsensusPolicy(overlap=3, threshold=0.7, max_additional=2),
                            show_overlap_first=True, reservation_ttl=30.0)
STEP = 0.05  # seconds of simulated time per call
AWAY = 40.0  # seconds an annotator who walks away stays away: longer than the reservation


def project(args: argparse.Namespace) -> tuple[Distribution, list[str]]:
    d = Distribution(POLICY)
    annotators = [f"annotator-{i:02d}" for i in range(args.annotators)]
    for annotator in annotators:
        d.annotator_joined(annotator, 0.0)
    for i in range(args.tasks):
        d.task_imported(f"task-{i}", 0.0)
    return d, annotators


def decide(d: Distribution, task: str, rng: random.Random, now: float) -> None:
    """The consensus's part: complete, or ask for one more annotator."""
    view = d.task_view(task)
    if view is None or len(view.done) < view.target:
        return
    if len(view.done) < view.max_annotators and rng.random() < 0.15:
        d.one_more_needed(task, len(view.done), now)
    else:
        d.task_completed(task, now)


def run(d: Distribution, annotators: list[str], args: argparse.Namespace, seed: int,
        start: float) -> dict[str, Any]:
    rng = random.Random(seed)
    every = max(1, args.calls // max(1, args.baseline_calls))
    back_at = dict.fromkeys(annotators, 0.0)
    index_ns: list[int] = []
    scan_ns: list[int] = []
    queues: dict[str, int] = {}
    by_annotator: dict[str, list[int]] = {a: [] for a in annotators}
    now = start
    turn = 0
    for call in range(args.calls):
        now += STEP
        if all(back > now for back in back_at.values()):
            now = min(back_at.values())  # everyone away: time passes until one is back
        annotator = annotators[turn % len(annotators)]
        while back_at[annotator] > now:  # away: the turn passes on
            turn += 1
            annotator = annotators[turn % len(annotators)]
        turn += 1
        scan = None
        if call % every == 0:
            d.expire(now)  # the same state for both: no expiry inside the timed call
            t0 = time.perf_counter_ns()
            scan = d.linear_scan(annotator)
            scan_ns.append(time.perf_counter_ns() - t0)
        t0 = time.perf_counter_ns()
        assignment = d.next_task(annotator, now)
        elapsed = time.perf_counter_ns() - t0
        index_ns.append(elapsed)
        by_annotator[annotator].append(elapsed)
        if assignment is None:
            queues["none"] = queues.get("none", 0) + 1
            continue
        queues[assignment.queue.value] = queues.get(assignment.queue.value, 0) + 1
        if call % every == 0 and assignment.queue in POOL and \
                (assignment.task, assignment.queue) != scan:
            raise SystemExit(f"call {call}: next_task gave {assignment}, the scan {scan}")
        draw = rng.random()
        if draw < 0.89:
            d.annotation_submitted(assignment.task, annotator, now)
            decide(d, assignment.task, rng, now)
        elif draw < 0.99:
            d.annotation_skipped(assignment.task, annotator, now)
        else:
            back_at[annotator] = now + AWAY
    d.take_events()
    return {"index_ns": index_ns, "scan_ns": scan_ns, "queues": queues,
            "first_annotator_ns": by_annotator[annotators[0]], "end": now}


def open_tasks(d: Distribution, tasks: int) -> int:
    return sum(1 for i in range(tasks)
               if (view := d.task_view(f"task-{i}")) is not None and view.open)


def summary(values_ns: list[int]) -> dict[str, float]:
    us = sorted(v / 1e3 for v in values_ns)
    if not us:
        return {"n": 0}
    return {"n": len(us), "p50": statistics.median(us),
            "p99": us[min(len(us) - 1, round(0.99 * (len(us) - 1)))], "max": us[-1],
            "mean": statistics.fmean(us)}


def scenario(name: str, args: argparse.Namespace) -> dict[str, Any]:
    t0 = time.perf_counter()
    d, annotators = project(args)
    setup_s = time.perf_counter() - t0
    start = 1.0
    if name == "skewed":
        # One annotator alone first: the tasks they labeled head everyone else's stream.
        for _ in range(args.skew):
            start += 0.001
            assignment = d.next_task(annotators[0], start)
            assert assignment is not None
            d.annotation_submitted(assignment.task, annotators[0], start)
    before = open_tasks(d, args.tasks)
    figures = run(d, annotators, args, args.seed, start)
    return {
        "scenario": name, "setup_seconds": setup_s, "open_tasks_before": before,
        "open_tasks_after": open_tasks(d, args.tasks), "queues": figures["queues"],
        "next_task_us": summary(figures["index_ns"]),
        "linear_scan_us": summary(figures["scan_ns"]),
        "first_annotator_next_task_us": summary(figures["first_annotator_ns"]),
        "raw_ns": {"next_task": figures["index_ns"], "linear_scan": figures["scan_ns"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--baseline-calls", type=int, default=200)
    parser.add_argument("--skew", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scenarios", nargs="+", default=["steady", "skewed"],
                        choices=["steady", "skewed"])
    args = parser.parse_args()
    tune_garbage_collector()
    started = datetime.now(UTC)
    results = [scenario(name, args) for name in args.scenarios]
    print(f"{args.tasks:,} tasks, {args.annotators} annotators, overlap 3 (+2), "
          f"{args.calls:,} next_task calls; microseconds per call")
    print(f"{'scenario':<9} {'way':<12} {'calls':>6} {'p50':>9} {'p99':>9} {'max':>9}")
    for result in results:
        for way in ("next_task", "linear_scan", "first_annotator_next_task"):
            s = result[f"{way}_us"]
            label = "  annotator-00" if way.startswith("first") else way
            print(f"{result['scenario']:<9} {label:<12} {s['n']:>6} {s['p50']:>9.1f} "
                  f"{s['p99']:>9.1f} {s['max']:>9.1f}")
        ratio = result["linear_scan_us"]["p50"] / result["next_task_us"]["p50"]
        print(f"{'':<9} open tasks {result['open_tasks_before']:,} -> "
              f"{result['open_tasks_after']:,}; scan / index at p50: {ratio:,.0f}x; "
              f"queues {result['queues']}")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"label-stream-{started.strftime('%Y%m%dT%H%M%S')}.json"
    report = {"started": started.isoformat(), "args": vars(args),
              "python": platform.python_version(), "machine": platform.machine(),
              "results": results}
    path.write_text(json.dumps(report))
    print(f"details: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")


if __name__ == "__main__":
    main()
