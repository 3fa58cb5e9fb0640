"""Classification metrics: choices, taxonomy, datetime, pairwise, and the exact-match
fallback.

Label Studio Enterprise scores ``Choices``, ``Taxonomy``, ``Pairwise`` and ``DateTime`` by
exact match, multi-choice with partial credit by Jaccard, and offers taxonomy path
matching with partial credit along the path (docs.humansignal.com/guide/agreement_metrics).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable
from collections.abc import Set as AbstractSet
from typing import Any

from .base import ResultItem
from .fields import canonical, strings, value_of
from .regions import best_matching


def jaccard(a: AbstractSet[Hashable], b: AbstractSet[Hashable]) -> float:
    """Jaccard similarity ``|a & b| / |a | b|`` of two sets, in [0, 1]; 1.0 when both are empty."""
    if a == b:
        return 1.0
    return len(a & b) / len(a | b)


def _field_values(items: list[ResultItem], field: str) -> list[Any] | None:
    """Every item's ``value[field]`` list concatenated; ``None`` if one is not a list."""
    collected: list[Any] = []
    for item in items:
        value = value_of(item)
        raw = None if value is None else value.get(field, [])
        if not isinstance(raw, list):
            return None
        collected.extend(raw)
    return collected


def _paths(items: list[ResultItem]) -> list[tuple[str, ...]] | None:
    """The distinct selected taxonomy paths, sorted; ``None`` if one is not strings."""
    raw = _field_values(items, "taxonomy")
    if raw is None:
        return None
    paths: set[tuple[str, ...]] = set()
    for path in raw:
        nodes = strings(path)
        if nodes is None:
            return None
        paths.add(tuple(nodes))
    return sorted(paths)


def choices(items_a: list[ResultItem], items_b: list[ResultItem]) -> float:
    """Choices: exact match of the chosen labels, Jaccard partial credit for multi-choice.

    The labels of all items of the tag form one set per annotation, so a single choice
    scores 1.0 or 0.0 and ``["a", "b"]`` against ``["b", "c"]`` scores 1/3. Both empty
    scores 1.0 (two annotators who chose nothing agree). A ``choices`` field that is not
    a list of strings falls back to exact match.
    """
    # Hot path: one item per side, as Label Studio writes for a Choices tag. Equal lists
    # are equal sets, so the common agreeing case costs no set at all.
    if len(items_a) == 1 and len(items_b) == 1:
        value_a, value_b = value_of(items_a[0]), value_of(items_b[0])
        if value_a is not None and value_b is not None:
            chosen_a = value_a.get("choices", ())
            chosen_b = value_b.get("choices", ())
            if chosen_a == chosen_b:
                return 1.0
            # Two different single choices, the commonest disagreement: no sets needed.
            if (
                chosen_a.__class__ is list
                and chosen_b.__class__ is list
                and len(chosen_a) == 1
                and len(chosen_b) == 1
                and chosen_a[0].__class__ is str
                and chosen_b[0].__class__ is str
            ):
                return 0.0
    chosen_a = strings(_field_values(items_a, "choices"))
    chosen_b = strings(_field_values(items_b, "choices"))
    if chosen_a is None or chosen_b is None:
        return exact_match(items_a, items_b)
    return jaccard(set(chosen_a), set(chosen_b))


def taxonomy(items_a: list[ResultItem], items_b: list[ResultItem]) -> float:
    """Taxonomy: Jaccard over the selected paths, each path compared whole.

    ``value["taxonomy"]`` is a list of paths, each a list of node names from the root, so
    ``[["Animal", "Cat"]]`` and ``[["Animal"]]`` are different selections. Both empty
    scores 1.0; a path that is not a list of strings falls back to exact match.
    """
    paths_a, paths_b = _paths(items_a), _paths(items_b)
    if paths_a is None or paths_b is None:
        return exact_match(items_a, items_b)
    return jaccard(set(paths_a), set(paths_b))


def exact_match(items_a: list[ResultItem], items_b: list[ResultItem]) -> float:
    """Fallback for types without a metric: 1.0 if both hold the same multiset of values.

    Only each item's ``value`` is compared: the item ``id`` (a region id, different for
    every annotator), ``origin`` and ``score`` (provenance of a prediction) say nothing
    about the label itself. Item order does not matter; duplicates do.
    """
    if len(items_a) != len(items_b):
        return 0.0
    same = Counter(canonical(i.get("value")) for i in items_a) == Counter(
        canonical(i.get("value")) for i in items_b
    )
    return 1.0 if same else 0.0


def choices_exact(items_a: list[ResultItem], items_b: list[ResultItem]) -> float:
    """Choices, all or nothing: 1.0 if both chose the same set of labels, else 0.0.

    Label Studio's "Exact matching choices" (labelstud.io/guide/stats): no partial credit
    for multi-choice, unlike :func:`choices`. Order does not matter; both empty scores
    1.0. A ``choices`` field that is not a list of strings falls back to exact match.
    """
    chosen_a = strings(_field_values(items_a, "choices"))
    chosen_b = strings(_field_values(items_b, "choices"))
    if chosen_a is None or chosen_b is None:
        return exact_match(items_a, items_b)
    return 1.0 if set(chosen_a) == set(chosen_b) else 0.0


def path_similarity(path_a: tuple[str, ...], path_b: tuple[str, ...]) -> float:
    """Length of the common prefix over the length of the longer path, in [0, 1].

    ``("Animal", "Cat")`` vs ``("Animal", "Dog")`` and ``("Animal",)`` vs
    ``("Animal", "Cat")`` both score 1/2: one of two levels agreed.
    """
    if path_a == path_b:
        return 1.0
    shared = 0
    for node_a, node_b in zip(path_a, path_b, strict=False):
        if node_a != node_b:
            break
        shared += 1
    return shared / max(len(path_a), len(path_b))


def taxonomy_prefix(items_a: list[ResultItem], items_b: list[ResultItem]) -> float:
    """Taxonomy with partial credit for a shared path prefix, in [0, 1].

    Label Studio Enterprise's "Taxonomy Path Matching" gives "partial credit along
    taxonomy paths" without a formula; here each selected path is paired one-to-one with
    a path of the other annotation (the pairing with the largest total, by
    ``linear_sum_assignment``), a pair scores :func:`path_similarity`, and the tag score is
    ``sum(pair scores) / (n_a + n_b - n_pairs)``, paths sharing no first node left
    unpaired. When every pair agrees fully or not at all this is the Jaccard index of
    :func:`taxonomy`. Both empty scores 1.0; a malformed path falls back to exact match.
    """
    paths_a, paths_b = _paths(items_a), _paths(items_b)
    if paths_a is None or paths_b is None:
        return exact_match(items_a, items_b)
    if paths_a == paths_b:
        return 1.0
    # One canonical orientation, so swapping the annotations cannot change a bit.
    rows, cols = sorted([paths_a, paths_b], key=lambda paths: (len(paths), paths))
    pairs = best_matching(rows, cols, path_similarity)
    return math.fsum(score for _, _, score in pairs) / (len(rows) + len(cols) - len(pairs))


def _exact_field(items_a: list[ResultItem], items_b: list[ResultItem], field: str) -> float:
    def answers(items: list[ResultItem]) -> Counter[str]:
        counts: Counter[str] = Counter()
        for item in items:
            value = value_of(item)
            # A value without the field is compared whole, so it only agrees with itself.
            counts[canonical(item if value is None else value.get(field, value))] += 1
        return counts

    return 1.0 if answers(items_a) == answers(items_b) else 0.0


def datetime_exact(items_a: list[ResultItem], items_b: list[ResultItem]) -> float:
    """DateTime (default): 1.0 if both hold the same ``value.datetime`` strings, else 0.0.

    Label Studio Enterprise's default for DateTime is exact match; the strings are
    compared as written (the tag writes one format per project). Both empty scores 1.0.
    """
    return _exact_field(items_a, items_b, "datetime")


def pairwise_exact(items_a: list[ResultItem], items_b: list[ResultItem]) -> float:
    """Pairwise (default): 1.0 if both chose the same side (``value.selected``), else 0.0.

    Label Studio's "Exact matching pairwise comparison"; ``selected`` is ``"left"`` or
    ``"right"``. Both empty scores 1.0.
    """
    return _exact_field(items_a, items_b, "selected")
