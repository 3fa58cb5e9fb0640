"""Result items shaped like Label Studio's, and hypothesis strategies for them.

Builders take ``Any`` for fields so that tests can pass malformed values on purpose.

Coordinates come from coarse grids and labels from a short list, so that random
annotations overlap, tie and agree often enough to exercise every branch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from agreement.metrics import ResultItem

LABELS = ["Car", "Person", "积极"]


def item(result_type: str, value: dict[str, Any], **extra: Any) -> ResultItem:
    """A result item of tag ``tag`` as Label Studio writes it."""
    return {"from_name": "tag", "to_name": "data", "type": result_type, "value": value, **extra}


def box(
    x: Any,
    y: Any,
    width: Any,
    height: Any,
    rotation: Any = 0.0,
    labels: Sequence[str] = ("Car",),
    **extra: Any,
) -> ResultItem:
    """A ``rectanglelabels`` item; ``extra`` for ``original_width`` and the like."""
    value = {"x": x, "y": y, "width": width, "height": height, "rotation": rotation}
    return item("rectanglelabels", {**value, "rectanglelabels": list(labels)}, **extra)


def polygon(points: Sequence[Sequence[float]], labels: Sequence[str] = ("Car",)) -> ResultItem:
    """A ``polygonlabels`` item."""
    value = {"points": [list(p) for p in points], "polygonlabels": list(labels)}
    return item("polygonlabels", value)


def ellipse(
    x: float,
    y: float,
    radius_x: float,
    radius_y: float,
    rotation: float = 0.0,
    labels: Sequence[str] = ("Car",),
) -> ResultItem:
    """An ``ellipselabels`` item."""
    value = {"x": x, "y": y, "radiusX": radius_x, "radiusY": radius_y, "rotation": rotation}
    return item("ellipselabels", {**value, "ellipselabels": list(labels)})


def span(start: Any, end: Any, labels: Sequence[str] = ("Car",), **fields: Any) -> ResultItem:
    """A ``labels`` span item (text offsets or audio seconds)."""
    return item("labels", {"start": start, "end": end, "labels": list(labels), **fields})


def keypoint(x: Any, y: Any, labels: Sequence[str] = ("Car",)) -> ResultItem:
    """A ``keypointlabels`` item."""
    return item("keypointlabels", {"x": x, "y": y, "width": 0.5, "keypointlabels": list(labels)})


label_sets = st.lists(st.sampled_from(LABELS), min_size=1, max_size=2, unique=True)
grid = st.integers(0, 8).map(lambda step: step * 5.0)
sizes = st.integers(0, 6).map(lambda step: step * 5.0)

boxes = st.builds(
    box, grid, grid, sizes, sizes, st.sampled_from([0.0, 0.0, 30.0, 90.0, 180.0]), label_sets
)
polygons = st.builds(polygon, st.lists(st.tuples(grid, grid), min_size=3, max_size=6), label_sets)
ellipses = st.builds(
    ellipse, grid, grid, sizes, sizes, st.sampled_from([0.0, 45.0, 90.0]), label_sets
)
spans = st.tuples(st.integers(0, 30), st.integers(0, 15), label_sets).map(
    lambda t: span(t[0], t[0] + t[1], t[2])
)
keypoints = st.builds(
    keypoint,
    st.integers(0, 20).map(lambda s: s * 0.5),
    st.integers(0, 20).map(lambda s: s * 0.5),
    label_sets,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
"""Any JSON value, NaN and infinities included: what a malformed field may hold."""


def malformed(result_type: str, keys: Sequence[str]) -> st.SearchStrategy[ResultItem]:
    """Items of ``result_type`` whose ``keys`` hold anything, or whose value is not a dict."""
    values = st.fixed_dictionaries({}, optional={key: json_values for key in keys})
    return st.one_of(
        values.map(lambda value: item(result_type, value)),
        json_values.map(lambda value: {"from_name": "tag", "type": result_type, "value": value}),
    )
