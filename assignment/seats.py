"""Seats: what each task and annotator holds, and which tasks cannot be filled.

A task's *seats* are its done annotations (submitted, or skips that count as done) and
its reservations (Label Studio counts a task lock toward the overlap, ``Task.set_lock``
in label-studio's ``tasks/models.py``). A task wants ``target`` seats: its overlap, plus
the extra annotators the consensus asked for. An annotator's seats, over all tasks, are
their load, which the per-annotator limits count.

The output events of :class:`assignment.distribution.Distribution` are defined here too,
with :class:`Shortfalls`, which reports tasks short of eligible annotators.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ReleaseReason(StrEnum):
    """Why a reservation ended without a submission or a skip."""

    EXPIRED = "expired"
    PAUSED = "paused"
    LEFT = "left"
    CLOSED = "closed"  # the task completed or went to review
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class ReservationReleased:
    """A reservation ended: the labeling tool should take the task away from the annotator."""

    task: str
    annotator: str
    reason: ReleaseReason


@dataclass(frozen=True, slots=True)
class TaskUnfillable:
    """A task has more free seats than annotators who could take them.

    ``needed`` seats are free and only ``available`` annotators (joined, not paused,
    under their limits, not done with, holding or kept off the task) could take them.
    Emitted when the task becomes short, and again whenever the shortfall
    ``needed - available`` changes while it stays short.
    """

    task: str
    needed: int
    available: int


DistributionEvent = ReservationReleased | TaskUnfillable


def event_state(event: DistributionEvent) -> list[Any]:
    """An output event as JSON-ready data."""
    if isinstance(event, TaskUnfillable):
        return ["unfillable", event.task, event.needed, event.available]
    return ["released", event.task, event.annotator, event.reason.value]


def event_from_state(state: list[Any]) -> DistributionEvent:
    """The output event :func:`event_state` described."""
    if state[0] == "unfillable":
        return TaskUnfillable(state[1], state[2], state[3])
    return ReservationReleased(state[1], state[2], ReleaseReason(state[3]))


@dataclass(frozen=True, slots=True)
class TaskView:
    """A read-only picture of one task's seats; annotator tuples are sorted."""

    task: str
    open: bool
    overlap: int
    target: int
    max_annotators: int
    done: tuple[str, ...]
    reserved: tuple[str, ...]
    excluded: tuple[str, ...]
    deferred: tuple[str, ...]
    needed: int
    ground_truth: bool = False  # a honeypot, outside the overlap: ``needed`` is 0


@dataclass(slots=True, eq=False)
class TaskSeats:
    """One task's seats and who may not take it. The four annotator sets are disjoint."""

    id: str
    seq: int  # import order, from 1: the label stream's order within a tier
    overlap: int  # the project's overlap in the cohort, else 1
    cap: int  # overlap + max_additional: never more annotators than this
    target: int  # seats wanted now, overlap <= target <= cap
    closed: bool = False  # completed, sent to review or deleted: wants nothing
    done: set[str] = field(default_factory=set)
    held: dict[str, float | None] = field(default_factory=dict)  # expiry; None: rework
    excluded: set[str] = field(default_factory=set)  # skipped for others, rejected and removed
    deferred: set[str] = field(default_factory=set)  # skipped for me: in their skip queue
    shortfall: int = 0  # as last reported by TaskUnfillable; 0 when the task can fill
    bucket: int = -1  # key in Shortfalls, -1 when no seat is free
    # A ground-truth task: outside the overlap accounting, offered only as a honeypot.
    honeypot: bool = False

    @property
    def needed(self) -> int:
        """Free seats in the pool: 0 once closed, and always 0 for a honeypot."""
        if self.closed or self.honeypot:
            return 0
        return max(0, self.target - len(self.done) - len(self.held))

    def blockers(self) -> set[str]:
        """Annotators the pool must not offer this task to."""
        return self.done | self.held.keys() | self.excluded | self.deferred

    def unhold(self, person: AnnotatorSeats) -> bool:
        """End ``person``'s reservation of this task, if any; their load is the caller's."""
        if person.id not in self.held:
            return False
        del self.held[person.id]
        person.reserved.pop(self.id, None)
        person.rework.pop(self.id, None)
        return True

    def undefer(self, person: AnnotatorSeats) -> None:
        """Take this task out of ``person``'s requeue-for-me queue, if it is there."""
        if person.id in self.deferred:
            self.deferred.discard(person.id)
            del person.skipped[self.id]

    def mark_done(self, person: AnnotatorSeats) -> None:
        """``person``'s annotation now takes a done seat (their reservation's, if any)."""
        if not self.unhold(person):
            person.seats += 1
        self.excluded.discard(person.id)
        self.undefer(person)
        self.done.add(person.id)

    def unmark_done(self, person: AnnotatorSeats) -> None:
        """``person``'s done seat is gone (their annotation was deleted): they are off the
        task, free to take it again, and their load is one less."""
        self.done.discard(person.id)
        person.seats -= 1

    def view(self) -> TaskView:
        """A :class:`TaskView` of the task as it is now."""
        return TaskView(self.id, not self.closed, self.overlap, self.target, self.cap,
                        tuple(sorted(self.done)), tuple(sorted(self.held)),
                        tuple(sorted(self.excluded)), tuple(sorted(self.deferred)),
                        self.needed, self.honeypot)


@dataclass(slots=True, eq=False)
class AnnotatorSeats:
    """One annotator's membership, load and queues of task ids (oldest first)."""

    id: str
    member: bool = False  # joined and not left; someone never joined is not a member
    paused: bool = False
    # Let a reservation expire and has not acted since: push mode skips them.
    idle: bool = False
    seats: int = 0  # tasks done or held: what the limits count
    reserved: dict[str, None] = field(default_factory=dict)
    rework: dict[str, None] = field(default_factory=dict)  # rejected and requeued to them
    skipped: dict[str, None] = field(default_factory=dict)  # the requeue-for-me queue


class Shortfalls:
    """Tasks with fewer eligible annotators than free seats, each reported once per change.

    A task with ``needed`` free seats is short when ``needed > E - o``, with E the
    eligible annotators and o those of them already on the task (done, holding or
    excluded). Since ``o`` is at most the number on the task, ``k = needed + on_task``
    bounds which tasks can be short: only those with ``k > E``. Tasks are bucketed by
    ``k``, so when an annotator stops being eligible only the buckets above the new E
    are checked, and when one becomes eligible only the tasks already short.
    """

    __slots__ = ("_buckets", "_short")

    def __init__(self) -> None:
        self._buckets: dict[int, set[str]] = {}
        self._short: set[str] = set()

    def track(self, task: TaskSeats, eligible: dict[str, None]) -> TaskUnfillable | None:
        """Re-bucket and re-check ``task``; the event to emit if its shortfall changed.

        O(annotators on the task). ``eligible`` holds the eligible annotator ids.
        """
        needed = task.needed
        on_task = len(task.done) + len(task.held) + len(task.excluded)
        key = needed + on_task if needed else -1
        if key != task.bucket:
            if task.bucket >= 0:
                bucket = self._buckets[task.bucket]
                bucket.discard(task.id)
                if not bucket:
                    del self._buckets[task.bucket]
            if key >= 0:
                self._buckets.setdefault(key, set()).add(task.id)
            task.bucket = key
        shortfall = available = 0
        if needed and key > len(eligible):
            available = len(eligible) \
                - sum(1 for a in task.done if a in eligible) \
                - sum(1 for a in task.held if a in eligible) \
                - sum(1 for a in task.excluded if a in eligible)
            shortfall = needed - available
        if shortfall <= 0:
            if task.shortfall:
                task.shortfall = 0
                self._short.discard(task.id)
            return None
        self._short.add(task.id)
        if shortfall == task.shortfall:
            return None
        task.shortfall = shortfall
        return TaskUnfillable(task.id, needed, available)

    def affected(self, more_eligible: bool, eligible_count: int) -> list[str]:
        """Tasks to re-check after the number of eligible annotators changed.

        ``more_eligible``: whether it grew (then only short tasks can change) or shrank
        (then the tasks that can now be short, ``k > eligible_count``).
        """
        if more_eligible:
            return list(self._short)
        return [task for key, ids in self._buckets.items() if key > eligible_count
                for task in ids]
