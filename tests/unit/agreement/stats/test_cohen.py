"""cohen_kappa and CohenAccumulator: published values, scikit-learn, incremental, state."""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Sequence
from typing import Any, cast

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from agreement import CohenAccumulator, cohen_kappa

from . import reference_data as ref
from .strategies import LABELS, labels_from_table, reference

WEIGHTS = [None, "linear", "quadratic"]
ANNOTATORS = ["ann", "bob", "cy", "dé"]


def test_artstein_poesio_tables() -> None:
    # Artstein and Poesio (2008), Table 1 (STAT / IREQ): kappa = 0.348; their three-label
    # example (STAT / IREQ / CHCK): kappa = 0.8013.
    first, second = labels_from_table(ref.ARTSTEIN_POESIO_TABLE_1, ["Stat", "IReq"])
    assert round(cohen_kappa(first, second), 3) == ref.ARTSTEIN_POESIO_TABLE_1_KAPPA
    first, second = labels_from_table(ref.ARTSTEIN_POESIO_TABLE_4, ["Stat", "IReq", "Chck"])
    assert round(cohen_kappa(first, second), 4) == ref.ARTSTEIN_POESIO_TABLE_4_KAPPA
    assert cohen_kappa(first, second) == cohen_kappa(second, first)  # symmetric


@pytest.mark.parametrize("weights", WEIGHTS)
def test_weighted_example(weights: str | None) -> None:
    # scikit-learn's test_cohen_kappa weighting example: 0.9315, 0.9412, 0.9541.
    first, second = labels_from_table(ref.SKLEARN_WEIGHTED_TABLE, [0, 1, 2])
    assert round(cohen_kappa(first, second, weights), 4) == ref.SKLEARN_WEIGHTED_KAPPA[weights]


label_pairs = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=30) | st.lists(
    st.tuples(st.sampled_from(LABELS), st.sampled_from(LABELS)), max_size=30
)


@pytest.mark.parametrize("weights", WEIGHTS)
@given(items=label_pairs)
def test_equals_scikit_learn(weights: str | None, items: list[tuple[Any, Any]]) -> None:
    # Reference implementation: sklearn.metrics.cohen_kappa_score (labels=None).
    first = [a for a, _ in items]
    second = [b for _, b in items]
    expected = reference(cohen_kappa_score, first, second, weights=weights) if items else None
    if expected is None:
        with pytest.raises(ValueError):
            cohen_kappa(first, second, weights)
    else:
        assert math.isclose(
            cohen_kappa(first, second, weights), expected, rel_tol=1e-9, abs_tol=1e-9
        )
        # Arrays work too; cohen_kappa's annotation names only sequences.
        first_array = cast("Sequence[Hashable]", np.array(first))
        second_array = cast("Sequence[Hashable]", np.array(second))
        assert cohen_kappa(first_array, second_array, weights) == cohen_kappa(
            first, second, weights
        )


# (annotator a, label a, annotator b, label b, remove?)
operations = st.lists(
    st.tuples(
        st.sampled_from(ANNOTATORS),
        st.integers(0, 3),
        st.sampled_from(ANNOTATORS),
        st.integers(0, 3),
        st.booleans(),
    ).filter(lambda op: op[0] != op[2]),
    max_size=60,
)


def replay(ops: list[tuple[str, int, str, int, bool]]) -> tuple[CohenAccumulator, dict]:
    accumulator = CohenAccumulator()
    items: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for a, label_a, b, label_b, remove in ops:
        if a > b:  # the model keeps pairs in key order
            a, label_a, b, label_b = b, label_b, a, label_a
        pair_items = items.setdefault((a, b), [])
        if not remove:
            accumulator.add(a, label_a, b, label_b)
            pair_items.append((label_a, label_b))
        elif (label_a, label_b) in pair_items:
            # Given the other way round, as the stream may: the same entry.
            accumulator.remove(b, label_b, a, label_a)
            pair_items.remove((label_a, label_b))
    return accumulator, {pair: labels for pair, labels in items.items() if labels}


def outcome(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except ValueError:
        return ValueError


@given(operations)
def test_incremental_equals_batch_for_every_pair(
    ops: list[tuple[str, int, str, int, bool]],
) -> None:
    accumulator, items = replay(ops)
    assert accumulator.pairs == sorted(items)
    for weights in WEIGHTS:
        kappas = accumulator.kappas(weights)
        for (a, b), labels in items.items():
            batch = outcome(cohen_kappa, [x for x, _ in labels], [y for _, y in labels], weights)
            assert outcome(accumulator.kappa, a, b, weights) == batch  # exact
            assert outcome(accumulator.kappa, b, a, weights) == batch
            assert kappas[(a, b)] == batch or (batch is ValueError and math.isnan(kappas[(a, b)]))


@given(operations)
def test_state_round_trip(ops: list[tuple[str, int, str, int, bool]]) -> None:
    accumulator, _ = replay(ops)
    state = accumulator.to_state()
    restored = CohenAccumulator.from_state(json.loads(json.dumps(state)))
    assert restored.to_state() == state
    for weights in WEIGHTS:
        assert str(restored.kappas(weights)) == str(accumulator.kappas(weights))  # NaN-safe


def test_edge_cases() -> None:
    with pytest.raises(ValueError, match="at least one item"):
        cohen_kappa([], [])  # empty
    with pytest.raises(ValueError, match="same items"):
        cohen_kappa(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="one and the same label"):
        cohen_kappa(["a", "a"], ["a", "a"])  # a single category, all agree
    assert cohen_kappa(["a", "b"], ["a", "b"]) == 1.0  # all agree, two labels
    assert cohen_kappa(["a", "a"], ["b", "b"]) == 0.0  # each annotator one label: chance
    assert cohen_kappa([1, "a"], [1, "a"]) == 1.0  # unorderable labels, unweighted
    with pytest.raises(ValueError, match="do not sort"):
        cohen_kappa([1, "a"], [1, "a"], "linear")
    with pytest.raises(ValueError, match="unknown weights"):
        cohen_kappa([1, 2], [1, 2], "cubic")
    accumulator = CohenAccumulator()
    with pytest.raises(ValueError, match="share no task"):
        accumulator.kappa("a", "b")
    with pytest.raises(ValueError, match="themselves"):
        accumulator.add("a", 1, "a", 1)
    accumulator.add("a", "x", "b", "x")
    assert math.isnan(accumulator.kappas()[("a", "b")])  # one label only
    with pytest.raises(ValueError, match="is counted"):
        accumulator.remove("a", "x", "b", "y")
    accumulator.remove("b", "x", "a", "x")
    assert accumulator.pairs == [] and accumulator.to_state()["values"] == []
