"""krippendorff_alpha: published values, the krippendorff package, edge cases."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import ArrayLike

from agreement import krippendorff_alpha
from agreement.stats import LEVELS

from . import reference_data as ref
from .strategies import LABELS, as_floats, as_strings, reference, reliability_cells


@pytest.mark.parametrize("level", LEVELS)
def test_krippendorff_2011_example(level: str) -> None:
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", sections C-F.
    alpha = krippendorff_alpha(ref.KRIPPENDORFF_2011, level)
    assert round(alpha, 3) == ref.KRIPPENDORFF_2011_ALPHA[level]


def test_krippendorff_2011_binary_and_two_observer_examples() -> None:
    # Krippendorff (2011), sections A (binary, alpha 0.095) and B (nominal, 0.692).
    assert round(krippendorff_alpha(ref.KRIPPENDORFF_2011_BINARY), 3) == (
        ref.KRIPPENDORFF_2011_BINARY_ALPHA
    )
    assert round(krippendorff_alpha(ref.KRIPPENDORFF_2011_NOMINAL), 3) == (
        ref.KRIPPENDORFF_2011_NOMINAL_ALPHA
    )


def test_ordinal_labels_ranked_by_value_domain() -> None:
    # The krippendorff package's docstring: the 2011 example recoded as ordinal labels
    # gives ordinal 0.815 with the domain in order, nominal 0.743 without a domain.
    names = {1: "very low", 2: "low", 3: "mid", 4: "high", 5: "very high"}
    data = [
        [None if math.isnan(v) else names[int(v)] for v in row] for row in ref.KRIPPENDORFF_2011
    ]
    domain = list(names.values())
    assert round(krippendorff_alpha(np.array(data, dtype=object), "ordinal", domain), 3) == 0.815
    assert round(krippendorff_alpha(np.array(data, dtype=object)), 3) == 0.743
    # Sorted by name ("high" < "low" < ...) the ranks are wrong, so the figure differs.
    assert krippendorff_alpha(np.array(data, dtype=object), "ordinal", sorted(domain)) != (
        krippendorff_alpha(np.array(data, dtype=object), "ordinal", domain)
    )


@pytest.mark.parametrize("level", LEVELS)
@given(cells=reliability_cells())
def test_equals_krippendorff_package(level: str, cells: list[list[float | None]]) -> None:
    data = as_floats(cells)
    # Reference implementation: krippendorff.alpha (PyPI "krippendorff"), same convention.
    expected = reference(krippendorff.alpha, reliability_data=data, level_of_measurement=level)
    if expected is None:
        with pytest.raises(ValueError):
            krippendorff_alpha(data, level)
    else:
        assert math.isclose(krippendorff_alpha(data, level), expected, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("level", ["interval", "ratio"])
@given(cells=reliability_cells(st.floats(0, 1000, allow_nan=False, allow_infinity=False)))
def test_continuous_values_equal_krippendorff_package(
    level: str, cells: list[list[float | None]]
) -> None:
    data = as_floats(cells)
    # Reference implementation: krippendorff.alpha, on values that rarely repeat.
    expected = reference(krippendorff.alpha, reliability_data=data, level_of_measurement=level)
    if expected is None:
        with pytest.raises(ValueError):
            krippendorff_alpha(data, level)
    else:
        assert math.isclose(krippendorff_alpha(data, level), expected, rel_tol=1e-9, abs_tol=1e-9)


@given(cells=reliability_cells(st.sampled_from(LABELS)))
def test_unicode_labels_equal_krippendorff_package(cells: list[list[str | None]]) -> None:
    # Reference implementation: krippendorff.alpha on a str array ("nan" is missing there).
    labels = as_strings(cells)
    expected = reference(
        krippendorff.alpha, reliability_data=labels, level_of_measurement="nominal"
    )
    if expected is None:
        with pytest.raises(ValueError):
            krippendorff_alpha(labels)
    else:
        assert math.isclose(krippendorff_alpha(labels), expected, rel_tol=1e-9, abs_tol=1e-9)


def test_missing_values_in_object_and_string_arrays() -> None:
    objects = np.array([["a", None, "b", "b"], ["a", "b", math.nan, "a"]], dtype=object)
    strings = np.array([["a", "nan", "b", "b"], ["a", "b", "nan", "a"]])
    assert krippendorff_alpha(objects) == krippendorff_alpha(strings)
    # Units 2 and 3 have one value each and drop out: the same as leaving them out.
    assert krippendorff_alpha(strings) == krippendorff_alpha([["a", "b"], ["a", "a"]])


def test_all_agree_with_variation_is_one() -> None:
    assert krippendorff_alpha([[1, 2, 3, 1], [1, 2, 3, 1]]) == 1.0
    assert krippendorff_alpha([[1, 2, 3, 1], [1, 2, 3, 1]], "interval") == 1.0


def test_ties_in_ordinal_ranks() -> None:
    # Many equal values: ranks tie; reference implementation: krippendorff.alpha.
    data = [[1, 1, 1, 1, 2, 2, 3], [1, 1, 1, 2, 2, 2, 3], [1, 1, 1, 1, 2, 3, 3]]
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal")
    assert math.isclose(krippendorff_alpha(data, "ordinal"), expected, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.empty((0, 0)), "pairable"),  # empty
        ([[1, 2, 3]], "pairable"),  # one annotator
        ([[1, math.nan], [math.nan, 2]], "pairable"),  # no unit with two values
        ([[2, 2], [2, 2]], "same"),  # a single category
        ([[1, 1, 2], [1, 1, math.nan]], "same"),  # variation only in an unpairable unit
    ],
)
def test_undefined_alpha_raises(data: ArrayLike, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        krippendorff_alpha(data)


def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="unknown level"):
        krippendorff_alpha([[1, 2], [1, 2]], "cardinal")
    with pytest.raises(ValueError, match="2-D"):
        krippendorff_alpha([1, 2, 3])
    with pytest.raises(ValueError, match="needs numbers"):
        krippendorff_alpha([["a", "b"], ["a", "a"]], "interval")
    with pytest.raises(ValueError, match=">= 0"):
        krippendorff_alpha([[-1, 2], [1, 2]], "ratio")
    with pytest.raises(ValueError, match="not in value_domain"):
        krippendorff_alpha([[1, 2], [1, 3]], "ordinal", value_domain=[1, 2])
    with_inf: list[list[float]] = [[1, math.inf], [1, 2]]
    with pytest.raises(ValueError, match="inf"):
        krippendorff_alpha(with_inf)
