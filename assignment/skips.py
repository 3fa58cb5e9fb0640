"""What skipping a task and rejecting an annotation do, per project setting.

Both settings are Label Studio Enterprise's. Skips ("Skip Queue", project settings,
https://docs.humansignal.com/guide/project_settings_lse, and ``Project.SkipQueue`` in
label-studio's ``projects/models.py``): requeue for me, requeue for others (Label Studio's
default), or ignore skipped, which makes the skip count as the annotation. Rejections
("Reject Options", same page): requeue rejected tasks back to annotators, remove rejected
tasks from the labeling queue, or let the reviewer choose between the two per rejection.
"""

from __future__ import annotations

from enum import StrEnum

from .seats import AnnotatorSeats, TaskSeats


class SkipMode(StrEnum):
    """What a skip does to the task and the annotator who skipped it."""

    REQUEUE_FOR_ME = "requeue_for_me"
    """The task comes back to the same annotator, after every other task of their stream
    (Label Studio's "Skipped queue", the last one it tries); others may still take it."""

    REQUEUE_FOR_OTHERS = "requeue_for_others"
    """The task goes back to the pool for others; the skipper never gets it again."""

    COUNT_AS_DONE = "count_as_done"
    """The skip takes its seat toward the overlap like an annotation (Label Studio's
    "Ignore skipped": the task can complete with skips)."""


class RejectMode(StrEnum):
    """Where a task goes when a reviewer rejects one of its annotations."""

    REQUEUE_TO_ANNOTATOR = "requeue_to_annotator"
    """Back to the annotator who made it, who must redo it; no one else takes the seat."""

    REMOVE = "remove"
    """Not back to that annotator, ever; the seat is freed for others while the task is
    open, and a closed task stays closed (it left the labeling queue)."""

    REVIEWER_CHOICE = "reviewer_choice"
    """The reviewer picks requeue or remove on each rejection."""


def parse_skip_mode(value: SkipMode | str) -> SkipMode:
    """A :class:`SkipMode` from itself or its value; ``ValueError`` naming the choices."""
    try:
        return SkipMode(value)
    except ValueError:
        choices = ", ".join(mode.value for mode in SkipMode)
        raise ValueError(f"skip_mode must be one of {choices}; got {value!r}") from None


def parse_reject_mode(value: RejectMode | str) -> RejectMode:
    """A :class:`RejectMode` from itself or its value; ``ValueError`` naming the choices."""
    try:
        return RejectMode(value)
    except ValueError:
        choices = ", ".join(mode.value for mode in RejectMode)
        raise ValueError(f"reject mode must be one of {choices}; got {value!r}") from None


def rejection_requeues(mode: RejectMode | str, reviewer_requeue: bool | None) -> bool:
    """Whether a rejection sends the task back to its annotator.

    Parameters
    ----------
    mode
        The project's reject mode.
    reviewer_requeue
        The reviewer's choice, required with ``REVIEWER_CHOICE`` (``True``: requeue,
        ``False``: remove) and ignored otherwise.
    """
    mode = parse_reject_mode(mode)
    if mode is RejectMode.REQUEUE_TO_ANNOTATOR:
        return True
    if mode is RejectMode.REMOVE:
        return False
    if not isinstance(reviewer_requeue, bool):
        raise ValueError(
            "reject mode reviewer_choice needs the reviewer's choice: pass requeue=True "
            f"(back to the annotator) or requeue=False (remove); got {reviewer_requeue!r}"
        )
    return reviewer_requeue


def apply_skip(task: TaskSeats, person: AnnotatorSeats, mode: SkipMode) -> None:
    """Apply ``person``'s skip of ``task`` to the seats (not after they submitted it)."""
    if mode is SkipMode.COUNT_AS_DONE:
        task.mark_done(person)
        return
    if task.unhold(person):
        person.seats -= 1
    if mode is SkipMode.REQUEUE_FOR_OTHERS:
        task.undefer(person)
        task.excluded.add(person.id)
    elif person.id not in task.excluded:
        task.deferred.add(person.id)
        person.skipped.pop(task.id, None)  # skipped again: to the back of the queue again
        person.skipped[task.id] = None


def apply_rejection(task: TaskSeats, person: AnnotatorSeats, back_to_annotator: bool) -> None:
    """Take ``person``'s rejected annotation off its done seat of ``task``.

    Requeued to an annotator who is a member and not paused, the seat becomes theirs to
    redo, without expiry, and a closed task reopens. Requeued to someone away, the seat is
    freed for others and the task reopens. Removed, the seat is freed and they are kept
    off the task; a closed task stays closed.
    """
    task.done.discard(person.id)
    if back_to_annotator and person.member and not person.paused:
        task.held[person.id] = None
        person.rework[task.id] = None
    else:
        person.seats -= 1
        if not back_to_annotator:
            task.excluded.add(person.id)
    if back_to_annotator:
        task.closed = False
