"""Random event sequences against the distribution's invariants (hypothesis.stateful).

Every rule is applied to the distribution and to a twin rebuilt from its JSON state after
the previous step: the two must give the same answers, so a state round trip loses
nothing. The label stream's index is checked against a linear scan of every task, and so
is a push round: after it, nobody with room is left with a task they could take.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from assignment.consensus import ConsensusPolicy
from assignment.distribution import Distribution, DistributionPolicy
from assignment.distribution_policy import AssignmentMode
from assignment.label_stream import Assignment, Queue
from assignment.seats import ReleaseReason, ReservationReleased, TaskUnfillable, TaskView
from assignment.skips import RejectMode, SkipMode

TASKS = ("t0", "t1", "t2", "tâche-3", "t4", "t5")
ANNOTATORS = ("a", "b", "c", "李", "e")
POOL_QUEUES = {Queue.LOW_AGREEMENT, Queue.STARTED, Queue.OVERLAP, Queue.SEQUENCE}

policies = st.builds(
    lambda overlap, extra, cohort, first, count, share, mode, push: DistributionPolicy(
        ConsensusPolicy(overlap, 0.7, extra), cohort, first, count, share, 10.0, mode,
        AssignmentMode.PULL if push is None else AssignmentMode.PUSH, push or 1),
    st.integers(1, 3),
    st.integers(0, 2),
    st.sampled_from([0, 50, 100]),
    st.booleans(),
    st.none() | st.integers(1, 4),
    st.none() | st.sampled_from([0.3, 0.6]),
    st.sampled_from(list(SkipMode)),
    st.none() | st.integers(1, 3),  # push depth, None for pull mode
)


def round_trip(state: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(state))
    return loaded


class DistributionMachine(RuleBasedStateMachine):
    @initialize(policy=policies, annotators=st.sets(st.sampled_from(ANNOTATORS), min_size=1),
                tasks=st.sets(st.sampled_from(TASKS), min_size=1))
    def start(self, policy: DistributionPolicy, annotators: set[str], tasks: set[str]) -> None:
        self.d = Distribution(policy)
        self.twin = Distribution.from_state(round_trip(self.d.to_state()))
        self.now = 0.0
        self.members: set[str] = set()
        self.paused: set[str] = set()
        # Let a reservation expire and did not act since: push mode passes them over.
        self.idle: set[str] = set()
        self.reported: dict[str, int] = {}  # task -> shortfall of its last TaskUnfillable
        for annotator in sorted(annotators):
            self.membership(annotator, "join")
        for task in sorted(tasks):
            self.lifecycle(task, "import")

    # Helpers -----------------------------------------------------------------------------

    def both(self, method: str, *args: Any) -> Any:
        """Call ``method`` on the distribution and its twin; they must agree."""
        result = getattr(self.d, method)(*args)
        twin = getattr(self.twin, method)(*args)
        assert result == twin, (method, args, result, twin)
        events = self.d.take_events()
        assert events == self.twin.take_events()
        if isinstance(result, list) and method != "push":
            events = result + events
        self.record(events)
        if method == "task_deleted":
            self.reported.pop(args[0], None)
        return result

    def record(self, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, TaskUnfillable):
                self.reported[event.task] = event.needed - event.available
            elif isinstance(event, ReservationReleased) \
                    and event.reason is ReleaseReason.EXPIRED:
                self.idle.add(event.annotator)

    def views(self) -> dict[str, TaskView]:
        return {t: v for t in TASKS if (v := self.d.task_view(t)) is not None}

    def pairs(self, kind: str) -> list[tuple[str, str]]:
        return sorted((t, a) for t, v in self.views().items() for a in getattr(v, kind))

    def check_new_seat(self, assignment: Assignment, before: dict[str, TaskView]) -> None:
        view = before[assignment.task]
        annotator = assignment.annotator
        assert annotator in self.members and annotator not in self.paused
        # Never twice on a task: not done, not holding, not kept off.
        assert annotator not in view.done + view.reserved + view.excluded
        assert view.needed > 0
        after = self.d.task_view(assignment.task)
        assert after is not None
        assert len(after.done) + len(after.reserved) <= after.max_annotators
        limit = self.d.policy.annotator_limit(len(before))
        assert limit is None or self.d.annotator_load(annotator) <= limit

    # Rules -------------------------------------------------------------------------------

    # Membership and task lifecycle churn less often than labeling happens: one rule each.
    @rule(task=st.sampled_from(TASKS), action=st.sampled_from(["import"] * 3 + ["delete"]))
    def lifecycle(self, task: str, action: str) -> None:
        self.both("task_imported" if action == "import" else "task_deleted", task, self.now)

    @rule(annotator=st.sampled_from(ANNOTATORS),
          action=st.sampled_from(["join", "join", "leave", "pause", "resume", "resume"]))
    def membership(self, annotator: str, action: str) -> None:
        method = {"join": "annotator_joined", "leave": "annotator_left",
                  "pause": "annotator_paused", "resume": "annotator_resumed"}[action]
        self.both(method, annotator, self.now)
        if action == "join":
            self.members.add(annotator)
            self.idle.discard(annotator)
        elif action == "leave":
            self.members.discard(annotator)
        elif action == "pause":
            self.paused.add(annotator)
        else:
            self.paused.discard(annotator)
            self.idle.discard(annotator)

    @rule(annotator=st.sampled_from(ANNOTATORS))
    def pull(self, annotator: str) -> None:
        before = self.views()
        holds = any(annotator in v.reserved for v in before.values())
        limit = self.d.policy.annotator_limit(len(before))
        free = limit is None or self.d.annotator_load(annotator) < limit
        scan = self.d.linear_scan(annotator)
        got = self.both("next_task", annotator, self.now)
        if annotator not in self.members or annotator in self.paused:
            assert got is None
            return
        if got is not None and got.queue in (Queue.RESERVED, Queue.REWORK):
            assert holds and annotator in before[got.task].reserved
            return
        if not holds and free:
            # The index gives what reading every task gives; the skip queue comes after.
            if scan is not None:
                assert got is not None and (got.task, got.queue) == scan
            else:
                assert got is None or got.queue is Queue.SKIPPED
        if got is not None:
            assert got.queue in POOL_QUEUES | {Queue.SKIPPED}
            self.check_new_seat(got, before)
            self.idle.discard(annotator)

    @rule(annotator=st.sampled_from(ANNOTATORS))
    def work(self, annotator: str) -> None:
        """Pull a task and submit it, the labeling flow itself."""
        self.pull(annotator)
        for task, holder in self.pairs("reserved"):
            if holder == annotator:
                self.both("annotation_submitted", task, annotator, self.now)
                self.idle.discard(annotator)
                return

    @rule()
    def push(self) -> None:
        before = self.views()
        depth = self.d.policy.pushed_per_annotator
        pushed = self.both("push", self.now)
        if not depth:
            assert pushed == []
            return
        assert len({(a.task, a.annotator) for a in pushed}) == len(pushed)
        for assignment in pushed:
            assert assignment.queue is Queue.PUSHED
            assert assignment.annotator not in self.idle
            self.check_new_seat(assignment, before)
        # Filled: whoever still has room has nothing left in the pool they could take.
        views = self.views()
        limit = self.d.policy.annotator_limit(len(views))
        for annotator in (self.members - self.paused - self.idle):
            holds = sum(annotator in v.reserved for v in views.values())
            load = self.d.annotator_load(annotator)
            if holds < depth and (limit is None or load < limit):
                assert self.d.linear_scan(annotator) is None, (annotator, holds)

    @precondition(lambda self: self.pairs("reserved"))
    @rule(data=st.data())
    def submit(self, data: st.DataObject) -> None:
        task, annotator = data.draw(st.sampled_from(self.pairs("reserved")))
        self.both("annotation_submitted", task, annotator, self.now)
        self.idle.discard(annotator)

    @precondition(lambda self: self.pairs("reserved"))
    @rule(data=st.data())
    def skip(self, data: st.DataObject) -> None:
        task, annotator = data.draw(st.sampled_from(self.pairs("reserved")))
        self.both("annotation_skipped", task, annotator, self.now)
        self.idle.discard(annotator)

    @precondition(lambda self: self.pairs("done"))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        """A person deletes a submitted annotation: the seat is free, the annotator may
        take the task again; delivered twice, the second changes nothing."""
        task, annotator = data.draw(st.sampled_from(self.pairs("done")))
        load = self.d.annotator_load(annotator)
        self.both("annotation_deleted", task, annotator, self.now)
        view = self.d.task_view(task)
        assert view is not None and annotator not in view.done + view.excluded + view.deferred
        assert self.d.annotator_load(annotator) == load - 1
        state = self.d.to_state()
        self.both("annotation_deleted", task, annotator, self.now)
        assert self.d.to_state() == state

    @rule(seconds=st.sampled_from([0.5, 4.0, 11.0]))
    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.both("expire", self.now)

    @rule(task=st.sampled_from(TASKS))
    def one_more(self, task: str) -> None:
        view = self.d.task_view(task)
        if view is not None and len(view.done) >= view.overlap:  # as the consensus would
            self.both("one_more_needed", task, len(view.done), self.now)

    @rule(task=st.sampled_from(TASKS), review=st.booleans())
    def close(self, task: str, review: bool) -> None:
        if self.d.task_view(task) is not None:
            self.both("task_sent_to_review" if review else "task_completed", task, self.now)

    @precondition(lambda self: self.pairs("done"))
    @rule(data=st.data(), mode=st.sampled_from(list(RejectMode)), requeue=st.booleans())
    def reject(self, data: st.DataObject, mode: RejectMode, requeue: bool) -> None:
        task, annotator = data.draw(st.sampled_from(self.pairs("done")))
        result = self.d.annotation_rejected(task, annotator, mode, self.now, requeue=requeue)
        assert result == self.twin.annotation_rejected(task, annotator, mode, self.now,
                                                       requeue=requeue)
        self.record(result)

    # Invariants --------------------------------------------------------------------------

    @invariant()
    def seats_are_consistent(self) -> None:
        if not hasattr(self, "d"):
            return
        views = self.views()
        loads = dict.fromkeys(ANNOTATORS, 0)
        for view in views.values():
            groups = [set(view.done), set(view.reserved), set(view.excluded), set(view.deferred)]
            assert sum(map(len, groups)) == len(set().union(*groups)), view  # disjoint
            seats = len(view.done) + len(view.reserved)
            assert seats <= view.target <= view.max_annotators
            for annotator in view.done + view.reserved:
                loads[annotator] += 1
            for annotator in view.reserved:
                # Paused annotators and people who left hold nothing.
                assert annotator in self.members and annotator not in self.paused
        assert loads == {a: self.d.annotator_load(a) for a in ANNOTATORS}

    @invariant()
    def short_tasks_are_reported(self) -> None:
        """Every task with fewer eligible annotators than free seats was reported, with
        its current shortfall (counted here from scratch)."""
        if not hasattr(self, "d"):
            return
        views = self.views()
        limit = self.d.policy.annotator_limit(len(views))
        eligible = {a for a in self.members - self.paused
                    if limit is None or self.d.annotator_load(a) < limit}
        for task, view in views.items():
            available = len(eligible - set(view.done + view.reserved + view.excluded))
            if view.needed > available:
                assert self.reported.get(task) == view.needed - available, (task, view)

    @invariant()
    def state_round_trip(self) -> None:
        if not hasattr(self, "d"):
            return
        state = self.d.to_state()
        restored = Distribution.from_state(round_trip(state))
        assert restored.to_state() == round_trip(state)
        self.twin = restored


DistributionMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=40, deadline=None
)
TestDistributionMachine = DistributionMachine.TestCase
