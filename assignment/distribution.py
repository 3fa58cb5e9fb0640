"""Task distribution: which annotator labels which task, one event at a time.

Label Studio Enterprise's automated distribution (project settings, "Annotation" and
"Quality": https://docs.humansignal.com/guide/project_settings_lse; its label stream,
``projects/functions/next_task.py`` and ``next_task.md`` in label-studio):

* every task wants ``overlap`` annotations, or 1 outside the overlap cohort (the share of
  tasks given by ``overlap_cohort_percentage``), plus one more at a time when the
  consensus asks (REASSIGN), up to ``max_additional``;
* a task is *reserved* for an annotator when offered ("Task Reservation"), and a
  reservation takes a seat toward the overlap until it is submitted, skipped or expires;
* never the same annotator twice on one task; per-annotator limits; paused annotators
  and people who left get nothing;
* annotators pull (:meth:`Distribution.next_task`, Label Studio's way) or, in push mode
  (Quorum's), :meth:`Distribution.push` reserves tasks ahead for them, least-loaded first.

:class:`Distribution` holds one project's state and applies events one at a time in
O(log n) (plus, for events that change who can work, the tasks whose fillability they
change). Time is always an argument, ``now`` in seconds since the epoch. Output events
(:class:`~assignment.seats.TaskUnfillable`, :class:`~assignment.seats.ReservationReleased`)
are queued; every event method returns the queue and empties it, and
:meth:`Distribution.take_events` does the same after :meth:`~Distribution.next_task` or
:meth:`~Distribution.push`. The index behind ``next_task`` is
:class:`assignment.label_stream.LabelStream`.

Ground-truth tasks are honeypots (Label Studio Enterprise's annotator evaluation, see
:mod:`assignment.evaluation`): outside the overlap cap, any number of annotators label one,
each at most once, and it never completes for the distribution. With evaluation enabled,
``next_task`` offers one first whenever :func:`~assignment.evaluation.ground_truth_due`
says so for the annotator, from a second index over the ground-truth tasks alone.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

from .distribution_policy import (
    DEFAULT_RESERVATION_TTL,
    STATE_VERSION,
    AssignmentMode,
    DistributionPolicy,
    check_version,
    hash_unit,
)
from .evaluation import EvaluationSettings, ground_truth_due
from .label_stream import TIERS, Assignment, LabelStream, Queue
from .seats import (
    AnnotatorSeats,
    DistributionEvent,
    ReleaseReason,
    ReservationReleased,
    Shortfalls,
    TaskSeats,
    TaskView,
    event_from_state,
    event_state,
)
from .skips import RejectMode, apply_rejection, apply_skip, rejection_requeues

__all__ = ["DEFAULT_RESERVATION_TTL", "AssignmentMode", "Distribution", "DistributionPolicy"]

_LOW, _STARTED, _OVERLAP, _SEQUENCE = range(len(TIERS))
_LOW_AGREEMENT_TIER = (_LOW,)


def _evaluation_state(settings: EvaluationSettings) -> dict[str, Any]:
    return {f.name: getattr(settings, f.name) for f in fields(settings) if f.init}


class Distribution:
    """One project's distribution state; see the module docstring.

    Every method validates and applies one event; ``now`` first expires due reservations.
    ``evaluation`` decides when ground-truth tasks are offered (default: never).
    """

    def __init__(self, policy: DistributionPolicy | None = None,
                 evaluation: EvaluationSettings | None = None) -> None:
        self.policy = policy if policy is not None else DistributionPolicy()
        self.evaluation = EvaluationSettings()
        if evaluation is not None:
            self.set_evaluation(evaluation)
        self._tasks: dict[str, TaskSeats] = {}
        self._by_seq: dict[int, str] = {}
        self._annotators: dict[str, AnnotatorSeats] = {}
        self._eligible: dict[str, None] = {}  # joined, not paused, under the limit
        self._limit = self.policy.annotator_limit(0)
        self._stream = LabelStream()
        self._expiry: list[tuple[float, int, str]] = []  # (expires_at, seq, annotator), lazy
        self._shortfalls = Shortfalls()
        self._outbox: list[DistributionEvent] = []
        self._next_seq = 1
        self._ground_truth: set[str] = set()  # marked tasks, imported or not (yet)
        # The honeypots by import order, each with who may not get it: the first one an
        # annotator may take is found in O(log n), however many they labeled.
        self._honeypots = LabelStream(tiers=1)
        self._gt_done: dict[str, int] = {}  # annotator -> honeypots among their done seats
        # Push mode: tasks to hold ahead per annotator (0 in pull mode), and the eligible
        # annotators, not idle, who hold fewer: what a push round starts from, O(1) each.
        self._push_depth = self.policy.pushed_per_annotator
        self._hungry: dict[str, None] = {}

    def set_evaluation(self, settings: EvaluationSettings) -> None:
        """Use ``settings`` from now on to decide when an annotator gets a honeypot."""
        if not isinstance(settings, EvaluationSettings):
            raise ValueError(f"evaluation settings must be an EvaluationSettings, "
                             f"got {settings!r}")
        self.evaluation = settings

    # Input events -------------------------------------------------------------------------

    def task_imported(self, task: str, now: float) -> list[DistributionEvent]:
        """A task joined the project (again: nothing changes)."""
        self._advance(now)
        if task not in self._tasks:
            self._add_task(task)
        return self.take_events()

    def task_deleted(self, task: str, now: float) -> list[DistributionEvent]:
        """A task left the project: its reservations end, its seats stop counting."""
        self._advance(now)
        record = self._tasks.get(task)
        if record is not None:
            record.closed = True
            # The ground truth goes with its task: imported again, the task is ordinary.
            self._ground_truth.discard(task)
            if record.honeypot:
                self._set_honeypot(record, False)
            self._sync(record)
            for annotator in sorted(record.held):
                self._release(record, annotator, ReleaseReason.DELETED)
            for annotator in record.done:
                self._annotators[annotator].seats -= 1
                self._refresh(self._annotators[annotator])
            for annotator in record.deferred:
                del self._annotators[annotator].skipped[task]
            del self._tasks[task], self._by_seq[record.seq]
            self._project_size_changed()
        return self.take_events()

    def annotator_joined(self, annotator: str, now: float) -> list[DistributionEvent]:
        """An annotator became a member of the project (their history stays)."""
        self._advance(now)
        record = self._annotator(annotator)
        record.member = True
        record.idle = False
        self._refresh(record)
        return self.take_events()

    def annotator_left(self, annotator: str, now: float) -> list[DistributionEvent]:
        """An annotator left: their reservations end; what they did still counts."""
        return self._set_away(annotator, now, ReleaseReason.LEFT)

    def annotator_paused(self, annotator: str, now: float) -> list[DistributionEvent]:
        """An annotator was paused: their reservations end and they get nothing."""
        return self._set_away(annotator, now, ReleaseReason.PAUSED)

    def annotator_resumed(self, annotator: str, now: float) -> list[DistributionEvent]:
        """A paused annotator may work again."""
        self._advance(now)
        record = self._annotator(annotator)
        record.paused = False
        record.idle = False
        self._refresh(record)
        return self.take_events()

    def annotation_submitted(self, task: str, annotator: str, now: float
                             ) -> list[DistributionEvent]:
        """``annotator`` submitted ``task``: their reservation, if any, becomes a done seat.

        A task never imported is imported now (the task and annotation streams are not
        ordered with each other); an annotator never joined is recorded as a non-member.
        """
        self._advance(now)
        record = self._tasks.get(task) or self._add_task(task)
        person = self._annotator(annotator)
        if annotator not in record.done:
            record.mark_done(person)
            person.idle = False
            if record.honeypot:
                self._count_ground_truth(annotator, 1)
            self._refresh(person)
            self._sync(record)
        return self.take_events()

    def annotation_deleted(self, task: str, annotator: str, now: float
                           ) -> list[DistributionEvent]:
        """Someone deleted ``annotator``'s annotation of ``task``: its done seat is freed.

        As in Label Studio, the task needs that annotation again and the annotator no
        longer counts as having labeled it: they may get it again. An open task returns
        to the pool; a task the consensus completed or sent to review stays closed until
        the consensus says otherwise (:meth:`task_reopened`, :meth:`one_more_needed`).
        Idempotent: nothing changes when they hold no done seat of the task.
        """
        self._advance(now)
        record = self._tasks.get(task)
        if record is not None and annotator in record.done:
            person = self._annotators[annotator]
            record.unmark_done(person)
            if record.honeypot:
                self._count_ground_truth(annotator, -1)
            self._refresh(person)
            self._sync(record)
        return self.take_events()

    def annotation_skipped(self, task: str, annotator: str, now: float
                           ) -> list[DistributionEvent]:
        """``annotator`` skipped ``task``; what follows is the policy's ``skip_mode``."""
        self._advance(now)
        record = self._tasks.get(task) or self._add_task(task)
        person = self._annotator(annotator)
        if annotator not in record.done:
            apply_skip(record, person, self.policy.skip_mode)
            person.idle = False
            if record.honeypot and annotator in record.done:  # a skip counted as done
                self._count_ground_truth(annotator, 1)
            self._refresh(person)
            self._sync(record)
        return self.take_events()

    def expire(self, now: float) -> list[DistributionEvent]:
        """Return the tasks of reservations due at ``now`` to the pool."""
        self._advance(now)
        return self.take_events()

    def one_more_needed(self, task: str, annotator_count: int, now: float
                        ) -> list[DistributionEvent]:
        """The consensus decided REASSIGN with ``annotator_count`` counted annotators.

        The task then wants ``annotator_count + 1`` annotators, at most ``overlap +
        max_additional``, and is offered before other tasks. Idempotent: the same
        decision delivered twice asks for one annotator, not two. A closed task reopens,
        even when it wants no more seats than before: a deletion after the task completed
        or went to review freed the seat the consensus now asks for.
        """
        self._advance(now)
        if isinstance(annotator_count, bool) or not isinstance(annotator_count, int) \
                or annotator_count < 0:
            raise ValueError(f"annotator_count must be a whole number >= 0, "
                             f"got {annotator_count!r}")
        record = self._known(task)
        target = min(record.cap, max(record.target, annotator_count + 1))
        if target > record.target or record.closed:
            record.target = target
            record.closed = False
            self._sync(record)
        return self.take_events()

    def task_reopened(self, task: str, now: float) -> list[DistributionEvent]:
        """The consensus is collecting annotations for ``task`` again (one it counted was
        deleted after it completed the task or sent it to review): a closed task reopens
        for its free seats.

        Its seats wanted stay as they were (the overlap, plus the extra annotators asked
        for before, within the cap); the seat the deletion freed is the one offered, to
        anyone not on the task, its former holder included. Idempotent, and nothing
        changes for an open task or one not in the project (deleted since).
        """
        self._advance(now)
        record = self._tasks.get(task)
        if record is not None and record.closed:
            record.closed = False
            self._sync(record)
        return self.take_events()

    def task_completed(self, task: str, now: float) -> list[DistributionEvent]:
        """The consensus completed the task: no more assignments, reservations end."""
        return self._close(task, now)

    def task_sent_to_review(self, task: str, now: float) -> list[DistributionEvent]:
        """The task went to review: no more assignments, reservations end."""
        return self._close(task, now)

    def annotation_rejected(self, task: str, annotator: str, mode: RejectMode | str,
                            now: float, *,
                            requeue: bool | None = None) -> list[DistributionEvent]:
        """A reviewer rejected ``annotator``'s annotation of ``task``.

        Its seat stops counting. ``mode`` is the project's
        :class:`assignment.skips.RejectMode`; with ``reviewer_choice``, ``requeue`` is
        the reviewer's pick. Requeued: the task reopens for that annotator only, first in
        their stream and without expiry (for someone else if they are paused or gone).
        Removed: they never get the task again and an open task offers the seat to others.
        """
        back_to_annotator = rejection_requeues(mode, requeue)
        self._advance(now)
        record = self._known(task)
        if annotator in record.done:
            person = self._annotators[annotator]
            apply_rejection(record, person, back_to_annotator)
            if record.honeypot:
                self._count_ground_truth(annotator, -1)
            self._refresh(person)
            self._sync(record)
        return self.take_events()

    def ground_truth_marked(self, task: str, now: float) -> list[DistributionEvent]:
        """``task`` (imported or not yet) has a ground truth: it becomes a honeypot.

        It leaves the pool and the overlap accounting; reservations already made stay.
        """
        self._advance(now)
        if task not in self._ground_truth:
            self._ground_truth.add(task)
            record = self._tasks.get(task)
            if record is not None:
                self._set_honeypot(record, True)
        return self.take_events()

    def ground_truth_unmarked(self, task: str, now: float) -> list[DistributionEvent]:
        """``task`` lost its ground truth: it is an ordinary task again.

        Its done seats count toward its overlap from now on, so it returns to the pool
        only if it still has a free seat.
        """
        self._advance(now)
        if task in self._ground_truth:
            self._ground_truth.discard(task)
            record = self._tasks.get(task)
            if record is not None:
                self._set_honeypot(record, False)
        return self.take_events()

    def is_ground_truth(self, task: str) -> bool:
        """Whether ``task`` is marked as having a ground truth (a honeypot)."""
        return task in self._ground_truth

    # The label stream -----------------------------------------------------------------------

    def next_task(self, annotator: str, now: float, *, low_agreement_last: bool = False
                  ) -> Assignment | None:
        """The task ``annotator`` should label next, reserved for them; ``None`` if none.

        In order: a rejected annotation to redo, a task they already hold (in push mode,
        the one pushed to them), a honeypot when evaluation is enabled and one is due (the
        first by import order they have not labeled), then the pool (low agreement, then
        with ``show_overlap_first`` started and cohort tasks, then import order), then
        their requeue-for-me skips. O(log n) for n open tasks.

        ``low_agreement_last``: offer this annotator low-agreement tasks only when the
        pool has nothing else for them, so that those tasks go first to the others (the
        caller sets it for its less reliable annotators; issue 4's "most reliable first").
        """
        self._advance(now)
        person = self._annotators.get(annotator)
        if person is None or not person.member or person.paused:
            return None
        for task in person.rework:
            return Assignment(task, annotator, None, Queue.REWORK)
        for task in person.reserved:
            return Assignment(task, annotator, self._tasks[task].held[annotator], Queue.RESERVED)
        if annotator not in self._eligible:
            return None  # at their limit
        picked = self._pick(person, low_agreement_last)
        if picked is None:
            return None
        record, queue = picked
        # Asking is acting: pushes to them resume. Only here, where a task is reserved:
        # an answer that changes nothing else is not journaled, so it must change nothing.
        person.idle = False
        return self._reserve(record, person, now, queue)

    def no_task_reason(self, annotator: str) -> str:
        """Why :meth:`next_task` has nothing for ``annotator`` now: ``not_a_member``
        (never joined, or left), ``paused``, ``at_limit`` (the project's per-annotator
        limit) or ``nothing_left`` (no open task they may take: all done, held by others,
        or labeled by them already). O(1)."""
        person = self._annotators.get(annotator)
        if person is None or not person.member:
            return "not_a_member"
        if person.paused:
            return "paused"
        if annotator not in self._eligible:
            return "at_limit"
        return "nothing_left"

    def push(self, now: float, low_agreement_last: Callable[[str], bool] | None = None
             ) -> list[Assignment]:
        """In push mode, reserve tasks ahead for the annotators who hold fewer than
        ``push_depth``; the assignments made, in order (none in pull mode).

        One task at a time, always to the least-loaded such annotator (load: their
        seats, done and held; ties go to a hash of annotator and load, the same in every
        process), so that tasks spread evenly. Each gets what :meth:`next_task` would
        offer them (honeypot when due, pool tiers, their skips), queue ``pushed``.
        ``low_agreement_last(annotator)`` plays the part of :meth:`next_task`'s flag.

        An annotator whose reservation expired is taken as away: nothing is pushed to them
        until they act again (pull, submit, skip, join or resume), or the tasks they let
        expire would go straight back to them. Call it after every event: costs
        O((a + p) log n) for the a annotators with room and the p tasks pushed, and
        nothing in pull mode.
        """
        if not self._push_depth:
            return []
        self._advance(now)
        ranked = [self._push_rank(annotator) for annotator in self._hungry]
        heapq.heapify(ranked)
        pushed = []
        while ranked:
            *_, annotator = heapq.heappop(ranked)
            person = self._annotators[annotator]
            picked = self._pick(person, low_agreement_last is not None
                                and low_agreement_last(annotator))
            if picked is None:
                # Pushes only take seats: nothing opens for them later in this round.
                continue
            pushed.append(self._reserve(picked[0], person, now, Queue.PUSHED))
            if annotator in self._hungry:
                heapq.heappush(ranked, self._push_rank(annotator))
        return pushed

    def take_events(self) -> list[DistributionEvent]:
        """The output events queued since the last call, oldest first."""
        events, self._outbox = self._outbox, []
        return events

    # Reading ---------------------------------------------------------------------------

    def task_view(self, task: str) -> TaskView | None:
        """``task``'s seats, or ``None`` if it is not in the project."""
        record = self._tasks.get(task)
        return None if record is None else record.view()

    def annotator_load(self, annotator: str) -> int:
        """Tasks ``annotator`` has done or holds (0 if unknown): what the limits count."""
        person = self._annotators.get(annotator)
        return 0 if person is None else person.seats

    def linear_scan(self, annotator: str) -> tuple[str, Queue] | None:
        """What the pool would offer ``annotator``, found by reading every task: O(n).

        The reference for :meth:`next_task`'s index, in tests and in the benchmark;
        reserves nothing and ignores held reservations, skips and limits.
        """
        best: tuple[int, int, str] | None = None
        for record in self._tasks.values():
            if record.needed <= 0 or annotator in record.done or annotator in record.held \
                    or annotator in record.excluded or annotator in record.deferred:
                continue
            key = (self._tier(record), record.seq, record.id)
            if best is None or key < best:
                best = key
        return None if best is None else (best[2], TIERS[best[0]])

    # State --------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """JSON-ready state, ``"version": 1``; :meth:`from_state` rebuilds the same answers."""
        return {
            "version": STATE_VERSION,
            "policy": self.policy.to_state(),
            "next_seq": self._next_seq,
            "tasks": {t.id: [t.seq, t.target, t.closed, sorted(t.done), sorted(t.excluded),
                             t.shortfall] for t in self._tasks.values()},
            "annotators": {
                a.id: [a.member, a.paused,
                       [[task, self._tasks[task].held[a.id]] for task in a.reserved],
                       list(a.rework), list(a.skipped), a.idle]
                for a in self._annotators.values()
            },
            "outbox": [event_state(event) for event in self._outbox],
            "ground_truth": sorted(self._ground_truth),
            "evaluation": _evaluation_state(self.evaluation),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Distribution:
        """The distribution :meth:`to_state` described (states saved before ground truth
        existed have no ``ground_truth`` or ``evaluation``: none, and evaluation off)."""
        check_version(state, "distribution")
        evaluation = state.get("evaluation")
        restored = cls(DistributionPolicy.from_state(state["policy"]),
                       None if evaluation is None else EvaluationSettings(**evaluation))
        restored._ground_truth = set(state.get("ground_truth", ()))
        restored._next_seq = state["next_seq"]
        policy = restored.policy
        for task, (seq, target, closed, done, excluded, shortfall) in state["tasks"].items():
            overlap = policy.task_overlap(task)
            record = TaskSeats(task, seq, overlap, overlap + policy.max_additional, target,
                               closed, set(done), {}, set(excluded), set(), shortfall)
            record.honeypot = task in restored._ground_truth
            restored._tasks[task] = record
            restored._by_seq[seq] = task
            for annotator in done:
                restored._annotator(annotator).seats += 1
                if record.honeypot:
                    restored._count_ground_truth(annotator, 1)
        for annotator, (member, paused, reserved, rework, skipped, *idle) \
                in state["annotators"].items():
            person = restored._annotator(annotator)
            # States saved before push mode have no idle flag: nobody was away.
            person.member, person.paused, person.idle = member, paused, bool(idle and idle[0])
            for task, expires_at in reserved:
                restored._tasks[task].held[annotator] = expires_at
                person.reserved[task] = None
                restored._expiry.append((expires_at, restored._tasks[task].seq, annotator))
            for task in rework:
                restored._tasks[task].held[annotator] = None
                person.rework[task] = None
            for task in skipped:
                restored._tasks[task].deferred.add(annotator)
                person.skipped[task] = None
            person.seats += len(reserved) + len(rework)
        heapq.heapify(restored._expiry)
        restored._limit = policy.annotator_limit(len(restored._tasks))
        restored._eligible = {a: None for a, person in restored._annotators.items()
                              if restored._can_work(person)}
        if restored._push_depth:
            for person in restored._annotators.values():
                restored._refresh(person)  # eligibility is set: this fills _hungry only
        for record in sorted(restored._tasks.values(), key=lambda t: t.seq):
            # The stored shortfalls were current when saved: this re-check reports nothing.
            restored._sync(record)
        restored._outbox = [event_from_state(event) for event in state["outbox"]]
        return restored

    # Internals ---------------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        if not math.isfinite(now):
            raise ValueError(f"now must be a finite number of seconds since the epoch, "
                             f"got {now!r}")
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            expires_at, seq, annotator = heapq.heappop(expiry)
            task = self._by_seq.get(seq)
            record = None if task is None else self._tasks.get(task)
            # Lazy deletion: the entry counts only if that very reservation is still held.
            if record is not None and record.held.get(annotator, -math.inf) == expires_at:
                # Away, for push mode: see push().
                self._annotators[annotator].idle = True
                self._release(record, annotator, ReleaseReason.EXPIRED)

    def _add_task(self, task: str) -> TaskSeats:
        overlap = self.policy.task_overlap(task)
        record = TaskSeats(task, self._next_seq, overlap, overlap + self.policy.max_additional,
                       overlap)
        self._next_seq += 1
        record.honeypot = task in self._ground_truth
        self._tasks[task] = record
        self._by_seq[record.seq] = task
        self._project_size_changed()
        self._sync(record)
        return record

    def _known(self, task: str) -> TaskSeats:
        record = self._tasks.get(task)
        if record is None:
            raise ValueError(f"task {task!r} is not in the project: import it (or submit an "
                             "annotation of it) first")
        return record

    def _annotator(self, annotator: str) -> AnnotatorSeats:
        person = self._annotators.get(annotator)
        if person is None:
            person = self._annotators[annotator] = AnnotatorSeats(annotator)
        return person

    def _set_away(self, annotator: str, now: float, reason: ReleaseReason
                  ) -> list[DistributionEvent]:
        self._advance(now)
        person = self._annotator(annotator)
        if reason is ReleaseReason.LEFT:
            person.member = False
        else:
            person.paused = True
        for task in [*person.rework, *person.reserved]:
            self._release(self._tasks[task], annotator, reason)
        self._refresh(person)
        return self.take_events()

    def _close(self, task: str, now: float) -> list[DistributionEvent]:
        self._advance(now)
        record = self._known(task)
        if record.honeypot:
            # A honeypot stays open to every annotator who has not labeled it; once
            # unmarked, the consensus decides about it again on its next annotation.
            return self.take_events()
        record.closed = True
        self._sync(record)
        for annotator in sorted(record.held):
            self._release(record, annotator, ReleaseReason.CLOSED)
        return self.take_events()

    def _reserve(self, record: TaskSeats, person: AnnotatorSeats, now: float, queue: Queue
                 ) -> Assignment:
        expires_at = now + self.policy.reservation_ttl
        record.undefer(person)  # from their skip queue
        record.held[person.id] = expires_at
        person.reserved[record.id] = None
        person.seats += 1
        heapq.heappush(self._expiry, (expires_at, record.seq, person.id))
        self._refresh(person)
        self._sync(record)
        return Assignment(record.id, person.id, expires_at, queue)

    def _release(self, record: TaskSeats, annotator: str, reason: ReleaseReason) -> None:
        person = self._annotators[annotator]
        record.unhold(person)
        person.seats -= 1
        self._outbox.append(ReservationReleased(record.id, annotator, reason))
        self._refresh(person)
        self._sync(record)

    def _tier(self, record: TaskSeats) -> int:
        if record.target > record.overlap:
            return _LOW
        if not self.policy.show_overlap_first:
            return _SEQUENCE
        if record.done or record.held:
            return _STARTED
        # Label Studio's own show-overlap-first: tasks with overlap > 1 before the others.
        return _OVERLAP if record.overlap > 1 else _SEQUENCE

    def _sync(self, record: TaskSeats) -> None:
        """Bring the index and the shortfall report in line with ``record``."""
        if record.needed:
            self._stream.place(record.seq, self._tier(record), record.blockers())
        else:
            self._stream.place(record.seq, None, ())
        if record.honeypot:
            self._honeypots.place(record.seq, 0, record.blockers())
        else:
            self._honeypots.place(record.seq, None, ())
        event = self._shortfalls.track(record, self._eligible)
        if event is not None:
            self._outbox.append(event)

    def _set_honeypot(self, record: TaskSeats, honeypot: bool) -> None:
        record.honeypot = honeypot
        for annotator in record.done:
            self._count_ground_truth(annotator, 1 if honeypot else -1)
        self._sync(record)

    def _count_ground_truth(self, annotator: str, delta: int) -> None:
        count = self._gt_done.get(annotator, 0) + delta
        if count:
            self._gt_done[annotator] = count
        else:
            del self._gt_done[annotator]

    def _due_honeypot(self, person: AnnotatorSeats) -> TaskSeats | None:
        """The honeypot to offer ``person`` now, or ``None``: O(log n)."""
        if not self.evaluation.enabled or not len(self._honeypots):
            return None
        # Seats are done tasks plus held ones; a held task is not done yet.
        done = person.seats - len(person.reserved) - len(person.rework)
        if not ground_truth_due(self.evaluation, self._gt_done.get(person.id, 0), done):
            return None
        found = self._honeypots.first(person.id)
        return None if found is None else self._tasks[self._by_seq[found[1]]]

    def _pick(self, person: AnnotatorSeats, low_agreement_last: bool
              ) -> tuple[TaskSeats, Queue] | None:
        """The task to reserve for ``person`` (eligible, holding nothing they must do
        first) and why: a due honeypot, the pool, then their skips. O(log n)."""
        honeypot = self._due_honeypot(person)
        if honeypot is not None:
            return honeypot, Queue.GROUND_TRUTH
        found = self._stream.first(person.id, _LOW_AGREEMENT_TIER if low_agreement_last else ())
        if found is None and low_agreement_last:
            found = self._stream.first(person.id)
        if found is not None:
            tier, seq = found
            return self._tasks[self._by_seq[seq]], TIERS[tier]
        # Label Studio tries the skipped queue last; a task full for now is kept for later.
        for task in person.skipped:
            record = self._tasks[task]
            if record.needed > 0 or record.honeypot:
                return record, Queue.SKIPPED
        return None

    def _push_rank(self, annotator: str) -> tuple[int, float, str]:
        # The hash takes the load too, so that ties at each load go to different people.
        seats = self._annotators[annotator].seats
        return seats, hash_unit("push", annotator, str(seats)), annotator

    def _can_work(self, person: AnnotatorSeats) -> bool:
        return person.member and not person.paused and (
            self._limit is None or person.seats < self._limit)

    def _refresh(self, person: AnnotatorSeats) -> None:
        """Update ``person``'s eligibility (and room for pushes); if it changed, re-check
        the tasks it may affect."""
        eligible = self._can_work(person)
        if self._push_depth:
            if eligible and not person.idle \
                    and len(person.reserved) + len(person.rework) < self._push_depth:
                self._hungry[person.id] = None
            else:
                self._hungry.pop(person.id, None)
        if eligible == (person.id in self._eligible):
            return
        if eligible:
            self._eligible[person.id] = None
        else:
            del self._eligible[person.id]
        affected = self._shortfalls.affected(eligible, len(self._eligible))
        # In import order, so that events come out the same after a state round trip.
        for record in sorted((self._tasks[task] for task in affected), key=lambda t: t.seq):
            event = self._shortfalls.track(record, self._eligible)
            if event is not None:
                self._outbox.append(event)

    def _project_size_changed(self) -> None:
        limit = self.policy.annotator_limit(len(self._tasks))
        if limit != self._limit:
            self._limit = limit
            for person in list(self._annotators.values()):
                self._refresh(person)
