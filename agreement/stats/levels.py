"""Levels of measurement and their squared difference functions (Krippendorff 2011)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .codebook import Value

LEVELS = ("nominal", "ordinal", "interval", "ratio")
"""Levels of measurement :func:`agreement.krippendorff_alpha` knows."""


def check_level(level: str) -> str:
    """``level`` if it is one of :data:`LEVELS`, else a ``ValueError`` listing them."""
    if level not in LEVELS:
        raise ValueError(f"unknown level of measurement {level!r}; use one of {', '.join(LEVELS)}")
    return level


def value_order(
    values: Sequence[Value], level: str, value_domain: Sequence[object] | None
) -> list[int]:
    """Indices of ``values`` in the order the level's difference function needs.

    Parameters
    ----------
    values : sequence of V distinct values
        The values that occur in pairable units.
    level : str
        One of :data:`LEVELS`.
    value_domain : sequence or None
        The possible values, in order (as in the ``krippendorff`` package). Every value
        must be in it. For ``"ordinal"`` it gives the ranks, so ordinal labels such as
        ``["low", "mid", "high"]`` work; otherwise values are sorted.

    Returns
    -------
    list of int, length V
        For ``"nominal"``: a canonical order (numbers, then strings), which only fixes the
        layout of reported matrices. Otherwise the ascending order.
    """
    if value_domain is not None:
        position: dict[object, int] = {}
        for rank, value in enumerate(value_domain):
            if value in position:
                raise ValueError(f"value_domain lists {value!r} twice; list each value once")
            position[value] = rank
        missing = [value for value in values if value not in position]
        if missing:
            raise ValueError(
                f"values {missing[:5]!r} are not in value_domain; add them to value_domain "
                "or leave value_domain out"
            )
        if level == "ordinal":
            return sorted(range(len(values)), key=lambda i: position[values[i]])
    if level in ("interval", "ratio"):
        text = [value for value in values if isinstance(value, str)]
        if text:
            raise ValueError(
                f"level {level!r} needs numbers, got labels such as {text[0]!r}; "
                "use level='nominal' (or 'ordinal' with a value_domain)"
            )
    if level == "ratio" and any(value < 0 for value in values):  # type: ignore[operator]
        raise ValueError(
            "level 'ratio' needs values >= 0 (a ratio scale has an absolute zero); "
            "use level='interval' for values that can be negative"
        )
    if level == "nominal":
        try:
            return sorted(range(len(values)), key=lambda i: _canonical(values[i]))
        except TypeError:  # hashables that do not sort (batch input only): keep as given
            return list(range(len(values)))
    try:
        return sorted(range(len(values)), key=lambda i: values[i])
    except TypeError:
        raise ValueError(
            f"level {level!r} needs values that can be ordered, got a mix of numbers and "
            "labels; pass value_domain with the values in order"
        ) from None


def _canonical(value: Value) -> tuple[bool, Value]:
    # Numbers before strings, so that a mix of both still has one fixed order.
    return (isinstance(value, str), value)


def differences(
    level: str, numbers: NDArray[np.float64], marginals: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Squared differences delta^2(c, k) between the V values, in the given order.

    Parameters
    ----------
    level : str
        ``"ordinal"``, ``"interval"`` or ``"ratio"`` (nominal needs no matrix).
    numbers : ndarray, shape (V,)
        The values as numbers, ascending (ignored for ordinal).
    marginals : ndarray, shape (V,)
        n_c, the number of pairable values equal to each value, in the same order
        (used by ordinal only).

    Returns
    -------
    ndarray, shape (V, V)
        Symmetric, zero diagonal, >= 0.
    """
    if level == "ordinal":
        # Krippendorff's ordinal metric: (sum of n_g for g from c to k - (n_c + n_k) / 2)^2.
        # Twice the inner term is an integer, so the matrix is exact up to the final square.
        cumulative = np.cumsum(marginals)
        low = np.minimum.outer(np.arange(len(marginals)), np.arange(len(marginals)))
        high = np.maximum.outer(np.arange(len(marginals)), np.arange(len(marginals)))
        twice = 2 * (cumulative[high] - cumulative[low]) + marginals[low] - marginals[high]
        return (twice.astype(np.float64) / 2.0) ** 2
    difference = np.subtract.outer(numbers, numbers)
    if level == "interval":
        return difference**2
    total = np.add.outer(numbers, numbers)
    # Both values are >= 0, so a zero total means both are 0: no difference (as the
    # krippendorff package defines it).
    ratio = np.divide(difference, total, out=np.zeros_like(difference), where=total != 0)
    return ratio**2
