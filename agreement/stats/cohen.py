"""Cohen's kappa of two annotators, unweighted or weighted (Cohen 1960, 1968)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
from numpy.typing import NDArray

WEIGHTS = (None, "linear", "quadratic")
"""Weightings of :func:`agreement.cohen_kappa`, as scikit-learn's ``cohen_kappa_score``."""


def category_order(labels: Sequence[Hashable], weights: str | None) -> list[int]:
    """Indices of ``labels`` in the order the weighting needs.

    Weighted kappa weighs a disagreement by the distance of the two labels' ranks in
    sort order (scikit-learn's convention with ``labels=None``), so the labels must
    sort; unweighted kappa does not depend on the order.
    """
    if weights not in WEIGHTS:
        raise ValueError(f"unknown weights {weights!r}; use None, 'linear' or 'quadratic'")
    if weights is None:
        return list(range(len(labels)))
    try:
        return sorted(range(len(labels)), key=lambda i: labels[i])  # type: ignore[arg-type,return-value]
    except TypeError:
        raise ValueError(
            f"weights={weights!r} ranks labels in sort order, but these labels do not sort "
            f"({labels[:5]!r}); use labels of one type, or weights=None"
        ) from None


def kappa_from_confusion(confusion: NDArray[np.int64], weights: str | None) -> float:
    """Cohen's kappa from a confusion table whose categories are in rank order.

    Parameters
    ----------
    confusion : ndarray of int, shape (K, K)
        ``confusion[i, j]``: items annotator A put in category i and B in category j.
    weights : {None, "linear", "quadratic"}
        Disagreement weight of categories i, j: 1 if i != j; |i - j|; (i - j)^2.

    Returns
    -------
    float
        1 - n * sum(w * confusion) / sum(w * outer(rows, columns)), computed in integers
        and divided once, so it does not depend on the order of the items.
    """
    n = int(confusion.sum())
    if n == 0:
        raise ValueError("Cohen's kappa needs at least one item rated by both annotators")
    ranks = np.arange(len(confusion))
    distance = np.abs(np.subtract.outer(ranks, ranks))
    if weights is None:
        weight = (distance != 0).astype(np.int64)
    elif weights == "linear":
        weight = distance
    else:
        weight = distance**2
    # The expected sum is below n^2 K^2; past int64, Python integers keep it exact.
    kind: type = np.int64 if n * len(confusion) < 2**31 else object
    observed = int((weight.astype(kind) * confusion.astype(kind)).sum())
    rows, columns = confusion.sum(axis=1).astype(kind), confusion.sum(axis=0).astype(kind)
    expected = int((weight.astype(kind) * np.outer(rows, columns)).sum())
    if expected == 0:
        raise ValueError(
            "Cohen's kappa is undefined when both annotators used one and the same label "
            "only (chance agreement is 1); it needs two labels"
        )
    return 1.0 - (n * observed) / expected


def _plain(labels: Sequence[Hashable]) -> list[Hashable]:
    # numpy scalars become Python ones; a list is not passed through np.asarray, which
    # would turn [1, "a"] into ["1", "a"].
    return labels.tolist() if isinstance(labels, np.ndarray) else list(labels)


def cohen_kappa(
    labels_a: Sequence[Hashable], labels_b: Sequence[Hashable], weights: str | None = None
) -> float:
    """Cohen's kappa between two annotators' labels of the same items.

    Parameters
    ----------
    labels_a, labels_b : sequence of hashable, length N
        The label each annotator gave to item i; any hashable labels (strings, numbers).
    weights : {None, "linear", "quadratic"}
        Weighted kappa ranks the labels that occur in sort order (they must sort),
        as scikit-learn's ``cohen_kappa_score(labels=None, weights=...)``.

    Returns
    -------
    float
        Equals ``sklearn.metrics.cohen_kappa_score`` to rounding.

    Raises
    ------
    ValueError
        Lengths differ; no item; both annotators used the same single label
        (scikit-learn warns and returns NaN there); labels that do not sort, weighted.
    """
    if len(labels_a) != len(labels_b):
        raise ValueError(
            f"labels_a has {len(labels_a)} items and labels_b {len(labels_b)}; pass the two "
            "annotators' labels of the same items, in the same order"
        )
    index: dict[Hashable, int] = {}
    codes_a = [index.setdefault(label, len(index)) for label in _plain(labels_a)]
    codes_b = [index.setdefault(label, len(index)) for label in _plain(labels_b)]
    labels = list(index)
    order = category_order(labels, weights)
    rank = np.empty(len(labels), dtype=np.intp)
    rank[order] = np.arange(len(labels))
    confusion = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(confusion, (rank[codes_a], rank[codes_b]), 1)
    return kappa_from_confusion(confusion, weights)
