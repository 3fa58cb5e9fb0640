"""Random event sequences against the distribution's invariants (hypothesis.stateful).

Every rule is applied to the distribution and to a twin rebuilt from its JSON state after
the previous step: the two must give the same answers, so a state round trip loses
nothing. The label stream's index is checked against a linear scan of every task.
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
from assignment.label_stream import Assignment, Queue
from assignment.seats import TaskUnfillable, TaskView
from assignment.skips import RejectMode, SkipMode

TASKS = ("t0", "t1", "t2", "tâche-3", "t4", "t5")
ANNOTATORS = ("a", "b", "c", "李", "e")
RELIABILITY = {"a": 0.9, "b": 0.4, "李": 0.7}  # c and e unknown
POOL_QUEUES = {Queue.LOW_AGREEMENT, Queue.STARTED, Queue.OVERLAP, Queue.SEQUENCE}

policies = st.builds(
    lambda overlap, extra, cohort, first, count, share, mode: DistributionPolicy(
        ConsensusPolicy(overlap, 0.7, extra), cohort, first, count, share, 10.0, mode),
    st.integers(1, 3),
    st.integers(0, 2),
    st.sampled_from([0, 50, 100]),
    st.booleans(),
    st.none() | st.integers(1, 4),
    st.none() | st.sampled_from([0.3, 0.6]),
    st.sampled_from(list(SkipMode)),
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
        if isinstance(result, list) and method != "assign":
            events = result + events
        self.record(events)
        if method == "task_deleted":
            self.reported.pop(args[0], None)
        return result

    def record(self, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, TaskUnfillable):
                self.reported[event.task] = event.needed - event.available

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
        elif action == "leave":
            self.members.discard(annotator)
        elif action == "pause":
            self.paused.add(annotator)
        else:
            self.paused.discard(annotator)

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

    @rule(annotator=st.sampled_from(ANNOTATORS))
    def work(self, annotator: str) -> None:
        """Pull a task and submit it, the labeling flow itself."""
        self.pull(annotator)
        for task, holder in self.pairs("reserved"):
            if holder == annotator:
                self.both("annotation_submitted", task, annotator, self.now)
                return

    @rule(task=st.sampled_from(TASKS), ranked=st.booleans())
    def push(self, task: str, ranked: bool) -> None:
        before = self.views()
        if task not in before:
            return
        assigned = self.both("assign", task, self.now, RELIABILITY if ranked else None)
        assert len(assigned) <= before[task].needed
        assert len({a.annotator for a in assigned}) == len(assigned)
        for assignment in assigned:
            assert assignment.queue is Queue.PUSHED
            self.check_new_seat(assignment, before)

    @precondition(lambda self: self.pairs("reserved"))
    @rule(data=st.data())
    def submit(self, data: st.DataObject) -> None:
        task, annotator = data.draw(st.sampled_from(self.pairs("reserved")))
        self.both("annotation_submitted", task, annotator, self.now)

    @precondition(lambda self: self.pairs("reserved"))
    @rule(data=st.data())
    def skip(self, data: st.DataObject) -> None:
        task, annotator = data.draw(st.sampled_from(self.pairs("reserved")))
        self.both("annotation_skipped", task, annotator, self.now)

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
