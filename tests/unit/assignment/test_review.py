"""Reviews: verdicts, reject then requeue in each mode, review criteria, the review queue.

Semantics from Label Studio Enterprise's docs (guide/project_settings_lse.md, "Review"):
"Task is reviewed after at least one accepted annotation" / "after all annotations are
reviewed" (accept or reject); "Requeue rejected annotations back to annotators", "Remove
rejected annotations from labeling queue" (marked cancelled), "Allow reviewer to
choose"; Fix + Accept scores "the agreement between what the annotator submitted and
what the reviewer submitted when fixing it" (guide/dashboard_annotator.md).
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agreement import ScoringConfig, TaskAgreement, pair_score
from assignment.review import ReviewBoard
from assignment.review_events import (
    CancelAnnotation,
    RemoveFromAgreement,
    ReplaceResult,
    RequeueToAnnotator,
    Review,
    ReviewAction,
    ReviewCriteria,
    ReviewReason,
    ReviewRequested,
    TaskReviewed,
)
from assignment.review_queue import ReviewQueue
from assignment.review_settings import ReviewSettings
from assignment.skips import RejectMode
from tests.unit.agreement.strategies import choices_item

POS = [choices_item("sentiment", ["pos"])]
NEG = [choices_item("sentiment", ["neg"])]
TOPICS_AB = [choices_item("topics", ["a", "b"])]
TOPICS_A = [choices_item("topics", ["a"])]

ACCEPT, REJECT, FIX = ReviewAction.ACCEPT, ReviewAction.REJECT, ReviewAction.FIX_AND_ACCEPT


def board_with(
    mode: RejectMode = RejectMode.REMOVE,
    criteria: ReviewCriteria = ReviewCriteria.ONE_ACCEPTED,
    scoring: ScoringConfig | None = None,
) -> ReviewBoard:
    return ReviewBoard(ReviewSettings(mode, criteria), scoring)


# Settings.


def test_defaults_follow_a_fresh_label_studio_project() -> None:
    # Label Studio serves review_criteria "one" and requeue_rejected_tasks_mode "remove".
    settings = ReviewSettings()
    assert settings.criteria is ReviewCriteria.ONE_ACCEPTED
    assert settings.requeue_mode is RejectMode.REMOVE


def test_settings_accept_values_and_refuse_others() -> None:
    settings = ReviewSettings("reviewer_choice", "all_reviewed")  # type: ignore[arg-type]
    assert settings.requeue_mode is RejectMode.REVIEWER_CHOICE
    assert settings.criteria is ReviewCriteria.ALL_REVIEWED
    with pytest.raises(ValueError, match="requeue_mode must be one of"):
        ReviewSettings("requeue")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="criteria must be one of"):
        ReviewSettings(criteria="one")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("review_settings", "mode", "criteria"),
    [
        ({}, RejectMode.REMOVE, ReviewCriteria.ONE_ACCEPTED),
        (
            {"review_criteria": "all", "requeue_rejected_tasks_mode": "requeue"},
            RejectMode.REQUEUE_TO_ANNOTATOR,
            ReviewCriteria.ALL_REVIEWED,
        ),
        ({"requeue_rejected_tasks_mode": "flexible"}, RejectMode.REVIEWER_CHOICE, None),
        # Older projects carry only the flag.
        ({"requeue_rejected_tasks_to_annotator": True}, RejectMode.REQUEUE_TO_ANNOTATOR, None),
        ({"requeue_rejected_tasks_to_annotator": False}, RejectMode.REMOVE, None),
    ],
)
def test_settings_from_label_studio_project(
    review_settings: dict[str, Any], mode: RejectMode, criteria: ReviewCriteria | None
) -> None:
    settings = ReviewSettings.from_label_studio({"review_settings": review_settings})
    assert settings.requeue_mode is mode
    assert settings.criteria is (criteria or ReviewCriteria.ONE_ACCEPTED)


def test_settings_from_label_studio_refuse_unknown_values() -> None:
    with pytest.raises(ValueError, match="'sometimes'"):
        ReviewSettings.from_label_studio({"review_settings": {"review_criteria": "sometimes"}})


# Reject, then requeue, in each mode.


@pytest.mark.parametrize(
    ("mode", "choice", "requeue"),
    [
        (RejectMode.REQUEUE_TO_ANNOTATOR, None, True),
        (RejectMode.REMOVE, None, False),
        (RejectMode.REVIEWER_CHOICE, True, True),
        (RejectMode.REVIEWER_CHOICE, False, False),
        # The project's fixed mode wins over a stray choice.
        (RejectMode.REMOVE, True, False),
    ],
)
def test_reject_leaves_agreement_and_requeues_per_mode(
    mode: RejectMode, choice: bool | None, requeue: bool
) -> None:
    board = board_with(mode)
    board.submit("t1", "a1", "ann", 1.0, now=10.0)
    outcome = board.review(Review("t1", "a1", REJECT, "rev", requeue=choice), now=11.0)
    assert outcome.score == 0.0
    expected_second = (
        RequeueToAnnotator("t1", "a1", "ann") if requeue else CancelAnnotation("t1", "a1", "ann")
    )
    assert outcome.instructions == (RemoveFromAgreement("t1", "a1"), expected_second)
    # Nothing left to review: the only annotation has its verdict.
    assert board.next() is None


def test_reviewer_choice_needs_the_choice() -> None:
    board = board_with(RejectMode.REVIEWER_CHOICE)
    board.submit("t1", "a1", "ann", 1.0, now=0.0)
    with pytest.raises(ValueError, match="requeue=True"):
        board.review(Review("t1", "a1", REJECT), now=1.0)
    # Refused before anything changed: the annotation still waits.
    assert board.next() == "t1"


def test_rejected_then_resubmitted_is_requested_again_and_requeued_for_review() -> None:
    board = board_with(RejectMode.REQUEUE_TO_ANNOTATOR)
    board.submit("t1", "a1", "ann", 1.0, now=0.0)
    board.review(Review("t1", "a1", REJECT), now=1.0)
    with pytest.raises(ValueError, match="once its annotator resubmits"):
        board.review(Review("t1", "a1", ACCEPT), now=2.0)
    events = board.submit("t1", "a1", "ann", 1.0, now=3.0)
    assert events == [ReviewRequested("t1", ReviewReason.REJECTED, 3.0, "a1")]
    assert board.next() == "t1"
    # An update before any new verdict is not a second resubmission after a reject.
    assert board.submit("t1", "a1", "ann", 1.0, now=4.0) == []
    outcome = board.review(Review("t1", "a1", ACCEPT), now=5.0)
    assert outcome.events == (TaskReviewed("t1", 5.0),)
    assert board.is_reviewed("t1") and board.next() is None


def test_reject_after_reject_cycle_requests_again() -> None:
    board = board_with(RejectMode.REQUEUE_TO_ANNOTATOR)
    board.submit("t1", "a1", "ann", 1.0, now=0.0)
    for cycle in range(3):
        board.review(Review("t1", "a1", REJECT), now=10.0 * cycle + 1)
        events = board.submit("t1", "a1", "ann", 1.0, now=10.0 * cycle + 2)
        assert [e.reason for e in events] == [ReviewReason.REJECTED]


# Accept and fix.


def test_accept_scores_one_and_changes_nothing() -> None:
    board = board_with()
    board.submit("t1", "a1", "ann", 1.0, now=0.0)
    outcome = board.review(Review("t1", "a1", "accept"), now=1.0)
    assert outcome.score == 1.0 and outcome.instructions == ()
    assert outcome.events == (TaskReviewed("t1", 1.0),)


def test_fix_scores_submitted_against_fixed_and_replaces_the_result() -> None:
    board = board_with()
    board.submit("t1", "a1", "ann", 1.0, now=0.0)
    review = Review("t1", "a1", FIX, "rev", submitted_result=TOPICS_AB, fixed_result=TOPICS_A)
    outcome = board.review(review, now=1.0)
    # Reference: agreement.pair_score, multi-choice Jaccard |{a}| / |{a, b}| = 0.5.
    assert outcome.score == pair_score(TOPICS_AB, TOPICS_A) == 0.5
    assert outcome.instructions == (ReplaceResult("t1", "a1", TOPICS_A),)
    assert board.is_reviewed("t1")


def test_fix_uses_the_project_scoring_config() -> None:
    # Weight 0 removes the only tag that differs: the fix agrees fully under this config.
    scoring = ScoringConfig.from_dict({"tags": {"sentiment": {"weight": 0.0}}})
    board = board_with(scoring=scoring)
    board.submit("t1", "a1", "ann", 1.0, now=0.0)
    fixed = Review("t1", "a1", FIX, submitted_result=POS, fixed_result=NEG)
    assert board.review(fixed, now=1.0).score == 1.0
    assert pair_score(POS, NEG) == 0.0  # without the config they disagree


def test_fix_needs_both_results() -> None:
    board = board_with()
    board.submit("t1", "a1", "ann", 1.0, now=0.0)
    with pytest.raises(ValueError, match="submitted_result and the fixed_result"):
        board.review(Review("t1", "a1", FIX, fixed_result=POS), now=1.0)


def test_review_of_unknown_annotation_is_refused() -> None:
    board = board_with()
    with pytest.raises(ValueError, match="never submitted"):
        board.review(Review("t1", "a1", ACCEPT), now=0.0)
    board.submit("t1", "a1", "ann", 1.0, now=0.0)
    with pytest.raises(ValueError, match="action must be one of"):
        board.review(Review("t1", "a1", "approve"), now=0.0)


def test_bad_submissions_are_refused_before_any_change() -> None:
    board = board_with()
    board.submit("t1", "a1", "ann", 1.0, now=0.0)
    with pytest.raises(ValueError, match="keeps its author"):
        board.submit("t1", "a1", "bob", 0.2, now=1.0)
    with pytest.raises(ValueError, match="not in"):
        board.submit("t1", "a2", "bob", float("nan"), now=1.0)
    assert board.queue.score("t1") == 1.0
    assert board.to_state()["tasks"]["t1"]["annotations"] == {"a1": ["ann", None, True]}


# Review criteria.


def test_one_accepted_criteria() -> None:
    board = board_with(criteria=ReviewCriteria.ONE_ACCEPTED)
    board.submit("t1", "a1", "ann", 0.5, now=0.0)
    board.submit("t1", "a2", "bob", 0.5, now=0.0)
    # A reject is a verdict but not an acceptance.
    assert board.review(Review("t1", "a1", REJECT), now=1.0).events == ()
    assert not board.is_reviewed("t1") and board.next() == "t1"
    assert board.review(Review("t1", "a2", ACCEPT), now=2.0).events == (TaskReviewed("t1", 2.0),)
    assert board.next() is None


def test_all_reviewed_criteria_counts_rejects_as_reviewed() -> None:
    board = board_with(RejectMode.REQUEUE_TO_ANNOTATOR, ReviewCriteria.ALL_REVIEWED)
    for annotation, annotator in (("a1", "ann"), ("a2", "bob"), ("a3", "cy")):
        board.submit("t1", annotation, annotator, 0.3, now=0.0)
    assert board.review(Review("t1", "a1", ACCEPT), now=1.0).events == ()
    assert board.review(Review("t1", "a2", REJECT), now=2.0).events == ()
    assert board.next() == "t1"
    assert board.review(Review("t1", "a3", ACCEPT), now=3.0).events == (TaskReviewed("t1", 3.0),)
    # The rejected annotation comes back: the task is not all reviewed any more.
    board.submit("t1", "a2", "bob", 0.3, now=4.0)
    assert not board.is_reviewed("t1") and board.next() == "t1"
    assert board.review(Review("t1", "a2", ACCEPT), now=5.0).events == (TaskReviewed("t1", 5.0),)


def test_all_reviewed_completes_when_the_unreviewed_annotation_is_deleted() -> None:
    board = board_with(criteria=ReviewCriteria.ALL_REVIEWED)
    board.submit("t1", "a1", "ann", 0.5, now=0.0)
    board.submit("t1", "a2", "bob", 0.5, now=0.0)
    board.review(Review("t1", "a1", ACCEPT), now=1.0)
    assert board.remove("t1", "a2", now=2.0) == [TaskReviewed("t1", 2.0)]
    assert board.remove("t1", "a2", now=2.0) == []  # idempotent
    assert board.remove("t1", "a1", now=3.0) == []  # the task empties and leaves
    assert not board.is_reviewed("t1")


def test_task_reviewed_is_emitted_once_per_change() -> None:
    board = board_with()
    board.submit("t1", "a1", "ann", 1.0, now=0.0)
    board.submit("t1", "a2", "bob", 1.0, now=0.0)
    assert board.review(Review("t1", "a1", ACCEPT), now=1.0).events == (TaskReviewed("t1", 1.0),)
    assert board.review(Review("t1", "a2", ACCEPT), now=2.0).events == ()
    assert board.review(Review("t1", "a1", ACCEPT), now=3.0).events == ()  # a re-review


# Review requests.


def test_request_once_per_reason_until_reviewed() -> None:
    board = board_with()
    board.submit("t1", "a1", "ann", 0.2, now=0.0)
    reason = ReviewReason.LOW_AGREEMENT_BUDGET_EXHAUSTED
    first = board.request("t1", reason, now=1.0, score=0.2)
    assert first == ReviewRequested("t1", reason, 1.0, None, 0.2)
    assert board.request("t1", "low_agreement_budget_exhausted", now=2.0) is None
    # Another reason, or the same about another annotation, is news.
    assert board.request("t1", ReviewReason.GROUND_TRUTH_DISAGREEMENT, 3.0, "a1") is not None
    board.review(Review("t1", "a1", ACCEPT), now=4.0)
    assert board.request("t1", reason, now=5.0) is not None
    with pytest.raises(ValueError, match="reason must be one of"):
        board.request("t1", "boredom", now=6.0)


# The queue.


def test_queue_orders_by_agreement_then_task_id() -> None:
    queue = ReviewQueue()
    for task, score in [("t3", 0.5), ("t1", 0.5), ("t2", 0.1), ("é", 0.9), ("积", 0.0)]:
        queue.add(task, score)
    assert list(queue) == ["积", "t2", "t1", "t3", "é"]
    assert queue.peek() == "积"
    queue.add("积", 1.0)  # rescored: now last
    assert queue.peek() == "t2" and list(queue)[-1] == "积"
    assert queue.remove("t2") and not queue.remove("t2")
    assert queue.peek(exclude={"t1"}) == "t3"
    assert queue.peek(exclude={"t1", "t3", "é", "积"}) is None
    assert queue.peek() == "t1"  # excluding took nothing out
    assert [queue.pop() for _ in range(5)] == ["t1", "t3", "é", "积", None]


def test_queue_refuses_bad_scores() -> None:
    queue = ReviewQueue()
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="not in"):
            queue.add("t1", bad)


# (task, score or None to remove) operations on a handful of tasks.
queue_ops = st.lists(
    st.tuples(st.sampled_from(["t1", "t2", "t3", "t4", "é"]), st.none() | st.floats(0, 1)),
    max_size=200,
)


@given(queue_ops)
def test_queue_matches_a_sorted_reference(ops: list[tuple[str, float | None]]) -> None:
    queue = ReviewQueue()
    reference: dict[str, float] = {}
    for task, score in ops:
        if score is None:
            assert queue.remove(task) == (reference.pop(task, None) is not None)
        else:
            queue.add(task, score)
            reference[task] = score
        expected = sorted((s, t) for t, s in reference.items())
        assert queue.peek() == (expected[0][1] if expected else None)
    assert list(queue) == [t for _, t in sorted((s, t) for t, s in reference.items())]
    # Stale heap entries are compacted away: memory stays O(live tasks).
    assert len(queue._heap) <= 2 * len(queue) + 33
    restored = ReviewQueue.from_state(orjson.loads(orjson.dumps(queue.to_state())))
    assert list(restored) == list(queue)


def test_board_queue_follows_agreement_changes() -> None:
    board = board_with()
    board.submit("t1", "a1", "ann", 0.9, now=0.0)
    board.submit("t2", "b1", "ann", 0.4, now=0.0)
    assert board.next() == "t2"
    board.rescore("t1", 0.1)
    assert board.next() == "t1"
    assert board.next(exclude={"t1"}) == "t2"
    board.remove_task("t1")
    assert board.next() == "t2"


def test_rejected_annotation_leaves_the_task_agreement() -> None:
    # Carrying out RemoveFromAgreement on the task's agreement gives the remaining
    # annotations' score, as a recompute without the rejected one.
    agreement = TaskAgreement()
    board = board_with(RejectMode.REMOVE)
    for annotation, annotator, result in (("a1", "ann", POS), ("a2", "bob", POS)):
        agreement.upsert(annotation, result)
        board.submit("t1", annotation, annotator, agreement.score or 0.0, now=0.0)
    agreement.upsert("a3", NEG)
    board.submit("t1", "a3", "cy", agreement.score or 0.0, now=0.0)
    assert agreement.score == pytest.approx(1 / 3)
    outcome = board.review(Review("t1", "a3", REJECT), now=1.0)
    for instruction in outcome.instructions:
        if isinstance(instruction, RemoveFromAgreement):
            agreement.remove(instruction.annotation)
    assert agreement.score == 1.0
    board.rescore("t1", agreement.score)
    assert board.queue.score("t1") == 1.0


def test_state_round_trip() -> None:
    board = board_with(RejectMode.REQUEUE_TO_ANNOTATOR, ReviewCriteria.ALL_REVIEWED)
    board.submit("t1", "a1", "ann", 0.2, now=0.0)
    board.submit("t1", "a2", "bob", 0.2, now=0.0)
    board.submit("t2", "b1", "积极", 0.7, now=0.0)
    board.review(Review("t1", "a1", REJECT), now=1.0)
    board.request("t1", ReviewReason.LOW_AGREEMENT_BUDGET_EXHAUSTED, now=1.0)
    board.submit("t3", "c1", "ann", 0.5, now=0.0)
    board.review(Review("t3", "c1", ACCEPT), now=2.0)
    state = board.to_state()
    for encoded in (orjson.dumps(state), json.dumps(state).encode()):
        restored = ReviewBoard.from_state(orjson.loads(encoded), board.settings)
        assert restored.to_state() == state
        assert list(restored.queue) == list(board.queue) == ["t1", "t2"]
        assert restored.is_reviewed("t3")
        # Dedup and the pending reject survive the round trip.
        assert restored.request("t1", ReviewReason.LOW_AGREEMENT_BUDGET_EXHAUSTED, 3.0) is None
        events = restored.submit("t1", "a1", "ann", 0.2, now=3.0)
        assert [e.reason for e in events] == [ReviewReason.REJECTED]
    with pytest.raises(ValueError, match="version"):
        ReviewBoard.from_state({"version": 2, "tasks": {}})
