"""The per-annotation facts behind annotator performance, and their contributions.

:class:`Ledger` remembers, per annotation, what it contributes (status, lead time,
reviews, pair scores with the task's other counted annotations) and reports each
contribution through a hook as it enters (+1) or leaves (-1). Every update is "take the
old contributions out, put the new ones in", so the running sums equal a recompute from
the current facts, whatever happened before.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .review_events import ReviewAction


@dataclass(slots=True)
class AnnotationRecord:
    """What one annotation contributes."""

    task: str
    annotator: str
    skipped: bool
    lead_time: float | None  # None: unknown or skipped
    counted: bool  # in the task's agreement
    outcome: ReviewAction | None  # latest verdict
    reviews: list[float]  # score of every review action, in order


StatusHook = Callable[[AnnotationRecord, int], None]
VerdictHook = Callable[[AnnotationRecord, int, float | None], None]
PairHook = Callable[[str, str, float, int], None]

_REVIEW_SCORE = {ReviewAction.ACCEPT: 1.0, ReviewAction.REJECT: 0.0}


class Ledger:
    """Annotation records and the pair scores of each task's counted annotations.

    Hooks: ``on_status(record, sign)`` for its submitted/skipped status and lead time;
    ``on_verdict(record, sign, None)`` for its latest outcome and ``on_verdict(record,
    sign, score)`` for one review action; ``on_pair(annotator_a, annotator_b, score,
    sign)`` for one pair score. Input is checked before anything changes, so a refused
    event leaves the sums as they were.
    """

    __slots__ = ("_members", "_on_pair", "_on_status", "_on_verdict", "_pairs", "_records")

    def __init__(self, on_status: StatusHook, on_verdict: VerdictHook, on_pair: PairHook) -> None:
        self._on_status = on_status
        self._on_verdict = on_verdict
        self._on_pair = on_pair
        self._records: dict[str, AnnotationRecord] = {}
        self._pairs: dict[str, dict[tuple[str, str], float]] = {}
        self._members: dict[str, set[str]] = {}

    def submit(
        self,
        task: str,
        annotation: str,
        annotator: str,
        pairs: Mapping[str, float],
        lead_time: float | None,
    ) -> None:
        """Count a submitted (or updated) annotation with its pair scores."""
        if lead_time is not None and not 0.0 <= lead_time < math.inf:
            raise ValueError(f"lead time must be finite seconds >= 0, got {lead_time!r}")
        record = self._existing(task, annotation, annotator)
        self._check_pairs(task, annotation, pairs)
        if record is None:
            record = AnnotationRecord(task, annotator, False, None, False, None, [])
            self._records[annotation] = record
        else:
            self._on_status(record, -1)
        record.skipped, record.lead_time = False, lead_time
        self._on_status(record, +1)
        self._set_pairs(annotation, record, pairs)

    def skip(self, task: str, annotation: str, annotator: str) -> None:
        """Mark an annotation skipped (cancelled): out of the agreement and lead times."""
        record = self._existing(task, annotation, annotator)
        if record is None:
            record = AnnotationRecord(task, annotator, True, None, False, None, [])
            self._records[annotation] = record
        else:
            self._on_status(record, -1)
            self._drop_pairs(annotation, record)
            record.skipped, record.lead_time = True, None
        self._on_status(record, +1)

    def review(self, annotation: str, action: ReviewAction, score: float) -> None:
        """Record a verdict and its score; a reject leaves the agreement."""
        record = self._records.get(annotation)
        if record is None or record.skipped:
            raise ValueError(
                f"annotation {annotation!r} is not a submitted annotation here; report its "
                "submission before its review"
            )
        expected = _REVIEW_SCORE.get(action)
        if expected is not None and score != expected:
            raise ValueError(f"a {action.value} scores {expected}, got {score!r}")
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"fix_and_accept score {score!r} is not in [0, 1]")
        self._on_verdict(record, -1, None)
        record.outcome = action
        record.reviews.append(float(score))
        self._on_verdict(record, +1, None)
        self._on_verdict(record, +1, float(score))
        if action is ReviewAction.REJECT:
            self._drop_pairs(annotation, record)

    def rescore(self, annotation: str, pairs: Mapping[str, float]) -> None:
        """Replace a counted annotation's pair scores (its result changed)."""
        record = self._records.get(annotation)
        if record is None or not record.counted:
            raise ValueError(
                f"annotation {annotation!r} is not in the agreement; only a counted "
                "annotation can be rescored"
            )
        self._check_pairs(record.task, annotation, pairs)
        self._set_pairs(annotation, record, pairs)

    def delete(self, annotation: str) -> bool:
        """Forget an annotation and everything it contributed."""
        record = self._records.get(annotation)
        if record is None:
            return False
        self._drop_pairs(annotation, record)
        self._on_status(record, -1)
        self._on_verdict(record, -1, None)
        for score in record.reviews:
            self._on_verdict(record, -1, score)
        del self._records[annotation]
        return True

    def _existing(self, task: str, annotation: str, annotator: str) -> AnnotationRecord | None:
        record = self._records.get(annotation)
        if record is not None and (record.task, record.annotator) != (task, annotator):
            raise ValueError(
                f"annotation {annotation!r} belongs to task {record.task!r} by "
                f"{record.annotator!r}, not task {task!r} by {annotator!r}; annotation "
                "ids must be unique in the project"
            )
        return record

    def _check_pairs(self, task: str, annotation: str, pairs: Mapping[str, float]) -> None:
        others = self._members.get(task, set()) - {annotation}
        if set(pairs) != others:
            raise ValueError(
                f"annotation {annotation!r} of task {task!r}: pass one pair score per other "
                f"counted annotation; missing {sorted(others - set(pairs))}, unknown "
                f"{sorted(set(pairs) - others)}"
            )
        for other, score in pairs.items():
            if not 0.0 <= score <= 1.0:  # NaN fails too
                raise ValueError(f"pair score of {annotation!r} and {other!r} is {score!r}")

    def _set_pairs(
        self, annotation: str, record: AnnotationRecord, pairs: Mapping[str, float]
    ) -> None:
        self._drop_pairs(annotation, record)
        held = self._pairs.setdefault(record.task, {})
        for other, score in pairs.items():
            key = (annotation, other) if annotation < other else (other, annotation)
            held[key] = float(score)
            self._on_pair(record.annotator, self._records[other].annotator, float(score), +1)
        self._members.setdefault(record.task, set()).add(annotation)
        record.counted = True

    def _drop_pairs(self, annotation: str, record: AnnotationRecord) -> None:
        if not record.counted:
            return
        task = record.task
        members, held = self._members[task], self._pairs.get(task, {})
        members.discard(annotation)
        for other in members:
            key = (annotation, other) if annotation < other else (other, annotation)
            score = held.pop(key)
            self._on_pair(record.annotator, self._records[other].annotator, score, -1)
        if not members:
            del self._members[task]
            self._pairs.pop(task, None)
        record.counted = False

    def to_state(self) -> dict[str, Any]:
        """JSON-able facts. Layout::

        {"annotations": {"<id>": [task, annotator, skipped, lead_time, counted,
                                  outcome | null, [review score, ...]]},
         "pairs": {"<task>": [[id_a, id_b, score], ...]}}       # id_a < id_b
        """
        return {
            "annotations": {
                aid: [
                    r.task,
                    r.annotator,
                    r.skipped,
                    r.lead_time,
                    r.counted,
                    None if r.outcome is None else r.outcome.value,
                    list(r.reviews),
                ]
                for aid, r in self._records.items()
            },
            "pairs": {
                task: [[a, b, score] for (a, b), score in sorted(held.items())]
                for task, held in self._pairs.items()
            },
        }

    def load(self, state: Mapping[str, Any]) -> None:
        """Replay :meth:`to_state` output into an empty ledger, through the hooks."""
        if self._records:
            raise ValueError("load the ledger state into an empty ledger")
        for aid, fields in state["annotations"].items():
            task, annotator, skipped, lead_time, counted, outcome, reviews = fields
            verdict = None if outcome is None else ReviewAction(outcome)
            record = AnnotationRecord(
                task,
                annotator,
                bool(skipped),
                lead_time,
                bool(counted),
                verdict,
                [float(s) for s in reviews],
            )
            self._records[aid] = record
            self._on_status(record, +1)
            self._on_verdict(record, +1, None)
            for score in record.reviews:
                self._on_verdict(record, +1, score)
            if record.counted:
                self._members.setdefault(task, set()).add(aid)
        for task, entries in state["pairs"].items():
            members = self._members.get(task, set())
            held = self._pairs.setdefault(task, {})
            for id_a, id_b, score in entries:
                if not (id_a < id_b and id_a in members and id_b in members):
                    raise ValueError(f"performance state: bad pair {id_a!r}, {id_b!r} of {task!r}")
                held[(id_a, id_b)] = float(score)
                annotators = self._records[id_a].annotator, self._records[id_b].annotator
                self._on_pair(*annotators, float(score), +1)
        for task, members in self._members.items():
            if len(self._pairs.get(task, {})) != len(members) * (len(members) - 1) // 2:
                raise ValueError(
                    f"performance state: task {task!r} lacks pair scores of its counted "
                    "annotations; rebuild the state from the events"
                )
