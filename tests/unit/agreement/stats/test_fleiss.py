"""fleiss_kappa and FleissAccumulator: published values, statsmodels, incremental, state."""

from __future__ import annotations

import json
import math
from collections import Counter
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss_kappa

from agreement import FleissAccumulator, fleiss_kappa

from . import reference_data as ref
from .strategies import LABELS, reference

TASKS = [str(task) for task in range(6)]


def test_wikipedia_example() -> None:
    # Wikipedia, "Fleiss' kappa", worked example: kappa = 0.210.
    assert round(fleiss_kappa(ref.WIKIPEDIA_FLEISS), 3) == ref.WIKIPEDIA_FLEISS_KAPPA


def test_fleiss_1971_diagnoses() -> None:
    # Fleiss (1971), psychiatric diagnoses, 30 patients x 6 raters: kappa = 0.430
    # (0.4302445 in R irr's kappam.fleiss, quoted by statsmodels' tests).
    counts, _ = aggregate_raters(np.array(ref.FLEISS_1971_DIAGNOSES))
    assert round(fleiss_kappa(counts), 4) == ref.FLEISS_1971_KAPPA


def test_gwet_generalized_kappa_with_missing_ratings() -> None:
    # Gwet's irrCAC README: fleiss.kappa.raw(cac.raw4raters) = 0.76117, subjects rated
    # by 1 to 4 raters (Krippendorff's 2011 example, transposed).
    data = np.array(ref.KRIPPENDORFF_2011)
    counts = [[int(np.sum(data[:, unit] == value)) for value in range(1, 6)] for unit in range(12)]
    assert round(fleiss_kappa(counts), 5) == ref.GWET_FLEISS_KAPPA


@st.composite
def equal_rater_tables(draw: st.DrawFn) -> np.ndarray:
    """Subjects x categories counts, the same number of raters (1-6) on every subject."""
    raters = draw(st.integers(1, 6))
    categories = draw(st.integers(1, 5))
    subjects = draw(st.integers(1, 10))
    rows = [
        np.bincount(
            draw(st.lists(st.integers(0, categories - 1), min_size=raters, max_size=raters)),
            minlength=categories,
        )
        for _ in range(subjects)
    ]
    return np.array(rows)


@given(equal_rater_tables())
def test_equals_statsmodels(table: np.ndarray) -> None:
    # Reference implementation: statsmodels.stats.inter_rater.fleiss_kappa, method "fleiss".
    expected = reference(statsmodels_fleiss_kappa, table, method="fleiss")
    if expected is None or math.isinf(expected):  # one rater: statsmodels divides by 0
        with pytest.raises(ValueError):
            fleiss_kappa(table)
    else:
        assert math.isclose(fleiss_kappa(table), expected, rel_tol=1e-9, abs_tol=1e-9)


def gwet_kappa(table: list[list[int]]) -> Fraction | None:
    """Gwet (2014) ch. 2, generalized Fleiss' kappa, transcribed in exact fractions."""
    rows = [row for row in table if sum(row) > 0]
    paired = [row for row in rows if sum(row) >= 2]
    if not paired:
        return None
    observed = sum(
        (Fraction(sum(x * (x - 1) for x in row), sum(row) * (sum(row) - 1)) for row in paired),
        Fraction(0),
    ) / len(paired)
    prevalence = [
        sum((Fraction(row[k], sum(row)) for row in rows), Fraction(0)) / len(rows)
        for k in range(len(table[0]))
    ]
    chance = sum((p * p for p in prevalence), Fraction(0))
    return None if chance == 1 else (observed - chance) / (1 - chance)


@given(
    st.integers(1, 4).flatmap(
        lambda k: st.lists(
            st.lists(st.integers(0, 4), min_size=k, max_size=k), min_size=1, max_size=10
        )
    )
)
def test_unequal_raters_equal_gwet_formula(table: list[list[int]]) -> None:
    expected = gwet_kappa(table)
    if expected is None:
        with pytest.raises(ValueError):
            fleiss_kappa(table)
    else:
        assert math.isclose(fleiss_kappa(table), float(expected), rel_tol=1e-12, abs_tol=1e-12)


# (task, category, False) adds a rating; (task, category, True) removes one, or changes one.
operations = st.lists(
    st.tuples(st.sampled_from(TASKS), st.sampled_from(LABELS[:3]), st.booleans()), max_size=60
)


def replay(ops: list[tuple[str, str, bool]]) -> tuple[FleissAccumulator, dict[str, Counter]]:
    """Apply ops; a removal of a category the task lacks changes another rating into it."""
    accumulator = FleissAccumulator()
    current: dict[str, Counter] = {task: Counter() for task in TASKS}
    for task, category, remove in ops:
        if not remove:
            accumulator.add(task, category)
            current[task][category] += 1
        elif current[task][category]:
            accumulator.remove(task, category)
            current[task][category] -= 1
        elif +current[task]:  # change a rating of another category into this one
            old = next(iter(+current[task]))
            accumulator.replace(task, old, category)
            current[task][old] -= 1
            current[task][category] += 1
    return accumulator, current


def outcome(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except ValueError:
        return ValueError


@given(operations)
def test_incremental_equals_batch(ops: list[tuple[str, str, bool]]) -> None:
    accumulator, current = replay(ops)
    table = [[current[task][label] for label in LABELS[:3]] for task in TASKS]
    assert outcome(accumulator.kappa) == outcome(fleiss_kappa, table)  # exact
    expected = gwet_kappa(table)
    if expected is not None:
        assert math.isclose(accumulator.kappa(), float(expected), rel_tol=1e-12, abs_tol=1e-12)


@given(operations)
def test_state_round_trip(ops: list[tuple[str, str, bool]]) -> None:
    accumulator, _ = replay(ops)
    state = accumulator.to_state()
    restored = FleissAccumulator.from_state(json.loads(json.dumps(state)))
    assert restored.to_state() == state
    assert outcome(restored.kappa) == outcome(accumulator.kappa)


def test_edge_cases() -> None:
    with pytest.raises(ValueError, match="two or more raters"):
        fleiss_kappa(np.zeros((0, 3)))  # empty
    with pytest.raises(ValueError, match="two or more raters"):
        fleiss_kappa([[1, 0], [0, 1]])  # one rater per subject
    with pytest.raises(ValueError, match="one category"):
        fleiss_kappa([[3], [3]])  # a single category
    with pytest.raises(ValueError, match="one category"):
        fleiss_kappa([[3, 0], [3, 0]])  # all agree on one category
    assert fleiss_kappa([[3, 0], [0, 3]]) == 1.0  # all agree, two categories
    # Ties: every subject split evenly between two categories, kappa = (P_a - P_e) /
    # (1 - P_e) with P_a = 2 * (2 * 1) / (4 * 3) = 1/3 and P_e = 1/2.
    assert math.isclose(fleiss_kappa([[2, 2], [2, 2]]), (1 / 3 - 1 / 2) / (1 - 1 / 2))
    with pytest.raises(ValueError, match=">= 0"):
        fleiss_kappa([[3, -1], [1, 1]])
    halves: list[list[float]] = [[1.5, 0.5], [1, 1]]
    with pytest.raises(ValueError, match="whole numbers"):
        fleiss_kappa(halves)
    accumulator = FleissAccumulator()
    with pytest.raises(ValueError, match="two or more raters"):
        accumulator.kappa()
    accumulator.add("t1", "积极")
    with pytest.raises(ValueError, match="holds no value"):
        accumulator.remove("t1", "négatif")
    accumulator.remove("t1", "积极")
    assert len(accumulator) == 0
