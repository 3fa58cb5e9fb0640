"""Krippendorff's alpha, the coincidence matrix and per-label agreement, from pair counts.

The one place where the formulas live: the batch function and the accumulator both end
here with the same integers, so they return the same floats. References: Krippendorff
(2011), "Computing Krippendorff's Alpha-Reliability", sections C-F (coincidences,
marginals, the four difference functions); the per-label form is the binary "value c
against all other values" alpha of the collapsed coincidence matrix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .codebook import Value
from .levels import check_level, differences, value_order
from .pairs import PairCounts, marginals


@dataclass(frozen=True, slots=True)
class LabelAgreement:
    """How reliably one value (label) is used, from the coincidence matrix.

    ``pairable`` is n_c, the pairable values equal to this one. ``agreement`` is
    o_cc / n_c: of the values c in pairable units, the share whose pair partners (from
    other annotators) are also c; with two annotators per unit it is the specific
    agreement 2 n_cc / (n_c. + n_.c). ``alpha`` is nominal alpha with every other value
    lumped into "not c", NaN when undefined (no other value is pairable).
    """

    value: Value
    pairable: int
    agreement: float
    alpha: float


def _sizes(pairs: PairCounts) -> list[int]:
    # Summing per-size terms in ascending size keeps the float result independent of the
    # order in which sizes first appeared.
    return sorted(size for size, counts in pairs.items() if counts.any())


def alpha_from_pairs(
    values: Sequence[Value],
    pairs: PairCounts,
    level: str,
    value_domain: Sequence[object] | None = None,
) -> float:
    """Krippendorff's alpha = 1 - D_o / D_e from pair counts by unit size.

    Parameters
    ----------
    values : sequence of V values
        The value of each row/column of the pair counts.
    pairs : PairCounts
        Unit size m -> P_m, shape (V, V) (see :mod:`agreement.stats.pairs`).
    level : str
        ``"nominal"``, ``"ordinal"``, ``"interval"`` or ``"ratio"``.
    value_domain : sequence, optional
        Possible values in order; required for ordinal labels that do not sort by name.

    Returns
    -------
    float
        In [-1, 1] in practice (1 is perfect agreement, 0 chance agreement).

    Raises
    ------
    ValueError
        Unknown level; no pairable unit; all pairable values equal (D_e = 0: alpha is
        0/0, where the krippendorff package returns NaN or raises).
    """
    check_level(level)
    n_c = marginals(pairs, len(values))
    total = int(n_c.sum())
    if total == 0:
        raise ValueError(
            "Krippendorff's alpha needs at least one unit with values from two or more "
            "annotators; no unit is pairable yet"
        )
    kept = np.flatnonzero(n_c)
    sizes = _sizes(pairs)
    expected: float
    if level == "nominal":
        # Nominal needs only totals and traces, all integers: exact until the division.
        observed = math.fsum(
            (int(pairs[m].sum()) - int(np.trace(pairs[m]))) / (m - 1) for m in sizes
        )
        expected = total * total - int((n_c * n_c).sum())
    else:
        order = kept[value_order([values[i] for i in kept.tolist()], level, value_domain)]
        numbers = (
            np.zeros(len(order))
            if level == "ordinal"
            else np.array([values[i] for i in order.tolist()], dtype=np.float64)
        )
        delta = differences(level, numbers, n_c[order])
        grid = np.ix_(order, order)
        observed = math.fsum(float((pairs[m][grid] * delta).sum()) / (m - 1) for m in sizes)
        weights = n_c[order].astype(np.float64)
        expected = float((np.outer(weights, weights) * delta).sum())
    if expected == 0:
        raise ValueError(
            "Krippendorff's alpha is undefined when every pairable value is the same "
            "(no variation: expected disagreement is 0); it needs two different values"
        )
    return 1.0 - (total - 1) * observed / expected


def coincidences_from_pairs(
    values: Sequence[Value], pairs: PairCounts
) -> tuple[list[Value], NDArray[np.float64]]:
    """Krippendorff's coincidence matrix o_ck over the pairable values.

    Returns
    -------
    values : list of V' values
        The values that occur in pairable units, numbers ascending then labels.
    coincidences : ndarray, shape (V', V')
        Symmetric; row c sums to n_c; the whole matrix sums to n, the pairable values.
    """
    n_c = marginals(pairs, len(values))
    kept = np.flatnonzero(n_c)
    order = kept[value_order([values[i] for i in kept.tolist()], "nominal", None)]
    grid = np.ix_(order, order)
    matrix = np.zeros((len(order), len(order)))
    for m in _sizes(pairs):
        matrix += pairs[m][grid] / (m - 1)
    return [values[i] for i in order.tolist()], matrix


def labels_from_pairs(values: Sequence[Value], pairs: PairCounts) -> dict[Value, LabelAgreement]:
    """:class:`LabelAgreement` of every pairable value, keyed by value.

    The binary alpha of value c collapses the coincidence matrix to c / not-c:
    ``1 - (n - 1) * (n_c - o_cc) / (n_c * (n - n_c))``, which equals nominal alpha on the
    data recoded as "c" / "other" (checked against the krippendorff package).
    """
    n_c = marginals(pairs, len(values))
    total = int(n_c.sum())
    sizes = _sizes(pairs)
    result: dict[Value, LabelAgreement] = {}
    kept = np.flatnonzero(n_c)
    for index in kept[value_order([values[i] for i in kept.tolist()], "nominal", None)].tolist():
        count = int(n_c[index])
        agreeing = math.fsum(int(pairs[m][index, index]) / (m - 1) for m in sizes)
        others = total - count
        alpha = 1.0 - (total - 1) * (count - agreeing) / (count * others) if others else math.nan
        result[values[index]] = LabelAgreement(values[index], count, agreeing / count, alpha)
    return result
