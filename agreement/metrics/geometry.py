"""Image region metrics: IoU of rectangles (with rotation), polygons and ellipses.

Label Studio Enterprise's defaults for ``RectangleLabels``/``Rectangle`` and
``PolygonLabels``/``Polygon`` are "Intersection over Union" and "Polygon IoU", each with a
threshold variant (docs.humansignal.com/guide/agreement_metrics); regions are matched by
label as :mod:`agreement.metrics.regions` describes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import shapely
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry

from .base import Metric
from .fields import fraction
from .regions import region_metric
from .shapes import Box, Shape, read_box, read_ellipse, read_outline


def area_iou(geometry_a: BaseGeometry, geometry_b: BaseGeometry) -> float:
    """Intersection area over union area of two shapely geometries, in [0, 1].

    0.0 when the union has no area or GEOS cannot intersect the two (a degenerate
    outline), so a bad shape costs agreement rather than crashing the stream.
    """
    # Coordinates near the float limit overflow inside GEOS; the result is then inf or
    # NaN, which the checks below turn into 0, so numpy's warnings would only be noise.
    with np.errstate(all="ignore"):
        try:
            intersection = shapely.intersection(geometry_a, geometry_b).area
        except GEOSException:
            return 0.0
        union = geometry_a.area + geometry_b.area - intersection
    if not union > 0.0:
        return 0.0
    return fraction(intersection / union)


def box_iou(box_a: Box, box_b: Box) -> float:
    """IoU of two Label Studio rectangles, rotation included, in [0, 1].

    Shortcut: two unrotated boxes are intersected by interval arithmetic in percent units
    (about 1.5 us, against some 60 us to build and clip two shapely polygons), equal to
    the polygon IoU within 1e-12 (the tests compare both); IoU does not change when y is
    rescaled, so the aspect is not needed.
    """
    x_a, y_a, width_a, height_a, rotation_a, _ = box_a.params
    x_b, y_b, width_b, height_b, rotation_b, _ = box_b.params
    if rotation_a == 0.0 and rotation_b == 0.0:
        right_a, right_b, bottom_a, bottom_b = x_a + width_a, x_b + width_b, \
            y_a + height_a, y_b + height_b
        across = min(right_a, right_b) - max(x_a, x_b)
        down = min(bottom_a, bottom_b) - max(y_a, y_b)
        if across <= 0.0 or down <= 0.0:
            return 0.0
        intersection = across * down
        if intersection <= 0.0:
            return 0.0  # subnormal sides: the area underflows, as shapely's does
        # Areas from the corners, as the polygons have them, not from width and height:
        # (1 + 1e-7) - 1 is not 1e-7, and two equal boxes must score exactly 1.
        union = (right_a - x_a) * (bottom_a - y_a) + (right_b - x_b) * (bottom_b - y_b) \
            - intersection
        return fraction(intersection / union)
    return area_iou(box_a.geometry, box_b.geometry)


def shape_iou(shape_a: Shape, shape_b: Shape) -> float:
    """IoU of two shapes of any kind through their shapely geometry, in [0, 1]."""
    return area_iou(shape_a.geometry, shape_b.geometry)


def bbox_iou(*, label_weights: Mapping[str, float] | None = None) -> Metric:
    """Rectangles: mean IoU of label-matched boxes (default for ``rectanglelabels``).

    Parameters
    ----------
    label_weights
        Optional ``{label: weight >= 0}``; unlisted labels weigh 1, weight 0 drops a label.

    Returns
    -------
    Metric
        ``(items_a, items_b) -> score in [0, 1]``: the sum of matched IoUs over
        ``n_a + n_b - n_matched``. Rotation is in degrees about the top-left corner.
    """
    return region_metric(read_box, box_iou, label_weights)


def bbox_iou_threshold(
    *, threshold: float = 0.5, label_weights: Mapping[str, float] | None = None
) -> Metric:
    """Rectangles: share of label-matched boxes with IoU >= ``threshold`` (in [0, 1]).

    Boxes are matched on raw IoU as in :func:`bbox_iou`; a matched pair then scores 1 or
    0, an unmatched box 0.
    """
    return region_metric(read_box, box_iou, label_weights, threshold)


def polygon_iou(*, label_weights: Mapping[str, float] | None = None) -> Metric:
    """Polygons: mean IoU of label-matched polygons (default for ``polygonlabels``).

    Self-intersecting outlines are repaired with ``shapely.make_valid``; an outline with
    fewer than three points or a non-numeric coordinate is unusable (scores 0). Other
    parameters and the score are as in :func:`bbox_iou`.
    """
    return region_metric(read_outline, shape_iou, label_weights)


def polygon_iou_threshold(
    *, threshold: float = 0.5, label_weights: Mapping[str, float] | None = None
) -> Metric:
    """Polygons: share of label-matched polygons with IoU >= ``threshold`` (in [0, 1])."""
    return region_metric(read_outline, shape_iou, label_weights, threshold)


def ellipse_iou(*, label_weights: Mapping[str, float] | None = None) -> Metric:
    """Ellipses: mean IoU of label-matched ellipses (default for ``ellipselabels``).

    Each ellipse is a 64-sided polygon of the same area, so IoU is exact for identical
    ellipses and within about 1e-3 otherwise. Label Studio Enterprise scores ellipses by
    exact match; IoU gives partial credit to nearly equal ellipses instead.
    """
    return region_metric(read_ellipse, shape_iou, label_weights)


def ellipse_iou_threshold(
    *, threshold: float = 0.5, label_weights: Mapping[str, float] | None = None
) -> Metric:
    """Ellipses: share of label-matched ellipses with IoU >= ``threshold`` (in [0, 1])."""
    return region_metric(read_ellipse, shape_iou, label_weights, threshold)
