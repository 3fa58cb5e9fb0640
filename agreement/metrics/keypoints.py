"""Keypoint metrics: how close label-matched keypoints lie.

A ``keypointlabels`` value is ``{x, y, width, keypointlabels}`` with ``x``, ``y`` in percent
of the image width and height (``width`` is only the drawn size). Distances are Euclidean
in those percent units, as the brief for this metric asks, so on a non-square image a
percent across is not a percent down. Points are matched by label as
:mod:`agreement.metrics.regions` describes.

Label Studio Enterprise offers "Keypoint Distance" without documenting its formula, and
scores ``KeyPointLabels`` by exact match unless told otherwise; Quorum's default is the
distance, which gives credit for a point a pixel off. The defaults here come from
label-studio-evalme's ``KeyPointsEvalItem.distance``, where two points agree when they lie
within ``local_range=1`` percent of each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from .base import Metric, ResultItem
from .fields import check_positive, fraction, number
from .regions import region_metric

DEFAULT_MAX_DISTANCE = 2.0
"""Percent units: at evalme's match radius of 1 a point earns half credit, from 2 none."""

DEFAULT_DISTANCE = 1.0
"""Percent units: evalme's ``local_range``."""


def read_point(item: ResultItem, value: dict[str, Any]) -> tuple[float, float] | None:
    """``(x, y)`` of a keypoint value; ``None`` if either is missing or not a number."""
    x, y = number(value.get("x")), number(value.get("y"))
    if x is None or y is None:
        return None
    return (x, y)


def _distance(point_a: tuple[float, float], point_b: tuple[float, float]) -> float:
    return math.hypot(point_a[0] - point_b[0], point_a[1] - point_b[1])


def _closeness(max_distance: float) -> Callable[[Any, Any], float]:
    def closeness(point_a: tuple[float, float], point_b: tuple[float, float]) -> float:
        return fraction(1.0 - _distance(point_a, point_b) / max_distance)

    return closeness


def _within(distance: float) -> Callable[[Any, Any], float]:
    def within(point_a: tuple[float, float], point_b: tuple[float, float]) -> float:
        return 1.0 if _distance(point_a, point_b) <= distance else 0.0

    return within


def keypoint_distance(
    *,
    max_distance: float = DEFAULT_MAX_DISTANCE,
    label_weights: Mapping[str, float] | None = None,
) -> Metric:
    """Keypoints: ``max(0, 1 - d / max_distance)`` per label-matched pair of points.

    Parameters
    ----------
    max_distance
        Distance in percent units (> 0) at which a pair earns nothing; default 2.0.
    label_weights
        Optional ``{label: weight >= 0}``; unlisted labels weigh 1, weight 0 drops a label.

    Returns
    -------
    Metric
        ``(items_a, items_b) -> score in [0, 1]``: the sum of matched closeness over
        ``n_a + n_b - n_matched``; points ``max_distance`` or more apart do not match.
    """
    bound = check_positive("max_distance", max_distance)
    return region_metric(read_point, _closeness(bound), label_weights)


def keypoint_distance_threshold(
    *,
    distance: float = DEFAULT_DISTANCE,
    label_weights: Mapping[str, float] | None = None,
) -> Metric:
    """Keypoints: share of label-matched points at most ``distance`` apart.

    Parameters
    ----------
    distance
        Percent units (>= 0); default 1.0, evalme's ``local_range``.
    label_weights
        As in :func:`keypoint_distance`.

    Returns
    -------
    Metric
        Points within ``distance`` of each other are matched (as many pairs as possible)
        and score 1; every other point is unmatched and scores 0.
    """
    bound = check_positive("distance", distance, allow_zero=True)
    return region_metric(read_point, _within(bound), label_weights)
