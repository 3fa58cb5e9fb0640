"""Reviews of a project: verdicts, requeueing of rejected work, the review queue.

Label Studio Enterprise semantics (docs: guide/project_settings_lse.md, "Review";
guide/quality.md): a reviewer accepts, rejects or fixes-and-accepts each annotation; a
rejected annotation leaves the agreement and is requeued to its annotator, removed, or
either at the reviewer's choice; a task is reviewed after one accepted annotation or
after all its annotations are reviewed (settings in :mod:`assignment.review_settings`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from agreement import ScoringConfig

from .pair_agreement import pair_agreement
from .review_events import (
    CancelAnnotation,
    Instruction,
    RemoveFromAgreement,
    ReplaceResult,
    RequeueToAnnotator,
    Review,
    ReviewAction,
    ReviewCriteria,
    ReviewOutcome,
    ReviewReason,
    ReviewRequested,
    TaskReviewed,
)
from .review_queue import ReviewQueue
from .review_settings import ReviewSettings, member
from .skips import rejection_requeues

STATE_VERSION = 1

_ACCEPTED = (ReviewAction.ACCEPT, ReviewAction.FIX_AND_ACCEPT)


def _check_agreement(task: str, agreement: float) -> None:
    if not 0.0 <= agreement <= 1.0:  # NaN fails too
        raise ValueError(f"task {task!r}: agreement {agreement!r} is not in [0, 1]")


@dataclass(slots=True)
class _Entry:
    annotator: str
    outcome: ReviewAction | None  # latest verdict
    pending: bool  # its current content awaits a verdict


@dataclass(slots=True)
class _TaskReview:
    agreement: float | None
    annotations: dict[str, _Entry]
    reviewed: bool = False
    requested: set[str] = field(default_factory=set)  # "reason|annotation" keys sent


class ReviewBoard:
    """A project's review state, updated one event at a time.

    Tasks with an annotation awaiting a verdict, and not yet reviewed by the criteria,
    wait in :attr:`queue`, lowest agreement first. The caller reports submissions (with
    the task's agreement), agreement changes, removals (delete, skip) and reviews, and
    carries out the returned instructions.
    """

    __slots__ = ("_queue", "_tasks", "scoring", "settings")

    def __init__(
        self, settings: ReviewSettings | None = None, scoring: ScoringConfig | None = None
    ) -> None:
        self.settings = settings or ReviewSettings()
        self.scoring = scoring
        self._tasks: dict[str, _TaskReview] = {}
        self._queue = ReviewQueue()

    @property
    def queue(self) -> ReviewQueue:
        """Tasks to review, lowest agreement first (read it; the board maintains it)."""
        return self._queue

    def next(self, exclude: Collection[str] = ()) -> str | None:
        """The task to review next (lowest agreement, ties by task id); ``None`` if none."""
        return self._queue.peek(exclude)

    def is_reviewed(self, task: str) -> bool:
        """Whether the task meets the review criteria."""
        record = self._tasks.get(task)
        return record is not None and record.reviewed

    def submit(
        self, task: str, annotation: str, annotator: str, agreement: float, now: float
    ) -> list[ReviewRequested]:
        """An annotation was submitted or updated; ``agreement`` is the task's score now.

        Returns a ``rejected`` review request when the annotation was rejected before and
        its annotator resubmitted it (the requeue path), so the fix is looked at again.
        """
        _check_agreement(task, agreement)
        record = self._tasks.get(task)
        entry = None if record is None else record.annotations.get(annotation)
        if entry is not None and entry.annotator != annotator:
            raise ValueError(
                f"annotation {annotation!r} of task {task!r} is by {entry.annotator!r}, "
                f"not {annotator!r}; an annotation keeps its author"
            )
        if record is None:
            record = self._tasks[task] = _TaskReview(agreement, {})
        record.agreement = agreement
        events: list[ReviewRequested] = []
        if entry is None:
            record.annotations[annotation] = _Entry(annotator, None, True)
        else:
            if entry.outcome is ReviewAction.REJECT and not entry.pending:
                events.append(ReviewRequested(task, ReviewReason.REJECTED, now, annotation))
            entry.pending = True
        self._settle(task, record, now)
        return events

    def rescore(self, task: str, agreement: float) -> None:
        """The task's agreement changed (an annotation left or was fixed)."""
        _check_agreement(task, agreement)
        record = self._tasks.get(task)
        if record is not None:
            record.agreement = agreement
            self._settle(task, record, None)

    def remove(self, task: str, annotation: str, now: float) -> list[TaskReviewed]:
        """An annotation was deleted or skipped; it no longer waits for a verdict."""
        record = self._tasks.get(task)
        if record is None or record.annotations.pop(annotation, None) is None:
            return []
        if not record.annotations:
            self.remove_task(task)
            return []
        return self._settle(task, record, now)

    def remove_task(self, task: str) -> None:
        """The task was deleted."""
        self._tasks.pop(task, None)
        self._queue.remove(task)

    def request(
        self,
        task: str,
        reason: ReviewReason | str,
        now: float,
        annotation: str | None = None,
        score: float | None = None,
    ) -> ReviewRequested | None:
        """Request a review, once per task, reason and annotation until it is reviewed.

        For ``low_agreement_budget_exhausted``, call it when the consensus decision
        becomes :attr:`~assignment.Decision.REVIEW`.
        """
        why: ReviewReason = member(ReviewReason, reason, "reason")
        record = self._tasks.get(task)
        if record is None:
            record = self._tasks[task] = _TaskReview(None, {})
        key = f"{why}|{annotation or ''}"
        if key in record.requested:
            return None
        record.requested.add(key)
        return ReviewRequested(task, why, now, annotation, score)

    def review(self, review: Review, now: float) -> ReviewOutcome:
        """Apply a verdict; say what the caller must do and what to publish."""
        action = member(ReviewAction, review.action, "action")
        task, annotation = review.task, review.annotation
        record = self._tasks.get(task)
        entry = None if record is None else record.annotations.get(annotation)
        if record is None or entry is None:
            raise ValueError(
                f"annotation {annotation!r} of task {task!r} was never submitted here; "
                "report submissions before their reviews"
            )
        if entry.outcome is ReviewAction.REJECT and not entry.pending:
            raise ValueError(
                f"annotation {annotation!r} was rejected; it can be reviewed again once "
                "its annotator resubmits it"
            )
        instructions: list[Instruction] = []
        if action is ReviewAction.ACCEPT:
            score = 1.0
        elif action is ReviewAction.REJECT:
            score = 0.0
            instructions.append(RemoveFromAgreement(task, annotation))
            if rejection_requeues(self.settings.requeue_mode, review.requeue):
                instructions.append(RequeueToAnnotator(task, annotation, entry.annotator))
            else:
                instructions.append(CancelAnnotation(task, annotation, entry.annotator))
        else:
            if review.submitted_result is None or review.fixed_result is None:
                raise ValueError(
                    f"fix_and_accept of annotation {annotation!r} needs both the "
                    "submitted_result and the fixed_result, to score the fix"
                )
            submitted, fixed = review.submitted_result, review.fixed_result
            score = pair_agreement(self.scoring, annotation, submitted, annotation, fixed)
            instructions.append(ReplaceResult(task, annotation, review.fixed_result))
        entry.outcome = action
        entry.pending = False
        events = self._settle(task, record, now)
        return ReviewOutcome(score, tuple(instructions), tuple(events))

    def _settle(self, task: str, record: _TaskReview, now: float | None) -> list[TaskReviewed]:
        # Derive the reviewed flag and queue membership from the entries, so that they
        # can never drift from what the annotations say.
        entries = record.annotations.values()
        if self.settings.criteria is ReviewCriteria.ONE_ACCEPTED:
            reviewed = any(e.outcome in _ACCEPTED and not e.pending for e in entries)
        else:
            reviewed = bool(entries) and all(e.outcome and not e.pending for e in entries)
        events: list[TaskReviewed] = []
        if reviewed and not record.reviewed and now is not None:
            events.append(TaskReviewed(task, now))
        if reviewed:
            record.requested.clear()  # a new problem may be requested again
        record.reviewed = reviewed
        waiting = not reviewed and any(e.pending for e in entries)
        if waiting and record.agreement is not None:
            self._queue.add(task, record.agreement)
        else:
            self._queue.remove(task)
        return events

    def to_state(self) -> dict[str, Any]:
        """JSON-able state; the queue is derived from it on load.

        Layout, version 1::

            {"version": 1, "tasks": {"<task>": {
                "agreement": float | null, "reviewed": bool, "requested": [key, ...],
                "annotations": {"<annotation>": [annotator, outcome | null, pending]}}}}
        """
        return {
            "version": STATE_VERSION,
            "tasks": {
                task: {
                    "agreement": record.agreement,
                    "reviewed": record.reviewed,
                    "requested": sorted(record.requested),
                    "annotations": {
                        aid: [e.annotator, e.outcome and e.outcome.value, e.pending]
                        for aid, e in record.annotations.items()
                    },
                }
                for task, record in self._tasks.items()
            },
        }

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        settings: ReviewSettings | None = None,
        scoring: ScoringConfig | None = None,
    ) -> ReviewBoard:
        """Rebuild from :meth:`to_state` output with the project's settings."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(
                f"review state version {state.get('version')!r} is not {STATE_VERSION}; "
                "rebuild it from the annotation and review events"
            )
        board = cls(settings, scoring)
        for task, body in state["tasks"].items():
            annotations = {
                aid: _Entry(annotator, None if outcome is None else ReviewAction(outcome), pending)
                for aid, (annotator, outcome, pending) in body["annotations"].items()
            }
            record = _TaskReview(body["agreement"], annotations, bool(body["reviewed"]))
            board._tasks[task] = record
            # Re-derive the flag and queue; the stored flag only prevents a second
            # TaskReviewed event (now=None emits nothing here).
            board._settle(task, record, None)
            # After the settle, which clears them on a reviewed task: requests made since
            # the last change of a reviewed task are still deduplicated live.
            record.requested = set(body["requested"])
        return board
