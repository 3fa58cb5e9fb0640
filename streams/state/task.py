"""One task's stored state: its agreement accumulator plus what the workflow needs.

Stored in Redis as one orjson document per task (``Keys.task``). Applying an event is
idempotent: each annotation keeps the newest revision seen (a tombstone after a delete),
and an event at or below it changes nothing, so a duplicate delivery or a stale update
never overwrites newer work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from agreement import ScoringConfig, TaskAgreement
from assignment.consensus import Decision, DecisionState
from streams.models.annotation import AnnotationEvent, AnnotationKind

RECORD_VERSION = 1

# Per-annotation status in the record.
COUNTED = "counted"  # a person's annotation that takes part in the agreement
SKIPPED = "skipped"
DELETED = "deleted"
PREDICTION = "prediction"  # a model's; kept for model evaluation, never counted

# Module globals: reading an enum member from its class costs about 0.1 us, per event here.
_DELETED = AnnotationKind.DELETED
_SKIPPED = AnnotationKind.SKIPPED
_DECISION_TEXT = {decision: decision.value for decision in Decision}  # .value is slower


def prediction_key(annotation_id: str) -> str:
    """A prediction's id in the agreement: Label Studio numbers predictions apart from
    annotations, so the two may share a number (as in :func:`agreement.score_task`)."""
    return f"prediction:{annotation_id}"


@dataclass(slots=True)
class AnnotationEntry:
    """What the record remembers of one annotation besides its result."""

    revision: int
    status: str
    author: str  # completed_by for people, model_version for predictions, "" if unknown


@dataclass(slots=True)
class TaskRecord:
    """A task's annotations, agreement and last decision."""

    agreement: TaskAgreement = field(default_factory=TaskAgreement)
    entries: dict[str, AnnotationEntry] = field(default_factory=dict)
    predictions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    decision: DecisionState | None = None
    # The task's ground truth annotation: (annotation id, its result), at most one.
    ground_truth: tuple[str, list[dict[str, Any]]] | None = None

    def apply(self, event: AnnotationEvent) -> bool:
        """Apply one event; False when it is a duplicate or older than what is stored."""
        entry = self.entries.get(event.annotation_id)
        if entry is not None and event.revision <= entry.revision:
            return False
        kind = event.kind
        truth = self.ground_truth
        if truth is not None and truth[0] == event.annotation_id:
            # A newer revision of the ground truth annotation: it stays ground truth only
            # if it still says so (an update without the flag unmarks it).
            self.ground_truth = None
        if kind is _DELETED:
            self.agreement.remove(event.annotation_id)
            if self.predictions.pop(event.annotation_id, None) is not None:
                self.agreement.remove(prediction_key(event.annotation_id))
            # A prediction's author is a model version: not someone to keep off the task.
            author = entry.author if entry is not None and entry.status != PREDICTION else ""
            self.entries[event.annotation_id] = AnnotationEntry(event.revision, DELETED, author)
        elif event.model_version is not None:
            self.agreement.remove(event.annotation_id)
            self.predictions[event.annotation_id] = event.result
            scoring = self.agreement.scoring
            # Scored with the people only if the project says so; never toward overlap.
            if scoring is not None and scoring.include_predictions:
                self.agreement.upsert(prediction_key(event.annotation_id), event.result)
            self.entries[event.annotation_id] = AnnotationEntry(
                event.revision, PREDICTION, event.model_version
            )
        elif kind is _SKIPPED:
            self.agreement.remove(event.annotation_id)
            self.entries[event.annotation_id] = AnnotationEntry(
                event.revision, SKIPPED, event.completed_by or ""
            )
        else:
            # created, or an update of an annotation never seen: both carry the full
            # result, so both count as the annotation's current content.
            scoring = self.agreement.scoring
            excluded = scoring is not None and not scoring.include_ground_truth
            if event.ground_truth:
                # One ground truth per task: marking another replaces it (Label Studio),
                # and the one it replaces counts again if ground truth is left out.
                before = self.ground_truth
                if excluded and before is not None and self._counted(before[0]):
                    self.agreement.upsert(before[0], before[1])
                self.ground_truth = (event.annotation_id, event.result)
            if event.ground_truth and excluded:
                self.agreement.remove(event.annotation_id)
            else:
                self.agreement.upsert(event.annotation_id, event.result)
            self.entries[event.annotation_id] = AnnotationEntry(
                event.revision, COUNTED, event.completed_by or ""
            )
        return True

    def _counted(self, annotation_id: str) -> bool:
        entry = self.entries.get(annotation_id)
        return entry is not None and entry.status == COUNTED

    def ground_truth_agreement(self, annotation_id: str) -> float | None:
        """Agreement of a counted annotation with the task's ground truth, scored as the
        task's pairs are; None without ground truth, for the ground truth itself, or for
        an annotation that does not count (deleted, skipped, a prediction)."""
        truth = self.ground_truth
        entry = self.entries.get(annotation_id)
        if truth is None or truth[0] == annotation_id or entry is None or entry.status != COUNTED:
            return None
        result = self.agreement.result_of(annotation_id)
        if result is None:
            return None
        return self.agreement.score_pair_of(annotation_id, result, truth[0], truth[1])

    @property
    def annotators(self) -> list[str]:
        """Distinct annotators whose annotations count, sorted."""
        return sorted({e.author for e in self.entries.values() if e.status == COUNTED})

    @property
    def annotators_seen(self) -> list[str]:
        """Everyone who annotated or skipped the task: never assign it to them again."""
        return sorted(
            {e.author for e in self.entries.values() if e.status in (COUNTED, SKIPPED, DELETED)}
            - {""}
        )

    def to_json(self) -> bytes:
        """The stored document."""
        return orjson.dumps(
            {
                "v": RECORD_VERSION,
                "agreement": self.agreement.to_state(),
                "entries": {
                    aid: [e.revision, e.status, e.author] for aid, e in self.entries.items()
                },
                "predictions": self.predictions,
                "decision": None
                if self.decision is None
                else [_DECISION_TEXT[self.decision.decision], self.decision.annotator_count],
                "ground_truth": None if self.ground_truth is None else list(self.ground_truth),
            }
        )

    @classmethod
    def from_json(
        cls,
        raw: bytes | str | None,
        weights: Mapping[str, float] | None = None,
        scoring: ScoringConfig | None = None,
    ) -> TaskRecord:
        """Load a stored document; ``None`` (no key yet) gives an empty record.

        ``weights`` or ``scoring`` is the project's (see :class:`agreement.TaskAgreement`).
        """
        if raw is None:
            return cls(agreement=TaskAgreement(weights, scoring))
        doc = orjson.loads(raw)
        if doc.get("v") != RECORD_VERSION:
            raise ValueError(
                f"task record version {doc.get('v')!r} is not {RECORD_VERSION}; "
                "rebuild the state from the input topics (quorum rebuild)"
            )
        decision = doc["decision"]
        state = None if decision is None else DecisionState(Decision(decision[0]), decision[1])
        return cls(
            agreement=TaskAgreement.from_state(doc["agreement"], weights, scoring),
            entries={aid: AnnotationEntry(*e) for aid, e in doc["entries"].items()},
            predictions=doc["predictions"],
            decision=state,
            # Records written before ground truth was kept have no such field.
            ground_truth=None if doc.get("ground_truth") is None else tuple(doc["ground_truth"]),
        )
