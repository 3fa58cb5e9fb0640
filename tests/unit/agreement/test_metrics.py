"""Pair metrics per result type, checked by hand.

The definitions follow Label Studio Enterprise's agreement docs (Choices and Taxonomy:
exact match, multi-choice partial credit by Jaccard); the expected numbers are worked
out in each test from |A & B| / |A | B|.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agreement.metrics import (
    METRICS,
    ResultItem,
    choices,
    exact_match,
    jaccard,
    metric_for,
    taxonomy,
)

from .strategies import LABELS, choices_item


def _choices(*chosen: str) -> list[dict[str, Any]]:
    return [choices_item("sentiment", list(chosen))]


def _taxonomy(*paths: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "from_name": "taxonomy",
            "to_name": "text",
            "type": "taxonomy",
            "value": {"taxonomy": list(paths)},
        }
    ]


def test_single_choice_match_and_mismatch() -> None:
    assert choices(_choices("pos"), _choices("pos")) == 1.0
    assert choices(_choices("pos"), _choices("neg")) == 0.0


def test_multi_choice_is_jaccard() -> None:
    # {a, b} vs {b, c}: one shared of three distinct.
    assert choices(_choices("a", "b"), _choices("b", "c")) == pytest.approx(1 / 3)
    # Order is not a disagreement.
    assert choices(_choices("a", "b"), _choices("b", "a")) == 1.0
    # {a} vs {a, b}: one shared of two.
    assert choices(_choices("a"), _choices("a", "b")) == 0.5


def test_choices_both_empty_agree_one_empty_does_not() -> None:
    assert choices(_choices(), _choices()) == 1.0
    assert choices([], []) == 1.0
    assert choices(_choices(), _choices("pos")) == 0.0


def test_choices_across_several_items_form_one_set() -> None:
    split = [choices_item("sentiment", ["a"]), choices_item("sentiment", ["b"])]
    assert choices(split, _choices("b", "a")) == 1.0
    assert choices(split, _choices("b", "c")) == pytest.approx(1 / 3)


def test_unicode_labels() -> None:
    assert choices(_choices("négatif", "积极"), _choices("积极", "négatif")) == 1.0
    assert choices(_choices("négatif"), _choices("negatif")) == 0.0


def test_taxonomy_paths_compared_whole() -> None:
    cat = ["Animal", "Cat"]
    dog = ["Animal", "Dog"]
    assert taxonomy(_taxonomy(cat), _taxonomy(cat)) == 1.0
    # A parent is not its child.
    assert taxonomy(_taxonomy(["Animal"]), _taxonomy(cat)) == 0.0
    # {cat, dog} vs {cat}: one shared of two.
    assert taxonomy(_taxonomy(cat, dog), _taxonomy(cat)) == 0.5
    assert taxonomy(_taxonomy(), _taxonomy()) == 1.0


def test_exact_match_ignores_id_origin_and_score() -> None:
    a: list[ResultItem] = [
        {
            "id": "x1",
            "origin": "manual",
            "from_name": "box",
            "to_name": "image",
            "type": "rectanglelabels",
            "value": {"x": 10, "y": 20.5, "rectanglelabels": ["Car"]},
        }
    ]
    b: list[ResultItem] = [
        {
            "id": "y9",
            "origin": "prediction",
            "score": 0.93,
            "from_name": "box",
            "to_name": "image",
            "type": "rectanglelabels",
            # Same value, keys in another order.
            "value": {"rectanglelabels": ["Car"], "y": 20.5, "x": 10},
        }
    ]
    assert exact_match(a, b) == 1.0
    changed = [{**b[0], "value": {**b[0]["value"], "x": 11}}]
    assert exact_match(a, changed) == 0.0


def test_exact_match_is_a_multiset_match() -> None:
    one = {"type": "rating", "value": {"rating": 1}}
    two = {"type": "rating", "value": {"rating": 2}}
    assert exact_match([one, two], [two, one]) == 1.0
    assert exact_match([one, one], [one]) == 0.0
    assert exact_match([one, one, two], [one, two, two]) == 0.0
    assert exact_match([], []) == 1.0


def test_registry_and_fallback() -> None:
    assert METRICS["choices"] is choices
    assert METRICS["taxonomy"] is taxonomy
    assert metric_for("choices") is choices
    # Types without a metric of their own, as in Label Studio Enterprise.
    assert metric_for("brushlabels") is exact_match
    assert metric_for("videorectangle") is exact_match
    assert metric_for(None) is exact_match


def test_jaccard_edges() -> None:
    assert jaccard(set(), set()) == 1.0
    assert jaccard({1}, set()) == 0.0
    assert jaccard({1, 2, 3, 4}, {3, 4, 5}) == 2 / 5


label_sets = st.lists(st.lists(st.sampled_from(LABELS), max_size=4), max_size=3)


@given(label_sets, label_sets)
def test_choices_symmetric_and_in_range(
    chosen_a: list[list[str]], chosen_b: list[list[str]]
) -> None:
    items_a = [choices_item("sentiment", c) for c in chosen_a]
    items_b = [choices_item("sentiment", c) for c in chosen_b]
    score = choices(items_a, items_b)
    assert score == choices(items_b, items_a)
    assert 0.0 <= score <= 1.0
    # Reference: Jaccard of the label sets, computed independently.
    set_a = {label for c in chosen_a for label in c}
    set_b = {label for c in chosen_b for label in c}
    expected = len(set_a & set_b) / len(set_a | set_b) if set_a | set_b else 1.0
    assert score == expected
