"""AnnotatorMatrix and ExactSum: exact means under adds and removes, state, edge cases."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agreement import AnnotatorMatrix
from agreement.stats.sums import ExactSum

ANNOTATORS = ["ann", "bob", "cy", "dé", "积极"]

scores = st.floats(0, 1, allow_nan=False) | st.sampled_from([0.0, 1.0, 0.1, 1 / 3])
# (annotator a, annotator b, score, remove an earlier score of the pair instead?)
operations = st.lists(
    st.tuples(
        st.sampled_from(ANNOTATORS), st.sampled_from(ANNOTATORS), scores, st.booleans()
    ).filter(lambda op: op[0] != op[1]),
    max_size=80,
)


def replay(ops: list[tuple[str, str, float, bool]]) -> tuple[AnnotatorMatrix, dict]:
    matrix = AnnotatorMatrix()
    scored: dict[tuple[str, str], list[float]] = {}
    for a, b, score, remove in ops:
        pair = (min(a, b), max(a, b))
        held = scored.setdefault(pair, [])
        if remove and held:
            matrix.remove(b, a, held[0])  # either order names the pair
            held.pop(0)
        else:
            matrix.add(a, b, score)
            held.append(score)
    return matrix, {pair: held for pair, held in scored.items() if held}


@given(operations)
def test_incremental_equals_recompute(ops: list[tuple[str, str, float, bool]]) -> None:
    matrix, scored = replay(ops)
    annotators, values = matrix.matrix()
    assert annotators == sorted({annotator for pair in scored for annotator in pair})
    position = {annotator: i for i, annotator in enumerate(annotators)}
    for a in annotators:
        for b in annotators:
            pair = (min(a, b), max(a, b))
            value = values[position[a], position[b]]
            if a == b:
                assert value == 1.0  # the diagonal convention
            elif pair in scored:
                # Exact: the recompute is the correctly rounded mean of the current scores.
                expected = math.fsum(scored[pair]) / len(scored[pair])
                assert value == expected == matrix.mean(a, b)
            else:
                assert math.isnan(value) and matrix.mean(a, b) is None


@given(operations)
def test_pairs_give_each_pairs_count_and_mean(ops: list[tuple[str, str, float, bool]]) -> None:
    matrix, scored = replay(ops)
    assert matrix.pairs() == [
        (a, b, len(held), math.fsum(held) / len(held)) for (a, b), held in sorted(scored.items())
    ]


@given(operations)
def test_state_round_trip(ops: list[tuple[str, str, float, bool]]) -> None:
    matrix, _ = replay(ops)
    state = matrix.to_state()
    for encoded in (orjson.dumps(state), json.dumps(state).encode()):
        restored = AnnotatorMatrix.from_state(orjson.loads(encoded))
        assert restored.to_state() == state
        assert restored.matrix()[0] == matrix.matrix()[0]
        assert np.array_equal(restored.matrix()[1], matrix.matrix()[1], equal_nan=True)


def test_exact_sum_survives_cancellation() -> None:
    # Plain float addition loses the small scores next to a huge one and cannot get them
    # back when it is removed; the exact sum can.
    total = ExactSum()
    for number in [1e16, 0.1, 0.2, 0.3, -1e16]:
        total.add(number)
    assert total.value == math.fsum([0.1, 0.2, 0.3])
    plain = 0.0
    for number in [1e16, 0.1, 0.2, 0.3, -1e16]:
        plain += number
    assert plain != total.value  # the failure the exact sum exists to avoid


def test_many_random_updates_stay_exact() -> None:
    rng = random.Random(20261128)
    total = ExactSum()
    kept: list[float] = []
    for _ in range(20_000):
        if kept and rng.random() < 0.45:
            total.remove(kept.pop(rng.randrange(len(kept))))
        else:
            kept.append(rng.random())
            total.add(kept[-1])
    assert total.value == math.fsum(kept)
    for number in kept:
        total.remove(number)
    assert total.is_zero() and total.value == 0.0


def test_edge_cases() -> None:
    matrix = AnnotatorMatrix()
    annotators, values = matrix.matrix()  # empty
    assert annotators == [] and values.shape == (0, 0)
    with pytest.raises(ValueError, match="themselves"):
        matrix.add("ann", "ann", 1.0)  # one annotator
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        matrix.add("ann", "bob", 1.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        matrix.add("ann", "bob", math.nan)
    with pytest.raises(ValueError, match="no score"):
        matrix.remove("ann", "bob", 0.5)
    matrix.add("ann", "bob", 0.25)
    with pytest.raises(ValueError, match="differ from those added"):
        matrix.remove("ann", "bob", 0.5)
    matrix.add("ann", "bob", 1.0)
    matrix.add("bob", "cy", 0.0)
    annotators, values = matrix.matrix()
    assert annotators == ["ann", "bob", "cy"]
    assert np.array_equal(
        values,
        np.array([[1.0, 1.0, math.nan], [1.0, 1.0, 0.0], [math.nan, 0.0, 1.0]]),
        equal_nan=True,
    )
    with pytest.raises(ValueError, match="version"):
        AnnotatorMatrix.from_state({"version": 2, "statistic": "annotators", "pairs": []})
    with pytest.raises(ValueError, match="bad pair"):
        AnnotatorMatrix.from_state(
            {"version": 1, "statistic": "annotators", "pairs": [["bob", "ann", 1, [0.5]]]}
        )
