"""Pair score: tags grouped by ``from_name``, scored by type and combined by weights."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given

from agreement import METRICS, pair_score
from agreement.metrics import ResultItem

from . import strategies
from .strategies import choices_item

RELATION = {"from_id": "r1", "to_id": "r2", "type": "relation", "direction": "right"}


def _result(sentiment: list[str] | None = None, topics: list[str] | None = None) -> list[Any]:
    result = []
    if sentiment is not None:
        result.append(choices_item("sentiment", sentiment))
    if topics is not None:
        result.append(choices_item("topics", topics))
    return result


def test_single_tag() -> None:
    assert pair_score(_result(["pos"]), _result(["pos"])) == 1.0
    assert pair_score(_result(["pos"]), _result(["neg"])) == 0.0


def test_two_empty_annotations_agree() -> None:
    assert pair_score([], []) == 1.0
    # Relations alone are no labeling result.
    assert pair_score([RELATION], []) == 1.0


def test_tag_in_only_one_annotation_scores_zero() -> None:
    # sentiment agrees (1), topics only in a (0): mean 1/2.
    assert pair_score(_result(["pos"], ["x"]), _result(["pos"])) == 0.5
    assert pair_score(_result(["pos"]), []) == 0.0


def test_unweighted_mean_over_tags() -> None:
    # sentiment 1.0, topics Jaccard({x, y}, {y, z}) = 1/3: mean 2/3.
    score = pair_score(_result(["pos"], ["x", "y"]), _result(["pos"], ["y", "z"]))
    assert score == pytest.approx(2 / 3)


def test_weighted_mean_over_tags() -> None:
    a = _result(["pos"], ["x", "y"])
    b = _result(["pos"], ["y", "z"])
    # (2 * 1 + 1 * 1/3) / (2 + 1) = 7/9.
    assert pair_score(a, b, {"sentiment": 2.0}) == pytest.approx(7 / 9)
    # Unlisted tags weigh 1.
    assert pair_score(a, b, {}) == pair_score(a, b)


def test_weight_zero_removes_a_tag() -> None:
    a = _result(["pos"], ["x"])
    b = _result(["neg"], ["x"])
    assert pair_score(a, b) == 0.5
    assert pair_score(a, b, {"sentiment": 0.0}) == 1.0
    assert pair_score(a, b, {"topics": 0.0}) == 0.0
    # A lone removed tag leaves nothing to disagree on.
    assert pair_score(_result(["pos"]), _result(["neg"]), {"sentiment": 0}) == 1.0


def test_all_weights_zero_is_agreement() -> None:
    a = _result(["pos"], ["x"])
    b = _result(["neg"], ["y"])
    assert pair_score(a, b, {"sentiment": 0.0, "topics": 0.0}) == 1.0


def test_bad_weight_is_rejected() -> None:
    with pytest.raises(ValueError, match="sentiment"):
        pair_score(_result(["pos"]), _result(["pos"]), {"sentiment": -1.0})
    with pytest.raises(ValueError, match="topics"):
        pair_score(_result(["p"], ["x"]), _result(["p"]), {"topics": float("nan")})


def test_relations_are_ignored() -> None:
    a = _result(["pos"])
    assert pair_score([*a, RELATION], _result(["pos"])) == 1.0
    assert pair_score([*a, RELATION], _result(["neg"])) == 0.0


def test_fallback_type_ignores_region_ids() -> None:
    # Brush masks have no metric of their own (exact match, as in Label Studio Enterprise).
    def brush(rle: int, item_id: str) -> ResultItem:
        value = {"format": "rle", "rle": [rle], "brushlabels": ["Car"]}
        return {"id": item_id, "from_name": "q", "type": "brushlabels", "value": value}

    assert pair_score([brush(3, "a")], [brush(3, "b")]) == 1.0
    assert pair_score([brush(3, "a")], [brush(2, "a")]) == 0.0


def test_new_metric_is_one_registry_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(METRICS, "rating", lambda a, b: 0.25)
    item = {"from_name": "q", "to_name": "t", "type": "rating", "value": {"rating": 1}}
    assert pair_score([item], [item]) == 0.25


def test_out_of_range_metric_is_clipped(monkeypatch: pytest.MonkeyPatch) -> None:
    item = {"from_name": "q", "to_name": "t", "type": "rating", "value": {"rating": 1}}
    monkeypatch.setitem(METRICS, "rating", lambda a, b: 1.5)
    assert pair_score([item], [item]) == 1.0
    monkeypatch.setitem(METRICS, "rating", lambda a, b: float("nan"))
    assert pair_score([item], [item]) == 0.0


@given(strategies.results, strategies.results, strategies.weights)
def test_symmetric_bit_for_bit_and_in_range(
    a: list[ResultItem], b: list[ResultItem], weights: dict[str, float] | None
) -> None:
    score = pair_score(a, b, weights)
    assert score == pair_score(b, a, weights)
    assert 0.0 <= score <= 1.0
    assert pair_score(a, a, weights) == 1.0


@given(strategies.single_choice, strategies.single_choice, strategies.weights)
def test_single_item_shortcut_equals_general_path(
    a: list[ResultItem], b: list[ResultItem], weights: dict[str, float] | None
) -> None:
    # A relation makes the results two items long, which skips the shortcut.
    assert pair_score(a, b, weights) == pair_score([*a, RELATION], b, weights)
