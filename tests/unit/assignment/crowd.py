"""Simulated crowds for the reliability tests: annotators of known accuracy label tasks.

Issue 4's scenario: 12 annotators, two of them poor, overlap 3 and up to 2 more
annotators while a task's labels disagree. A wrong label is drawn uniformly from the
other classes (the one-coin model's assumption, which the full model also fits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Accuracy per annotator; with 4 classes chance is 0.25, so a10 and a11 are barely better.
ACCURACY = {
    "a00": 0.92,
    "a01": 0.90,
    "a02": 0.88,
    "a03": 0.86,
    "a04": 0.85,
    "a05": 0.83,
    "a06": 0.81,
    "a07": 0.80,
    "a08": 0.78,
    "a09": 0.76,
    "a10": 0.38,
    "a11": 0.32,
}
POOR = {"a10", "a11"}
CLASSES = ("cat", "dog", "bird", "猫")


@dataclass(frozen=True)
class Crowd:
    """Labels as (task, annotator, label) triples in arrival order, and the truth."""

    labels: list[tuple[str, str, str]]
    truth: dict[str, str]


def simulate(
    seed: int,
    tasks: int = 2000,
    overlap: int = 3,
    max_additional: int = 2,
    accuracy: dict[str, float] | None = None,
) -> Crowd:
    """A seeded crowd: each task's annotators in a random order, the first ``overlap``
    label it, then one more at a time while the labels are not unanimous."""
    accuracy = ACCURACY if accuracy is None else accuracy
    rng = np.random.default_rng(seed)
    names = sorted(accuracy)
    labels: list[tuple[str, str, str]] = []
    truth: dict[str, str] = {}
    for number in range(tasks):
        task = f"task-{number}"
        true = int(rng.integers(len(CLASSES)))
        truth[task] = CLASSES[true]
        given: list[int] = []
        for position, index in enumerate(rng.permutation(len(names))):
            enough = position >= overlap and len(set(given)) == 1
            if enough or position >= overlap + max_additional:
                break
            annotator = names[index]
            if rng.random() < accuracy[annotator]:
                label = true
            else:
                label = int(rng.choice([c for c in range(len(CLASSES)) if c != true]))
            given.append(label)
            labels.append((task, annotator, CLASSES[label]))
    return Crowd(labels, truth)


def accuracy_of(consensus: dict[str, str], truth: dict[str, str]) -> float:
    """Share of tasks whose consensus is the true label."""
    return sum(consensus[task] == label for task, label in truth.items()) / len(truth)
