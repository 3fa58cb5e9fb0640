"""One task's stored state: its agreement accumulator plus what the workflow needs.

Stored in Redis as one orjson document per task (``Keys.task``). Applying an event is
idempotent: each annotation keeps the newest revision seen (a tombstone after a delete),
and an event at or below it changes nothing, so a duplicate delivery or a stale update
never overwrites newer work. Reviews likewise: each annotation keeps its latest verdict
with the review's own revision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from agreement import ScoringConfig, TaskAgreement
from assignment.consensus import Decision, DecisionState
from assignment.review_events import ReviewAction
from streams.models.annotation import AnnotationEvent, AnnotationKind
from streams.models.invalid import InvalidEvent
from streams.models.review import ReviewEvent

RECORD_VERSION = 1

# Per-annotation status in the record.
COUNTED = "counted"  # a person's annotation that takes part in the agreement
SKIPPED = "skipped"
DELETED = "deleted"
PREDICTION = "prediction"  # a model's; kept for model evaluation, never counted
REJECTED = "rejected"  # a reviewer rejected it: out of the agreement until resubmitted

# Module globals: reading an enum member from its class costs about 0.1 us, per event here.
_DELETED = AnnotationKind.DELETED
_SKIPPED = AnnotationKind.SKIPPED
_DECISION_TEXT = {decision: decision.value for decision in Decision}  # .value is slower
_ACCEPT = ReviewAction.ACCEPT
_REJECT = ReviewAction.REJECT


def prediction_key(annotation_id: str) -> str:
    """A prediction's id in the agreement: Label Studio numbers predictions apart from
    annotations, so the two may share a number (as in :func:`agreement.score_task`)."""
    return f"prediction:{annotation_id}"


# Their own __init__ (AnnotationEntry, TaskRecord): mypyc compiles it, while the one
# dataclasses would write runs as Python; both are built on every event or task read.
@dataclass(slots=True, init=False)
class AnnotationEntry:
    """What the record remembers of one annotation besides its result."""

    revision: int
    status: str
    author: str  # completed_by for people, model_version for predictions, "" if unknown

    def __init__(self, revision: int, status: str, author: str) -> None:
        self.revision = revision
        self.status = status
        self.author = author


@dataclass(slots=True)
class Verdict:
    """An annotation's latest review: its revision (the review's own), the action and its
    score (accept 1, reject 0, fix-and-accept the submitted result's agreement with the
    fixed one: Label Studio's performance score)."""

    revision: int
    action: ReviewAction
    score: float


@dataclass(slots=True, init=False)
class TaskRecord:
    """A task's annotations, agreement and last decision."""

    agreement: TaskAgreement
    entries: dict[str, AnnotationEntry]
    predictions: dict[str, list[dict[str, Any]]]
    decision: DecisionState | None
    # The task's ground truth annotation: (annotation id, its result), at most one.
    ground_truth: tuple[str, list[dict[str, Any]]] | None
    verdicts: dict[str, Verdict]  # by annotation id
    # The labeling tool's overlap for the task, from its latest event that said
    # (AnnotationEvent.task_overlap); deletions do not say, so it is kept.
    tool_overlap: int | None

    def __init__(
        self,
        agreement: TaskAgreement | None = None,
        entries: dict[str, AnnotationEntry] | None = None,
        predictions: dict[str, list[dict[str, Any]]] | None = None,
        decision: DecisionState | None = None,
        ground_truth: tuple[str, list[dict[str, Any]]] | None = None,
        verdicts: dict[str, Verdict] | None = None,
        tool_overlap: int | None = None,
    ) -> None:
        self.agreement = TaskAgreement() if agreement is None else agreement
        self.entries = {} if entries is None else entries
        self.predictions = {} if predictions is None else predictions
        self.decision = decision
        self.ground_truth = ground_truth
        self.verdicts = {} if verdicts is None else verdicts
        self.tool_overlap = tool_overlap

    def apply(self, event: AnnotationEvent) -> bool:
        """Apply one event; False when it is a duplicate or older than what is stored."""
        entry = self.entries.get(event.annotation_id)
        if entry is not None and event.revision <= entry.revision:
            return False
        if event.task_overlap is not None:
            self.tool_overlap = event.task_overlap
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

    def review(self, event: ReviewEvent) -> bool:
        """Apply a reviewer's verdict; False when it is a duplicate or older than the
        annotation's latest verdict.

        A reject takes the annotation out of the agreement until its annotator submits a
        new revision; a fix-and-accept counts the fixed result in place of the submitted
        one; an accept changes no agreement. Raises ``InvalidEvent`` (a dead letter) for
        an annotation that cannot be reviewed: unknown here, or not counted (deleted,
        skipped, a prediction, or rejected and not resubmitted).
        """
        annotation_id = event.annotation_id
        verdict = self.verdicts.get(annotation_id)
        if verdict is not None and event.revision <= verdict.revision:
            return False
        entry = self.entries.get(annotation_id)
        if entry is None:
            raise InvalidEvent(
                f"annotation {annotation_id!r} of task {event.task_id!r} (project "
                f"{event.project_id!r}) is unknown: send a review after the annotation it "
                "reviews, keyed by the same task"
            )
        if entry.status != COUNTED:
            why = ("was rejected; review it again once its annotator submits a new revision"
                   if entry.status == REJECTED else
                   f"is {entry.status}: only a person's counted annotation can be reviewed")
            raise InvalidEvent(
                f"annotation {annotation_id!r} of task {event.task_id!r} {why}"
            )
        action = event.action
        truth = self.ground_truth
        is_truth = truth is not None and truth[0] == annotation_id
        if action is _ACCEPT:
            score = 1.0
        elif action is _REJECT:
            score = 0.0
            self.agreement.remove(annotation_id)
            entry.status = REJECTED
            if is_truth:
                # Rejected work is no reference: it is ground truth again only if a new
                # revision says so, as for an update without the flag.
                self.ground_truth = None
        else:
            fixed = event.result
            assert fixed is not None, "parse_review requires the fixed result"
            # The ground truth's result is at hand even where the project leaves it out of
            # the agreement; any other counted annotation is in the agreement.
            submitted = truth[1] if truth is not None and is_truth else (
                self.agreement.result_of(annotation_id))
            assert submitted is not None, "a counted annotation is in the agreement"
            score = self.agreement.score_pair_of(annotation_id, submitted, annotation_id, fixed)
            if is_truth:
                self.ground_truth = (annotation_id, fixed)
            if annotation_id in self.agreement:  # excluded ground truth stays out
                self.agreement.upsert(annotation_id, fixed)
        self.verdicts[annotation_id] = Verdict(event.revision, action, score)
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

    def skippers_apart_from(self, annotators: list[str]) -> int:
        """People who skipped the task and have no counted annotation on it (``annotators``,
        from :attr:`annotators`)."""
        return len({e.author for e in self.entries.values() if e.status == SKIPPED}
                   - set(annotators) - {""})

    @property
    def annotators_seen(self) -> list[str]:
        """Everyone who annotated or skipped the task (rejected work included): never
        assign it to them again."""
        return sorted(
            {e.author for e in self.entries.values()
             if e.status in (COUNTED, SKIPPED, DELETED, REJECTED)}
            - {""}
        )

    def to_json(self) -> bytes:
        """The stored document."""
        doc: dict[str, Any] = {
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
        # Left out when there is none (most tasks): their documents stay as they were.
        if self.verdicts:
            doc["verdicts"] = {aid: [v.revision, v.action.value, v.score]
                               for aid, v in self.verdicts.items()}
        if self.tool_overlap is not None:
            doc["tool_overlap"] = self.tool_overlap
        return orjson.dumps(doc)

    @staticmethod
    def stored_entries(raw: bytes) -> dict[str, tuple[int, str]]:
        """Annotation (and prediction) id -> its newest revision and status as a stored
        record holds them (deleted ones included), read without decoding the rest."""
        return {aid: (entry[0], entry[1])
                for aid, entry in orjson.loads(raw)["entries"].items()}

    @staticmethod
    def stored_status(raw: bytes) -> str:
        """The task's status as its last task-quality event gave it (``collecting`` when
        nothing was decided yet), read without decoding the rest."""
        decision = orjson.loads(raw)["decision"]
        return Decision.COLLECTING.value if decision is None else str(decision[0])

    @staticmethod
    def held_annotations(raw: bytes) -> list[str]:
        """The ids of the annotations and predictions a stored record holds (deleted ones
        left out)."""
        return [aid for aid, (_, status) in TaskRecord.stored_entries(raw).items()
                if status != DELETED]

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
            return TaskRecord(TaskAgreement(weights, scoring))
        doc = orjson.loads(raw)
        if doc.get("v") != RECORD_VERSION:
            raise ValueError(
                f"task record version {doc.get('v')!r} is not {RECORD_VERSION}; "
                "rebuild the state from the input topics (quorum rebuild)"
            )
        decision = doc["decision"]
        state = None if decision is None else DecisionState(Decision(decision[0]), decision[1])
        return TaskRecord(
            agreement=TaskAgreement.from_state(doc["agreement"], weights, scoring),
            entries={aid: AnnotationEntry(*e) for aid, e in doc["entries"].items()},
            predictions=doc["predictions"],
            decision=state,
            # Records written before ground truth was kept have no such field.
            ground_truth=None if doc.get("ground_truth") is None else tuple(doc["ground_truth"]),
            # Nor verdicts, before reviews were kept, or with no review yet.
            verdicts={aid: Verdict(v[0], ReviewAction(v[1]), v[2])
                      for aid, v in doc.get("verdicts", {}).items()},
            # Nor the tool's overlap, before it was kept, or when the tool never said.
            tool_overlap=doc.get("tool_overlap"),
        )
