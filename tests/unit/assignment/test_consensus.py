"""Consensus decisions and their once-per-change events."""

from __future__ import annotations

import pytest

from assignment import ConsensusPolicy, Decision, DecisionState, decide, transition

# Overlap 2, threshold 0.5, up to two more annotators: tasks may reach 4 annotators.
POLICY = ConsensusPolicy(overlap=2, threshold=0.5, max_additional=2)


def test_collecting_below_overlap() -> None:
    assert decide(POLICY, 0, None) is Decision.COLLECTING
    assert decide(POLICY, 1, 1.0) is Decision.COLLECTING


def test_completed_at_or_above_threshold() -> None:
    assert decide(POLICY, 2, 0.9) is Decision.COMPLETED
    assert decide(POLICY, 2, 0.5) is Decision.COMPLETED
    assert decide(POLICY, 4, 0.5) is Decision.COMPLETED


def test_reassign_while_budget_left_then_review() -> None:
    assert decide(POLICY, 2, 0.49) is Decision.REASSIGN
    assert decide(POLICY, 3, 0.0) is Decision.REASSIGN
    assert decide(POLICY, 4, 0.49) is Decision.REVIEW
    # More annotators than the budget (e.g. assigned by hand) still go to review.
    assert decide(POLICY, 5, 0.1) is Decision.REVIEW


def test_overlap_one_completes_on_first_annotation() -> None:
    policy = ConsensusPolicy(overlap=1, threshold=0.9)
    assert decide(policy, 0, None) is Decision.COLLECTING
    # One annotation scores 1.0, which meets any threshold.
    assert decide(policy, 1, 1.0) is Decision.COMPLETED


def test_no_additional_annotators_goes_straight_to_review() -> None:
    policy = ConsensusPolicy(overlap=3, threshold=0.7, max_additional=0)
    assert decide(policy, 3, 0.69) is Decision.REVIEW
    assert decide(policy, 3, 0.7) is Decision.COMPLETED


def test_default_policy_completes_everything() -> None:
    policy = ConsensusPolicy()
    assert decide(policy, 1, 0.0) is Decision.COMPLETED


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"overlap": 0}, "overlap"),
        ({"overlap": 2.0}, "overlap"),
        ({"threshold": -0.1}, "threshold"),
        ({"threshold": 1.01}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"max_additional": -1}, "max_additional"),
    ],
)
def test_policy_is_validated(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ConsensusPolicy(**kwargs)  # type: ignore[arg-type]


def test_missing_score_is_rejected() -> None:
    with pytest.raises(ValueError, match="no agreement score"):
        decide(POLICY, 2, None)
    with pytest.raises(ValueError, match="annotator_count"):
        decide(POLICY, -1, None)


def test_transition_emits_once_per_state_change() -> None:
    state, event = transition(None, POLICY, 1, 1.0)
    # A fresh task that is still collecting is not news.
    assert (state, event) == (DecisionState(Decision.COLLECTING), None)

    state, event = transition(state, POLICY, 2, 1.0)
    assert event is Decision.COMPLETED
    state, event = transition(state, POLICY, 2, 0.9)
    assert event is None
    # One more annotator on a completed task is not a new state.
    state, event = transition(state, POLICY, 3, 0.8)
    assert event is None
    assert state == DecisionState(Decision.COMPLETED)


def test_transition_emits_again_after_a_change_back() -> None:
    state, event = transition(None, POLICY, 2, 1.0)
    assert event is Decision.COMPLETED
    # An annotation is deleted: back to collecting, which is a change worth telling.
    state, event = transition(state, POLICY, 1, 1.0)
    assert event is Decision.COLLECTING
    state, event = transition(state, POLICY, 2, 1.0)
    assert event is Decision.COMPLETED


def test_reassign_is_emitted_for_each_new_annotator() -> None:
    state, event = transition(None, POLICY, 2, 0.0)
    assert event is Decision.REASSIGN
    assert state == DecisionState(Decision.REASSIGN, 2)
    # A changed score with the same annotators asks for nobody new.
    state, event = transition(state, POLICY, 2, 0.3)
    assert event is None
    state, event = transition(state, POLICY, 3, 0.2)
    assert event is Decision.REASSIGN
    assert state == DecisionState(Decision.REASSIGN, 3)
    state, event = transition(state, POLICY, 4, 0.2)
    assert event is Decision.REVIEW
    state, event = transition(state, POLICY, 4, 0.1)
    assert event is None
    # The last annotator revises and the task now agrees.
    state, event = transition(state, POLICY, 4, 0.6)
    assert event is Decision.COMPLETED
