"""KrippendorffAccumulator: incremental equals recompute, state, per-label agreement."""

from __future__ import annotations

import json
import math
from typing import Any

import krippendorff
import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agreement import KrippendorffAccumulator, krippendorff_alpha
from agreement.stats import LEVELS

from . import reference_data as ref
from .strategies import LABELS, NUMBERS, reference

TASKS = [str(task) for task in range(6)]
ANNOTATORS = range(4)


def operations(values: st.SearchStrategy[Any]) -> st.SearchStrategy[list[tuple[str, int, Any]]]:
    """(task, annotator, value) to add or change, or (task, annotator, None) to remove."""
    return st.lists(
        st.tuples(st.sampled_from(TASKS), st.sampled_from(ANNOTATORS), st.none() | values),
        max_size=60,
    )


def replay(ops: list[tuple[str, int, Any]]) -> tuple[KrippendorffAccumulator, dict]:
    """Apply ops the way the stream does: it knows each annotation's current value."""
    accumulator = KrippendorffAccumulator()
    current: dict[tuple[str, int], Any] = {}
    for task, annotator, value in ops:
        old = current.get((task, annotator))
        if value is None:
            if old is not None:
                accumulator.remove(task, old)
                del current[(task, annotator)]
        elif old is None:
            accumulator.add(task, value)
            current[(task, annotator)] = value
        else:
            accumulator.replace(task, old, value)
            current[(task, annotator)] = value
    return accumulator, current


def matrix(current: dict[tuple[str, int], Any]) -> np.ndarray:
    """Annotators x tasks reliability data of the current values (object array, None)."""
    data = np.full((len(ANNOTATORS), len(TASKS)), None, dtype=object)
    for (task, annotator), value in current.items():
        data[annotator, int(task)] = value
    return data


def recompute(current: dict[tuple[str, int], Any]) -> KrippendorffAccumulator:
    fresh = KrippendorffAccumulator()
    for (task, _), value in sorted(current.items()):
        fresh.add(task, value)
    return fresh


def outcome(function: Any, *args: Any) -> Any:
    """The result, or the ValueError's type: undefined must be undefined on both sides."""
    try:
        return function(*args)
    except ValueError:
        return ValueError


@given(operations(st.sampled_from(NUMBERS)))
def test_incremental_equals_batch_for_every_level(ops: list[tuple[str, int, Any]]) -> None:
    accumulator, current = replay(ops)
    data = matrix(current)
    fresh = recompute(current)
    for level in LEVELS:
        # Exact: the same integer pair counts give the same float, whatever the history.
        assert outcome(accumulator.alpha, level) == outcome(krippendorff_alpha, data, level)
        assert outcome(accumulator.alpha, level) == outcome(fresh.alpha, level)
    values, coincidences = accumulator.coincidences()
    fresh_values, fresh_coincidences = fresh.coincidences()
    assert values == fresh_values
    assert np.array_equal(coincidences, fresh_coincidences)
    assert accumulator.labels() == fresh.labels()
    assert accumulator.pairable == fresh.pairable == round(coincidences.sum())


@given(operations(st.sampled_from(LABELS)))
def test_incremental_unicode_labels_equal_krippendorff_package(
    ops: list[tuple[str, int, Any]],
) -> None:
    accumulator, current = replay(ops)
    data = np.where(matrix(current) == None, "nan", matrix(current)).astype(str)  # noqa: E711
    # Reference implementation: krippendorff.alpha on the current str matrix.
    expected = reference(krippendorff.alpha, reliability_data=data, level_of_measurement="nominal")
    if expected is None:
        with pytest.raises(ValueError):
            accumulator.alpha()
    else:
        assert math.isclose(accumulator.alpha(), expected, rel_tol=1e-9, abs_tol=1e-9)


@given(operations(st.sampled_from(NUMBERS) | st.sampled_from(LABELS)))
def test_state_round_trip(ops: list[tuple[str, int, Any]]) -> None:
    accumulator, _ = replay(ops)
    state = accumulator.to_state()
    for encoded in (orjson.dumps(state), json.dumps(state).encode()):
        restored = KrippendorffAccumulator.from_state(orjson.loads(encoded))
        assert restored.to_state() == state
        assert outcome(restored.alpha) == outcome(accumulator.alpha)
        assert restored.labels() == accumulator.labels()
        for task in TASKS:
            assert restored.counts(task) == accumulator.counts(task)


def test_long_random_history_has_no_drift() -> None:
    # 20,000 adds, changes and removes of float values on 300 tasks: the accumulated
    # figures still equal the batch function on the final data, bit for bit.
    rng = np.random.default_rng(20261128)
    accumulator = KrippendorffAccumulator()
    current: dict[tuple[int, int], float] = {}
    for _ in range(20_000):
        task, annotator = int(rng.integers(300)), int(rng.integers(5))
        old, value = current.get((task, annotator)), round(float(rng.normal(3, 1)), 1)
        if old is None:
            accumulator.add(str(task), value)
            current[(task, annotator)] = value
        elif rng.random() < 0.4:
            accumulator.remove(str(task), old)
            del current[(task, annotator)]
        else:
            accumulator.replace(str(task), old, value)
            current[(task, annotator)] = value
    data = np.full((5, 300), np.nan)
    for (task, annotator), value in current.items():
        data[annotator, task] = value
    for level in ("nominal", "ordinal", "interval"):
        assert accumulator.alpha(level) == krippendorff_alpha(data, level)
        # Reference implementation: krippendorff.alpha, to rounding.
        assert math.isclose(
            accumulator.alpha(level),
            krippendorff.alpha(reliability_data=data, level_of_measurement=level),
            rel_tol=1e-9,
        )


def test_paper_example_value_by_value() -> None:
    # Krippendorff (2011) sections C-F, fed one value at a time, then every value of
    # observer D removed and put back, then changed and changed back.
    accumulator = KrippendorffAccumulator()
    for row in ref.KRIPPENDORFF_2011:
        for column, value in enumerate(row):
            if not math.isnan(value):
                accumulator.add(str(column), int(value))
    before = {level: accumulator.alpha(level) for level in LEVELS}
    observer_d = [
        (str(unit), int(v)) for unit, v in enumerate(ref.KRIPPENDORFF_2011[3]) if not math.isnan(v)
    ]
    for unit, value in observer_d:
        accumulator.remove(unit, value)
    for unit, value in observer_d:
        accumulator.add(unit, value)
    for unit, value in observer_d:
        accumulator.replace(unit, value, 5 - value)
    for unit, value in observer_d:
        accumulator.replace(unit, 5 - value, value)
    for level in LEVELS:
        assert accumulator.alpha(level) == before[level]
        assert round(before[level], 3) == ref.KRIPPENDORFF_2011_ALPHA[level]


@given(operations(st.sampled_from(["a", "b", "c"])))
def test_label_alpha_equals_binary_krippendorff(ops: list[tuple[str, int, Any]]) -> None:
    # Per-label alpha is nominal alpha on the data recoded as "c" / "other"; reference
    # implementation: krippendorff.alpha on that recoded matrix.
    accumulator, current = replay(ops)
    for label, agreement in accumulator.labels().items():
        binary = np.full((len(ANNOTATORS), len(TASKS)), np.nan)
        for (task, annotator), value in current.items():
            binary[annotator, int(task)] = float(value == label)
        expected = reference(
            krippendorff.alpha, reliability_data=binary, level_of_measurement="nominal"
        )
        if expected is None:
            assert math.isnan(agreement.alpha)
        else:
            assert math.isclose(agreement.alpha, expected, rel_tol=1e-9, abs_tol=1e-9)


@given(st.lists(st.tuples(st.sampled_from("xyz"), st.sampled_from("xyz")), max_size=30))
def test_label_agreement_is_specific_agreement_for_two_annotators(
    items: list[tuple[str, str]],
) -> None:
    # With two annotators per task o_cc / n_c is the specific agreement of label c,
    # 2 n_cc / (n_c. + n_.c) (Fleiss 1975, "Measuring agreement between two judges on
    # the presence or absence of a trait"), computed here from the 2x2 counts directly.
    accumulator = KrippendorffAccumulator()
    for task, (first, second) in enumerate(items):
        accumulator.add(str(task), first)
        accumulator.add(str(task), second)
    for label, agreement in accumulator.labels().items():
        both = sum(1 for first, second in items if first == second == label)
        marginal = sum(first == label for first, _ in items) + sum(s == label for _, s in items)
        assert agreement.pairable == marginal
        assert math.isclose(agreement.agreement, 2 * both / marginal, rel_tol=1e-12)


def test_coincidence_matrix_of_paper_example() -> None:
    # Krippendorff (2011) section C: the 4 x 12 example has n = 40 pairable values with
    # marginals n_1..n_5 = 9, 13, 10, 5, 3 (unit 12's lone value drops out); the matrix
    # is checked against the definition o_ck = sum_u (pairs c-k in u) / (m_u - 1).
    accumulator = KrippendorffAccumulator()
    for row in ref.KRIPPENDORFF_2011:
        for unit, value in enumerate(row):
            if not math.isnan(value):
                accumulator.add(str(unit), int(value))
    values, coincidences = accumulator.coincidences()
    assert values == [1, 2, 3, 4, 5]
    assert [label.pairable for label in accumulator.labels().values()] == [9, 13, 10, 5, 3]
    assert accumulator.pairable == 40
    assert np.allclose(coincidences.sum(axis=1), [9, 13, 10, 5, 3], rtol=1e-12, atol=0)
    expected = np.zeros((5, 5))
    for unit in range(12):
        column = [int(row[unit]) for row in ref.KRIPPENDORFF_2011 if not math.isnan(row[unit])]
        for i, first in enumerate(column):
            for j, second in enumerate(column):
                if i != j:
                    expected[first - 1, second - 1] += 1 / (len(column) - 1)
    assert np.allclose(coincidences, expected, rtol=1e-12, atol=0)


def test_edge_cases() -> None:
    accumulator = KrippendorffAccumulator()
    with pytest.raises(ValueError, match="pairable"):  # empty
        accumulator.alpha()
    assert accumulator.labels() == {} and accumulator.pairable == 0
    accumulator.add("t1", "pos")
    with pytest.raises(ValueError, match="pairable"):  # one annotator
        accumulator.alpha()
    accumulator.add("t1", "pos")
    with pytest.raises(ValueError, match="same"):  # a single category, all agree
        accumulator.alpha()
    assert math.isnan(accumulator.labels()["pos"].alpha)
    assert accumulator.labels()["pos"].agreement == 1.0
    accumulator.add("t2", "neg")
    accumulator.add("t2", "neg")
    assert accumulator.alpha() == 1.0  # all agree, two categories
    accumulator.remove("t2", "neg")
    accumulator.remove("t2", "neg")
    accumulator.remove("t1", "pos")
    accumulator.remove("t1", "pos")
    assert len(accumulator) == 0 and accumulator.to_state()["values"] == []


def test_bad_updates_raise_and_change_nothing() -> None:
    accumulator = KrippendorffAccumulator()
    accumulator.add("t1", 1)
    accumulator.add("t1", 2)
    state = accumulator.to_state()
    with pytest.raises(ValueError, match="holds no value"):
        accumulator.remove("t1", 3)
    with pytest.raises(ValueError, match="holds no value"):
        accumulator.replace("t2", 1, 2)
    with pytest.raises(ValueError, match="NaN"):
        accumulator.add("t1", math.nan)
    with pytest.raises(ValueError, match="bool"):
        accumulator.add("t1", True)
    with pytest.raises(ValueError, match="cannot be stored"):
        accumulator.replace("t1", 1, ("a", "tuple"))
    with pytest.raises(ValueError, match="task id"):
        accumulator.add(1, 1)  # type: ignore[arg-type]
    assert accumulator.to_state() == state
    with pytest.raises(ValueError, match="version"):
        KrippendorffAccumulator.from_state({**state, "version": 2})
    with pytest.raises(ValueError, match="version"):
        KrippendorffAccumulator.from_state({**state, "statistic": "fleiss"})
    with pytest.raises(ValueError, match="bad counts"):
        KrippendorffAccumulator.from_state({**state, "tasks": {"t1": [0, 1, 5, 1]}})
    with pytest.raises(ValueError, match="bad counts"):
        KrippendorffAccumulator.from_state({**state, "tasks": {"t1": [0, 0]}})
