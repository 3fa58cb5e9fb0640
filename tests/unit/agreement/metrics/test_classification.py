"""Choices, taxonomy, DateTime and Pairwise variants.

Reference: Label Studio's "Exact matching choices" (1 for the same choice, 0 otherwise,
labelstud.io/guide/stats); Jaccard over whole paths is the existing ``taxonomy`` metric,
which ``taxonomy_prefix`` must equal whenever paths agree fully or not at all; prefix
credit is worked out by hand.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agreement.metrics import (
    ResultItem,
    choices_exact,
    datetime_exact,
    make_metric,
    pairwise_exact,
    taxonomy,
    taxonomy_prefix,
)

from .laws import assert_metric_laws
from .strategies import item


def _choices(*chosen: Any) -> list[ResultItem]:
    return [item("choices", {"choices": list(chosen)})]


def _taxonomy(*paths: list[str]) -> list[ResultItem]:
    return [item("taxonomy", {"taxonomy": [list(p) for p in paths]})]


def test_choices_exact_is_all_or_nothing() -> None:
    assert choices_exact(_choices("pos"), _choices("pos")) == 1.0
    assert choices_exact(_choices("a", "b"), _choices("b", "a")) == 1.0
    assert choices_exact(_choices("a", "b"), _choices("a")) == 0.0
    assert choices_exact(_choices(), _choices()) == 1.0
    assert choices_exact(_choices("négatif"), _choices("negatif")) == 0.0
    # Not strings: compared as values.
    assert choices_exact(_choices(1), _choices("1")) == 0.0
    assert choices_exact(_choices(1), _choices(1)) == 1.0


def test_taxonomy_prefix_threshold_agrees_from_the_threshold_on() -> None:
    cat, dog = ["Animal", "Mammal", "Cat"], ["Animal", "Mammal", "Dog"]  # prefix credit 2/3
    assert make_metric("taxonomy_prefix_threshold")(_taxonomy(cat), _taxonomy(dog)) == 1.0
    strict = make_metric("taxonomy_prefix_threshold", threshold=0.7)
    assert strict(_taxonomy(cat), _taxonomy(dog)) == 0.0
    assert strict(_taxonomy(cat), _taxonomy(cat)) == 1.0
    with pytest.raises(ValueError, match="threshold"):
        make_metric("taxonomy_prefix_threshold", threshold=1.5)


def test_taxonomy_prefix_credit() -> None:
    cat, dog = ["Animal", "Mammal", "Cat"], ["Animal", "Mammal", "Dog"]
    # Two of three levels agree.
    assert taxonomy_prefix(_taxonomy(cat), _taxonomy(dog)) == pytest.approx(2 / 3)
    # A parent is half of its child.
    assert taxonomy_prefix(_taxonomy(["Animal"]), _taxonomy(["Animal", "Cat"])) == 0.5
    assert taxonomy_prefix(_taxonomy(["Plant"]), _taxonomy(["Animal"])) == 0.0
    # {cat, ["Plant"]} vs {dog}: cat-dog pair 2/3, Plant unpaired: (2/3) / (2 + 1 - 1).
    assert taxonomy_prefix(_taxonomy(cat, ["Plant"]), _taxonomy(dog)) == pytest.approx(1 / 3)
    assert taxonomy_prefix(_taxonomy(), _taxonomy()) == 1.0
    assert taxonomy_prefix(_taxonomy(), _taxonomy(cat)) == 0.0


def test_taxonomy_prefix_pairs_paths_optimally() -> None:
    a = _taxonomy(["A", "B", "C"], ["A", "B"])
    b = _taxonomy(["A", "B", "C", "D"], ["A", "B", "X"])
    # Either [A, B, C]-[A, B, C, D] and [A, B]-[A, B, X] (3/4 + 2/3), or the crossed
    # pairs (2/3 + 2/4); the larger total wins, over n_a + n_b - 2 = 2.
    assert taxonomy_prefix(a, b) == pytest.approx((3 / 4 + 2 / 3) / 2)


path_sets = st.lists(st.lists(st.sampled_from(["A", "B", "C"]), min_size=1, max_size=3), max_size=3)


@given(path_sets, path_sets)
def test_taxonomy_prefix_laws(a: list[list[str]], b: list[list[str]]) -> None:
    assert_metric_laws(taxonomy_prefix, _taxonomy(*a), _taxonomy(*b))


@given(
    st.lists(st.sampled_from(["A", "B", "C", "D"]), max_size=3),
    st.lists(st.sampled_from(["A", "B", "C", "D"]), max_size=3),
)
def test_taxonomy_prefix_equals_jaccard_for_one_level(a: list[str], b: list[str]) -> None:
    # One-level paths agree fully or not at all, so partial credit never applies.
    one_level_a, one_level_b = _taxonomy(*[[x] for x in a]), _taxonomy(*[[x] for x in b])
    assert taxonomy_prefix(one_level_a, one_level_b) == pytest.approx(
        taxonomy(one_level_a, one_level_b), abs=1e-15
    )


def test_datetime_and_pairwise_exact() -> None:
    noon = [item("datetime", {"datetime": "2024-05-01T12:00"})]
    assert datetime_exact(noon, [item("datetime", {"datetime": "2024-05-01T12:00"})]) == 1.0
    assert datetime_exact(noon, [item("datetime", {"datetime": "2024-05-01T12:01"})]) == 0.0
    left = [item("pairwise", {"selected": "left"}, id="x")]
    assert pairwise_exact(left, [item("pairwise", {"selected": "left"}, id="y")]) == 1.0
    assert pairwise_exact(left, [item("pairwise", {"selected": "right"})]) == 0.0
    assert pairwise_exact([], []) == 1.0
    assert pairwise_exact(left, []) == 0.0


def test_malformed_values_never_raise() -> None:
    for metric in (choices_exact, taxonomy_prefix, datetime_exact, pairwise_exact):
        for bad in ({"choices": "pos"}, {"taxonomy": [["A", 1]]}, {"taxonomy": "A"}, {}):
            items = [item("choices", bad)]
            assert metric(items, items) == 1.0
            assert 0.0 <= metric(items, _choices("pos")) <= 1.0


@given(
    st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
    st.lists(st.sampled_from(["a", "b", "c"]), max_size=3),
)
def test_choices_exact_laws(a: list[str], b: list[str]) -> None:
    score = assert_metric_laws(choices_exact, _choices(*a), _choices(*b))
    assert score == (1.0 if set(a) == set(b) else 0.0)
