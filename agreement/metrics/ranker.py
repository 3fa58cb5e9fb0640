"""Ranker metric: agreement of two rankings, bucket-aware Kendall tau.

A ``ranker`` value (labelstud.io/tags/ranker) is either a list of item ids in ranked
order, ``{"ranker": ["mdn", "wiki", "blog"]}``, or, with ``Bucket`` tags, a dict of bucket
name to the ids placed in it, each list in ranked order:
``{"ranker": {"best": ["mdn"], "ads": ["blog"]}}``. A plain list is one unnamed bucket.

The score multiplies two parts, each in [0, 1]:

- placement: the Jaccard similarity of the ``(bucket, id)`` placements, so an item put in
  another bucket, or ranked by only one annotator, costs agreement;
- order: ``1 - normalized Kendall tau distance`` over the pairs of items that both
  annotations put in the same bucket: the share of those pairs ranked in the same order,
  ``(1 + tau) / 2`` for Kendall's tau-a. 1.0 when there is no such pair.

Two equal rankings score 1.0, the reverse order of the same items 0.0. Label Studio
Enterprise lists "Average precision for ranking" for Ranker without a formula; Kendall
tau is the standard measure of agreement between two rankings (Kendall 1938) and needs
no relevance labels. A value that is not a list or dict of id lists makes the tag fall
back to exact match.
"""

from __future__ import annotations

from collections.abc import Hashable
from itertools import combinations
from typing import Any

from .base import ResultItem
from .classification import exact_match
from .fields import value_of

Placements = dict[tuple[Any, Hashable], int]
"""``(bucket, item id) -> position in the bucket``; the bucket is ``None`` for a list."""


def _ids(raw: Any) -> list[Hashable] | None:
    if not isinstance(raw, list):
        return None
    for entry in raw:
        if isinstance(entry, bool) or not isinstance(entry, str | int):
            return None
    return raw


def placements(items: list[ResultItem]) -> Placements | None:
    """Where each item id sits, by bucket; ``None`` if a ranker value is unusable.

    An id placed twice keeps its first place: Label Studio lets an item sit in one
    bucket only, so a repeat is noise rather than a second opinion.
    """
    placed: Placements = {}
    seen: set[Hashable] = set()
    sizes: dict[Any, int] = {}
    for item in items:
        value = value_of(item)
        raw = None if value is None else value.get("ranker")
        if isinstance(raw, dict):
            buckets = [(name, _ids(ids)) for name, ids in raw.items()]
        else:
            buckets = [(None, _ids(raw))]
        for bucket, ids in buckets:
            if ids is None:
                return None
            for item_id in ids:
                if item_id in seen:
                    continue
                seen.add(item_id)
                placed[(bucket, item_id)] = sizes.get(bucket, 0)
                sizes[bucket] = sizes.get(bucket, 0) + 1
    return placed


def _order_agreement(placed_a: Placements, placed_b: Placements) -> float:
    common: dict[Any, list[Hashable]] = {}
    for bucket, item_id in placed_a.keys() & placed_b.keys():
        common.setdefault(bucket, []).append(item_id)
    pairs = discordant = 0
    for bucket, ids in common.items():
        for first, second in combinations(ids, 2):
            pairs += 1
            before_a = placed_a[(bucket, first)] < placed_a[(bucket, second)]
            before_b = placed_b[(bucket, first)] < placed_b[(bucket, second)]
            discordant += before_a != before_b
    return 1.0 if pairs == 0 else 1.0 - discordant / pairs


def ranker_kendall(items_a: list[ResultItem], items_b: list[ResultItem]) -> float:
    """Ranker (default): placement Jaccard times within-bucket Kendall order agreement.

    Parameters
    ----------
    items_a, items_b
        The ``ranker`` result items of one tag in two annotations.

    Returns
    -------
    float
        Score in [0, 1] (see the module docstring); 1.0 when neither ranks anything.
        Bitwise symmetric: both parts are ratios of integer counts.
    """
    placed_a, placed_b = placements(items_a), placements(items_b)
    if placed_a is None or placed_b is None:
        return exact_match(items_a, items_b)
    union = len(placed_a.keys() | placed_b.keys())
    if union == 0:
        return 1.0
    shared = len(placed_a.keys() & placed_b.keys())
    if shared == 0:
        return 0.0
    return (shared / union) * _order_agreement(placed_a, placed_b)
