"""Numeric difference for Number and Rating.

Reference: Label Studio Enterprise's "Numeric Difference" and "Numeric Difference
(Threshold)" (docs.humansignal.com/guide/agreement_metrics): closeness by absolute
difference, and agreement within a tolerance where "a threshold of 0 means only identical
ratings count as a match" (labelstud.io/guide/stats). Expected values are worked out by hand
from ``1 - |a - b| / range``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agreement.metrics import ResultItem, numeric_difference, numeric_tolerance

from .laws import assert_metric_laws
from .strategies import item


def _rating(*stars: Any) -> list[ResultItem]:
    return [item("rating", {"rating": s}) for s in stars]


def _number(*values: float) -> list[ResultItem]:
    return [item("number", {"number": v}) for v in values]


def test_rating_on_five_stars() -> None:
    metric = numeric_difference()
    assert metric(_rating(3), _rating(3)) == 1.0
    assert metric(_rating(3), _rating(2)) == 0.75
    assert metric(_rating(1), _rating(5)) == 0.0


def test_number_with_its_range() -> None:
    metric = numeric_difference(range=100.0)
    assert metric(_number(20), _number(45.5)) == pytest.approx(0.745)
    assert metric(_number(-20), _number(500)) == 0.0  # clipped


def test_tolerance() -> None:
    assert numeric_tolerance()(_rating(3), _rating(3)) == 1.0
    assert numeric_tolerance()(_rating(3), _rating(4)) == 0.0
    assert numeric_tolerance(tolerance=1.0)(_rating(3), _rating(4)) == 1.0
    assert numeric_tolerance(tolerance=1.0)(_rating(3), _rating(5)) == 0.0


def test_several_values_pair_in_sorted_order() -> None:
    metric = numeric_difference()
    # Sorted pairs (1, 2) and (4, 4): (0.75 + 1) / 2.
    assert metric(_rating(4, 1), _rating(2, 4)) == 0.875
    # An extra value scores 0: (1 + 0) / 2.
    assert metric(_rating(3, 5), _rating(3)) == 0.5
    assert metric([], _rating(3)) == 0.0


def test_malformed_values_fall_back_to_exact_match() -> None:
    metric = numeric_difference()
    for bad in (_rating(None), _rating("3"), _rating(True), _rating(float("nan"))):
        assert metric(bad, _rating(3)) == 0.0
        assert metric(bad, bad) == 1.0
    missing = [item("rating", {})]
    assert metric(missing, _rating(3)) == 0.0


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="range"):
        numeric_difference(range=0.0)
    with pytest.raises(ValueError, match="range"):
        numeric_difference(range=float("nan"))
    with pytest.raises(ValueError, match="tolerance"):
        numeric_tolerance(tolerance=-0.5)


values = st.lists(st.integers(1, 5), max_size=3)


@given(values, values)
def test_numeric_metric_laws(a: list[int], b: list[int]) -> None:
    for metric in (numeric_difference(), numeric_tolerance(tolerance=1.0)):
        assert_metric_laws(metric, _rating(*a), _rating(*b))


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
def test_one_value_each_is_the_formula(a: float, b: float) -> None:
    score = assert_metric_laws(numeric_difference(range=1000.0), _number(a), _number(b))
    assert score == pytest.approx(max(0.0, 1.0 - abs(a - b) / 1000.0), abs=1e-12)
