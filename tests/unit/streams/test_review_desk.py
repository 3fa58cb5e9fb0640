"""The review desk: Label Studio Enterprise's review queue (lowest agreement first, ties by
task id) and review criteria (one accepted, or all reviewed), fed fact by fact."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assignment.review_events import ReviewCriteria, ReviewReason, ReviewRequested, TaskReviewed
from assignment.review_settings import ReviewSettings
from assignment.skips import RejectMode
from streams.review_desk import ReviewDesk

ONE = ReviewCriteria.ONE_ACCEPTED
ALL = ReviewCriteria.ALL_REVIEWED
LOW = ReviewReason.LOW_AGREEMENT_BUDGET_EXHAUSTED
TRUTH = ReviewReason.GROUND_TRUTH_DISAGREEMENT
REJECTED = ReviewReason.REJECTED


def desk_with(criteria: ReviewCriteria = ONE,
              mode: RejectMode = RejectMode.REQUEUE_TO_ANNOTATOR) -> ReviewDesk:
    return ReviewDesk(ReviewSettings(mode, criteria))


def order(desk: ReviewDesk, reviewer: str = "rev") -> list[str]:
    """Every task ``reviewer`` would be offered, in order."""
    offered: list[str] = []
    while (task := desk.next_for(reviewer, exclude=offered)) is not None:
        offered.append(task)
    return offered


# The queue ------------------------------------------------------------------------------


def test_lowest_agreement_first_ties_by_task_id() -> None:
    desk = desk_with()
    desk.submitted("t3", "c1", "ann", 0.9, now=0.0)
    desk.submitted("t2", "b1", "ann", 0.4, now=0.0)
    desk.submitted("t1", "a1", "ann", 0.4, now=0.0)
    assert desk.queue_size == 3
    assert desk.next_for("rev") == "t1"
    assert desk.next_for("rev", exclude={"t1"}) == "t2"
    assert desk.next_for("rev", exclude=("t1", "t2")) == "t3"
    assert desk.next_for("rev", exclude={"t1", "t2", "t3"}) is None
    assert order(desk) == ["t1", "t2", "t3"]
    assert desk.queue_size == 3  # asking takes nothing out


def test_the_latest_agreement_orders_the_queue() -> None:
    desk = desk_with()
    desk.submitted("t1", "a1", "ann", 0.2, now=0.0)
    desk.submitted("t2", "b1", "ann", 0.5, now=0.0)
    desk.submitted("t1", "a2", "bob", 0.8, now=1.0)  # a second annotation moves t1
    assert order(desk) == ["t2", "t1"]
    desk.rescore("t2", 0.9)  # e.g. after a deletion
    assert order(desk) == ["t1", "t2"]
    desk.rescore("unknown", 0.0)  # nothing to move
    assert order(desk) == ["t1", "t2"]


def test_a_task_without_an_agreement_score_ranks_as_one() -> None:
    desk = desk_with()
    desk.submitted("t1", "a1", "ann", None, now=0.0)
    desk.submitted("t2", "b1", "ann", 0.99, now=0.0)
    desk.submitted("t3", "c1", "ann", 1.0, now=0.0)
    assert order(desk) == ["t2", "t1", "t3"]  # t1 ties t3 at 1.0; ids decide


def test_nobody_reviews_only_their_own_work() -> None:
    desk = desk_with(ALL)
    desk.submitted("t1", "a1", "ann", 0.1, now=0.0)
    desk.submitted("t2", "b1", "bob", 0.5, now=0.0)
    assert order(desk, "ann") == ["t2"]
    assert order(desk, "bob") == ["t1"]
    assert order(desk, "rev") == ["t1", "t2"]
    desk.submitted("t1", "a2", "bob", 0.3, now=1.0)  # now bob's work waits on t1 too
    assert order(desk, "ann") == ["t1", "t2"]
    desk.reviewed("t1", "a2", "accept", 1.0, 0.3, now=2.0)  # all reviewed: a1 still waits
    assert order(desk, "ann") == ["t2"]
    assert desk.next_for("ann", exclude={"t2"}) is None


# The criteria ---------------------------------------------------------------------------


@pytest.mark.parametrize("accept", ["accept", "fix_and_accept"])
def test_one_accepted_annotation_reviews_the_task(accept: str) -> None:
    desk = desk_with(ONE)
    desk.submitted("t", "a1", "ann", 0.5, now=0.0)
    desk.submitted("t", "a2", "bob", 0.5, now=0.0)
    assert desk.reviewed("t", "a1", "reject", 0.0, 1.0, now=1.0) == []
    assert not desk.is_reviewed("t")
    assert order(desk) == ["t"]  # a2 still waits
    assert desk.reviewed("t", "a2", accept, 0.75, 1.0, now=2.0) == [TaskReviewed("t", 2.0)]
    assert desk.is_reviewed("t")
    assert desk.queue_size == 0
    # Once per change: another verdict on a reviewed task announces nothing.
    assert desk.reviewed("t", "a2", "accept", 1.0, 1.0, now=3.0) == []
    assert desk.to_state()["board"]["tasks"]["t"]["annotations"]["a2"] == ["bob", "accept", False]


def test_one_accepted_is_not_met_by_rejects_alone() -> None:
    desk = desk_with(ONE, RejectMode.REMOVE)
    desk.submitted("t", "a1", "ann", 0.5, now=0.0)
    desk.submitted("t", "a2", "bob", 0.5, now=0.0)
    assert desk.reviewed("t", "a1", "reject", 0.0, 1.0, now=1.0) == []
    assert desk.reviewed("t", "a2", "reject", 0.0, None, now=2.0) == []
    assert not desk.is_reviewed("t")
    assert desk.queue_size == 0  # nothing awaits a verdict


def test_all_reviewed_needs_a_verdict_on_every_annotation() -> None:
    desk = desk_with(ALL)
    desk.submitted("t", "a1", "ann", 0.5, now=0.0)
    desk.submitted("t", "a2", "bob", 0.5, now=0.0)
    assert desk.reviewed("t", "a1", "accept", 1.0, 0.5, now=1.0) == []
    assert not desk.is_reviewed("t")
    assert order(desk) == ["t"]
    assert desk.reviewed("t", "a2", "reject", 0.0, 1.0, now=2.0) == [TaskReviewed("t", 2.0)]
    assert desk.is_reviewed("t")
    assert desk.queue_size == 0


def test_a_new_annotation_reopens_an_all_reviewed_task_but_not_a_one_accepted_one() -> None:
    for criteria, reopened in ((ALL, True), (ONE, False)):
        desk = desk_with(criteria)
        desk.submitted("t", "a1", "ann", 1.0, now=0.0)
        assert desk.reviewed("t", "a1", "accept", 1.0, 1.0, now=1.0) == [TaskReviewed("t", 1.0)]
        assert desk.submitted("t", "a2", "bob", 0.0, now=2.0) == []
        assert desk.is_reviewed("t") is not reopened
        assert order(desk) == (["t"] if reopened else [])
        events = desk.reviewed("t", "a2", "accept", 1.0, 1.0, now=3.0)
        assert events == ([TaskReviewed("t", 3.0)] if reopened else [])


def test_a_resubmission_after_a_reject_reenters_the_queue_with_reason_rejected() -> None:
    desk = desk_with(ONE, RejectMode.REQUEUE_TO_ANNOTATOR)
    desk.submitted("t", "a1", "ann", 0.6, now=0.0)
    desk.submitted("u", "b1", "bob", 0.5, now=0.0)
    assert desk.reviewed("t", "a1", "reject", 0.0, None, now=1.0) == []
    assert order(desk) == ["u"]  # nothing of t awaits a verdict
    assert desk.submitted("t", "a1", "ann", 0.3, now=2.0) == [
        ReviewRequested("t", REJECTED, 2.0, "a1")]
    assert order(desk) == ["t", "u"]  # back, at the agreement it has now
    assert desk.submitted("t", "a1", "ann", 0.3, now=2.5) == []  # still awaiting: no repeat
    assert desk.reviewed("t", "a1", "accept", 1.0, 0.3, now=3.0) == [TaskReviewed("t", 3.0)]


def test_a_reject_in_reviewer_choice_mode_needs_no_choice_here() -> None:
    # The distribution carries out the reviewer's choice; the desk only records the verdict.
    desk = desk_with(ALL, RejectMode.REVIEWER_CHOICE)
    desk.submitted("t", "a1", "ann", 0.5, now=0.0)
    assert desk.reviewed("t", "a1", "reject", 0.0, None, now=1.0) == [TaskReviewed("t", 1.0)]


def test_a_skip_or_deletion_of_the_last_waiting_annotation_completes_all_reviewed() -> None:
    for leave in (ReviewDesk.skipped, ReviewDesk.deleted):
        desk = desk_with(ALL)
        desk.submitted("t", "a1", "ann", 0.5, now=0.0)
        desk.submitted("t", "a2", "bob", 0.5, now=0.0)
        desk.reviewed("t", "a1", "accept", 1.0, 0.5, now=1.0)
        assert leave(desk, "t", "a2", 2.0) == [TaskReviewed("t", 2.0)]
        assert desk.queue_size == 0


def test_removing_the_only_annotation_forgets_the_task() -> None:
    desk = desk_with(ONE)
    desk.submitted("t", "a1", "ann", 0.5, now=0.0)
    assert desk.deleted("t", "a1", now=1.0) == []
    assert desk.queue_size == 0
    assert desk.to_state()["board"]["tasks"] == {}
    assert desk.skipped("t", "a1", now=2.0) == []  # unknown now: nothing happens
    assert desk.deleted("nowhere", "x", now=2.0) == []


def test_a_deleted_task_leaves_the_desk() -> None:
    desk = desk_with()
    desk.submitted("t", "a1", "ann", 0.1, now=0.0)
    desk.submitted("u", "b1", "ann", 0.2, now=0.0)
    desk.task_deleted("t")
    assert order(desk) == ["u"]
    assert list(desk.to_state()["board"]["tasks"]) == ["u"]
    desk.task_deleted("never-seen")


# Review requests ------------------------------------------------------------------------


def test_a_low_agreement_request_carries_the_tasks_agreement_once() -> None:
    desk = desk_with()
    desk.submitted("t", "a1", "ann", 0.2, now=0.0)
    assert desk.review_requested("t", "low_agreement_budget_exhausted", now=1.0) == [
        ReviewRequested("t", LOW, 1.0, None, 0.2)]
    assert desk.review_requested("t", LOW, now=2.0) == []  # once until reviewed
    # A given score is kept; a task the desk has not queued has none to add.
    assert desk.review_requested("u", LOW, now=3.0, score=0.4) == [
        ReviewRequested("u", LOW, 3.0, None, 0.4)]
    assert desk.review_requested("v", LOW, now=3.0) == [ReviewRequested("v", LOW, 3.0)]


def test_requests_are_once_per_reason_and_annotation_until_reviewed() -> None:
    desk = desk_with(ONE)
    desk.submitted("t", "a1", "ann", 0.2, now=0.0)
    desk.submitted("t", "a2", "bob", 0.2, now=0.0)
    first = desk.review_requested("t", TRUTH, now=1.0, annotation="a1", score=0.1)
    assert first == [ReviewRequested("t", TRUTH, 1.0, "a1", 0.1)]
    assert desk.review_requested("t", TRUTH, now=1.5, annotation="a1", score=0.1) == []
    assert desk.review_requested("t", TRUTH, now=2.0, annotation="a2") == [
        ReviewRequested("t", TRUTH, 2.0, "a2")]  # another annotation
    assert desk.review_requested("t", LOW, now=2.0, score=0.2) == [
        ReviewRequested("t", LOW, 2.0, None, 0.2)]  # another reason
    desk.reviewed("t", "a1", "accept", 1.0, 0.2, now=3.0)
    # Reviewed: a problem found now is a new one.
    assert desk.review_requested("t", TRUTH, now=4.0, annotation="a1", score=0.1) == [
        ReviewRequested("t", TRUTH, 4.0, "a1", 0.1)]


# Robustness -----------------------------------------------------------------------------


def test_a_verdict_on_an_annotation_never_submitted_here_only_rescores() -> None:
    # The core refuses such a review; the desk meets one only in a project whose review
    # state began after its annotations (see ReviewDesk.reviewed).
    desk = desk_with()
    desk.submitted("t", "a1", "ann", 0.5, now=0.0)
    desk.submitted("u", "b1", "ann", 0.2, now=0.0)
    assert desk.reviewed("t", "old", "accept", 1.0, 0.1, now=1.0) == []
    assert order(desk) == ["t", "u"]
    assert not desk.is_reviewed("t")
    assert desk.reviewed("never", "x", "reject", 0.0, 0.5, now=1.0) == []


@pytest.mark.parametrize(("call", "words"), [
    (lambda d: d.submitted("t", "a2", "bob", 1.5, 1.0), "agreement 1.5 is not in [0, 1]"),
    (lambda d: d.submitted("t", "a2", "bob", math.nan, 1.0), "agreement nan"),
    (lambda d: d.submitted("t", "a1", "bob", 0.5, 1.0), "keeps its author"),
    (lambda d: d.rescore("t", -0.1), "agreement -0.1"),
    (lambda d: d.reviewed("t", "a1", "approve", 1.0, 0.5, 1.0), "action must be one of"),
    (lambda d: d.reviewed("t", "a1", "accept", 2.0, 0.5, 1.0), "review score 2.0"),
    (lambda d: d.reviewed("t", "a1", "accept", 1.0, 1.01, 1.0), "agreement 1.01"),
    (lambda d: d.review_requested("t", "bored", 1.0), "reason must be one of"),
])
def test_bad_arguments_are_refused_before_anything_changes(call: Any, words: str) -> None:
    desk = desk_with()
    desk.submitted("t", "a1", "ann", 0.5, now=0.0)
    before = desk.to_state()
    with pytest.raises(ValueError) as caught:
        call(desk)
    assert words in str(caught.value)
    assert desk.to_state() == before


def test_reconfigured_criteria_apply_to_every_task() -> None:
    desk = desk_with(ONE)
    desk.submitted("t", "a1", "ann", 0.5, now=0.0)
    desk.submitted("t", "a2", "bob", 0.5, now=0.0)
    desk.reviewed("t", "a1", "accept", 1.0, 0.5, now=1.0)
    assert desk.is_reviewed("t")
    assert desk.reconfigure(ReviewSettings(criteria=ALL), now=2.0) == []
    assert desk.settings.criteria is ALL
    assert not desk.is_reviewed("t")
    assert order(desk) == ["t"]  # a2 awaits its verdict
    assert desk.review_requested("t", LOW, now=3.0) == [ReviewRequested("t", LOW, 3.0, None, 0.5)]
    assert desk.reconfigure(ReviewSettings(criteria=ONE), now=4.0) == [TaskReviewed("t", 4.0)]
    assert desk.queue_size == 0
    # Reviewed again: earlier requests are forgotten, as after any review.
    assert desk.review_requested("t", LOW, now=5.0, score=0.5) == [
        ReviewRequested("t", LOW, 5.0, None, 0.5)]


# State ----------------------------------------------------------------------------------


def test_state_round_trips_through_json() -> None:
    desk = desk_with(ALL, RejectMode.REMOVE)
    desk.submitted("t1", "a1", "ann", 0.2, now=0.0)
    desk.submitted("t1", "a2", "bob", 0.2, now=0.0)
    desk.reviewed("t1", "a1", "reject", 0.0, 1.0, now=1.0)
    desk.review_requested("t1", LOW, now=1.0)
    desk.submitted("t2", "b1", "积极", None, now=0.0)
    desk.submitted("t3", "c1", "ann", 0.5, now=0.0)
    desk.reviewed("t3", "c1", "fix_and_accept", 0.5, 0.5, now=2.0)
    state = desk.to_state()
    for encoded in (orjson.dumps(state), json.dumps(state).encode()):
        restored = ReviewDesk.from_state(orjson.loads(encoded), desk.settings)
        assert restored.to_state() == state
        assert restored.settings == desk.settings
        assert order(restored) == order(desk) == ["t1", "t2"]
        assert order(restored, "bob") == ["t2"]  # only bob's a2 awaits on t1
        assert restored.is_reviewed("t3")
        assert restored.review_requested("t1", LOW, now=3.0) == []
        assert restored.submitted("t1", "a1", "ann", 0.2, now=3.0) == [
            ReviewRequested("t1", REJECTED, 3.0, "a1")]


def test_a_request_on_a_reviewed_task_stays_deduplicated_across_a_restore() -> None:
    desk = desk_with(ONE)
    desk.submitted("t", "a1", "ann", 0.5, now=0.0)
    desk.reviewed("t", "a1", "accept", 1.0, 0.5, now=1.0)
    assert desk.review_requested("t", TRUTH, now=2.0, annotation="a1", score=0.1) != []
    restored = ReviewDesk.from_state(desk.to_state(), desk.settings)
    assert restored.to_state() == desk.to_state()
    for each in (desk, restored):
        assert each.review_requested("t", TRUTH, now=3.0, annotation="a1", score=0.1) == []


def test_state_of_another_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version 2 is not 1"):
        ReviewDesk.from_state({"version": 2, "board": {"version": 1, "tasks": {}}})


# Properties -----------------------------------------------------------------------------

TASKS = ("t0", "t1", "t2")
PEOPLE = ("u0", "u1", "u2")
AGREEMENTS = st.sampled_from([None, 0.0, 0.25, 0.5, 1.0])
ANNOTATION = st.integers(0, 2)  # annotation a<i> of any task is by u<i>: authors never change


def ops_on(tasks: tuple[str, ...]) -> st.SearchStrategy[tuple[Any, ...]]:
    """Workflow facts on ``tasks``, as the desk's calls."""
    task = st.sampled_from(tasks)
    return st.one_of(
        st.tuples(st.just("submit"), task, ANNOTATION, AGREEMENTS),
        st.tuples(st.just("review"), task, ANNOTATION,
                  st.sampled_from(["accept", "reject", "fix_and_accept"]), AGREEMENTS),
        st.tuples(st.just("skip"), task, ANNOTATION),
        st.tuples(st.just("delete"), task, ANNOTATION),
        st.tuples(st.just("rescore"), task, AGREEMENTS),
        st.tuples(st.just("request"), task, st.sampled_from(list(ReviewReason)),
                  st.sampled_from([None, "a0", "a1"])),
        st.tuples(st.just("drop"), task),
    )


OPS = ops_on(TASKS)
# Few tasks, so that a snapshot often falls between two related facts of one task.
FEW_OPS = ops_on(TASKS[:2])


def play(desk: ReviewDesk, op: tuple[Any, ...], now: float) -> Any:
    """Apply one op; what the desk answered, with the offer each reviewer gets after it."""
    name = op[0]
    if name == "submit":
        out: Any = desk.submitted(op[1], f"a{op[2]}", PEOPLE[op[2]], op[3], now)
    elif name == "review":
        out = desk.reviewed(op[1], f"a{op[2]}", op[3], 0.5, op[4], now)
    elif name == "skip":
        out = desk.skipped(op[1], f"a{op[2]}", now)
    elif name == "delete":
        out = desk.deleted(op[1], f"a{op[2]}", now)
    elif name == "rescore":
        desk.rescore(op[1], op[2])
        out = None
    elif name == "request":
        out = desk.review_requested(op[1], op[2], now, annotation=op[3])
    else:
        desk.task_deleted(op[1])
        out = None
    return out, [desk.next_for(person) for person in (*PEOPLE, "rev")], desk.queue_size


class Reference:
    """The queue and criteria recomputed from scratch after every op, to check the desk."""

    def __init__(self, criteria: ReviewCriteria) -> None:
        self.criteria = criteria
        # task -> [agreement, {annotation: [author, outcome, pending]}]
        self.tasks: dict[str, list[Any]] = {}

    def play(self, op: tuple[Any, ...]) -> bool:
        """Apply one op; whether it is a resubmission after a reject."""
        name, task = op[0], op[1]
        record = self.tasks.get(task)
        resubmitted = False
        if name == "submit":
            record = self.tasks.setdefault(task, [None, {}])
            record[0] = 1.0 if op[3] is None else op[3]
            entry = record[1].setdefault(f"a{op[2]}", [PEOPLE[op[2]], None, True])
            resubmitted = entry[1] == "reject" and not entry[2]
            entry[2] = True
        elif name == "review" and record is not None:
            entry = record[1].get(f"a{op[2]}")
            if entry is not None and not (entry[1] == "reject" and not entry[2]):
                entry[1:] = [op[3], False]
            record[0] = 1.0 if op[4] is None else op[4]
        elif name in ("skip", "delete") and record is not None:
            record[1].pop(f"a{op[2]}", None)
            if not record[1]:
                del self.tasks[task]
        elif name == "rescore" and record is not None:
            record[0] = 1.0 if op[2] is None else op[2]
        elif name == "drop":
            self.tasks.pop(task, None)
        return resubmitted

    def reviewed(self, task: str) -> bool:
        record = self.tasks.get(task)
        if record is None:
            return False
        entries = record[1].values()
        if self.criteria is ONE:
            return any(outcome in ("accept", "fix_and_accept") and not pending
                       for _, outcome, pending in entries)
        return bool(entries) and all(outcome and not pending for _, outcome, pending in entries)

    def offer(self, reviewer: str) -> str | None:
        waiting = sorted((record[0], task) for task, record in self.tasks.items()
                         if record[0] is not None and not self.reviewed(task)
                         and any(pending for _, _, pending in record[1].values()))
        for _, task in waiting:
            authors = {a for a, _, pending in self.tasks[task][1].values() if pending}
            if authors != {reviewer}:
                return task
        return None


@settings(max_examples=300, deadline=None)
@given(criteria=st.sampled_from(list(ReviewCriteria)), ops=st.lists(OPS, max_size=40))
def test_the_desk_follows_the_rules_recomputed_from_scratch(
        criteria: ReviewCriteria, ops: list[tuple[Any, ...]]) -> None:
    desk, reference = desk_with(criteria), Reference(criteria)
    for now, op in enumerate(ops):
        was = {task: desk.is_reviewed(task) for task in TASKS}
        events, offers, size = play(desk, op, float(now))
        resubmitted = reference.play(op)
        assert offers == [reference.offer(person) for person in (*PEOPLE, "rev")]
        for task in TASKS:
            assert desk.is_reviewed(task) == reference.reviewed(task)
        # TaskReviewed exactly when a verdict, skip or deletion makes the task reviewed.
        became = [task for task in TASKS if reference.reviewed(task) and not was[task]]
        announced = [e.task for e in events or () if isinstance(e, TaskReviewed)]
        assert announced == (became if op[0] in ("review", "skip", "delete") else [])
        if op[0] == "submit":
            assert events == ([ReviewRequested(op[1], REJECTED, now, f"a{op[2]}")]
                              if resubmitted else [])
        assert size == len([t for t in TASKS if reference.tasks.get(t) is not None
                            and not reference.reviewed(t)
                            and any(e[2] for e in reference.tasks[t][1].values())])


@settings(max_examples=300, deadline=None)
@given(criteria=st.sampled_from(list(ReviewCriteria)),
       mode=st.sampled_from(list(RejectMode)),
       before=st.lists(FEW_OPS, max_size=30), after=st.lists(FEW_OPS, max_size=15))
def test_a_restored_desk_is_the_desk_it_was_saved_from(
        criteria: ReviewCriteria, mode: RejectMode,
        before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]) -> None:
    live = desk_with(criteria, mode)
    for now, op in enumerate(before):
        play(live, op, float(now))
    state = live.to_state()
    restored = ReviewDesk.from_state(orjson.loads(orjson.dumps(state)), live.settings)
    assert restored.to_state() == state  # exact round trip
    # Every request the state deduplicates: both desks must still refuse the same ones.
    probes = [("request", task, reason, annotation) for task in TASKS[:2]
              for reason in ReviewReason for annotation in (None, "a0", "a1")]
    for op in probes:
        assert play(restored, op, 100.0) == play(live, op, 100.0)
    for now, op in enumerate(after, start=len(before)):
        assert play(restored, op, float(now)) == play(live, op, float(now))
    assert restored.to_state() == live.to_state()
