"""Image region shapes read from Label Studio values: rectangles, polygons, ellipses.

Coordinates in a Label Studio image result are percent of the image width (``x``) and
height (``y``), so a rotation in percent units would shear a box on a non-square image.
Shapes are therefore built in "aspect" units: x in percent of the width, y in percent of
the width too (``y * original_height / original_width``), which is pixel space scaled by
``100 / original_width``. IoU is invariant under that uniform scaling, so it is the pixel
IoU. Without ``original_width``/``original_height`` on the item the image is taken as
square.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry

from .base import ResultItem
from .fields import number

# Sides of the polygon standing for an ellipse; radii are scaled so the polygon has the
# ellipse's exact area, which leaves IoU errors around 1e-3 (see tests).
ELLIPSE_SIDES = 64
_ELLIPSE_SCALE = math.sqrt(
    2.0 * math.pi / (ELLIPSE_SIDES * math.sin(2.0 * math.pi / ELLIPSE_SIDES))
)
_ELLIPSE_ANGLES = np.linspace(0.0, 2.0 * math.pi, ELLIPSE_SIDES, endpoint=False)


class Shape:
    """A region's geometry: compared by its parameters, built into shapely on first use."""

    __slots__ = ("_geometry", "params")

    def __init__(self, params: tuple[Any, ...]) -> None:
        self.params = params
        self._geometry: BaseGeometry | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Shape) or type(other) is not type(self):
            return False
        return other.params == self.params

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.params))

    def __repr__(self) -> str:
        return f"{type(self).__name__}{self.params!r}"

    @property
    def geometry(self) -> BaseGeometry:
        """The shape as a valid shapely geometry in aspect units (cached)."""
        if self._geometry is None:
            # Coordinates near the float limit overflow to inf here; such a shape ends up
            # with no usable area and scores 0, so numpy's warnings would only be noise.
            with np.errstate(all="ignore"):
                try:
                    self._geometry = self._build()
                except (GEOSException, ValueError):
                    self._geometry = shapely.Polygon()
        return self._geometry

    def _build(self) -> BaseGeometry:
        raise NotImplementedError


class Box(Shape):
    """Rectangle ``(x, y, width, height, rotation, aspect)``, Label Studio's fields.

    ``rotation`` is in degrees, clockwise on screen (y points down), about the top-left
    corner ``(x, y)``: the corners follow label-studio-sdk's
    ``converter/utils.py:convert_annotation_to_yolo_obb``.
    """

    __slots__ = ()

    def _build(self) -> BaseGeometry:
        x, y, width, height, rotation, aspect = self.params
        y, height = y * aspect, height * aspect
        angle = math.radians(rotation)
        cos, sin = math.cos(angle), math.sin(angle)
        return shapely.Polygon(
            [
                (x, y),
                (x + width * cos, y + width * sin),
                (x + width * cos - height * sin, y + width * sin + height * cos),
                (x - height * sin, y + height * cos),
            ]
        )


class Outline(Shape):
    """Polygon ``(points, aspect)``; a self-intersecting outline is fixed by ``make_valid``."""

    __slots__ = ()

    def _build(self) -> BaseGeometry:
        points, aspect = self.params
        polygon = shapely.Polygon([(x, y * aspect) for x, y in points])
        if polygon.is_valid:
            return polygon
        # make_valid splits a bow tie into its loops and may add zero-area lines; only
        # the polygonal parts have an area to intersect.
        parts = shapely.get_parts(shapely.make_valid(polygon))
        areas = [part for part in parts if part.geom_type in ("Polygon", "MultiPolygon")]
        return shapely.union_all(areas) if areas else shapely.Polygon()


class Ellipse(Shape):
    """Ellipse ``(x, y, radiusX, radiusY, rotation, aspect)``: centre, radii in percent of
    width and height, rotation in degrees clockwise about the centre.
    """

    __slots__ = ()

    def _build(self) -> BaseGeometry:
        x, y, radius_x, radius_y, rotation, aspect = self.params
        angle = math.radians(rotation)
        cos, sin = math.cos(angle), math.sin(angle)
        along = radius_x * _ELLIPSE_SCALE * np.cos(_ELLIPSE_ANGLES)
        across = radius_y * aspect * _ELLIPSE_SCALE * np.sin(_ELLIPSE_ANGLES)
        xs = x + along * cos - across * sin
        ys = y * aspect + along * sin + across * cos
        return shapely.Polygon(np.column_stack((xs, ys)))


def aspect_of(item: ResultItem) -> float:
    """``original_height / original_width`` of the item's image, 1.0 when not given."""
    width = number(item.get("original_width"))
    height = number(item.get("original_height"))
    if width is None or height is None or width <= 0.0 or height <= 0.0:
        return 1.0
    return height / width


def _rotation(value: dict[str, Any]) -> float | None:
    raw = value.get("rotation")
    return 0.0 if raw is None else number(raw)


def read_box(item: ResultItem, value: dict[str, Any]) -> Box | None:
    """The rectangle of a ``rectanglelabels``/``rectangle`` value; ``None`` if unusable."""
    fields = [number(value.get(key)) for key in ("x", "y", "width", "height")]
    rotation = _rotation(value)
    if rotation is None or any(field is None for field in fields):
        return None
    x, y, width, height = (float(field) for field in fields)  # type: ignore[arg-type]
    if width < 0.0 or height < 0.0:
        return None
    return Box((x, y, width, height, rotation, aspect_of(item)))


def read_outline(item: ResultItem, value: dict[str, Any]) -> Outline | None:
    """The polygon of a ``polygonlabels``/``polygon`` value; ``None`` if unusable.

    Needs at least three ``[x, y]`` points of finite numbers.
    """
    raw = value.get("points")
    if not isinstance(raw, list) or len(raw) < 3:
        return None
    points: list[tuple[float, float]] = []
    for point in raw:
        if not isinstance(point, list | tuple) or len(point) != 2:
            return None
        x, y = number(point[0]), number(point[1])
        if x is None or y is None:
            return None
        points.append((x, y))
    return Outline((tuple(points), aspect_of(item)))


def read_ellipse(item: ResultItem, value: dict[str, Any]) -> Ellipse | None:
    """The ellipse of an ``ellipselabels``/``ellipse`` value; ``None`` if unusable."""
    fields = [number(value.get(key)) for key in ("x", "y", "radiusX", "radiusY")]
    rotation = _rotation(value)
    if rotation is None or any(field is None for field in fields):
        return None
    x, y, radius_x, radius_y = (float(field) for field in fields)  # type: ignore[arg-type]
    if radius_x < 0.0 or radius_y < 0.0:
        return None
    return Ellipse((x, y, radius_x, radius_y, rotation, aspect_of(item)))
