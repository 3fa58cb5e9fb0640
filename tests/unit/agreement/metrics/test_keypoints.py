"""Keypoint distance.

Reference: label-studio-evalme's ``KeyPointsEvalItem.distance`` counts two same-label
points as agreeing within ``local_range=1`` percent; the linear score is worked out by
hand from ``max(0, 1 - d / max_distance)`` with 3-4-5 triangles.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agreement.metrics import ResultItem, keypoint_distance, keypoint_distance_threshold
from agreement.metrics.keypoints import DEFAULT_DISTANCE, DEFAULT_MAX_DISTANCE

from .laws import assert_metric_laws
from .strategies import keypoint, keypoints


def test_linear_in_distance() -> None:
    metric = keypoint_distance(max_distance=10.0)
    # 3-4-5: half of max_distance away.
    assert metric([keypoint(10, 10)], [keypoint(13, 14)]) == 0.5
    assert metric([keypoint(10, 10)], [keypoint(10, 10)]) == 1.0
    assert metric([keypoint(10, 10)], [keypoint(16, 18)]) == 0.0  # exactly max_distance
    assert metric([keypoint(10, 10)], [keypoint(40, 40)]) == 0.0


def test_defaults() -> None:
    assert (DEFAULT_MAX_DISTANCE, DEFAULT_DISTANCE) == (2.0, 1.0)
    # At evalme's match radius a point earns half credit.
    assert keypoint_distance()([keypoint(10, 10)], [keypoint(10, 11)]) == 0.5


def test_threshold_matches_evalme_local_range() -> None:
    metric = keypoint_distance_threshold()
    assert metric([keypoint(10, 10)], [keypoint(11, 10)]) == 1.0  # d = 1.0
    assert metric([keypoint(10, 10)], [keypoint(10.9, 10.9)]) == 0.0  # d = 1.27
    # Two of three points land; the third is unmatched on both sides: 2 / (3 + 3 - 2).
    a = [keypoint(0, 0), keypoint(50, 50), keypoint(90, 90)]
    b = [keypoint(0.5, 0), keypoint(50, 50.5), keypoint(80, 80)]
    assert metric(a, b) == 0.5
    assert keypoint_distance_threshold(distance=20.0)(a, b) == 1.0


def test_points_match_by_label_and_one_to_one() -> None:
    metric = keypoint_distance(max_distance=10.0)
    assert metric([keypoint(10, 10, ["eye"])], [keypoint(10, 10, ["nose"])]) == 0.0
    # Two annotated eyes against one: the closer pair matches, the other eye is extra.
    two = [keypoint(10, 10, ["eye"]), keypoint(20, 10, ["eye"])]
    assert metric(two, [keypoint(10, 10, ["eye"])]) == 0.5


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="max_distance"):
        keypoint_distance(max_distance=0.0)
    with pytest.raises(ValueError, match="distance"):
        keypoint_distance_threshold(distance=-1.0)


def test_unusable_points() -> None:
    good = keypoint(10, 10)
    bad = keypoint(10, None)
    assert keypoint_distance()([bad], [good]) == 0.0
    assert keypoint_distance()([bad], [bad]) == 1.0


@given(st.lists(keypoints, max_size=5), st.lists(keypoints, max_size=5))
def test_keypoint_metric_laws(a: list[ResultItem], b: list[ResultItem]) -> None:
    assert_metric_laws(keypoint_distance(), a, b)
    assert_metric_laws(keypoint_distance(max_distance=5.0), a, b)
    assert_metric_laws(keypoint_distance_threshold(distance=1.5), a, b)
