"""Numeric metrics for ``number`` and ``rating`` results: how far apart two values are.

Label Studio Enterprise's default for ``Number`` and ``Rating`` is "Numeric Difference",
with a "Numeric Difference (Threshold)" variant that agrees "within a specified tolerance"
(docs.humansignal.com/guide/agreement_metrics). The difference is scaled by the value
range so that the score lies in [0, 1]: ``1 - |a - b| / range``.

A ``Number`` or ``Rating`` tag writes one item per annotation (``{"number": 3.5}``,
``{"rating": 4}``). Should a tag hold several (per-region ratings, whose regions cannot be
paired across annotators), the sorted values are paired in order, which for numbers is
the pairing with the least total difference, and each value without a partner scores 0.
A value that is missing or not a finite number makes the tag fall back to exact match of
the values, so it agrees only with an identical value.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from .base import Metric, ResultItem
from .classification import exact_match
from .fields import check_positive, fraction, number, value_of

DEFAULT_RANGE = 4.0
"""Rating's default scale: ``maxRating`` is 5 stars and the lowest rating is 1."""

_FIELDS = ("number", "rating")


def readings(items: list[ResultItem]) -> list[float] | None:
    """The sorted numeric values of a tag's items; ``None`` if any item has none."""
    values: list[float] = []
    for item in items:
        value = value_of(item)
        if value is None:
            return None
        field = next((key for key in _FIELDS if key in value), None)
        reading = None if field is None else number(value[field])
        if reading is None:
            return None
        values.append(reading)
    values.sort()
    return values


def _numeric(pair_score: Callable[[float, float], float]) -> Metric:
    def metric(items_a: list[ResultItem], items_b: list[ResultItem]) -> float:
        values_a, values_b = readings(items_a), readings(items_b)
        if values_a is None or values_b is None:
            return exact_match(items_a, items_b)
        if not values_a and not values_b:
            return 1.0
        # pair_score is symmetric to the bit (|a - b| == |b - a| in IEEE arithmetic) and
        # fsum does not depend on order, so swapping the sides changes nothing.
        scores = [pair_score(a, b) for a, b in zip(values_a, values_b, strict=False)]
        return math.fsum(scores) / max(len(values_a), len(values_b))

    return metric


def numeric_difference(*, range: float = DEFAULT_RANGE) -> Metric:
    """Number and Rating: ``max(0, 1 - |a - b| / range)`` (default for both).

    Parameters
    ----------
    range
        Width of the scale (> 0): 4.0 by default, for Rating's 1 to 5 stars; for a
        Number tag pass its ``max - min``.

    Returns
    -------
    Metric
        ``(items_a, items_b) -> score in [0, 1]``; 1.0 for equal values, 0.0 for values a
        whole range or more apart.
    """
    width = check_positive("range", range)

    def pair_score(a: float, b: float) -> float:
        # fraction: a - b of two finite floats may still overflow to inf.
        return fraction(1.0 - abs(a - b) / width)

    return _numeric(pair_score)


def numeric_tolerance(*, tolerance: float = 0.0) -> Metric:
    """Number and Rating: 1.0 if ``|a - b| <= tolerance``, else 0.0.

    Parameters
    ----------
    tolerance
        Largest difference (>= 0) that still agrees; 0.0, the default, asks for equal
        values (Label Studio: "a threshold of 0 means only identical ratings count").

    Returns
    -------
    Metric
        ``(items_a, items_b) -> score in [0, 1]``, 0 or 1 per pair of values.
    """
    bound = check_positive("tolerance", tolerance, allow_zero=True)

    def pair_score(a: float, b: float) -> float:
        return 1.0 if abs(a - b) <= bound else 0.0

    return _numeric(pair_score)
