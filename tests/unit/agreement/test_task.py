"""TaskAgreement: incremental updates equal a recompute, in O(k) pair scores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from agreement import TaskAgreement, pair_score, recompute
from agreement import task as task_module
from agreement.metrics import ResultItem
from tests.python_source import python_source

from . import strategies
from .strategies import choices_item

IDS = ["1", "2", "3", "4", "5"]

# An operation is (annotation id, result) for a create or update, (id, None) for a delete.
operations = st.lists(
    st.tuples(st.sampled_from(IDS), st.one_of(st.none(), strategies.results)),
    max_size=30,
)


class _CountingScorer:
    def __init__(self, scorer: Callable[..., float]) -> None:
        self.scorer = scorer
        self.calls = 0

    def __call__(self, *args: Any) -> float:
        self.calls += 1
        return self.scorer(*args)


def _roundtrip(task: TaskAgreement) -> TaskAgreement:
    restored = TaskAgreement.from_state(orjson.loads(orjson.dumps(task.to_state())), task.weights)
    assert restored.to_state() == task.to_state()
    return restored


@given(operations, strategies.weights)
def test_incremental_score_equals_recompute(
    ops: list[tuple[str, list[ResultItem] | None]], weights: dict[str, float] | None
) -> None:
    task = TaskAgreement(weights)
    # The same operations on the Python source, whose pair scores can be counted (the
    # module may be compiled: streams/native.py); both must agree exactly.
    source = python_source(task_module)
    counted = source.TaskAgreement(weights)
    current: dict[str, list[ResultItem]] = {}
    counter = _CountingScorer(pair_score)
    for annotation_id, result in ops:
        others = len(current) - (annotation_id in current)
        with mock.patch.object(source, "pair_score", counter):
            counter.calls = 0
            if result is None:
                assert task.remove(annotation_id) == (annotation_id in current)
                assert counted.remove(annotation_id) == (annotation_id in current)
                current.pop(annotation_id, None)
                assert counter.calls == 0
            else:
                task.upsert(annotation_id, result)
                counted.upsert(annotation_id, result)
                current[annotation_id] = result
                assert counter.calls <= others
        # Exact equality: the incremental path must not drift by even one ulp.
        assert task.score == recompute(current, weights)
        assert counted.score == task.score
        assert task.ids == sorted(current)
        assert len(task) == len(current)
        assert len(task.pair_scores) == len(current) * (len(current) - 1) // 2
    restored = _roundtrip(task)
    assert restored.score == task.score


def test_score_does_not_depend_on_update_order() -> None:
    # Found by search: created in this order, a plain sum of the three pair scores is one
    # ulp away from the sum in sorted pair order (2.951612903225806 vs ...065).
    weights = {"sentiment": 3.0, "topics": 0.1}
    results = {
        "4": [choices_item("sentiment", ["a"]), choices_item("topics", ["c"])],
        "3": [choices_item("sentiment", ["a"]), choices_item("topics", ["b", "c"])],
        "2": [choices_item("sentiment", ["a"]), choices_item("topics", ["a", "b", "c"])],
    }
    task = TaskAgreement(weights)
    for annotation_id, result in results.items():
        task.upsert(annotation_id, result)
    assert task.score == recompute(results, weights)


def test_scores_by_size() -> None:
    task = TaskAgreement()
    assert task.score is None
    task.upsert("1", [choices_item("sentiment", ["pos"])])
    assert task.score == 1.0
    task.upsert("2", [choices_item("sentiment", ["neg"])])
    assert task.score == 0.0
    task.upsert("3", [choices_item("sentiment", ["pos"])])
    # Pairs (1,2)=0, (1,3)=1, (2,3)=0.
    assert task.score == pytest.approx(1 / 3)
    task.upsert("2", [choices_item("sentiment", ["pos"])])
    assert task.score == 1.0
    assert task.remove("3") is True
    assert task.remove("3") is False
    assert task.pair_scores == {("1", "2"): 1.0}


def test_upsert_scores_only_against_the_others() -> None:
    source = python_source(task_module)  # countable: see python_source
    task = source.TaskAgreement()
    for annotation_id in "123":
        task.upsert(annotation_id, [choices_item("sentiment", [annotation_id])])
    counter = _CountingScorer(pair_score)
    with mock.patch.object(source, "pair_score", counter):
        task.upsert("4", [choices_item("sentiment", ["x"])])
        assert counter.calls == 3
        task.upsert("2", [choices_item("sentiment", ["y"])])
        assert counter.calls == 6
        # An equal result (a replayed update) changes nothing and scores nothing.
        task.upsert("2", [choices_item("sentiment", ["y"])])
        assert counter.calls == 6


def test_state_is_json_with_pair_keys() -> None:
    task = TaskAgreement()
    task.upsert("10", [choices_item("sentiment", ["pos"])])
    task.upsert("9", [choices_item("sentiment", ["neg"])])
    state = orjson.loads(orjson.dumps(task.to_state()))
    # Ids sort as strings: "10" < "9".
    assert state["pairs"] == {"10|9": 0.0}
    assert state["version"] == 1
    assert _roundtrip(task).score == 0.0


def test_float_scores_roundtrip_exactly() -> None:
    task = TaskAgreement()
    task.upsert("1", [choices_item("topics", ["a", "b", "c"])])
    task.upsert("2", [choices_item("topics", ["a", "d", "e"])])
    task.upsert("3", [choices_item("topics", ["b"])])
    restored = _roundtrip(task)
    assert restored.pair_scores == task.pair_scores
    assert restored.score == task.score


def test_bad_state_is_rejected() -> None:
    task = TaskAgreement()
    task.upsert("1", [])
    task.upsert("2", [])
    state = task.to_state()
    with pytest.raises(ValueError, match="version"):
        TaskAgreement.from_state({**state, "version": 99})
    with pytest.raises(ValueError, match="1 pairs for 3"):
        TaskAgreement.from_state({**state, "results": {**state["results"], "3": []}})
    with pytest.raises(ValueError, match="bad pair key"):
        TaskAgreement.from_state({**state, "pairs": {"2|1": 1.0}})


def test_id_with_separator_is_rejected() -> None:
    with pytest.raises(ValueError, match="contains"):
        TaskAgreement().upsert("a|b", [])


def test_recompute_small_cases() -> None:
    assert recompute({}) is None
    assert recompute({"1": []}) == 1.0
    assert recompute({"1": [], "2": []}) == 1.0
