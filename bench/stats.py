"""Project alpha from the accumulated state against the krippendorff package, 1M annotations.

    .venv/bin/python -m bench.stats                 # 5 repeats of every case
    .venv/bin/python -m bench.stats --repeats 3 --cases nominal-5x200k

Per case, one seeded data set of 1,000,000 annotations (tasks x annotators, every
annotator labels every task): nominal, 5 categories, each annotator right 80% of the
time; or interval, a 1-10 rating, the task's true rating plus noise. Then, in the same
process:

* build: one ``KrippendorffAccumulator.add`` per annotation, in random order (the
  cost of one incremental update that grows a task);
* replace: 100,000 ``replace`` calls, one annotator changing their value (the cost of
  an edit), timed per repeat;
* alpha from state: ``accumulator.alpha(level)``;
* ``krippendorff.alpha(reliability_data=..., level_of_measurement=level)`` on the
  annotators x tasks matrix of the same data, and Quorum's batch ``krippendorff_alpha``
  on it, alternated with the previous one in every repeat so noise hits all alike.

Medians over repeats, and the ratio of the medians; the figures of the three ways must
agree to 1e-9 or the run fails.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import krippendorff
import numpy as np

from agreement.stats import KrippendorffAccumulator, krippendorff_alpha

REPLACES = 100_000


@dataclass(frozen=True)
class Case:
    name: str
    level: str
    tasks: int
    annotators: int


CASES = {
    case.name: case
    for case in (
        Case("nominal-5x200k", "nominal", 200_000, 5),
        Case("nominal-3x333k", "nominal", 333_333, 3),
        Case("interval-5x200k", "interval", 200_000, 5),
    )
}


def generate(case: Case, rng: np.random.Generator) -> np.ndarray:
    """Annotators x tasks values (float64): labels 0-4, or ratings 1-10."""
    shape = (case.annotators, case.tasks)
    if case.level == "nominal":
        truth = rng.choice(5, size=case.tasks, p=[0.4, 0.25, 0.15, 0.12, 0.08])
        noise = rng.integers(0, 5, size=shape)
        return np.where(rng.random(shape) < 0.8, truth, noise).astype(np.float64)
    truth = rng.integers(1, 11, size=case.tasks)
    return np.clip(np.rint(truth + rng.normal(0, 1.2, size=shape)), 1, 10)


def seconds(function: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def run(case: Case, repeats: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data = generate(case, rng)
    labels = [str(int(value)) if case.level == "nominal" else int(value) for value in range(11)]
    annotator_ids, task_ids = np.unravel_index(rng.permutation(data.size), data.shape)
    tasks = [str(task) for task in range(case.tasks)]

    accumulator = KrippendorffAccumulator()
    add = accumulator.add
    start = time.perf_counter()
    for annotator, task in zip(annotator_ids.tolist(), task_ids.tolist(), strict=True):
        add(tasks[task], labels[int(data[annotator, task])])
    build = time.perf_counter() - start

    replace_us: list[float] = []
    ours: list[float] = []
    theirs: list[float] = []
    batch: list[float] = []
    figures: set[float] = set()
    for _ in range(repeats):
        # An edit: one annotator's value becomes another, then the next edit undoes it, so
        # the data (and every figure) stays the same across repeats.
        picks = np.unravel_index(rng.integers(0, data.size, size=REPLACES // 2), data.shape)
        old_values = data[picks].astype(np.int64)
        low, span = (0, 5) if case.level == "nominal" else (1, 10)
        new_values = (old_values - low + rng.integers(1, span, size=len(old_values))) % span + low
        edits = [
            (tasks[task], labels[old], labels[new])
            for task, old, new in zip(
                picks[1].tolist(), old_values.tolist(), new_values.tolist(), strict=True
            )
        ]
        replace = accumulator.replace
        start = time.perf_counter()
        for task, old, new in edits:
            replace(task, old, new)
            replace(task, new, old)
        replace_us.append((time.perf_counter() - start) / REPLACES * 1e6)

        elapsed, figure = seconds(lambda: accumulator.alpha(case.level))
        ours.append(elapsed)
        figures.add(float(figure))  # type: ignore[arg-type]
        elapsed, figure = seconds(
            lambda: krippendorff.alpha(reliability_data=data, level_of_measurement=case.level)
        )
        theirs.append(elapsed)
        if not math.isclose(float(figure), min(figures), rel_tol=1e-9):  # type: ignore[arg-type]
            raise SystemExit(f"{case.name}: krippendorff says {figure}, the accumulator {figures}")
        elapsed, figure = seconds(lambda: krippendorff_alpha(data, case.level))
        batch.append(elapsed)
        figures.add(float(figure))  # type: ignore[arg-type]
    if max(figures) - min(figures) > 1e-12:
        raise SystemExit(f"{case.name}: figures differ: {sorted(figures)}")

    median = statistics.median
    print(
        f"{case.name:16} alpha {min(figures):.6f}  "
        f"build {build / data.size * 1e6:.2f} us/add  "
        f"replace {median(replace_us):.2f} us  "
        f"alpha from state {median(ours) * 1e3:.2f} ms  "
        f"krippendorff {median(theirs) * 1e3:.0f} ms  "
        f"batch {median(batch) * 1e3:.0f} ms  "
        f"krippendorff / state {median(theirs) / median(ours):.0f}x"
    )
    print(
        f"{'':16} per repeat: state "
        + " ".join(f"{t * 1e3:.2f}" for t in ours)
        + " ms; krippendorff "
        + " ".join(f"{t * 1e3:.0f}" for t in theirs)
        + " ms; batch "
        + " ".join(f"{t * 1e3:.0f}" for t in batch)
        + " ms; replace "
        + " ".join(f"{t:.2f}" for t in replace_us)
        + " us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    args = parser.parse_args()
    for name in args.cases:
        run(CASES[name], args.repeats, args.seed)


if __name__ == "__main__":
    main()
