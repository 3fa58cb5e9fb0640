"""Push mode: the distribution reserves tasks ahead for annotators (issue 4).

Issue 4: "the least-loaded eligible annotator first, never the same annotator twice on
one task, never above overlap + max additional distinct annotators". Label Studio has no
push mode; what is pushed is what its label stream would offer (``next_task``), queue
``pushed``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from assignment.consensus import ConsensusPolicy
from assignment.distribution import Distribution
from assignment.distribution_policy import AssignmentMode, DistributionPolicy
from assignment.evaluation import EvaluationSettings
from assignment.label_stream import Assignment, Queue
from assignment.seats import ReleaseReason, ReservationReleased
from assignment.skips import SkipMode

TTL = 60.0


def make(overlap: int = 1, max_additional: int = 0, depth: int = 1,
         evaluation: EvaluationSettings | None = None, **settings: Any) -> Distribution:
    consensus = ConsensusPolicy(overlap=overlap, threshold=0.7, max_additional=max_additional)
    policy = DistributionPolicy(consensus, reservation_ttl=TTL,
                                assignment_mode=AssignmentMode.PUSH, push_depth=depth,
                                **settings)
    return Distribution(policy, evaluation)


def setup(d: Distribution, annotators: str | list[str], tasks: list[str]) -> None:
    for annotator in annotators:
        d.annotator_joined(annotator, 0.0)
    for task in tasks:
        d.task_imported(task, 0.0)


def pairs(assignments: list[Assignment]) -> list[tuple[str, str]]:
    return [(a.annotator, a.task) for a in assignments]


def held(d: Distribution, annotator: str, tasks: list[str]) -> list[str]:
    return [t for t in tasks if (v := d.task_view(t)) is not None and annotator in v.reserved]


def submit_all(d: Distribution, pushed: list[Assignment], now: float) -> None:
    for assignment in pushed:
        d.annotation_submitted(assignment.task, assignment.annotator, now)


# Settings -------------------------------------------------------------------------------


def test_pull_is_the_default_and_pushes_nothing() -> None:
    policy = DistributionPolicy()
    assert policy.assignment_mode is AssignmentMode.PULL and policy.push_depth == 1
    d = Distribution(DistributionPolicy(reservation_ttl=TTL))
    setup(d, "ab", ["t1", "t2"])
    before = d.to_state()
    assert d.push(1.0) == []
    assert d.to_state() == before


@pytest.mark.parametrize(("settings", "message"), [
    ({"assignment_mode": "shove"}, "assignment_mode must be one of pull, push"),
    ({"push_depth": 0}, "push_depth"),
    ({"push_depth": True}, "push_depth"),
    ({"push_depth": 1.5}, "push_depth"),
])
def test_bad_push_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DistributionPolicy(**settings)


def test_push_settings_round_trip_and_old_states_read_as_pull() -> None:
    policy = DistributionPolicy(assignment_mode=AssignmentMode.PUSH, push_depth=3)
    state = json.loads(json.dumps(policy.to_state()))
    assert (state["assignment_mode"], state["push_depth"]) == ("push", 3)
    assert DistributionPolicy.from_state(state) == policy
    legacy = {k: v for k, v in state.items() if k not in ("assignment_mode", "push_depth")}
    assert DistributionPolicy.from_state(legacy) == DistributionPolicy()


# Who gets what --------------------------------------------------------------------------


def test_the_least_loaded_annotator_gets_the_first_task() -> None:
    d = make(overlap=1)
    # Loads: a 3 done, b 1 done, c none; the pull-mode history comes before push here.
    setup(d, "abc", [f"d{i}" for i in range(4)])
    for task, annotator in (("d0", "a"), ("d1", "a"), ("d2", "a"), ("d3", "b")):
        d.annotation_submitted(task, annotator, 0.5)
    d.task_imported("t1", 1.0)
    assert pairs(d.push(1.0)) == [("c", "t1")]
    d.task_imported("t2", 2.0)
    assert pairs(d.push(2.0)) == [("b", "t2")]  # c holds its one task: depth 1
    d.task_imported("t3", 3.0)
    assert pairs(d.push(3.0)) == [("a", "t3")]
    assert d.push(3.0) == []  # everyone holds push_depth tasks


def test_tasks_spread_evenly_one_at_a_time() -> None:
    d = make(overlap=2)
    people = "abcde"
    tasks = [f"t{i}" for i in range(20)]
    setup(d, people, tasks)
    now = 1.0
    while True:
        pushed = d.push(now)
        if not pushed:
            break
        loads = [d.annotator_load(a) for a in people]
        assert max(loads) - min(loads) <= 1, loads
        # Each round gives every annotator one task (depth 1) in import order, two per task.
        assert sorted(a.annotator for a in pushed) == sorted({a.annotator for a in pushed})
        assert all(a.queue is Queue.PUSHED and a.expires_at == now + TTL for a in pushed)
        submit_all(d, pushed, now)
        now += 1.0
    assert all(d.task_view(t).needed == 0 for t in tasks)  # type: ignore[union-attr]
    assert Counter(d.annotator_load(a) for a in people) == Counter({8: 5})


def test_ties_go_the_same_way_whatever_the_join_order() -> None:
    picks = []
    for order in ("abcdef", "fedcba", "cafebd"):
        d = make(overlap=2)
        setup(d, order, [f"t{i}" for i in range(3)])
        picks.append(sorted(pairs(d.push(1.0))))
    assert picks[0] == picks[1] == picks[2]
    assert len(picks[0]) == 6  # three tasks, two seats each, six annotators with room


def test_push_depth_is_the_number_held_ahead() -> None:
    d = make(overlap=1, depth=3)
    tasks = [f"t{i}" for i in range(10)]
    setup(d, "ab", tasks)
    pushed = d.push(1.0)
    assert len(pushed) == 6
    # One at a time to the least loaded: a and b alternate.
    assert [a.annotator for a in pushed[:2]] in (["a", "b"], ["b", "a"])
    assert len(held(d, "a", tasks)) == len(held(d, "b", tasks)) == 3
    d.annotation_submitted(pushed[0].task, pushed[0].annotator, 2.0)
    refill = d.push(2.0)
    assert len(refill) == 1 and refill[0].annotator == pushed[0].annotator
    assert refill[0].task == "t6"  # the next task in import order


def test_never_the_same_annotator_twice_nor_above_the_annotator_budget() -> None:
    d = make(overlap=2, max_additional=1, depth=5)
    setup(d, "abc", ["t1", "t2"])
    pushed = d.push(1.0)
    assert len(set(pairs(pushed))) == len(pushed) == 4  # two seats per task
    for task in ("t1", "t2"):
        view = d.task_view(task)
        assert view is not None and len(view.reserved) == 2
    submit_all(d, pushed, 2.0)
    assert d.push(2.0) == []  # both tasks full
    d.one_more_needed("t1", 2, 3.0)  # low agreement: one more, up to overlap + 1
    extra = d.push(3.0)
    assert len(extra) == 1 and extra[0].task == "t1"
    view = d.task_view("t1")
    assert view is not None and extra[0].annotator not in view.done
    d.annotation_submitted("t1", extra[0].annotator, 4.0)
    d.one_more_needed("t1", 3, 4.0)  # already at overlap + max_additional
    assert d.push(4.0) == []


def test_paused_and_departed_annotators_get_nothing_pushed() -> None:
    d = make(overlap=1)
    setup(d, "ab", [f"t{i}" for i in range(6)])
    d.push(1.0)
    d.annotator_paused("a", 2.0)
    left = d.annotator_left("b", 2.0)
    assert [e.reason for e in left if isinstance(e, ReservationReleased)] == \
        [ReleaseReason.LEFT]
    assert d.push(2.0) == []
    d.annotator_resumed("a", 3.0)
    assert [a.annotator for a in d.push(3.0)] == ["a"]
    d.annotator_joined("b", 4.0)
    assert [a.annotator for a in d.push(4.0)] == ["b"]


def test_an_annotator_at_the_limit_gets_nothing_more() -> None:
    d = make(overlap=1, depth=3, max_tasks_per_annotator=2)
    setup(d, "a", [f"t{i}" for i in range(6)])
    assert len(d.push(1.0)) == 2


def test_pull_answers_with_the_pushed_task() -> None:
    d = make(overlap=1)
    setup(d, "ab", ["t1", "t2", "t3"])
    pushed = {a.annotator: a for a in d.push(1.0)}
    got = d.next_task("a", 5.0)
    assert got == Assignment(pushed["a"].task, "a", pushed["a"].expires_at, Queue.RESERVED)


def test_an_annotator_with_nothing_pushed_can_still_pull() -> None:
    d = make(overlap=1)
    setup(d, "a", [])
    d.annotator_joined("late", 1.0)
    d.task_imported("t1", 1.0)
    got = d.next_task("late", 1.0)  # before the round that would have pushed it
    assert got is not None and (got.task, got.queue) == ("t1", Queue.SEQUENCE)
    assert d.push(1.0) == []


# Expiry ---------------------------------------------------------------------------------


def test_an_expired_task_is_pushed_to_someone_else_and_the_idle_get_nothing() -> None:
    d = make(overlap=1)
    setup(d, "ab", ["t1", "t2", "t3"])
    first = {a.annotator: a.task for a in d.push(0.0)}
    d.annotation_submitted(first["b"], "b", 10.0)
    # b is the only one with room; t3 is free, so it goes to b.
    assert pairs(d.push(10.0)) == [("b", "t3")]
    d.annotation_submitted("t3", "b", 20.0)
    assert d.push(20.0) == []  # a holds the last task
    # a lets it expire: the round after gives it to b, not back to a.
    assert d.expire(TTL) == [ReservationReleased(first["a"], "a", ReleaseReason.EXPIRED)]
    assert pairs(d.push(TTL)) == [("b", first["a"])]


def test_an_idle_annotator_gets_pushes_again_once_they_act() -> None:
    d = make(overlap=1)
    setup(d, "a", ["t1", "t2", "t3"])
    assert pairs(d.push(0.0)) == [("a", "t1")]
    assert d.push(TTL) == []  # t1 expired: a is away
    got = d.next_task("a", TTL + 1)  # a pull is acting
    assert got is not None and got.task == "t1" and got.queue is Queue.SEQUENCE
    d.annotation_submitted("t1", "a", TTL + 2)
    assert pairs(d.push(TTL + 2)) == [("a", "t2")]
    assert d.push(2 * TTL + 2) == []  # away again
    d.annotator_paused("a", 2 * TTL + 3)
    d.annotator_resumed("a", 2 * TTL + 4)  # resumed by someone: back at work
    assert pairs(d.push(2 * TTL + 4)) == [("a", "t2")]


# What is pushed -------------------------------------------------------------------------


def test_low_agreement_tasks_are_pushed_first_to_the_reliable() -> None:
    d = make(overlap=1, max_additional=1)
    setup(d, ["reliable", "shaky", "other"], ["t1", "t2", "t3"])
    d.annotation_submitted("t1", "other", 0.5)
    d.one_more_needed("t1", 1, 0.5)
    d.annotator_left("other", 0.5)
    pushed = dict(pairs(d.push(1.0, lambda annotator: annotator == "shaky")))
    assert pushed == {"reliable": "t1", "shaky": "t2"}
    assert [a.queue for a in d.push(1.0)] == []


def test_a_due_honeypot_is_pushed_beyond_the_overlap() -> None:
    evaluation = EvaluationSettings(enabled=True, onboarding_tasks=1)
    d = make(overlap=1, evaluation=evaluation)
    setup(d, "abc", ["t1", "g1", "t2"])
    d.ground_truth_marked("g1", 0.0)
    assert sorted(pairs(d.push(1.0))) == [("a", "g1"), ("b", "g1"), ("c", "g1")]
    for annotator in "abc":
        d.annotation_submitted("g1", annotator, 2.0)
    assert sorted(a.task for a in d.push(2.0)) == ["t1", "t2"]  # onboarding done


def test_a_skip_requeued_for_me_is_pushed_back_after_the_rest() -> None:
    d = make(overlap=1, skip_mode=SkipMode.REQUEUE_FOR_ME)
    setup(d, "a", ["t1", "t2"])
    assert pairs(d.push(1.0)) == [("a", "t1")]
    d.annotation_skipped("t1", "a", 2.0)
    assert pairs(d.push(2.0)) == [("a", "t2")]
    d.annotation_submitted("t2", "a", 3.0)
    pushed = d.push(3.0)
    assert pairs(pushed) == [("a", "t1")]
    view = d.task_view("t1")
    assert view is not None and view.deferred == () and view.reserved == ("a",)


def test_a_deleted_annotation_reopens_its_seat_for_the_next_push() -> None:
    d = make(overlap=1)
    setup(d, "ab", ["t1"])
    (only,) = d.push(1.0)
    d.annotation_submitted("t1", only.annotator, 2.0)
    assert d.push(2.0) == []
    d.annotation_deleted("t1", only.annotator, 3.0)
    # Both may take it again; the least loaded is now either (loads 0 and 0).
    again = d.push(3.0)
    assert len(again) == 1 and again[0].task == "t1"


def test_state_round_trip_keeps_who_has_room_and_who_is_idle() -> None:
    d = make(overlap=1, depth=2)
    setup(d, "abc", [f"t{i}" for i in range(8)])
    d.push(0.0)
    d.annotation_submitted("t0", "a", 1.0)
    d.expire(TTL)  # every reservation expires: all three are away
    d.annotation_submitted("t1", "b", TTL + 1)  # b is back
    restored = Distribution.from_state(json.loads(json.dumps(d.to_state())))
    assert restored.to_state() == d.to_state()
    pushed = restored.push(TTL + 2)
    assert pushed == d.push(TTL + 2)
    assert [a.annotator for a in pushed] == ["b", "b"]
    assert restored.to_state() == d.to_state()
