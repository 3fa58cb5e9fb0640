"""TaskAgreement with a project's ScoringConfig: every metric, both methodologies.

The incremental state must give exactly (``==``) what a from-scratch computation gives,
after any sequence of creates, updates and deletes: :func:`agreement.recompute` for the
task score, and :func:`agreement.score_task` (an independent path through
``score_pair`` and ``task_score``) for the score and every dimension.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreement import Methodology, ScoringConfig, TagScoring, TaskAgreement, recompute, score_task
from agreement.metrics import REGISTRY, ResultItem

from .metrics import strategies as shapes

IDS = ["1", "2", "3", "4"]


def _on_tag(tag: str, item: ResultItem) -> ResultItem:
    return {**item, "from_name": tag}


def _item(result_type: str, value: dict[str, Any]) -> ResultItem:
    return {"from_name": "tag", "to_name": "data", "type": result_type, "value": value}


# Items of each result type, shaped like Label Studio's, from small domains so that
# annotations agree, partly agree and disagree.
ITEMS: dict[str, st.SearchStrategy[ResultItem]] = {
    "choices": st.lists(st.sampled_from(["a", "b", "c"]), max_size=2, unique=True).map(
        lambda chosen: _item("choices", {"choices": chosen})
    ),
    "taxonomy": st.lists(
        st.lists(st.sampled_from(["A", "B"]), min_size=1, max_size=3), max_size=2
    ).map(lambda paths: _item("taxonomy", {"taxonomy": paths})),
    "datetime": st.sampled_from(["2026-01-01", "2026-01-02"]).map(
        lambda d: _item("datetime", {"datetime": d})
    ),
    "pairwise": st.sampled_from(["left", "right"]).map(
        lambda side: _item("pairwise", {"selected": side})
    ),
    "number": st.integers(0, 10).map(lambda n: _item("number", {"number": n})),
    "rating": st.integers(1, 5).map(lambda n: _item("rating", {"rating": n})),
    "rectanglelabels": shapes.boxes,
    "polygonlabels": shapes.polygons,
    "ellipselabels": shapes.ellipses,
    "labels": shapes.spans,
    "keypointlabels": shapes.keypoints,
    "textarea": st.lists(st.sampled_from(["a cat", "a hat", "猫", ""]), max_size=2).map(
        lambda lines: _item("textarea", {"text": lines})
    ),
    "ranker": st.permutations(["x", "y", "z"]).map(
        lambda order: _item("ranker", {"ranker": {"rank": list(order)}})
    ),
}

# Every registered metric, with the result type it scores and parameters to try.
METRIC_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("choices", "choices", {}),
    ("choices_exact", "choices", {}),
    ("taxonomy", "taxonomy", {}),
    ("taxonomy_prefix", "taxonomy", {}),
    ("datetime_exact", "datetime", {}),
    ("pairwise_exact", "pairwise", {}),
    ("numeric_difference", "number", {"range": 10.0}),
    ("numeric_tolerance", "rating", {"tolerance": 1.0}),
    ("bbox_iou", "rectanglelabels", {"label_weights": {"Car": 2.0, "Person": 0.5}}),
    ("bbox_iou_threshold", "rectanglelabels", {"threshold": 0.3}),
    ("polygon_iou", "polygonlabels", {}),
    ("polygon_iou_threshold", "polygonlabels", {"threshold": 0.5}),
    ("ellipse_iou", "ellipselabels", {}),
    ("ellipse_iou_threshold", "ellipselabels", {}),
    ("span_overlap", "labels", {}),
    ("span_overlap_threshold", "labels", {"threshold": 0.5}),
    ("keypoint_distance", "keypointlabels", {"max_distance": 3.0}),
    ("keypoint_distance_threshold", "keypointlabels", {"distance": 1.0}),
    ("text_edit_distance", "textarea", {}),
    ("text_edit_distance_words", "textarea", {}),
    ("text_edit_distance_threshold", "textarea", {"threshold": 0.6}),
    ("ranker_kendall", "ranker", {}),
    ("ranker_kendall_threshold", "ranker", {"threshold": 0.6}),
    ("taxonomy_prefix_threshold", "taxonomy", {"threshold": 0.5}),
    ("exact_match", "choices", {}),
]


def test_every_registered_metric_is_covered() -> None:
    assert {name for name, _, _ in METRIC_CASES} == set(REGISTRY)


def _results(main_type: str) -> st.SearchStrategy[list[ResultItem]]:
    """A result: 0-3 items of the metric's type on tag "main", maybe Choices tags "side"
    and "extra" (so that a pair may have two tags while a third exists in the task)."""
    main = st.lists(ITEMS[main_type].map(lambda i: _on_tag("main", i)), max_size=3)
    side = st.lists(ITEMS["choices"].map(lambda i: _on_tag("side", i)), max_size=1)
    extra = st.lists(ITEMS["rating"].map(lambda i: _on_tag("extra", i)), max_size=1)
    return st.tuples(main, side, extra).map(lambda parts: [*parts[0], *parts[1], *parts[2]])


def _operations(main_type: str) -> st.SearchStrategy[list[tuple[str, list[ResultItem] | None]]]:
    return st.lists(
        st.tuples(st.sampled_from(IDS), st.one_of(st.none(), _results(main_type))),
        max_size=12,
    )


def _config(
    metric: str, params: dict[str, Any], methodology: Methodology, side_weight: float
) -> ScoringConfig:
    label_weights = params.pop("label_weights", None)
    return ScoringConfig(
        tags={
            "main": TagScoring(metric, params, weight=2.0, label_weights=label_weights),
            "side": TagScoring(weight=side_weight),
        },
        methodology=methodology,
        consensus_threshold=0.6,
    )


def _check(
    task: TaskAgreement, current: dict[str, list[ResultItem]], config: ScoringConfig
) -> None:
    assert task.score == recompute(current, scoring=config)
    scored = score_task([{"id": i, "result": r} for i, r in current.items()], config)
    assert task.score == scored.overall
    assert task.dimensions == scored.dimensions
    assert task.pair_scores == scored.pairs


@pytest.mark.parametrize(("metric", "result_type", "params"), METRIC_CASES)
@pytest.mark.parametrize("methodology", [Methodology.PAIRWISE, Methodology.CONSENSUS])
def test_incremental_equals_recompute_for_every_metric(
    metric: str, result_type: str, params: dict[str, Any], methodology: Methodology
) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(_operations(result_type), st.sampled_from([0.0, 1.0]))
    def run(ops: list[tuple[str, list[ResultItem] | None]], side_weight: float) -> None:
        config = _config(metric, dict(params), methodology, side_weight)
        task = TaskAgreement(scoring=config)
        current: dict[str, list[ResultItem]] = {}
        for annotation_id, result in ops:
            if result is None:
                assert task.remove(annotation_id) == (annotation_id in current)
                current.pop(annotation_id, None)
            else:
                task.upsert(annotation_id, result)
                current[annotation_id] = result
            _check(task, current, config)
        state = orjson.loads(orjson.dumps(task.to_state()))
        restored = TaskAgreement.from_state(state, scoring=config)
        assert restored.to_state() == task.to_state()
        _check(restored, current, config)

    run()


def test_custom_metric_in_the_stream_state() -> None:
    config = ScoringConfig(custom_metric="tests.unit.agreement.custom_metric:same_region_count")
    task = TaskAgreement(scoring=config)
    one = [_on_tag("main", shapes.box(0, 0, 10, 10))]
    two = [_on_tag("main", shapes.box(50, 50, 10, 10)), _on_tag("main", shapes.box(0, 0, 5, 5))]
    task.upsert("1", one)
    task.upsert("2", one)
    task.upsert("3", two)
    expected = score_task(
        [{"id": "1", "result": one}, {"id": "2", "result": one}, {"id": "3", "result": two}],
        config,
    )
    assert task.score == expected.overall
    assert task.dimensions == {}


def test_weights_and_scoring_are_not_both_given() -> None:
    with pytest.raises(ValueError, match="not both"):
        TaskAgreement({"main": 1.0}, ScoringConfig())


def test_dimensions_of_a_two_tag_task_by_hand() -> None:
    config = ScoringConfig()
    task = TaskAgreement(scoring=config)
    pos = _on_tag("sentiment", _item("choices", {"choices": ["pos"]}))
    neg = _on_tag("sentiment", _item("choices", {"choices": ["neg"]}))
    cat = _on_tag("topic", _item("choices", {"choices": ["cats"]}))
    task.upsert("1", [pos, cat])
    task.upsert("2", [pos, cat])
    task.upsert("3", [neg])
    # sentiment: pairs 1-2 agree, 1-3 and 2-3 disagree -> 1/3; topic: 1-2 agree, the
    # pairs with 3 (who has no topic) score 0 -> 1/3; overall per pair: 1, 0, 0 -> 1/3.
    assert task.dimensions == {"sentiment": pytest.approx(1 / 3), "topic": pytest.approx(1 / 3)}
    assert task.score == pytest.approx(1 / 3)
