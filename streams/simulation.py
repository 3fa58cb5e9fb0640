"""A simulated labeling operation: tasks with a hidden true label, annotators of known accuracy.

Used by ``quorum demo`` (and usable by tests and benchmarks): it writes the events a
labeling tool would send, and answers reassignment requests the way a team would, by
giving the task to an annotator who has not seen it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

LABELS = ("positive", "negative", "neutral", "mixed")
FROM_NAME = "sentiment"


@dataclass(frozen=True, slots=True)
class SimulatedAnnotator:
    """An annotator who picks the true label with probability ``accuracy``."""

    name: str
    accuracy: float


def default_annotators(count: int) -> list[SimulatedAnnotator]:
    """``count`` annotators from a careful expert down to a careless newcomer."""
    if count < 3:
        raise ValueError("a consensus operation needs at least 3 annotators")
    step = 0.2 / max(count - 1, 1)
    return [SimulatedAnnotator(f"annotator-{i + 1}", round(0.97 - i * step, 3))
            for i in range(count)]


@dataclass
class LabelingOperation:
    """The project being labeled: truths, who labeled what, and the event counter."""

    project_id: str
    tasks: int
    annotators: list[SimulatedAnnotator]
    seed: int = 7
    rng: random.Random = field(init=False)
    # Time spent per annotation: its own generator, so the labels drawn do not depend on it.
    timing: random.Random = field(init=False)
    truth: dict[str, str] = field(init=False)
    # Some tasks are genuinely ambiguous: everyone's accuracy drops on them.
    ambiguous: set[str] = field(init=False)
    labeled_by: dict[str, set[str]] = field(init=False)
    load: dict[str, int] = field(init=False)
    _serial: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.timing = random.Random(self.seed + 1)
        ids = [f"task-{i:06d}" for i in range(self.tasks)]
        self.truth = {t: self.rng.choice(LABELS) for t in ids}
        self.ambiguous = {t for t in ids if self.rng.random() < 0.10}
        self.labeled_by = {t: set() for t in ids}
        self.load = {a.name: 0 for a in self.annotators}

    @property
    def task_ids(self) -> list[str]:
        """Every task, in import order."""
        return list(self.truth)

    def first_round(self, task_id: str, overlap: int) -> list[dict[str, Any]]:
        """The task's first ``overlap`` annotations, by the least-loaded annotators."""
        events: list[dict[str, Any]] = []
        for _ in range(overlap):
            event = self.annotate(task_id, exclude=set())
            if event is not None:
                events.append(event)
        # Now and then an annotator corrects themselves: an update with a new revision.
        if events and self.rng.random() < 0.03:
            first = events[0]
            events.append(self._event(task_id, first["annotation_id"], first["completed_by"],
                                      self._label(task_id, 0.95), kind="updated", revision=2))
        return events

    def annotate(self, task_id: str, exclude: set[str]) -> dict[str, Any] | None:
        """One more annotation of the task by an eligible annotator; None if nobody is left."""
        eligible = [a for a in self.annotators
                    if a.name not in exclude and a.name not in self.labeled_by[task_id]]
        if not eligible:
            return None
        low = min(self.load[a.name] for a in eligible)
        annotator = self.rng.choice([a for a in eligible if self.load[a.name] == low])
        self.load[annotator.name] += 1
        self.labeled_by[task_id].add(annotator.name)
        accuracy = annotator.accuracy * (0.7 if task_id in self.ambiguous else 1.0)
        self._serial += 1
        return self._event(task_id, f"ann-{self._serial:07d}", annotator.name,
                           self._label(task_id, accuracy))

    def _label(self, task_id: str, accuracy: float) -> str:
        truth = self.truth[task_id]
        if self.rng.random() < accuracy:
            return truth
        return self.rng.choice([label for label in LABELS if label != truth])

    def _event(self, task_id: str, annotation_id: str, annotator: str, label: str, *,
               kind: str = "created", revision: int = 1) -> dict[str, Any]:
        return {
            "schema": "quorum.annotation/v1",
            "event_id": f"{annotation_id}@{revision}",
            "project_id": self.project_id,
            "task_id": task_id,
            "occurred_at": datetime.now(UTC).isoformat(),
            "kind": kind,
            "annotation_id": annotation_id,
            "revision": revision,
            "completed_by": annotator,
            # Label Studio's lead_time: seconds spent, skewed as real labeling times are.
            "lead_time": round(self.timing.lognormvariate(2.5, 0.6), 1),
            "result": [{"from_name": FROM_NAME, "to_name": "text", "type": "choices",
                        "value": {"choices": [label]}}],
        }
