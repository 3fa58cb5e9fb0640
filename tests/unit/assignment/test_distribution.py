"""Distribution rules, one Label Studio Enterprise behaviour per test.

Sources of the expected behaviour: Label Studio Enterprise project settings
(https://docs.humansignal.com/guide/project_settings_lse: Distribute Labeling Tasks,
Task Reservation, Skip Queue, Reject Options, Overlap) and label-studio's
``projects/functions/next_task.py`` / ``projects/models.py``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from assignment.consensus import ConsensusPolicy
from assignment.distribution import (
    DEFAULT_RESERVATION_TTL,
    AssignmentMode,
    Distribution,
    DistributionPolicy,
)
from assignment.label_stream import Assignment, Queue
from assignment.seats import ReleaseReason, ReservationReleased, TaskUnfillable
from assignment.skips import RejectMode, SkipMode


def make(overlap: int = 1, max_additional: int = 0, **settings: Any) -> Distribution:
    consensus = ConsensusPolicy(overlap=overlap, threshold=0.7, max_additional=max_additional)
    return Distribution(DistributionPolicy(consensus, **settings))


def setup(d: Distribution, annotators: str | list[str], tasks: list[str]) -> None:
    for annotator in annotators:
        assert d.annotator_joined(annotator, 0.0) == []
    for task in tasks:
        d.task_imported(task, 0.0)


def pull(d: Distribution, annotator: str, now: float = 1.0) -> Assignment | None:
    return d.next_task(annotator, now)


def label(d: Distribution, annotator: str, now: float = 1.0) -> str:
    """The annotator pulls a task and submits it; the task's id."""
    assignment = d.next_task(annotator, now)
    assert assignment is not None, f"{annotator} got nothing"
    d.annotation_submitted(assignment.task, annotator, now)
    return assignment.task


# Settings -------------------------------------------------------------------------------


def test_defaults_follow_label_studio_enterprise() -> None:
    # projects/models.py: overlap_cohort_percentage=100, show_overlap_first=False,
    # skip_queue=REQUEUE_FOR_OTHERS; LSE docs: task reservation 1440 minutes; no limits.
    policy = DistributionPolicy()
    assert policy.overlap == 1
    assert policy.max_additional == 0
    assert policy.overlap_cohort_percentage == 100.0
    assert policy.show_overlap_first is False
    assert policy.skip_mode is SkipMode.REQUEUE_FOR_OTHERS
    assert policy.reservation_ttl == DEFAULT_RESERVATION_TTL == 86_400.0
    assert policy.max_tasks_per_annotator is None
    assert policy.max_share_per_annotator is None
    assert policy.annotator_limit(1000) is None


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"consensus": 3}, "consensus"),
        ({"overlap_cohort_percentage": 100.5}, "overlap_cohort_percentage"),
        ({"overlap_cohort_percentage": -1}, "overlap_cohort_percentage"),
        ({"overlap_cohort_percentage": math.nan}, "overlap_cohort_percentage"),
        ({"overlap_cohort_percentage": True}, "overlap_cohort_percentage"),
        ({"show_overlap_first": 1}, "show_overlap_first"),
        ({"max_tasks_per_annotator": 0}, "max_tasks_per_annotator"),
        ({"max_tasks_per_annotator": 2.5}, "max_tasks_per_annotator"),
        ({"max_share_per_annotator": 0.0}, "max_share_per_annotator"),
        ({"max_share_per_annotator": 1.5}, "max_share_per_annotator"),
        ({"reservation_ttl": 0}, "reservation_ttl"),
        ({"reservation_ttl": math.inf}, "reservation_ttl"),
        ({"skip_mode": "ignore"}, "skip_mode"),
        ({"assignment_mode": "both"}, "assignment_mode"),
        ({"push_depth": 0}, "push_depth"),
    ],
)
def test_bad_settings_are_refused_with_the_field_named(settings: dict[str, Any],
                                                       field: str) -> None:
    with pytest.raises(ValueError, match=field):
        DistributionPolicy(**settings)


def test_settings_round_trip_through_json() -> None:
    policy = DistributionPolicy(ConsensusPolicy(3, 0.7, 2), 40, True, 50, 0.25, 600.0,
                                SkipMode.REQUEUE_FOR_ME, AssignmentMode.PUSH, 4)
    state = json.loads(json.dumps(policy.to_state()))
    assert state["skip_mode"] == "requeue_for_me"  # stored as its value
    assert (state["assignment_mode"], state["push_depth"]) == ("push", 4)
    restored = DistributionPolicy.from_state(state)
    assert restored == policy and restored.skip_mode is SkipMode.REQUEUE_FOR_ME
    assert restored.assignment_mode is AssignmentMode.PUSH
    with pytest.raises(ValueError, match="version"):
        DistributionPolicy.from_state({**policy.to_state(), "version": 2})


def test_limits_take_the_smaller_of_count_and_share_rounded_up() -> None:
    policy = DistributionPolicy(max_tasks_per_annotator=30, max_share_per_annotator=0.1)
    assert policy.annotator_limit(100) == 10  # 0.1 * 100 is 10.000000000000002 in floats
    assert policy.annotator_limit(5) == 1  # a share never rounds down to no task at all
    assert policy.annotator_limit(1000) == 30


# Overlap cohort -------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[3]
COHORT_SNIPPET = """
import sys
from assignment.distribution import DistributionPolicy
from assignment.consensus import ConsensusPolicy
policy = DistributionPolicy(ConsensusPolicy(overlap=3), overlap_cohort_percentage=30)
print("".join(str(policy.task_overlap(f"task-{i}")) for i in range(300)))
"""


def test_cohort_is_close_to_the_percentage_and_the_same_in_every_process() -> None:
    policy = DistributionPolicy(ConsensusPolicy(overlap=3), overlap_cohort_percentage=30)
    n = 20_000
    overlaps = [policy.task_overlap(f"task-{i}") for i in range(n)]
    assert set(overlaps) == {1, 3}
    share = overlaps.count(3) / n
    # Binomial(n, 0.3): standard deviation sqrt(0.3 * 0.7 / n) = 0.0032; allow 4.5 of them.
    assert abs(share - 0.3) < 4.5 * math.sqrt(0.3 * 0.7 / n)
    # Python's str hash is salted per process; the cohort must not depend on it.
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    other = subprocess.run([sys.executable, "-c", COHORT_SNIPPET], capture_output=True,
                           text=True, check=True, env=env, cwd=ROOT)
    assert other.stdout.strip() == "".join(str(o) for o in overlaps[:300])


@pytest.mark.parametrize(("percentage", "expected"), [(100, {3}), (0, {1})])
def test_cohort_extremes(percentage: float, expected: set[int]) -> None:
    policy = DistributionPolicy(ConsensusPolicy(overlap=3), overlap_cohort_percentage=percentage)
    assert {policy.task_overlap(f"t{i}") for i in range(500)} == expected


def test_a_task_outside_the_cohort_takes_one_annotator() -> None:
    d = make(overlap=2, overlap_cohort_percentage=50)
    single = next(f"t{i}" for i in range(100) if d.policy.task_overlap(f"t{i}") == 1)
    setup(d, "ab", [single])
    assert label(d, "a") == single
    assert pull(d, "b") is None
    view = d.task_view(single)
    assert view is not None and (view.overlap, view.max_annotators) == (1, 1)


# Never twice, never above the budget ------------------------------------------------------


def test_no_annotator_twice_and_no_more_than_the_overlap() -> None:
    d = make(overlap=2)
    setup(d, "abc", ["t1"])
    first = pull(d, "a")
    assert first is not None and first.task == "t1" and first.queue is Queue.SEQUENCE
    # Asking again returns the same reservation (Label Studio's task lock), not a new one.
    again = pull(d, "a", now=5.0)
    assert again == Assignment("t1", "a", first.expires_at, Queue.RESERVED)
    assert label(d, "b") == "t1"
    assert pull(d, "c") is None  # two seats: a reserved, b done
    d.annotation_submitted("t1", "a", 2.0)
    assert pull(d, "a") is None  # done with it
    assert d.annotator_load("a") == d.annotator_load("b") == 1
    d.annotation_submitted("t1", "a", 3.0)  # a duplicate delivery changes nothing
    assert d.annotator_load("a") == 1


def test_fewer_annotators_than_the_overlap_gets_what_is_possible_and_is_reported() -> None:
    d = make(overlap=3, max_additional=2)
    setup(d, "ab", [])
    assert d.task_imported("t1", 0.0) == [TaskUnfillable("t1", needed=3, available=2)]
    assert [(x.task if x else None) for x in (pull(d, "a"), pull(d, "b"))] == ["t1", "t1"]
    # Still one short, and as short as before: no second report.
    assert d.take_events() == []
    assert d.annotation_submitted("t1", "a", 2.0) == []
    d.annotator_joined("c", 3.0)  # now it can fill: nothing to report
    assert label(d, "c", 4.0) == "t1"
    assert d.take_events() == []


def test_low_agreement_budget_beyond_the_annotators_is_reported_once() -> None:
    d = make(overlap=3, max_additional=2)
    setup(d, "abcd", ["t1"])
    for annotator in "abc":
        assert label(d, annotator) == "t1"
    assert d.one_more_needed("t1", 3, 2.0) == []  # d can take the fourth seat
    assignment = pull(d, "d")
    assert assignment is not None and assignment.queue is Queue.LOW_AGREEMENT
    d.annotation_submitted("t1", "d", 3.0)
    assert d.one_more_needed("t1", 4, 4.0) == [TaskUnfillable("t1", needed=1, available=0)]
    assert d.one_more_needed("t1", 4, 4.5) == []  # the same decision again: idempotent
    assert d.one_more_needed("t1", 9, 5.0) == []  # never past overlap + max_additional
    view = d.task_view("t1")
    assert view is not None and view.target == view.max_annotators == 5
    d.annotator_joined("e", 6.0)
    assignment = pull(d, "e", 6.0)
    assert assignment is not None and assignment.task == "t1"


def test_losing_annotators_reports_each_open_task_once_per_change() -> None:
    d = make(overlap=2)
    setup(d, "ab", ["t1", "t2"])
    assert d.annotator_left("b", 1.0) == [TaskUnfillable("t1", 2, 1), TaskUnfillable("t2", 2, 1)]
    assert d.task_imported("t3", 2.0) == [TaskUnfillable("t3", 2, 1)]
    assert d.annotator_paused("a", 3.0) == [TaskUnfillable(t, 2, 0) for t in ("t1", "t2", "t3")]
    d.annotator_resumed("a", 4.0)
    assert d.annotator_joined("b", 5.0) == []
    assert d.annotator_left("b", 6.0) == [TaskUnfillable(t, 2, 1) for t in ("t1", "t2", "t3")]


# Reservations ---------------------------------------------------------------------------


def test_an_expired_reservation_returns_the_task_and_it_goes_to_another() -> None:
    d = make(overlap=1, reservation_ttl=60.0)
    setup(d, "ab", ["t1"])
    reserved = pull(d, "a", now=0.0)
    assert reserved is not None and reserved.expires_at == 60.0
    assert pull(d, "b", now=59.0) is None
    assert d.expire(59.9) == []
    taken = pull(d, "b", now=60.0)
    assert taken is not None and taken.task == "t1"
    assert d.take_events() == [ReservationReleased("t1", "a", ReleaseReason.EXPIRED)]
    assert d.annotator_load("a") == 0


def test_expire_is_driven_by_the_time_given() -> None:
    d = make(overlap=2, reservation_ttl=10.0)
    setup(d, "ab", ["t1"])
    assert [(x.task if x else None) for x in (pull(d, "a", 100.0), pull(d, "b", 100.0))] \
        == ["t1", "t1"]
    assert d.expire(109.0) == []
    assert d.expire(110.0) == [ReservationReleased("t1", "a", ReleaseReason.EXPIRED),
                               ReservationReleased("t1", "b", ReleaseReason.EXPIRED)]
    assert d.expire(500.0) == []
    with pytest.raises(ValueError, match="now"):
        d.expire(math.nan)


# Limits ---------------------------------------------------------------------------------


def test_limit_by_count_counts_done_and_reserved_tasks() -> None:
    d = make(overlap=1, max_tasks_per_annotator=2)
    setup(d, "ab", ["t1", "t2", "t3", "t4"])
    assert label(d, "a") == "t1"
    assigned = pull(d, "a")
    assert assigned is not None and assigned.task == "t2"
    d.annotation_submitted("t2", "a", 2.0)
    assert pull(d, "a") is None
    got = pull(d, "b", 3.0)
    assert got is not None and got.task == "t3"
    assert d.annotator_load("a") == 2


def test_limit_by_share_grows_with_the_project() -> None:
    d = make(overlap=1, max_share_per_annotator=0.25)
    setup(d, "a", [f"t{i}" for i in range(8)])
    assert [label(d, "a") for _ in range(2)] == ["t0", "t1"]
    assert pull(d, "a") is None  # 25% of 8 tasks
    for i in range(8, 12):
        d.task_imported(f"t{i}", 2.0)
    assert label(d, "a") == "t2"  # 25% of 12 tasks is 3
    assert pull(d, "a") is None


def test_an_annotator_at_the_limit_is_not_available() -> None:
    d = make(overlap=2, max_tasks_per_annotator=1)
    setup(d, "ab", ["t1", "t2"])
    got = pull(d, "a")
    assert got is not None and got.task == "t1"
    # a is at the limit: t2 can now get only b.
    assert d.take_events() == [TaskUnfillable("t2", 2, 1)]
    held = d.next_task("a", 1.5)  # the task a holds, still
    assert held is not None and held.task == "t1" and held.queue is Queue.RESERVED
    assert d.no_task_reason("a") == "at_limit"
    assert d.annotation_submitted("t1", "a", 2.0) == []


# Skips ----------------------------------------------------------------------------------


def test_skip_requeue_for_me_comes_back_after_every_other_task() -> None:
    d = make(overlap=1, skip_mode=SkipMode.REQUEUE_FOR_ME)
    setup(d, "a", ["t1", "t2", "t3"])
    assert pull(d, "a") == Assignment("t1", "a", 1.0 + DEFAULT_RESERVATION_TTL, Queue.SEQUENCE)
    d.annotation_skipped("t1", "a", 2.0)
    assert d.annotator_load("a") == 0
    assert label(d, "a") == "t2"
    assert label(d, "a") == "t3"
    back = pull(d, "a")
    assert back is not None and (back.task, back.queue) == ("t1", Queue.SKIPPED)
    d.annotation_skipped("t1", "a", 3.0)  # skipped again: still theirs for later
    view = d.task_view("t1")
    assert view is not None and view.deferred == ("a",)


def test_skip_requeue_for_me_lets_others_take_the_task_meanwhile() -> None:
    d = make(overlap=1, skip_mode=SkipMode.REQUEUE_FOR_ME)
    setup(d, "ab", ["t1"])
    pull(d, "a")
    d.annotation_skipped("t1", "a", 2.0)
    assert label(d, "b") == "t1"
    assert pull(d, "a") is None  # the task filled while it waited in a's skip queue


def test_skip_requeue_for_others_never_comes_back() -> None:
    d = make(overlap=1)  # the default mode
    setup(d, "ab", ["t1", "t2"])
    pull(d, "a")
    d.annotation_skipped("t1", "a", 2.0)
    assert label(d, "a") == "t2"
    assert pull(d, "a") is None
    assert label(d, "b") == "t1"
    view = d.task_view("t1")
    assert view is not None and view.excluded == ("a",) and view.done == ("b",)


def test_skip_count_as_done_takes_a_seat() -> None:
    d = make(overlap=2, skip_mode=SkipMode.COUNT_AS_DONE)
    setup(d, "abc", ["t1", "t2"])
    pull(d, "a")
    d.annotation_skipped("t1", "a", 2.0)
    assert d.annotator_load("a") == 1
    assert label(d, "b") == "t1"
    assert label(d, "c") == "t2"  # t1 is full: a's skip and b's annotation
    view = d.task_view("t1")
    assert view is not None and view.done == ("a", "b") and view.needed == 0


# Rejections -----------------------------------------------------------------------------


def test_reject_requeue_to_annotator_reopens_the_task_for_them_only() -> None:
    d = make(overlap=1)
    setup(d, "ab", ["t1"])
    assert label(d, "a") == "t1"
    d.task_completed("t1", 2.0)
    assert d.annotation_rejected("t1", "a", RejectMode.REQUEUE_TO_ANNOTATOR, 3.0) == []
    assert pull(d, "b") is None  # the seat is a's to redo
    assert pull(d, "a") == Assignment("t1", "a", None, Queue.REWORK)
    d.expire(1e9)  # no expiry on rework
    assert pull(d, "a", 1e9) == Assignment("t1", "a", None, Queue.REWORK)
    d.annotation_submitted("t1", "a", 1e9)
    view = d.task_view("t1")
    assert view is not None and view.done == ("a",) and view.reserved == ()


def test_reject_remove_frees_the_seat_for_others_and_keeps_the_annotator_off() -> None:
    d = make(overlap=1)
    setup(d, "ab", ["t1", "t2"])
    assert label(d, "a") == "t1"
    d.annotation_rejected("t1", "a", RejectMode.REMOVE, 2.0)
    assert d.annotator_load("a") == 0
    assert label(d, "a") == "t2"
    assert pull(d, "a") is None
    assert label(d, "b") == "t1"


def test_reject_remove_leaves_a_closed_task_closed() -> None:
    d = make(overlap=1)
    setup(d, "ab", ["t1"])
    label(d, "a")
    d.task_sent_to_review("t1", 2.0)
    d.annotation_rejected("t1", "a", "remove", 3.0)
    assert pull(d, "b") is None


@pytest.mark.parametrize(("requeue", "queue_of_a"), [(True, Queue.REWORK), (False, None)])
def test_reject_reviewer_choice(requeue: bool, queue_of_a: Queue | None) -> None:
    d = make(overlap=1)
    setup(d, "a", ["t1"])
    label(d, "a")
    with pytest.raises(ValueError, match="reviewer's choice"):
        d.annotation_rejected("t1", "a", RejectMode.REVIEWER_CHOICE, 2.0)
    d.annotation_rejected("t1", "a", RejectMode.REVIEWER_CHOICE, 2.0, requeue=requeue)
    got = pull(d, "a")
    assert (got.queue if got else None) is queue_of_a


def test_rework_of_a_paused_annotator_goes_to_someone_else() -> None:
    d = make(overlap=1)
    setup(d, "ab", ["t1"])
    label(d, "a")
    d.annotation_rejected("t1", "a", RejectMode.REQUEUE_TO_ANNOTATOR, 2.0)
    assert d.annotator_paused("a", 3.0) == [ReservationReleased("t1", "a", ReleaseReason.PAUSED)]
    assert label(d, "b") == "t1"


def test_reject_of_something_not_submitted_changes_nothing() -> None:
    d = make(overlap=1)
    setup(d, "ab", ["t1"])
    before = d.to_state()
    assert d.annotation_rejected("t1", "b", "remove", 2.0) == []
    assert d.to_state() == before
    with pytest.raises(ValueError, match="reject mode"):
        d.annotation_rejected("t1", "b", "drop", 2.0)


# Ordering -------------------------------------------------------------------------------


def test_show_overlap_first_offers_started_then_cohort_tasks_first() -> None:
    d = make(overlap=2, overlap_cohort_percentage=50, show_overlap_first=True)
    ids = [f"t{i}" for i in range(40)]
    single = [t for t in ids if d.policy.task_overlap(t) == 1][:2]
    cohort = [t for t in ids if d.policy.task_overlap(t) == 2][:2]
    setup(d, "abc", [single[0], cohort[0], single[1], cohort[1]])
    # Fresh tasks: the cohort ones (overlap > 1) before the single ones, as in Label Studio.
    first = pull(d, "a")
    assert first is not None and (first.task, first.queue) == (cohort[0], Queue.OVERLAP)
    # c labels the later cohort task: now started, it comes before everything fresh.
    d.annotation_submitted(cohort[1], "c", 2.0)
    second = pull(d, "b")
    assert second is not None and (second.task, second.queue) == (cohort[0], Queue.STARTED)
    d.annotation_submitted(cohort[0], "b", 3.0)
    third = pull(d, "b", 3.0)
    assert third is not None and (third.task, third.queue) == (cohort[1], Queue.STARTED)
    d.task_completed(cohort[0], 4.0)
    d.task_completed(cohort[1], 4.0)
    fourth = pull(d, "c", 4.0)
    assert fourth is not None and (fourth.task, fourth.queue) == (single[0], Queue.SEQUENCE)


def test_without_show_overlap_first_tasks_come_in_import_order() -> None:
    d = make(overlap=2, overlap_cohort_percentage=50)
    ids = [f"t{i}" for i in range(40)]
    single = next(t for t in ids if d.policy.task_overlap(t) == 1)
    cohort = [t for t in ids if d.policy.task_overlap(t) == 2][:2]
    setup(d, "abc", [single, cohort[0], cohort[1]])
    d.annotation_submitted(cohort[1], "a", 1.0)
    got = pull(d, "c")
    assert got is not None and (got.task, got.queue) == (single, Queue.SEQUENCE)


def test_low_agreement_tasks_come_first() -> None:
    d = make(overlap=1, max_additional=1)
    setup(d, "ab", ["t1", "t2", "t3"])
    assert label(d, "a") == "t1"
    d.one_more_needed("t1", 1, 2.0)
    got = pull(d, "b")
    assert got is not None and (got.task, got.queue) == ("t1", Queue.LOW_AGREEMENT)


# Membership, closing, deleting ------------------------------------------------------------


def test_paused_and_departed_annotators_get_nothing() -> None:
    d = make(overlap=2)
    setup(d, "abc", ["t1", "t2"])
    pull(d, "a")
    assert d.annotator_paused("a", 2.0) == [ReservationReleased("t1", "a", ReleaseReason.PAUSED)]
    assert pull(d, "a") is None and d.no_task_reason("a") == "paused"
    assert [label(d, annotator, 3.0) for annotator in "bc"] == ["t1", "t1"]  # a's seat
    d.annotator_resumed("a", 4.0)
    got = pull(d, "a", 4.0)
    assert got is not None and got.task == "t2"
    assert d.annotator_left("a", 5.0) == [ReservationReleased("t2", "a", ReleaseReason.LEFT)]
    assert pull(d, "a") is None and d.no_task_reason("a") == "not_a_member"
    assert pull(d, "nobody") is None and d.no_task_reason("nobody") == "not_a_member"


def test_closing_ends_reservations_and_one_more_reopens() -> None:
    d = make(overlap=2, max_additional=1)
    setup(d, "abc", ["t1"])
    label(d, "a")
    pull(d, "b")
    assert d.task_completed("t1", 2.0) == [ReservationReleased("t1", "b", ReleaseReason.CLOSED)]
    assert pull(d, "c") is None
    d.annotation_submitted("t1", "b", 2.5)  # b sends what they had open: it still counts
    d.one_more_needed("t1", 2, 3.0)  # an updated annotation lowered the agreement
    got = pull(d, "c", 3.0)
    assert got is not None and got.queue is Queue.LOW_AGREEMENT


def test_deleting_a_task_ends_its_reservations_and_frees_the_load() -> None:
    d = make(overlap=2, skip_mode=SkipMode.REQUEUE_FOR_ME)
    setup(d, "abc", ["t1"])
    label(d, "a")
    pull(d, "b")
    pull(d, "c")
    d.annotation_skipped("t1", "c", 1.5)
    assert d.task_deleted("t1", 2.0) == [ReservationReleased("t1", "b", ReleaseReason.DELETED)]
    assert d.task_view("t1") is None
    assert d.annotator_load("a") == d.annotator_load("b") == 0
    assert pull(d, "c") is None
    assert d.task_deleted("t1", 3.0) == []
    d.task_imported("t1", 4.0)  # imported again: a new task
    assert label(d, "a", 4.0) == "t1"


def test_a_deleted_annotation_frees_its_seat_and_its_annotator_may_label_it_again() -> None:
    # Label Studio: deleting an annotation makes the task need one again.
    d = make(overlap=2)
    setup(d, "abc", ["t1", "t2"])
    assert label(d, "a") == "t1"
    assert label(d, "b") == "t1"
    assert pull(d, "c", 2.0) is not None and d.annotator_load("c") == 1  # c holds t2
    assert d.annotation_deleted("t1", "a", 3.0) == []
    view = d.task_view("t1")
    assert view is not None and view.done == ("b",) and view.needed == 1
    assert d.annotator_load("a") == 0
    assert label(d, "a", 4.0) == "t1"  # free to take it again, first in import order
    assert d.annotator_load("a") == 1


def test_deleting_twice_or_what_holds_no_done_seat_changes_nothing() -> None:
    d = make(overlap=2)
    setup(d, "ab", ["t1"])
    label(d, "a")
    pull(d, "b")
    d.annotation_deleted("t1", "a", 2.0)
    state = d.to_state()
    assert d.annotation_deleted("t1", "a", 2.0) == []  # delivered twice
    d.annotation_deleted("t1", "b", 2.0)  # b holds a reservation, not a done seat
    d.annotation_deleted("t1", "nobody", 2.0)
    d.annotation_deleted("t9", "a", 2.0)  # not in the project
    assert d.to_state() == state


def test_a_deletion_leaves_the_consensus_decision_alone() -> None:
    d = make(overlap=1)
    setup(d, "ab", ["t1", "t2"])
    assert label(d, "a") == "t1"
    assert label(d, "b") == "t2"
    d.task_completed("t1", 2.0)
    d.annotation_deleted("t1", "a", 3.0)
    d.annotation_deleted("t2", "b", 3.0)  # t2 is full, not closed: it reopens
    assert d.annotator_load("a") == d.annotator_load("b") == 0
    view = d.task_view("t1")
    assert view is not None and not view.open and view.needed == 0
    got = pull(d, "a", 4.0)
    assert got is not None and got.task == "t2"


def test_a_closed_task_reopens_when_the_consensus_collects_again() -> None:
    # Label Studio: a task that lost an annotation below its overlap needs one again.
    d = make(overlap=2)
    setup(d, "abc", ["t1", "t2"])
    assert [label(d, annotator) for annotator in "ab"] == ["t1", "t1"]
    d.task_completed("t1", 2.0)
    d.annotation_deleted("t1", "b", 3.0)
    assert d.task_reopened("t1", 3.0) == []
    view = d.task_view("t1")
    assert view is not None and view.open and view.target == 2 and view.needed == 1
    state = d.to_state()
    assert d.task_reopened("t1", 3.0) == []  # delivered twice: still the one seat
    assert d.to_state() == state
    # The freed seat goes to whoever asks first, b included; then the task is full.
    got = pull(d, "b", 4.0)
    assert got is not None and got.task == "t1"
    got = pull(d, "c", 4.0)
    assert got is not None and got.task == "t2"
    assert d.task_reopened("t1", 5.0) == []
    view = d.task_view("t1")
    assert view is not None and view.needed == 0 and view.reserved == ("b",)


def test_reopening_an_open_or_unknown_task_changes_nothing() -> None:
    d = make(overlap=2)
    setup(d, "ab", ["t1"])
    label(d, "a")
    state = d.to_state()
    d.task_reopened("t1", 1.0)  # open: nothing to reopen
    d.task_reopened("t9", 1.0)  # not in the project (deleted since)
    assert d.to_state() == state


def test_a_task_sent_to_review_reopens_for_one_more_within_the_cap() -> None:
    d = make(overlap=1, max_additional=1)
    setup(d, "abc", ["t1"])
    assert label(d, "a") == "t1"
    d.one_more_needed("t1", 1, 1.0)  # low agreement: a second annotator
    assert label(d, "b", 1.5) == "t1"
    d.task_sent_to_review("t1", 2.0)  # still low at the cap (1 + 1)
    d.annotation_deleted("t1", "b", 3.0)
    view = d.task_view("t1")
    assert view is not None and not view.open and view.needed == 0
    # The consensus, one annotator down and with budget again, asks for one more: the
    # task reopens although it wants no more seats than before.
    d.one_more_needed("t1", 1, 3.0)
    view = d.task_view("t1")
    assert view is not None and view.open and view.target == 2 and view.needed == 1
    d.one_more_needed("t1", 1, 3.5)  # the same decision again
    d.one_more_needed("t1", 5, 3.5)  # never past the cap
    view = d.task_view("t1")
    assert view is not None and view.target == 2 and view.needed == 1
    got = pull(d, "c", 4.0)
    assert got is not None and (got.task, got.queue) == ("t1", Queue.LOW_AGREEMENT)
    assert pull(d, "a", 4.0) is None  # never the same annotator twice: a is done
    restored = Distribution.from_state(json.loads(json.dumps(d.to_state())))
    assert restored.task_view("t1") == d.task_view("t1")


def test_a_deleted_honeypot_annotation_no_longer_counts_toward_the_evaluation() -> None:
    from assignment.evaluation import EvaluationSettings

    d = Distribution(DistributionPolicy(), EvaluationSettings(enabled=True, onboarding_tasks=1))
    setup(d, "a", ["g1", "t1", "t2"])
    d.ground_truth_marked("g1", 0.0)
    assert label(d, "a") == "g1"  # onboarding
    d.annotation_deleted("g1", "a", 2.0)
    view = d.task_view("g1")
    assert view is not None and view.ground_truth and view.done == ()
    # Onboarding is due again, and g1 is the honeypot a has not labeled.
    got = pull(d, "a", 3.0)
    assert got is not None and (got.task, got.queue) == ("g1", Queue.GROUND_TRUTH)
    d.annotation_submitted("g1", "a", 3.0)
    assert label(d, "a", 4.0) == "t1"


def test_a_limit_reached_is_lifted_by_a_deletion() -> None:
    d = make(overlap=1, max_tasks_per_annotator=1)
    setup(d, "a", ["t1", "t2"])
    assert label(d, "a") == "t1"
    assert pull(d, "a", 2.0) is None  # at the limit
    d.annotation_deleted("t1", "a", 3.0)
    got = pull(d, "a", 4.0)
    assert got is not None and got.task == "t1"


def test_events_for_unknown_tasks_and_annotators() -> None:
    d = make(overlap=2)
    setup(d, "a", [])
    # The annotation stream may run ahead of the task stream: the task is imported now.
    d.annotation_submitted("t1", "guest", 1.0)
    view = d.task_view("t1")
    assert view is not None and view.done == ("guest",)
    assert pull(d, "guest") is None  # never joined: not a member
    assert label(d, "a") == "t1"
    with pytest.raises(ValueError, match="not in the project"):
        d.one_more_needed("t9", 2, 1.0)
    with pytest.raises(ValueError, match="annotator_count"):
        d.one_more_needed("t1", -1, 1.0)


def test_unicode_ids_and_an_empty_project() -> None:
    d = make(overlap=2)
    assert pull(d, "李") is None
    setup(d, ["李", "chloé"], ["tâche-🙂", ""])
    assert label(d, "李") == "tâche-🙂"
    assert label(d, "chloé") == "tâche-🙂"
    assert label(d, "李") == ""
    restored = Distribution.from_state(json.loads(json.dumps(d.to_state())))
    assert restored.next_task("chloé", 2.0) == d.next_task("chloé", 2.0)


def test_state_version_is_checked() -> None:
    state = make().to_state()
    assert state["version"] == 1
    with pytest.raises(ValueError, match="version"):
        Distribution.from_state({**state, "version": 0})


def test_low_agreement_last_offers_those_tasks_to_others_first() -> None:
    """Issue 4: low-agreement tasks go first to the more reliable annotators; a less
    reliable one gets them only when nothing else is left for them."""
    from assignment import ConsensusPolicy, Distribution, DistributionPolicy, Queue

    policy = DistributionPolicy(consensus=ConsensusPolicy(overlap=1, max_additional=2))
    d = Distribution(policy)
    for person in ("reliable", "shaky", "other"):
        d.annotator_joined(person, 0.0)
    for task in ("t1", "t2"):
        d.task_imported(task, 0.0)
    d.annotation_submitted("t1", "other", 1.0)
    d.one_more_needed("t1", 1, 1.0)  # t1 now wants a second annotator: low agreement
    shaky = d.next_task("shaky", 2.0, low_agreement_last=True)
    assert shaky is not None and (shaky.task, shaky.queue) == ("t2", Queue.SEQUENCE)
    reliable = d.next_task("reliable", 2.0)
    assert reliable is not None and (reliable.task, reliable.queue) == ("t1", Queue.LOW_AGREEMENT)
    # Nothing else left for a less reliable annotator: they get a low-agreement task.
    d2 = Distribution(policy)
    d2.annotator_joined("shaky", 0.0)
    d2.annotator_joined("other", 0.0)
    d2.task_imported("t1", 0.0)
    d2.annotation_submitted("t1", "other", 1.0)
    d2.one_more_needed("t1", 1, 1.0)
    last = d2.next_task("shaky", 2.0, low_agreement_last=True)
    assert last is not None and (last.task, last.queue) == ("t1", Queue.LOW_AGREEMENT)
