"""Classification metrics: choices, taxonomy, and the exact-match fallback."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Hashable, Iterable
from collections.abc import Set as AbstractSet
from typing import Any

from .base import ResultItem


def jaccard(a: AbstractSet[Hashable], b: AbstractSet[Hashable]) -> float:
    """Jaccard similarity ``|a & b| / |a | b|`` of two sets, in [0, 1]; 1.0 when both are empty."""
    if a == b:
        return 1.0
    return len(a & b) / len(a | b)


def _values(items: Iterable[ResultItem], key: str) -> Iterable[Any]:
    for item in items:
        yield from item["value"].get(key, ())


def choices(items_a: list[ResultItem], items_b: list[ResultItem]) -> float:
    """Choices: exact match of the chosen labels, Jaccard partial credit for multi-choice.

    The labels of all items of the tag form one set per annotation, so a single choice
    scores 1.0 or 0.0 and ``["a", "b"]`` against ``["b", "c"]`` scores 1/3. Both empty
    scores 1.0 (two annotators who chose nothing agree).
    """
    # Hot path: one item per side, as Label Studio writes for a Choices tag. Equal lists
    # are equal sets, so the common agreeing case costs no set at all.
    if len(items_a) == 1 and len(items_b) == 1:
        chosen_a = items_a[0]["value"].get("choices", ())
        chosen_b = items_b[0]["value"].get("choices", ())
        if chosen_a == chosen_b:
            return 1.0
        return jaccard(set(chosen_a), set(chosen_b))
    return jaccard(set(_values(items_a, "choices")), set(_values(items_b, "choices")))


def taxonomy(items_a: list[ResultItem], items_b: list[ResultItem]) -> float:
    """Taxonomy: Jaccard over the selected paths, each path compared whole.

    ``value["taxonomy"]`` is a list of paths, each a list of node names from the root, so
    ``[["Animal", "Cat"]]`` and ``[["Animal"]]`` are different selections. Both empty
    scores 1.0.
    """
    paths_a = {tuple(path) for path in _values(items_a, "taxonomy")}
    paths_b = {tuple(path) for path in _values(items_b, "taxonomy")}
    return jaccard(paths_a, paths_b)


def _canonical(value: Any) -> str:
    # Sorted keys make two equal dicts one string whatever their key order on the wire.
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def exact_match(items_a: list[ResultItem], items_b: list[ResultItem]) -> float:
    """Fallback for types without a metric: 1.0 if both hold the same multiset of values.

    Only each item's ``value`` is compared: the item ``id`` (a region id, different for
    every annotator), ``origin`` and ``score`` (provenance of a prediction) say nothing
    about the label itself. Item order does not matter; duplicates do.
    """
    if len(items_a) != len(items_b):
        return 0.0
    same = Counter(_canonical(i.get("value")) for i in items_a) == Counter(
        _canonical(i.get("value")) for i in items_b
    )
    return 1.0 if same else 0.0
