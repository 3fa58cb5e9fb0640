"""Krippendorff's alpha of a reliability-data matrix (annotators x units), in one call."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .alpha import alpha_from_pairs
from .levels import check_level
from .pairs import pair_counts


def _is_missing(cell: object) -> bool:
    return cell is None or (isinstance(cell, float | np.floating) and math.isnan(cell))


def code_reliability_data(
    reliability_data: ArrayLike,
) -> tuple[list[Hashable], NDArray[np.intp]]:
    """The distinct values and the matrix of their codes, -1 where a value is missing.

    Parameters
    ----------
    reliability_data : array_like, shape (A, U)
        Annotators x units. Missing: ``np.nan`` in numbers; ``"nan"`` in a string array
        (``np.asarray`` turns ``np.nan`` into ``"nan"``, as in the krippendorff package);
        ``None`` or NaN in an object array.

    Returns
    -------
    values : list, length V
        Distinct values; ascending when the array is numeric or all strings.
    codes : ndarray of intp, shape (A, U)
    """
    data = np.asarray(reliability_data)
    if data.ndim != 2:
        raise ValueError(
            f"reliability_data must be 2-D (annotators x units), got shape {data.shape}"
        )
    kind = data.dtype.kind
    if kind == "b":
        data = data.astype(np.int8)
        kind = "i"
    if kind in "iuf":
        if kind == "f" and np.isinf(data).any():
            raise ValueError("reliability_data contains inf; use finite numbers, NaN if missing")
        present = ~np.isnan(data) if kind == "f" else np.ones(data.shape, dtype=bool)
    elif kind == "U":
        present = data != "nan"
    elif kind == "O":
        present = np.vectorize(lambda cell: not _is_missing(cell), otypes=[bool])(data)
    else:
        raise ValueError(
            f"reliability_data has dtype {data.dtype}; use numbers, str labels or objects"
        )
    codes = np.full(data.shape, -1, dtype=np.intp)
    if kind == "O":
        index: dict[Hashable, int] = {}
        codes[present] = [index.setdefault(cell, len(index)) for cell in data[present]]
        return list(index), codes
    unique, inverse = np.unique(data[present], return_inverse=True)
    codes[present] = inverse
    return unique.tolist(), codes


def krippendorff_alpha(
    reliability_data: ArrayLike,
    level: str = "nominal",
    value_domain: Sequence[object] | None = None,
) -> float:
    """Krippendorff's alpha of annotators x units reliability data.

    The same convention as ``krippendorff.alpha(reliability_data=...,
    level_of_measurement=...)``; the figures agree with it to 1e-9 where it is defined.
    Computed through exact integer pair counts by unit size, as
    :class:`agreement.KrippendorffAccumulator` keeps them, so the two give the same float.

    Parameters
    ----------
    reliability_data : array_like, shape (A, U)
        Annotators x units; floats with ``np.nan`` for missing, or labels (see
        :func:`code_reliability_data`). Units with fewer than 2 values drop out.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Level of measurement. Interval and ratio need numbers, ratio numbers >= 0;
        ordinal needs values that sort, or ``value_domain``.
    value_domain : sequence, optional
        The possible values, in order: gives ordinal ranks for labels ("low", "mid",
        "high") and checks that no value is outside it.

    Returns
    -------
    float
        1 for perfect agreement, 0 for chance agreement, below 0 for systematic
        disagreement.

    Notes
    -----
    Time O(A U + sum over units of d_u^2 + M V^2), memory O(M V^2), for M distinct unit
    sizes and V distinct values: sized for label sets and rating scales, not for
    thousands of distinct continuous values.

    Raises
    ------
    ValueError
        Unknown level; bad array; no unit with two values (krippendorff raises too); only
        one distinct pairable value, where alpha is 0/0 (krippendorff raises when there
        is one value overall, returns NaN otherwise: here it is always an error).
    """
    check_level(level)
    values, codes = code_reliability_data(reliability_data)
    return alpha_from_pairs(values, pair_counts(codes, len(values)), level, value_domain)  # type: ignore[arg-type]
