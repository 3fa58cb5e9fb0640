"""A project's review desk: the review queue and the review criteria, fed by workflow facts.

Label Studio Enterprise (docs: guide/quality.md, "Choose what to review"; guide/
project_settings_lse.md, "Review"): reviewers take tasks lowest agreement first, accept,
reject or fix-and-accept each annotation, and a task counts as reviewed after one accepted
annotation or after all its annotations are reviewed. :class:`assignment.ReviewBoard`
holds those rules; the desk feeds it what the annotations core reports in its facts
(``submitted``, ``skipped``, ``deleted``, ``reviewed``, each with the task's agreement
after the event, and ``review``), and answers "which task next" for one reviewer.

The core has already applied each verdict (changed the agreement, scored the fix) and the
distribution carries out a reject's requeue, so the desk publishes only events:
:class:`assignment.TaskReviewed` and :class:`assignment.ReviewRequested`. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from assignment.review import ReviewBoard
from assignment.review_events import (
    Review,
    ReviewAction,
    ReviewReason,
    ReviewRequested,
    TaskReviewed,
)
from assignment.review_settings import ReviewSettings, member

DeskEvent = ReviewRequested | TaskReviewed

STATE_VERSION = 1

# A task with no agreement score has no annotation in its agreement: nothing measured
# disagrees, as with a single annotation (which scores 1.0), so it is reviewed last.
_UNSCORED = 1.0


def _rank(task: str, agreement: float | None) -> float:
    """The queue score of a task's agreement (``None``: :data:`_UNSCORED`)."""
    if agreement is None:
        return _UNSCORED
    if isinstance(agreement, bool) or not 0.0 <= agreement <= 1.0:  # NaN fails too
        raise ValueError(f"task {task!r}: agreement {agreement!r} is not in [0, 1] or None")
    return float(agreement)


class ReviewDesk:
    """One project's review queue and criteria, updated one workflow fact at a time.

    Per fact: ``submitted`` -> :meth:`submitted`; ``skipped`` and ``deleted`` ->
    :meth:`rescore` with the fact's agreement, then :meth:`skipped` or :meth:`deleted`;
    ``reviewed`` -> :meth:`reviewed`; ``review`` -> :meth:`review_requested` with reason
    ``low_agreement_budget_exhausted``; a deleted task -> :meth:`task_deleted`. Each
    returns the events to publish, in order. An agreement of ``None`` (no annotation in
    the task's agreement) ranks as 1.0.

    Methods raise ``ValueError``, before changing anything, only for an argument out of
    range or an annotation that changes annotator.
    """

    __slots__ = ("_board", "_waiting")

    def __init__(self, settings: ReviewSettings | None = None) -> None:
        self._board = ReviewBoard(settings)
        # task -> annotation awaiting a verdict -> its annotator: who may review what.
        self._waiting: dict[str, dict[str, str]] = {}

    @property
    def settings(self) -> ReviewSettings:
        """The project's review settings (criteria, reject mode)."""
        return self._board.settings

    @property
    def queue_size(self) -> int:
        """Tasks waiting for a reviewer: an annotation awaits a verdict and the task does
        not meet the criteria yet."""
        return len(self._board.queue)

    def is_reviewed(self, task: str) -> bool:
        """Whether the task meets the project's review criteria."""
        return self._board.is_reviewed(task)

    def next_for(self, reviewer: str, exclude: Collection[str] = ()) -> str | None:
        """The task ``reviewer`` should review next: lowest agreement first, ties by task
        id, skipping ``exclude`` and tasks whose waiting annotations are all the
        reviewer's own (nobody reviews only their own work). ``None`` if none."""
        skip: set[str] | None = None
        while True:
            task = self._board.next(exclude if skip is None else skip)
            authors = None if task is None else self._waiting.get(task)
            if task is None or not authors or any(a != reviewer for a in authors.values()):
                return task
            if skip is None:
                skip = set(exclude)
            skip.add(task)

    def submitted(self, task: str, annotation: str, annotator: str,
                  agreement: float | None, now: float) -> list[DeskEvent]:
        """An annotation was submitted or updated; ``agreement`` is the task's after it.

        The annotation awaits a verdict. A resubmission after a reject returns a
        ``rejected`` review request, so the fix is looked at again. ``ValueError`` if the
        annotation changes annotator (an annotation keeps its author).
        """
        events: list[DeskEvent] = list(
            self._board.submit(task, annotation, annotator, _rank(task, agreement), now))
        self._waiting.setdefault(task, {})[annotation] = annotator
        return events

    def skipped(self, task: str, annotation: str, now: float) -> list[DeskEvent]:
        """The annotation became a skip: it awaits no verdict. May complete the review
        (all reviewed: it was the last one waiting)."""
        return self._remove(task, annotation, now)

    def deleted(self, task: str, annotation: str, now: float) -> list[DeskEvent]:
        """The annotation was deleted: it awaits no verdict. May complete the review."""
        return self._remove(task, annotation, now)

    def task_deleted(self, task: str) -> None:
        """The task was deleted: it leaves the queue and the desk."""
        self._board.remove_task(task)
        self._waiting.pop(task, None)

    def rescore(self, task: str, agreement: float | None) -> None:
        """The task's agreement changed; it moves in the queue."""
        self._board.rescore(task, _rank(task, agreement))

    def review_requested(self, task: str, reason: ReviewReason | str, now: float,
                         annotation: str | None = None, score: float | None = None,
                         ) -> list[DeskEvent]:
        """A review is requested (e.g. ``low_agreement_budget_exhausted`` when the
        consensus sends the task to review); once per task, reason and annotation until
        the task is reviewed.

        ``score``: for a low-agreement request left without one, the task's agreement
        while it waits in the queue.
        """
        why: ReviewReason = member(ReviewReason, reason, "reason")
        if score is None and why is ReviewReason.LOW_AGREEMENT_BUDGET_EXHAUSTED:
            score = self._board.queue.score(task)
        requested = self._board.request(task, why, now, annotation, score)
        return [] if requested is None else [requested]

    def reviewed(self, task: str, annotation: str, action: ReviewAction | str, score: float,
                 agreement: float | None, now: float) -> list[DeskEvent]:
        """A reviewer's verdict, as the annotations core applied it.

        ``score`` is the verdict's performance score the core computed (accept 1, reject
        0, fix-and-accept the agreement between the submitted and the fixed result); the
        queue and the criteria do not depend on it, and the desk never recomputes it.
        ``agreement`` is the task's after the verdict. Returns :class:`TaskReviewed` when
        the task now meets the criteria.
        """
        verdict: ReviewAction = member(ReviewAction, action, "action")
        if isinstance(score, bool) or not 0.0 <= score <= 1.0:
            raise ValueError(f"task {task!r}: review score {score!r} is not in [0, 1]")
        rank = _rank(task, agreement)
        fix = verdict is ReviewAction.FIX_AND_ACCEPT
        # The board scores a fix from both results and returns instructions; the core has
        # done both, so the desk hands it two empty results (they agree, at no cost) and
        # keeps only the events. ``requeue`` only satisfies reviewer_choice projects.
        review = Review(task, annotation, verdict, requeue=False,
                        submitted_result=[] if fix else None, fixed_result=[] if fix else None)
        events: list[DeskEvent] = []
        try:
            outcome = self._board.review(review, now)
        except ValueError:
            # The board refuses an annotation it never saw, or a rejected one not yet
            # resubmitted. The core refuses both before it reports a verdict, so this is
            # a project whose review state began after its annotations: the verdict
            # cannot change a queue it was never in.
            pass
        else:
            events += outcome.events
            self._settled(task, annotation)
        self._board.rescore(task, rank)
        return events

    def reconfigure(self, settings: ReviewSettings, now: float) -> list[DeskEvent]:
        """Apply new settings (the project changed its review criteria); returns
        :class:`TaskReviewed` for each task that meets the new criteria only."""
        state = self._board.to_state()
        before = {task for task in state["tasks"] if self._board.is_reviewed(task)}
        board = ReviewBoard.from_state(state, settings)
        events: list[DeskEvent] = []
        for task, body in state["tasks"].items():
            if board.is_reviewed(task) and task not in before:
                events.append(TaskReviewed(task, now))
                # Becoming reviewed forgets the task's earlier requests, live as here: the
                # rescore settles the task, which does that.
                board.rescore(task, body["agreement"])
        self._board = board
        return events

    def _remove(self, task: str, annotation: str, now: float) -> list[DeskEvent]:
        events: list[DeskEvent] = list(self._board.remove(task, annotation, now))
        self._settled(task, annotation)
        return events

    def _settled(self, task: str, annotation: str) -> None:
        """The annotation awaits no verdict any more."""
        waiting = self._waiting.get(task)
        if waiting is not None:
            waiting.pop(annotation, None)
            if not waiting:
                del self._waiting[task]

    def to_state(self) -> dict[str, Any]:
        """JSON-able state; the queue and who waits on what are derived from it.

        Layout, version 1: ``{"version": 1, "board": ReviewBoard.to_state()}``.
        """
        return {"version": STATE_VERSION, "board": self._board.to_state()}

    @classmethod
    def from_state(cls, state: Mapping[str, Any],
                   settings: ReviewSettings | None = None) -> ReviewDesk:
        """Rebuild from :meth:`to_state` output with the project's settings."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(
                f"review desk state version {state.get('version')!r} is not {STATE_VERSION}; "
                "rebuild the workflow state with `quorum rebuild`"
            )
        desk = cls(settings)
        desk._board = ReviewBoard.from_state(state["board"], settings)
        for task, body in state["board"]["tasks"].items():
            waiting = {aid: annotator
                       for aid, (annotator, _, pending) in body["annotations"].items() if pending}
            if waiting:
                desk._waiting[task] = waiting
        return desk


__all__ = ["STATE_VERSION", "DeskEvent", "ReviewDesk"]
