"""Region matching: the regions of two annotations paired label by label, optimally.

Every region metric (boxes, polygons, ellipses, spans, keypoints) scores one tag the same
way and differs only in how it reads a region's shape and compares two shapes:

1. Regions are matched only to regions with the same label set (Label Studio Enterprise:
   "Overlapping can be only considered with matched labels", labelstud.io/guide/stats).
   A multi-label region matches only a region with exactly the same labels, as in
   label-studio-evalme's span IoU (``set(x) == set(y)``).
2. Within a label set, the one-to-one matching maximizing the total similarity is found
   with ``scipy.optimize.linear_sum_assignment``; a pair with similarity 0 (no overlap)
   is not a match.
3. The tag score is ``sum(matched scores) / (n_a + n_b - n_matched)``: each matched pair
   counts once and each unmatched region once, with score 0. Threshold variants turn a
   matched pair's similarity into 1 or 0, so a matched pair below the threshold still
   counts once (the "2 of 3 pairs above 0.5 gives 0.66" example of the Label Studio docs).

Label weights (Label Studio's ``control_weights[tag]["labels"]``) weigh each unit by its
labels' mean weight; a label of weight 0 is dropped from its region, and a region left
with no label is dropped. Unlisted labels weigh 1.

A region whose shape cannot be read (a missing or ill-typed coordinate) matches nothing
except a region with exactly the same value, so it scores 0 against any real region yet
an annotation still agrees with itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from scipy.optimize import linear_sum_assignment

from .base import Metric, ResultItem
from .fields import canonical, check_fraction, check_positive, labels_of, value_of

T = TypeVar("T")
S = TypeVar("S")

ShapeReader = Callable[[ResultItem, dict[str, Any]], Any]
"""``(item, value) -> shape``, or ``None`` when the item's geometry is unusable."""

Similarity = Callable[[Any, Any], float]
"""``(shape, shape) -> similarity in [0, 1]``; 0 means the two regions do not match."""


@dataclass(frozen=True, slots=True)
class Region:
    """One region of a tag, ready to be matched.

    ``group`` is the sorted label set kept after label weights (``None`` when the labels
    field is unreadable), ``weight`` the mean weight of those labels (1.0 without labels),
    ``shape`` what the metric compares (``None`` when unusable) and ``key`` a string equal
    for two regions exactly when their shapes are equal (``repr`` of the shape) or, for
    unusable regions, their values are (canonical JSON); it orders regions.
    """

    group: tuple[str, ...] | None
    weight: float
    shape: Any
    key: str

    @property
    def order(self) -> tuple[bool, tuple[str, ...], str]:
        """Deterministic sort key: by labels, then by value."""
        return (self.group is None, self.group or (), self.key)


def check_label_weights(label_weights: Mapping[str, float] | None) -> dict[str, float] | None:
    """Validated copy of a ``{label: weight}`` mapping; weights finite and >= 0."""
    if label_weights is None:
        return None
    if not isinstance(label_weights, Mapping):
        raise ValueError(
            f"label_weights is {label_weights!r}; use a mapping of label to weight or None"
        )
    return {
        str(label): check_positive(f"weight of label {label!r}", weight, allow_zero=True)
        for label, weight in label_weights.items()
    }


def read_regions(
    items: list[ResultItem], read_shape: ShapeReader, label_weights: dict[str, float] | None
) -> list[Region]:
    """The tag's regions sorted by :attr:`Region.order`, zero-weight labels dropped."""
    regions: list[Region] = []
    for item in items:
        value = value_of(item)
        if value is None:
            # Compared by value alone, like exact_match: region ids differ per annotator.
            raw = item.get("value") if isinstance(item, Mapping) else item
            regions.append(Region(None, 1.0, None, canonical(raw)))
            continue
        labels = labels_of(item, value)
        weight = 1.0
        if labels is not None and label_weights is not None and labels:
            kept = {label: label_weights.get(label, 1.0) for label in labels}
            kept = {label: w for label, w in kept.items() if w > 0.0}
            if not kept:
                continue
            labels = frozenset(kept)
            weight = math.fsum(kept.values()) / len(kept)
        group = None if labels is None else tuple(sorted(labels))
        shape = read_shape(item, value)
        # repr of a shape's floats round-trips, so it identifies the shape exactly, at a
        # fifth of the cost of canonical JSON of the whole value.
        key = canonical(value) if shape is None else repr(shape)
        regions.append(Region(group, weight, shape, key))
    regions.sort(key=lambda region: region.order)
    return regions


def best_matching(
    rows: Sequence[T], cols: Sequence[S], similarity: Callable[[T, S], float]
) -> list[tuple[int, int, float]]:
    """The one-to-one matching of ``rows`` to ``cols`` with the largest total similarity.

    Returns ``(row index, col index, similarity)`` for each matched pair with similarity
    > 0. Similarities must lie in [0, 1]; with no negative entry a maximal complete
    assignment is a maximal matching once its zero pairs are dropped.
    """
    if not rows or not cols:
        return []
    if len(rows) == 1 and len(cols) == 1:
        score = similarity(rows[0], cols[0])
        return [(0, 0, score)] if score > 0.0 else []
    matrix = np.array([[similarity(row, col) for col in cols] for row in rows], dtype=float)
    row_ids, col_ids = linear_sum_assignment(matrix, maximize=True)
    return [
        (int(i), int(j), float(matrix[i, j]))
        for i, j in zip(row_ids, col_ids, strict=True)
        if matrix[i, j] > 0.0
    ]


def match_score(
    regions_a: list[Region],
    regions_b: list[Region],
    similarity: Similarity,
    threshold: float | None = None,
) -> float:
    """Tag score of two sorted region lists (see the module docstring), in [0, 1].

    Parameters
    ----------
    regions_a, regions_b
        Regions of each annotation, sorted by :attr:`Region.order` (as
        :func:`read_regions` returns them).
    similarity
        Shape similarity in [0, 1], called as ``similarity(row, col)`` in one canonical
        orientation, so it need not be symmetric to the last bit.
    threshold
        If given, a matched pair scores 1.0 when its similarity is >= ``threshold`` and
        0.0 otherwise.

    Returns
    -------
    float
        1.0 when both lists are empty or hold the same regions; bitwise symmetric.
    """
    orders_a = [region.order for region in regions_a]
    orders_b = [region.order for region in regions_b]
    if orders_a == orders_b:
        return 1.0
    # Rows are the side with fewer regions, ties broken by the sorted keys, so swapping
    # the annotations builds the same matrix and gets the same number to the last bit.
    if (len(orders_a), orders_a) <= (len(orders_b), orders_b):
        rows, cols = regions_a, regions_b
    else:
        rows, cols = regions_b, regions_a

    def region_similarity(row: Region, col: Region) -> float:
        if row.shape is None or col.shape is None:
            return 1.0 if row.shape is None and col.shape is None and row.key == col.key else 0.0
        if row.shape == col.shape:
            # Exact, where IoU by polygon clipping may round to 0.9999999999999998.
            return 1.0
        return similarity(row.shape, col.shape)

    numerator: list[float] = []
    denominator: list[float] = []
    matched_rows: set[int] = set()
    matched_cols: set[int] = set()
    col_groups = _by_group(cols)
    for group, row_ids in _by_group(rows).items():
        col_ids = col_groups.get(group, [])
        pairs = best_matching(
            [rows[i] for i in row_ids], [cols[j] for j in col_ids], region_similarity
        )
        for i, j, score in pairs:
            row = rows[row_ids[i]]
            if threshold is not None:
                score = 1.0 if score >= threshold else 0.0
            numerator.append(row.weight * score)
            denominator.append(row.weight)
            matched_rows.add(row_ids[i])
            matched_cols.add(col_ids[j])
    denominator.extend(r.weight for i, r in enumerate(rows) if i not in matched_rows)
    denominator.extend(c.weight for j, c in enumerate(cols) if j not in matched_cols)
    total = math.fsum(denominator)
    if total <= 0.0:
        return 1.0
    return min(1.0, math.fsum(numerator) / total)


def _by_group(regions: list[Region]) -> dict[tuple[str, ...] | None, list[int]]:
    groups: dict[tuple[str, ...] | None, list[int]] = {}
    for index, region in enumerate(regions):
        groups.setdefault(region.group, []).append(index)
    return groups


def region_metric(
    read_shape: ShapeReader,
    similarity: Similarity,
    label_weights: Mapping[str, float] | None,
    threshold: float | None = None,
) -> Metric:
    """A tag metric matching regions read by ``read_shape`` and compared by ``similarity``.

    Validates ``label_weights`` and ``threshold`` (in [0, 1]) once, when the metric is made.
    """
    weights = check_label_weights(label_weights)
    bound = None if threshold is None else check_fraction("threshold", threshold)

    def metric(items_a: list[ResultItem], items_b: list[ResultItem]) -> float:
        return match_score(
            read_regions(items_a, read_shape, weights),
            read_regions(items_b, read_shape, weights),
            similarity,
            bound,
        )

    return metric
