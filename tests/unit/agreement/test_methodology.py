"""Task score from pair scores: pairwise mean and consensus majority, checked by hand.

The consensus reference case is Label Studio Enterprise's own example (docs, "Task
agreement and how it is calculated", guide/stats.md): annotations 1 and 2 score 0.5, 2
and 3 score 0, 1 and 3 score 0, grouped at a threshold of 0.4, give 2 of 3 = 67%.
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agreement import TaskAgreement
from agreement.methodology import (
    DEFAULT_CONSENSUS_THRESHOLD,
    Methodology,
    consensus_majority,
    task_score,
)

from .strategies import choices_item


def _pairs(scores: dict[str, float]) -> dict[tuple[str, str], float]:
    """``{"ab": 0.5}`` -> ``{("a", "b"): 0.5}``: one-letter ids keep the cases short."""
    return {(key[0], key[1]): score for key, score in scores.items()}


def _labels_pairs(labels: dict[str, str]) -> dict[tuple[str, str], float]:
    """Pair scores of single-choice annotations: 1.0 for the same label, else 0.0."""
    return {
        (a, b): 1.0 if labels[a] == labels[b] else 0.0 for a, b in combinations(sorted(labels), 2)
    }


def test_no_annotation_is_none_one_is_full_agreement() -> None:
    for methodology in Methodology:
        assert task_score({}, 0, methodology) is None
        assert task_score({}, 1, methodology) == 1.0


def test_pairwise_is_the_mean_pair_score() -> None:
    pairs = _pairs({"ab": 1.0, "ac": 0.0, "bc": 0.5})
    assert task_score(pairs, 3) == 0.5
    assert task_score(pairs, 3, "pairwise") == 0.5


def test_consensus_label_studio_example() -> None:
    pairs = _pairs({"ab": 0.5, "bc": 0.0, "ac": 0.0})
    assert task_score(pairs, 3, "consensus", 0.4) == pytest.approx(2 / 3)
    assert consensus_majority(pairs, 3, 0.4) == ("a", "b")
    # The same pairs average to 1/6 under the pairwise methodology.
    assert task_score(pairs, 3, "pairwise") == pytest.approx(1 / 6)


def test_consensus_majority_vote_cases() -> None:
    # pos, pos, neg: two of three.
    two_of_three = _labels_pairs({"a": "pos", "b": "pos", "c": "neg"})
    assert task_score(two_of_three, 3, "consensus") == pytest.approx(2 / 3)
    assert consensus_majority(two_of_three, 3) == ("a", "b")
    # Three different answers: each annotation is its own group of one.
    all_differ = _labels_pairs({"a": "pos", "b": "neg", "c": "neu"})
    assert task_score(all_differ, 3, "consensus") == pytest.approx(1 / 3)
    # Two annotations that disagree: either one is half the task.
    assert task_score(_pairs({"ab": 0.0}), 2, "consensus") == 0.5
    assert task_score(_pairs({"ab": 1.0}), 2, "consensus") == 1.0


def test_consensus_tie_goes_to_the_smallest_id() -> None:
    # Two groups of two: the score is 2/4 whichever wins; the majority is the group of
    # the smallest id.
    labels = {"a": "pos", "b": "neg", "c": "pos", "d": "neg"}
    assert task_score(_labels_pairs(labels), 4, "consensus") == 0.5
    assert consensus_majority(_labels_pairs(labels), 4) == ("a", "c")
    swapped = {"a": "neg", "b": "pos", "c": "neg", "d": "pos"}
    assert consensus_majority(_labels_pairs(swapped), 4) == ("a", "c")
    # Ids are compared as strings: "10" sorts before "9".
    numeric = _labels_pairs({"9": "pos", "10": "neg"})
    assert consensus_majority(numeric, 2) == ("10",)


def test_consensus_majority_of_a_chain_is_around_its_middle() -> None:
    # a~b and b~c, but not a~c: b gathers all three.
    pairs = _pairs({"ab": 0.6, "bc": 0.7, "ac": 0.2})
    assert task_score(pairs, 3, "consensus") == 1.0
    assert consensus_majority(pairs, 3) == ("a", "b", "c")


def test_threshold_is_inclusive_and_nan_never_agrees() -> None:
    assert task_score(_pairs({"ab": 0.5}), 2, "consensus", 0.5) == 1.0
    assert task_score(_pairs({"ab": math.nextafter(0.5, 0)}), 2, "consensus", 0.5) == 0.5
    assert task_score(_pairs({"ab": math.nan}), 2, "consensus", 0.0) == 0.5
    assert DEFAULT_CONSENSUS_THRESHOLD == 0.5


@pytest.mark.parametrize("threshold", [-0.1, 1.5, math.nan, "0.5", True])
def test_bad_threshold_is_rejected(threshold: object) -> None:
    with pytest.raises(ValueError, match="consensus threshold"):
        task_score(_pairs({"ab": 1.0}), 2, "consensus", threshold)  # type: ignore[arg-type]


def test_bad_methodology_is_rejected() -> None:
    with pytest.raises(ValueError, match="'pairwise', 'consensus'"):
        task_score({}, 0, "majority")


def test_pairs_must_match_the_count() -> None:
    with pytest.raises(ValueError, match="1 pair scores for 3 annotations"):
        task_score(_pairs({"ab": 1.0}), 3)
    with pytest.raises(ValueError, match="annotation count"):
        task_score({}, -1)
    # Three pairs, but naming four annotations: not the pairs of 3 annotations.
    with pytest.raises(ValueError, match="name 4 annotations"):
        task_score(_pairs({"ab": 1.0, "cd": 1.0, "ac": 1.0}), 3, "consensus")


def test_pairwise_equals_the_incremental_task_score() -> None:
    task = TaskAgreement()
    for annotation_id, label in [("1", "pos"), ("2", "neg"), ("3", "pos"), ("4", "neu")]:
        task.upsert(annotation_id, [choices_item("sentiment", [label])])
    assert task_score(task.pair_scores, len(task)) == task.score


@st.composite
def scored_tasks(draw: st.DrawFn) -> tuple[dict[tuple[str, str], float], int]:
    count = draw(st.integers(0, 7))
    ids = sorted(f"a{n}" for n in range(count))
    score = st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0])
    return {pair: draw(score) for pair in combinations(ids, 2)}, count


thresholds = st.sampled_from([0.0, 0.3, 0.5, 0.75, 1.0])


@given(scored_tasks(), thresholds)
def test_consensus_in_range_and_a_share_of_annotations(
    task: tuple[dict[tuple[str, str], float], int], threshold: float
) -> None:
    pairs, count = task
    score = task_score(pairs, count, "consensus", threshold)
    if count == 0:
        assert score is None
        return
    assert score is not None
    assert 1 / count <= score <= 1.0
    majority = consensus_majority(pairs, count, threshold)
    if count >= 2:
        assert len(majority) == round(score * count)
        # Every member agrees with one member of the majority (its representative).
        assert any(
            all(m == r or pairs[tuple(sorted((m, r)))] >= threshold for m in majority)  # type: ignore[index]
            for r in majority
        )
    # The pairs' order does not change the score or the majority.
    reordered = dict(reversed(list(pairs.items())))
    assert task_score(reordered, count, "consensus", threshold) == score
    assert consensus_majority(reordered, count, threshold) == majority


@given(scored_tasks(), thresholds)
def test_consensus_is_full_when_all_agree(
    task: tuple[dict[tuple[str, str], float], int], threshold: float
) -> None:
    pairs, count = task
    agreeing = {pair: max(score, threshold) for pair, score in pairs.items()}
    assert task_score(agreeing, count, "consensus", threshold) == (None if count == 0 else 1.0)


@given(st.lists(st.sampled_from(["pos", "neg", "neu"]), min_size=1, max_size=8))
def test_consensus_of_labels_is_the_majority_vote_share(labels: list[str]) -> None:
    # Reference: plain majority vote, the share of the most common label.
    by_id = {f"a{n}": label for n, label in enumerate(labels)}
    expected = Counter(labels).most_common(1)[0][1] / len(labels)
    assert task_score(_labels_pairs(by_id), len(labels), "consensus") == expected


@given(scored_tasks())
def test_pairwise_is_the_mean(task: tuple[dict[tuple[str, str], float], int]) -> None:
    pairs, count = task
    score = task_score(pairs, count, "pairwise")
    if count < 2:
        assert score == (None if count == 0 else 1.0)
    else:
        assert score == pytest.approx(sum(pairs.values()) / len(pairs))
