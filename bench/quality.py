"""Annotator quality per workflow fact: ``streams.quality.ProjectQuality.submitted``.

    .venv/bin/python -m bench.quality                        # 20,000 tasks, 5 and 25 annotators
    .venv/bin/python -m bench.quality --tasks 5000 --repeats 3 --annotators 5

Pure core, no I/O; GC tuned as in the worker. A simulated labeling operation per
``--annotators`` count (5 and 25): ``--tasks`` (20,000) tasks, each with a true label
("pos" 60%, "neg"), labelled by ``--overlap`` (3) distinct annotators drawn at random.
Annotator ``i`` gives the true label with an accuracy from 0.95 down to 0.60, takes a
log-normal lead time, and submits within 30 s of the task's start (a task starts every
second, so ~30 tasks are in flight and facts of different tasks interleave). Each fact is
what the annotations agent reports: the single label, the pair score (1.0 same label,
0.0 not) with each earlier annotation of the task, and on the ``--ground-truth`` share
(10%) of tasks the ground-truth score (1.0 right, 0.0 wrong). The evaluation pauses
annotators below 0.7 over at least 10 ground-truth tasks.

The facts are generated before timing. One run feeds all of them, in time order, into a
fresh ``ProjectQuality``; its figure is microseconds per fact. Two ways per scenario,
alternated in every repeat (``--repeats``, 3) so noise hits both alike:

* ``reliability on``: the default settings (online Dawid-Skene);
* ``reliability off``: ``QualitySettings(reliability=False)``, the rest of the path
  (performance, ground-truth scores, events), so the estimator's share is the difference.

Every run of a way must give the same events and final ``to_state()``; their SHA-256
(``digest``) is printed, so two checkouts of the code can be compared for identical
results as well as for speed. Output: a table of medians and
``bench/results/quality-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import platform
import random
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from assignment import EvaluationSettings
from streams.garbage import tune_garbage_collector
from streams.quality import ProjectQuality, QualitySettings

RESULTS = Path(__file__).resolve().parent / "results"
LABELS = ("pos", "neg")
EVALUATION = EvaluationSettings(enabled=True, pause_on_failure=True, minimum_score=0.7,
                                minimum_tasks=10)
WAYS = {
    "reliability on": QualitySettings(EVALUATION),
    "reliability off": QualitySettings(EVALUATION, reliability=False),
}


@dataclass(frozen=True, slots=True)
class Fact:
    """The arguments of one ``ProjectQuality.submitted`` call."""

    task: str
    annotation: str
    annotator: str
    now: float
    pairs: dict[str, float]
    ground_truth_score: float | None
    label: str
    lead_time: float


def operation(tasks: int, annotators: int, overlap: int, ground_truth: float,
              seed: int) -> list[Fact]:
    """The facts of a simulated labeling operation, in time order."""
    rng = random.Random(seed)
    names = [f"annotator-{i:02d}" for i in range(annotators)]
    step = 0.35 / max(annotators - 1, 1)
    accuracy = {name: 0.95 - i * step for i, name in enumerate(names)}
    timed: list[tuple[float, Fact]] = []
    serial = 0
    for index in range(tasks):
        task = f"task-{index:06d}"
        truth = "pos" if rng.random() < 0.6 else "neg"
        scored = rng.random() < ground_truth
        times = sorted(index + rng.uniform(0.0, 30.0) for _ in range(overlap))
        earlier: dict[str, str] = {}  # annotation -> label
        for at, annotator in zip(times, rng.sample(names, overlap), strict=True):
            right = rng.random() < accuracy[annotator]
            label = truth if right else LABELS[1 - LABELS.index(truth)]
            serial += 1
            annotation = str(100_000 + serial)
            pairs = {aid: 1.0 if other == label else 0.0 for aid, other in earlier.items()}
            timed.append((at, Fact(task, annotation, annotator, at, pairs,
                                   (1.0 if right else 0.0) if scored else None, label,
                                   rng.lognormvariate(3.0, 0.5))))
            earlier[annotation] = label
    timed.sort(key=lambda pair: pair[0])
    return [fact for _, fact in timed]


def feed(facts: list[Fact], settings: QualitySettings) -> tuple[float, str]:
    """Microseconds per fact of one run, and the digest of its events and final state."""
    quality = ProjectQuality(settings)
    events: list[object] = []
    start = time.perf_counter_ns()
    for f in facts:
        events.extend(quality.submitted(f.task, f.annotation, f.annotator, f.now,
                                        pairs=f.pairs, ground_truth_score=f.ground_truth_score,
                                        label=f.label, lead_time=f.lead_time))
    elapsed = time.perf_counter_ns() - start
    digest = hashlib.sha256()
    for event in events:
        digest.update(repr(event).encode())  # dataclass reprs: floats to the last bit
    digest.update(json.dumps(quality.to_state(), sort_keys=True).encode())
    del quality, events
    gc.collect()  # the collector is off, as in the worker: free this run's cycles now
    return elapsed / len(facts) / 1e3, digest.hexdigest()


def scenario(annotators: int, args: argparse.Namespace) -> dict[str, Any]:
    facts = operation(args.tasks, annotators, args.overlap, args.ground_truth,
                      args.seed + annotators)
    names = list(WAYS)
    figures: dict[str, list[float]] = {name: [] for name in names}
    digests: dict[str, set[str]] = {name: set() for name in names}
    for repeat in range(args.repeats):
        for name in names[repeat % 2:] + names[:repeat % 2]:
            us, digest = feed(facts, WAYS[name])
            figures[name].append(us)
            digests[name].add(digest)
    for name, found in digests.items():
        if len(found) != 1:
            raise SystemExit(f"{annotators} annotators, {name}: runs differ in their results")
    median = {name: statistics.median(values) for name, values in figures.items()}
    return {
        "annotators": annotators, "facts": len(facts), "us": figures, "median_us": median,
        "min_us": {name: min(values) for name, values in figures.items()},
        "estimator_us": median["reliability on"] - median["reliability off"],
        "digest": {name: found.pop() for name, found in digests.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.quality", description=__doc__)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--annotators", type=int, nargs="+", default=[5, 25])
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--ground-truth", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261129)
    args = parser.parse_args()
    if not 0 < args.overlap <= min(args.annotators):
        parser.error("--overlap must be between 1 and the smallest --annotators")
    started = datetime.now(UTC)
    tune_garbage_collector()  # as the worker does
    rows = [scenario(count, args) for count in args.annotators]

    print(f"us per submitted fact, {args.tasks:,} tasks x {args.overlap} annotators "
          f"(median of {args.repeats}, and min); estimator = on - off")
    print(f"{'annotators':>10}{'on':>9}{'(min)':>8}{'off':>9}{'(min)':>8}{'estimator':>11}"
          "  digest on / off")
    for row in rows:
        median, least, digest = row["median_us"], row["min_us"], row["digest"]
        print(f"{row['annotators']:>10}{median['reliability on']:>9.1f}"
              f"{least['reliability on']:>8.1f}{median['reliability off']:>9.1f}"
              f"{least['reliability off']:>8.1f}{row['estimator_us']:>11.1f}"
              f"  {digest['reliability on'][:12]} / {digest['reliability off'][:12]}")

    report = {
        "started": started.isoformat(), "args": vars(args),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor(),
                    "packages": {"numpy": version("numpy")}},
        "code": str(Path.cwd()),
        "scenarios": rows,
        "seconds": (datetime.now(UTC) - started).total_seconds(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"quality-{started.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"\n{report['seconds']:.0f} s; {path.relative_to(RESULTS.parent.parent)}")


if __name__ == "__main__":
    main()
