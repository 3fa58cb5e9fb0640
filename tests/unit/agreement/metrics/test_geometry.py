"""Rectangle, polygon and ellipse IoU.

Reference for rotated boxes: shapely's own ``affinity.rotate`` about the top-left corner
(the corner and direction label-studio-sdk's ``convert_annotation_to_yolo_obb`` uses),
an implementation independent of :mod:`agreement.metrics.shapes`. Hand-computed overlaps
are worked out in each test; the ellipse lens area is the circle-circle intersection
formula (mathworld.wolfram.com/Circle-CircleIntersection.html).
"""

from __future__ import annotations

import math

import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely import affinity

from agreement.metrics import (
    ResultItem,
    bbox_iou,
    bbox_iou_threshold,
    ellipse_iou,
    ellipse_iou_threshold,
    polygon_iou,
    polygon_iou_threshold,
)
from agreement.metrics.geometry import area_iou, box_iou
from agreement.metrics.shapes import read_box

from .laws import assert_metric_laws
from .strategies import LABELS, box, boxes, ellipse, ellipses, polygon, polygons

iou = bbox_iou()


def test_axis_aligned_overlap() -> None:
    # [0, 10]^2 and [5, 15]^2 share a 5 x 5 square: 25 / (100 + 100 - 25).
    assert iou([box(0, 0, 10, 10)], [box(5, 5, 10, 10)]) == 25 / 175
    assert iou([box(0, 0, 10, 10)], [box(10, 0, 10, 10)]) == 0.0  # touching edges
    assert iou([box(0, 0, 10, 10)], [box(2, 2, 5, 5)]) == 25 / 100  # nested


def test_rectangle_rotated_90_degrees_about_its_corner() -> None:
    # 20 x 10 at (10, 10) turned 90 degrees clockwise (y down) about (10, 10) covers
    # x in [0, 10], y in [10, 30]; against [5, 15] x [10, 30]: 5 * 20 / (200 + 200 - 100).
    score = iou([box(10, 10, 20, 10, rotation=90)], [box(5, 10, 10, 20)])
    assert score == pytest.approx(1 / 3, abs=1e-12)


def test_square_rotated_45_degrees_about_its_corner() -> None:
    # The 10 x 10 square turned 45 degrees about (0, 0) is a diamond hanging from (0, 0);
    # inside the unturned square lies its right half (area 50) minus the tip below
    # y = 10, a right triangle with legs 10 * sqrt(2) - 10: overlap 100 * (sqrt(2) - 1).
    overlap = 100 * (math.sqrt(2) - 1)
    expected = overlap / (200 - overlap)
    assert iou([box(0, 0, 10, 10, rotation=45)], [box(0, 0, 10, 10)]) == pytest.approx(
        expected, abs=1e-12
    )
    # A full turn is no turn.
    assert iou([box(0, 0, 10, 10, rotation=360)], [box(0, 0, 10, 10)]) == pytest.approx(1.0)


def test_rotation_is_in_pixels_on_a_non_square_image() -> None:
    # On a 200 x 100 px image, 10% x 20% is a 20 x 20 px square; turned 90 degrees about
    # (0, 0) it covers x in [-20, 0] px, i.e. [-10%, 0%], and y in [0%, 20%].
    turned = box(0, 0, 10, 20, rotation=90, original_width=200, original_height=100)
    # Against [-5%, 5%] x [0%, 20%]: half of each square overlaps, 1/3. Rotating in
    # percent units instead would give 1/7.
    other = box(-5, 0, 10, 20, original_width=200, original_height=100)
    assert iou([turned], [other]) == pytest.approx(1 / 3, abs=1e-12)


def test_threshold_variant() -> None:
    a = [box(0, 0, 10, 10), box(50, 50, 10, 10)]
    b = [box(0, 0, 10, 9), box(52, 52, 10, 10)]  # IoU 0.9 and 64/136
    assert bbox_iou_threshold(threshold=0.5)(a, b) == 0.5
    assert bbox_iou_threshold(threshold=0.4)(a, b) == 1.0
    assert bbox_iou(label_weights=None)(a, b) == pytest.approx((0.9 + 64 / 136) / 2)


def _reference_iou(a: ResultItem, b: ResultItem) -> float:
    def outline(result: ResultItem) -> shapely.Polygon:
        v = result["value"]
        square = shapely.box(v["x"], v["y"], v["x"] + v["width"], v["y"] + v["height"])
        return affinity.rotate(square, v["rotation"], origin=(v["x"], v["y"]))

    shape_a, shape_b = outline(a), outline(b)
    intersection = shape_a.intersection(shape_b).area
    union = shape_a.union(shape_b).area
    return intersection / union if union > 0 else 0.0


@given(boxes, boxes)
def test_one_box_each_matches_shapely_reference(a: ResultItem, b: ResultItem) -> None:
    a["value"]["rectanglelabels"] = b["value"]["rectanglelabels"] = ["Car"]
    if a["value"] == b["value"]:
        return
    assert iou([a], [b]) == pytest.approx(_reference_iou(a, b), abs=1e-9)


coordinates = st.floats(-50, 150, allow_nan=False, allow_subnormal=False)
lengths = st.floats(0, 100, allow_nan=False, allow_subnormal=False)


rectangles = st.tuples(coordinates, coordinates, lengths, lengths)


@given(rectangles, rectangles)
def test_fast_axis_aligned_path_equals_shapely(
    first: tuple[float, float, float, float], second: tuple[float, float, float, float]
) -> None:
    box_a, box_b = box(*first), box(*second)
    shape_a, shape_b = read_box(box_a, box_a["value"]), read_box(box_b, box_b["value"])
    assert shape_a is not None and shape_b is not None
    slow = area_iou(shape_a.geometry, shape_b.geometry)
    assert box_iou(shape_a, shape_b) == pytest.approx(slow, abs=1e-12)


@settings(deadline=None)  # shapely clipping, slow on a loaded machine
@given(st.lists(boxes, max_size=4), st.lists(boxes, max_size=4))
def test_box_metric_laws(a: list[ResultItem], b: list[ResultItem]) -> None:
    assert_metric_laws(iou, a, b)
    assert_metric_laws(bbox_iou_threshold(threshold=0.3), a, b)
    assert_metric_laws(bbox_iou(label_weights={LABELS[0]: 2.0, LABELS[1]: 0.0}), a, b)


def test_polygon_overlap() -> None:
    square = [(0, 0), (10, 0), (10, 10), (0, 10)]
    shifted = [(5, 0), (15, 0), (15, 10), (5, 10)]
    assert polygon_iou()([polygon(square)], [polygon(shifted)]) == pytest.approx(50 / 150)
    # The triangle is half the square, inside it.
    triangle = [(0, 0), (10, 0), (0, 10)]
    assert polygon_iou()([polygon(square)], [polygon(triangle)]) == pytest.approx(0.5)
    assert polygon_iou_threshold(threshold=0.5)([polygon(square)], [polygon(triangle)]) == 1.0
    assert polygon_iou_threshold(threshold=0.6)([polygon(square)], [polygon(triangle)]) == 0.0


def test_self_intersecting_polygon_is_made_valid() -> None:
    # A bow tie over the 2 x 2 square is two triangles of area 1 each.
    bow_tie = [(0, 0), (2, 2), (2, 0), (0, 2)]
    square = [(0, 0), (2, 0), (2, 2), (0, 2)]
    assert polygon_iou()([polygon(bow_tie)], [polygon(square)]) == pytest.approx(0.5)
    assert polygon_iou()([polygon(bow_tie)], [polygon(bow_tie)]) == 1.0


def test_degenerate_polygons_score_zero_against_real_ones() -> None:
    square = polygon([(0, 0), (2, 0), (2, 2), (0, 2)])
    line = polygon([(0, 0), (1, 1), (2, 2)])  # no area
    two_points = polygon([(0, 0), (1, 1)])  # not a polygon at all
    for bad in (line, two_points):
        assert polygon_iou()([bad], [square]) == 0.0
        assert polygon_iou()([bad], [bad]) == 1.0


@settings(deadline=None)  # shapely clipping, slow on a loaded machine
@given(st.lists(polygons, max_size=3), st.lists(polygons, max_size=3))
def test_polygon_metric_laws(a: list[ResultItem], b: list[ResultItem]) -> None:
    assert_metric_laws(polygon_iou(), a, b)
    assert_metric_laws(polygon_iou_threshold(threshold=0.5), a, b)


def test_concentric_circles() -> None:
    # Areas pi * 5^2 and pi * 10^2, one inside the other.
    assert ellipse_iou()([ellipse(50, 50, 5, 5)], [ellipse(50, 50, 10, 10)]) == pytest.approx(
        0.25, abs=1e-12
    )


def test_offset_circles_match_the_lens_formula() -> None:
    radius, distance = 10.0, 8.0
    lens = 2 * radius**2 * math.acos(distance / (2 * radius)) - (distance / 2) * math.sqrt(
        4 * radius**2 - distance**2
    )
    expected = lens / (2 * math.pi * radius**2 - lens)
    score = ellipse_iou()([ellipse(50, 50, radius, radius)], [ellipse(58, 50, radius, radius)])
    assert score == pytest.approx(expected, abs=2e-3)


def test_ellipse_rotation() -> None:
    # A 10 x 5 ellipse turned 90 degrees about its centre is the 5 x 10 ellipse.
    turned = ellipse(50, 50, 10, 5, rotation=90)
    assert ellipse_iou()([turned], [ellipse(50, 50, 5, 10)]) == pytest.approx(1.0, abs=1e-9)
    # Unturned, the two cross. Their common part is four elliptic sectors of the narrow
    # way each, from the axis to 45 degrees and back: 4 * a * b * atan(b / a).
    common = 4 * 10 * 5 * math.atan(5 / 10)
    expected = common / (2 * math.pi * 10 * 5 - common)
    score = ellipse_iou()([ellipse(50, 50, 10, 5)], [ellipse(50, 50, 5, 10)])
    assert score == pytest.approx(expected, abs=2e-3)


@settings(deadline=None)  # shapely clipping, slow on a loaded machine
@given(st.lists(ellipses, max_size=3), st.lists(ellipses, max_size=3))
def test_ellipse_metric_laws(a: list[ResultItem], b: list[ResultItem]) -> None:
    assert_metric_laws(ellipse_iou(), a, b)
    assert_metric_laws(ellipse_iou_threshold(threshold=0.5), a, b)


def test_coordinates_near_the_float_limit_score_zero_without_warnings() -> None:
    # Overflow inside numpy or GEOS must not warn (pytest turns warnings into errors here)
    # nor count as agreement.
    big = 1.7e308
    cases = [
        (bbox_iou(), box(big, big, big, big, 30), box(-big, 0, big, big, 45)),
        (
            polygon_iou(),
            polygon([(big, 0), (0, big), (-big, -big)]),
            polygon([(0, 0), (1, 0), (0, 1)]),
        ),
        (ellipse_iou(), ellipse(-big, -big, big, big, 30), ellipse(big, big, big, 1, 40)),
    ]
    for metric, a, b in cases:
        assert metric([a], [b]) == 0.0
        assert metric([a], [a]) == 1.0
