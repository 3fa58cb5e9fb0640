"""Pair counts by unit size: the exact integer form of Krippendorff's coincidence matrix.

For the units holding m >= 2 values, ``P_m[c, k]`` counts the ordered pairs of values
(c, k) taken from two different annotators of one unit: ``sum over units of
n_uc * n_uk - [c == k] * n_uc``. Krippendorff's coincidences are then
``o_ck = sum over m of P_m[c, k] / (m - 1)``. Keeping P_m, integers, instead of o, floats,
is what lets an accumulator add and remove values forever without rounding drift: the
only division happens when alpha is asked for.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

PairCounts = dict[int, NDArray[np.int64]]
"""Unit size m -> P_m, shape (V, V), symmetric, over one list of V values."""


def pair_counts(codes: NDArray[np.intp], n_values: int) -> PairCounts:
    """P_m for every unit size m >= 2 present, from coded reliability data, vectorized.

    Parameters
    ----------
    codes : ndarray of int, shape (A, U)
        Annotators x units; the code (0 .. V-1) of each value, -1 where missing.
    n_values : int
        V, the number of codes.

    Returns
    -------
    PairCounts
        Only sizes that occur; units with fewer than 2 values are not pairable and
        contribute nothing. Costs O(sum over units of d_u^2) for d_u distinct values
        in unit u.
    """
    present = codes >= 0
    sizes = present.sum(axis=0)
    units, annotators = np.nonzero(present.T & (sizes >= 2)[:, np.newaxis])
    if len(units) == 0:
        return {}
    # One entry per (unit, value) with its count n_uc, sorted by unit.
    keys, counts = np.unique(
        units.astype(np.int64) * n_values + codes[annotators, units], return_counts=True
    )
    entry_unit, entry_code = np.divmod(keys, n_values)
    first = np.flatnonzero(np.r_[True, entry_unit[1:] != entry_unit[:-1]])
    group = np.cumsum(np.r_[True, entry_unit[1:] != entry_unit[:-1]]) - 1
    width = np.diff(np.r_[first, len(keys)])[group]  # d_u, per entry
    # Every entry paired with every entry of its unit, itself included.
    left = np.repeat(np.arange(len(keys)), width)
    offset = np.arange(len(left)) - np.repeat(np.cumsum(width) - width, width)
    right = first[group][left] + offset
    weight = counts[left] * counts[right] - np.where(left == right, counts[left], 0)
    pair_size = sizes[entry_unit[left]]
    pair_key = entry_code[left] * n_values + entry_code[right]
    result: PairCounts = {}
    for size in np.unique(pair_size).tolist():
        mask = pair_size == size
        # Float weights are exact here: every partial sum is an integer below 2**53.
        summed = np.bincount(pair_key[mask], weights=weight[mask], minlength=n_values**2)
        result[size] = np.rint(summed).astype(np.int64).reshape(n_values, n_values)
    return result


def marginals(pairs: PairCounts, n_values: int) -> NDArray[np.int64]:
    """n_c, the number of pairable values equal to each value, shape (V,).

    A row of P_m sums to n_uc * (m - 1) per unit, so the division is exact.
    """
    total = np.zeros(n_values, dtype=np.int64)
    for size, counts in pairs.items():
        total += counts.sum(axis=1) // (size - 1)
    return total
