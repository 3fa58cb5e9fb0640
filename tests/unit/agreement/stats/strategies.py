"""Hypothesis strategies and reference-call helpers shared by the statistics tests."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from hypothesis import strategies as st

# Few values, so that random annotators agree often enough to exercise every branch.
LABELS = ["pos", "neg", "neu", "négatif", "积极"]
NUMBERS = [0, 1, 2, 2.5, 4, 7]


NUMBER_VALUES = st.sampled_from(NUMBERS)


@st.composite
def reliability_cells(
    draw: st.DrawFn, values: st.SearchStrategy[Any] = NUMBER_VALUES
) -> list[list[Any]]:
    """Annotators x units values, ``None`` for missing; 1-5 annotators, 1-12 units."""
    annotators = draw(st.integers(1, 5))
    units = draw(st.integers(1, 12))
    return [
        draw(st.lists(st.one_of(st.none(), values), min_size=units, max_size=units))
        for _ in range(annotators)
    ]


def as_floats(cells: list[list[Any]]) -> np.ndarray:
    """The float matrix of numeric cells, NaN for missing."""
    return np.array([[math.nan if c is None else c for c in row] for row in cells], dtype=float)


def as_strings(cells: list[list[Any]]) -> np.ndarray:
    """The str matrix of label cells, "nan" for missing (the krippendorff convention)."""
    return np.array([["nan" if c is None else c for c in row] for row in cells], dtype=str)


def reference(function: Callable[..., Any], *args: Any, **kwargs: Any) -> float | None:
    """A reference implementation's figure, or None where it is undefined.

    Undefined means: it raises ValueError, or returns NaN (with numpy's 0/0 warning or
    scikit-learn's UndefinedMetricWarning, silenced here because warnings are errors).
    """
    try:
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = float(function(*args, **kwargs))
    except ValueError:
        return None
    return None if math.isnan(result) else result


def labels_from_table(table: Sequence[Sequence[int]], labels: Sequence[Any]) -> tuple[list, list]:
    """Two annotators' label lists whose confusion table (rows: first annotator) is ``table``."""
    first: list[Any] = []
    second: list[Any] = []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            first += [labels[i]] * count
            second += [labels[j]] * count
    return first, second
