"""Incremental task agreement against recomputing every pair, per metric and annotation count.

    .venv/bin/python -m bench.agreement                     # 9 repeats, k = 3 10 50, 4 metrics
    .venv/bin/python -m bench.agreement --repeats 5 --ks 10 --metrics choices bbox_iou

Per metric and k, one task of k Label Studio annotations generated from a seed (every
annotator noisy around the task's "truth"), and for each annotation a second, changed
result. One *update* replaces an annotation's result by its other one, cycling through
the annotations, so every update is a real change:

* incremental: ``TaskAgreement.upsert`` then ``.score`` (k - 1 pair scores);
* recompute: the same change in a ``{id: result}`` dict, then
  ``recompute(results, scoring=...)`` (all k(k-1)/2 pair scores).

Each figure is microseconds per update over enough updates to last >= ``--min-seconds``
(0.05 s), taken ``--repeats`` times with the two ways alternated in every repeat so noise
hits both alike; the table gives medians and the ratio of the medians (expected ~k/2).
Then the reads alone on a 2-tag task (choices + textarea): ``.score`` and ``.dimensions``
under the pairwise and the consensus methodology. The garbage collector is tuned as in the
worker. Results: a table on stdout and ``bench/results/agreement-<UTC time>.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import string
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from agreement import Methodology, ScoringConfig, TagScoring, TaskAgreement, recompute
from agreement.metrics import ResultItem
from streams.garbage import tune_garbage_collector

RESULTS = Path(__file__).resolve().parent / "results"
Result = list[ResultItem]
Annotate = Callable[[random.Random, Any], Result]

_VOCABULARY = (
    "the committee met in Lisbon on Tuesday to review the quarterly report of Acme Corp "
    "while Maria Silva and John Okafor argued about the budget for the new office in Kyoto"
)
_WORDS = _VOCABULARY.split()
_SENTENCES = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "Le cœur a ses raisons que la raison ne connaît point, dit-il à voix basse.",
)


def _region_id(rng: random.Random) -> str:
    # Label Studio region ids: 10 random letters and digits, different per annotator.
    return "".join(rng.choices(string.ascii_letters + string.digits, k=10))


def _choices(rng: random.Random, truth: str) -> Result:
    label = truth if rng.random() < 0.8 else rng.choice(("positive", "negative", "neutral"))
    return [{"id": _region_id(rng), "from_name": "sentiment", "to_name": "text",
             "type": "choices", "origin": "manual", "value": {"choices": [label]}}]


def _boxes_truth(rng: random.Random) -> list[tuple[float, ...]]:
    boxes: list[tuple[float, ...]] = []
    for _ in range(rng.randint(3, 5)):
        rotation = 0.0 if rng.random() < 0.6 else rng.uniform(5.0, 40.0)
        boxes.append((rng.uniform(5, 60), rng.uniform(5, 60), rng.uniform(8, 30),
                      rng.uniform(8, 30), rotation, rng.randrange(3)))
    return boxes


def _boxes(rng: random.Random, truth: list[tuple[float, ...]]) -> Result:
    result: Result = []
    for x, y, width, height, rotation, label in truth:
        if rng.random() < 0.1:  # a missed object
            continue
        value = {
            "x": x + rng.gauss(0, 1.0), "y": y + rng.gauss(0, 1.0),
            "width": width + rng.gauss(0, 1.0), "height": height + rng.gauss(0, 1.0),
            "rotation": rotation + rng.gauss(0, 2.0) if rotation else 0,
            "rectanglelabels": [("car", "person", "bicycle")[int(label)]],
        }
        result.append({"id": _region_id(rng), "from_name": "label", "to_name": "image",
                       "type": "rectanglelabels", "origin": "manual", "original_width": 1280,
                       "original_height": 720, "image_rotation": 0, "value": value})
    return result


def _text(rng: random.Random, truth: str) -> Result:
    text = list(truth)
    for _ in range(rng.choice((0, 1, 1, 2, 3))):  # a few typos
        at = rng.randrange(len(text))
        edit = rng.choice(("replace", "delete", "insert"))
        if edit == "delete":
            del text[at]
        else:
            text[at:at + (edit == "replace")] = [rng.choice(string.ascii_lowercase)]
    return [{"id": _region_id(rng), "from_name": "transcription", "to_name": "audio",
             "type": "textarea", "origin": "manual", "value": {"text": ["".join(text)]}}]


def _spans_truth(rng: random.Random) -> tuple[str, list[tuple[int, int, str]]]:
    words = [rng.choice(_WORDS) for _ in range(80)]
    starts = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
    spans = []
    for first in sorted(rng.sample(range(0, 78, 3), rng.randint(3, 5))):
        last = first + rng.randint(0, 2)
        spans.append((starts[first], starts[last] + len(words[last]),
                      rng.choice(("PER", "ORG", "LOC"))))
    return " ".join(words), spans


def _spans(rng: random.Random, truth: tuple[str, list[tuple[int, int, str]]]) -> Result:
    document, spans = truth
    result: Result = []
    for start, end, label in spans:
        if rng.random() < 0.1:
            continue
        start = max(0, start + rng.choice((0, 0, 0, -1, 2)))
        end = max(start + 1, min(len(document), end + rng.choice((0, 0, 0, 1, -2))))
        if rng.random() < 0.1:
            label = rng.choice(("PER", "ORG", "LOC"))
        result.append({"id": _region_id(rng), "from_name": "entities", "to_name": "text",
                       "type": "labels", "origin": "manual",
                       "value": {"start": start, "end": end, "text": document[start:end],
                                 "labels": [label]}})
    return result


# metric -> (truth of a task, one annotator's result around it)
CASES: dict[str, tuple[Callable[[random.Random], Any], Annotate]] = {
    "choices": (lambda rng: rng.choice(("positive", "negative", "neutral")), _choices),
    "bbox_iou": (_boxes_truth, _boxes),
    "text_edit_distance": (lambda rng: rng.choice(_SENTENCES), _text),
    "span_overlap": (_spans_truth, _spans),
}
_TAG = {"choices": "sentiment", "bbox_iou": "label", "text_edit_distance": "transcription",
        "span_overlap": "entities"}


class Updates:
    """Changes of one task, in a fixed cycle: annotation ``i % k`` swaps to its other result."""

    def __init__(self, versions: dict[str, tuple[Result, Result]]) -> None:
        self.ids = sorted(versions)
        self.versions = versions
        self.count = 0

    def initial(self) -> dict[str, Result]:
        return {aid: pair[0] for aid, pair in self.versions.items()}

    def next(self) -> tuple[str, Result]:
        k = len(self.ids)
        annotation_id = self.ids[self.count % k]
        # Round 0 moves every annotation to its changed result, round 1 back, and so on.
        result = self.versions[annotation_id][1 - (self.count // k) % 2]
        self.count += 1
        return annotation_id, result


def make_task(annotate: list[Annotate], truths: list[Any], k: int, seed: int) -> Updates:
    """k annotations (ids as Label Studio's integers) with a changed result for each."""
    rng = random.Random(seed)
    versions: dict[str, tuple[Result, Result]] = {}
    for index in range(k):
        first = [item for make, truth in zip(annotate, truths, strict=True)
                 for item in make(rng, truth)]
        second = first
        while _values(second) == _values(first):
            second = [item for make, truth in zip(annotate, truths, strict=True)
                      for item in make(rng, truth)]
        versions[str(40_000 + index)] = (first, second)
    return Updates(versions)


def _values(result: Result) -> list[Any]:
    return [item["value"] for item in result]


def per_call_us(
    step: Callable[[int], object], min_seconds: float
) -> tuple[int, Callable[[], float]]:
    """Calibrate ``step(n)`` (n calls) to last >= ``min_seconds``; return n and a timer
    giving microseconds per call."""
    calls = 1
    while True:
        start = time.perf_counter_ns()
        step(calls)
        if time.perf_counter_ns() - start >= min_seconds * 1e9:
            break
        calls *= 2

    def timer() -> float:
        start = time.perf_counter_ns()
        step(calls)
        return (time.perf_counter_ns() - start) / calls / 1e3

    return calls, timer


def compare(timers: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Each timer ``repeats`` times, all of them in every repeat in a rotating order."""
    names = list(timers)
    figures: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        for name in names[repeat % len(names):] + names[:repeat % len(names)]:
            figures[name].append(timers[name]())
    return figures


def bench_update(metric: str, k: int, args: argparse.Namespace) -> dict[str, Any]:
    make_truth, annotate = CASES[metric]
    truth = make_truth(random.Random(args.seed))
    scoring = ScoringConfig(tags={_TAG[metric]: TagScoring(metric)})
    updates = make_task([annotate], [truth], k, args.seed + k)
    task = TaskAgreement(scoring=scoring)
    for annotation_id, result in updates.initial().items():
        task.upsert(annotation_id, result)
    results = updates.initial()
    twin = Updates(updates.versions)  # the same changes, for the recompute side

    def incremental(calls: int) -> None:
        for _ in range(calls):
            annotation_id, result = updates.next()
            task.upsert(annotation_id, result)
            task.score  # noqa: B018 - reading the score is part of the update

    def from_scratch(calls: int) -> None:
        for _ in range(calls):
            annotation_id, result = twin.next()
            results[annotation_id] = result
            recompute(results, scoring=scoring)

    calls_inc, timer_inc = per_call_us(incremental, args.min_seconds)
    calls_rec, timer_rec = per_call_us(from_scratch, args.min_seconds)
    figures = compare({"incremental": timer_inc, "recompute": timer_rec}, args.repeats)
    # The two ways must agree exactly (DESIGN.md, "Agreement"), or the timing means nothing.
    if task.score != recompute(task.to_state()["results"], scoring=scoring):
        raise SystemExit(f"{metric} k={k}: incremental score differs from a recompute")
    ratios = [r / i for i, r in zip(figures["incremental"], figures["recompute"], strict=True)]
    median = {name: statistics.median(values) for name, values in figures.items()}
    return {
        "metric": metric, "k": k, "calls": {"incremental": calls_inc, "recompute": calls_rec},
        "us": figures,
        "median_us": median,
        "min_us": {name: min(values) for name, values in figures.items()},
        # Back-to-back pairs share the machine's state of the moment, so their ratios
        # scatter less than the timings themselves on a busy machine.
        "ratio_per_repeat": ratios,
        "ratio": median["recompute"] / median["incremental"],
        "ratio_median_per_repeat": statistics.median(ratios),
    }


def bench_reads(k: int, args: argparse.Namespace) -> dict[str, Any]:
    truths = [CASES["choices"][0](random.Random(args.seed)), _SENTENCES[2]]
    updates = make_task([_choices, _text], truths, k, args.seed + k)
    tasks = {}
    for methodology in (Methodology.PAIRWISE, Methodology.CONSENSUS):
        tags = {"sentiment": TagScoring("choices"),
                "transcription": TagScoring("text_edit_distance")}
        task = tasks[methodology] = TaskAgreement(
            scoring=ScoringConfig(tags=tags, methodology=methodology))
        for annotation_id, result in updates.initial().items():
            task.upsert(annotation_id, result)
    timers = {}
    for methodology, task in tasks.items():
        def score(calls: int, task: TaskAgreement = task) -> None:
            for _ in range(calls):
                task.score  # noqa: B018

        def dimensions(calls: int, task: TaskAgreement = task) -> None:
            for _ in range(calls):
                task.dimensions  # noqa: B018

        timers[f"{methodology.value} .score"] = per_call_us(score, args.min_seconds)[1]
        timers[f"{methodology.value} .dimensions"] = per_call_us(dimensions, args.min_seconds)[1]
    figures = compare(timers, args.repeats)
    return {"k": k, "us": figures,
            "median_us": {name: statistics.median(values) for name, values in figures.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.agreement", description=__doc__)
    parser.add_argument("--ks", type=int, nargs="+", default=[3, 10, 50])
    parser.add_argument("--metrics", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--min-seconds", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=20261128)
    args = parser.parse_args()
    started = datetime.now(UTC)
    tune_garbage_collector()  # as the worker does
    updates = [bench_update(metric, k, args) for metric in args.metrics for k in args.ks]
    reads = [bench_reads(k, args) for k in args.ks]

    print(f"one update, us per update (median of {args.repeats}, and min); "
          "ratio = recompute / incremental: of the medians, and median of the per-repeat ratios")
    print(f"{'metric':<19}{'k':>3}{'incremental':>12}{'(min)':>8}{'recompute':>11}{'(min)':>9}"
          f"{'ratio':>7}{'per rep':>8}{'k/2':>6}{'us/pair':>8}")
    for row in updates:
        k, median, least = row["k"], row["median_us"], row["min_us"]
        print(f"{row['metric']:<19}{k:>3}{median['incremental']:>12.1f}"
              f"{least['incremental']:>8.1f}{median['recompute']:>11.1f}"
              f"{least['recompute']:>9.1f}{row['ratio']:>7.1f}"
              f"{row['ratio_median_per_repeat']:>8.1f}{k / 2:>6.1f}"
              f"{median['recompute'] / (k * (k - 1) / 2):>8.1f}")
    names = list(reads[0]["median_us"])
    print(f"\nreads of a 2-tag task (choices + textarea), us (median of {args.repeats})")
    print(f"{'k':>4}" + "".join(f"{name:>24}" for name in names))
    for row in reads:
        print(f"{row['k']:>4}" + "".join(f"{row['median_us'][n]:>24.2f}" for n in names))

    report = {
        "started": started.isoformat(), "args": vars(args),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor(),
                    "packages": {p: version(p) for p in ("numpy", "shapely", "rapidfuzz")}},
        "updates": updates, "reads": reads,
        "seconds": (datetime.now(UTC) - started).total_seconds(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"agreement-{started.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=1))
    print(f"\n{report['seconds']:.0f} s; {path.relative_to(RESULTS.parent.parent)}")


if __name__ == "__main__":
    main()
