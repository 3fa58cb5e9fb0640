"""Scoring configuration and task scores, checked by hand on small Label Studio cases.

Expected numbers are worked out in each test from the metric definitions (Choices:
exact match, Jaccard for multi-choice; Taxonomy: Jaccard over whole paths) and the
methodologies of Label Studio Enterprise's agreement docs (guide/stats.md): pairwise is
the mean pair score, consensus the share of annotations agreeing with the majority.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agreement import Methodology, TaskAgreement, pair_score, recompute
from agreement.metrics import (
    DEFAULT_METRIC,
    REGISTRY,
    Metric,
    ResultItem,
    choices,
    exact_match,
    jaccard,
)
from agreement.pair import score_pair
from agreement.scoring import (
    CustomMetricError,
    ScoringConfig,
    TagScoring,
    load_custom_metric,
    score_export,
    score_task,
)

from . import strategies
from .strategies import choices_item

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "label-studio"
CUSTOM = "tests.unit.agreement.custom_metric"


def _annotation(annotation_id: int, *labels: str, **fields: Any) -> dict[str, Any]:
    result = [choices_item("sentiment", [label]) for label in labels]
    return {"id": annotation_id, "completed_by": annotation_id, "result": result, **fields}


def _taxonomy_item(*paths: list[str]) -> ResultItem:
    value = {"taxonomy": list(paths)}
    return {"from_name": "taxonomy", "to_name": "text", "type": "taxonomy", "value": value}


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# --- score_task: which annotations count ------------------------------------------------


def test_no_annotation_scores_none() -> None:
    score = score_task([])
    assert score.overall is None
    assert score.dimensions == {}
    assert score.pairs == {}
    assert score.annotation_count == 0


def test_one_annotation_scores_one() -> None:
    score = score_task([_annotation(1, "pos")])
    assert score.overall == 1.0
    assert score.dimensions == {"sentiment": 1.0}
    assert score.annotation_ids == ("1",)
    assert score.annotation_count == 1


def test_cancelled_annotations_never_count() -> None:
    skipped = _annotation(3, "neg", was_cancelled=True)
    score = score_task([_annotation(1, "pos"), _annotation(2, "pos"), skipped])
    assert score.overall == 1.0
    assert score.annotation_ids == ("1", "2")
    # Not even when everything else is counted.
    config = ScoringConfig(include_predictions=True, include_ground_truth=True)
    assert score_task([skipped], config).overall is None


def test_ground_truth_counts_as_a_normal_annotation_unless_excluded() -> None:
    annotations = [_annotation(1, "pos", ground_truth=True), _annotation(2, "neg")]
    assert score_task(annotations).overall == 0.0
    without = score_task(annotations, ScoringConfig(include_ground_truth=False))
    assert without.overall == 1.0
    assert without.annotation_ids == ("2",)


def test_predictions_count_only_when_asked() -> None:
    prediction = {"id": 1, "model_version": "v2", "result": [choices_item("sentiment", ["pos"])]}
    annotations = [_annotation(1, "pos"), _annotation(2, "neg"), prediction]
    # 1 vs 2 disagree.
    assert score_task(annotations).overall == 0.0
    score = score_task(annotations, ScoringConfig(include_predictions=True))
    # Prediction 1 is not annotation 1: pairs 1-2 = 0, 1-p = 1, 2-p = 0.
    assert score.annotation_ids == ("1", "2", "prediction:1")
    assert score.pairs == {("1", "2"): 0.0, ("1", "prediction:1"): 1.0, ("2", "prediction:1"): 0.0}
    assert score.overall == pytest.approx(1 / 3)


def test_annotations_need_distinct_ids() -> None:
    with pytest.raises(ValueError, match="no 'id'"):
        score_task([{"result": []}])
    with pytest.raises(ValueError, match="'7'"):
        score_task([_annotation(7, "pos"), _annotation(7, "neg")])
    with pytest.raises(ValueError, match="'result' must be a list"):
        score_task([{"id": 1, "result": "pos"}])
    with pytest.raises(ValueError, match="not an object"):
        score_task(["pos"])  # type: ignore[list-item]


# --- score_task: dimensions and weights --------------------------------------------------


def _two_tag_annotations() -> list[dict[str, Any]]:
    cat, dog = ["Animal", "Cat"], ["Animal", "Dog"]
    first = _annotation(1, "pos")
    first["result"].append(_taxonomy_item(cat, dog))
    second = _annotation(2, "pos")
    second["result"].append(_taxonomy_item(cat))
    third = _annotation(3, "neg")  # no taxonomy at all
    return [first, second, third]


def test_dimensions_per_control_tag() -> None:
    score = score_task(_two_tag_annotations())
    # sentiment: 1-2 agree, 3 disagrees with both: (1 + 0 + 0) / 3.
    # taxonomy: 1-2 Jaccard({cat, dog}, {cat}) = 1/2; 3 has none: 0 with 1 and with 2.
    assert score.dimensions == pytest.approx({"sentiment": 1 / 3, "taxonomy": 1 / 6})
    assert score.dimension_pairs["taxonomy"] == {("1", "2"): 0.5, ("1", "3"): 0.0, ("2", "3"): 0.0}
    # Pairs: 1-2 mean(1, 1/2) = 3/4; 1-3 and 2-3 mean(0, 0) = 0: overall 1/4.
    assert score.pairs[("1", "2")] == 0.75
    assert score.overall == pytest.approx(1 / 4)


def test_a_tag_neither_annotation_has_agrees_within_its_dimension() -> None:
    annotations = _two_tag_annotations()
    annotations.append(_annotation(4, "neg"))
    score = score_task(annotations)
    # 3 and 4 both left the taxonomy empty: they agree on it.
    assert score.dimension_pairs["taxonomy"][("3", "4")] == 1.0
    # The pair's overall counts only the tags they have: sentiment neg = neg.
    assert score.pairs[("3", "4")] == 1.0


def test_control_weights_and_zero_removes_a_tag() -> None:
    annotations = _two_tag_annotations()
    weighted = ScoringConfig(tags={"taxonomy": TagScoring("taxonomy", weight=3.0)})
    # 1-2: (1 * 1 + 3 * 1/2) / 4 = 5/8; the others 0: overall 5/24.
    assert score_task(annotations, weighted).overall == pytest.approx(5 / 24)
    removed = ScoringConfig(tags={"taxonomy": TagScoring("taxonomy", weight=0.0)})
    score = score_task(annotations, removed)
    assert set(score.dimensions) == {"sentiment"}
    assert score.overall == pytest.approx(1 / 3)


def test_per_label_weights_reach_the_metric(monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[Mapping[str, float] | None] = []

    def weighted_region(label_weights: Mapping[str, float] | None = None) -> Metric:
        received.append(label_weights)
        return exact_match

    monkeypatch.setitem(REGISTRY, "weighted_region", weighted_region)
    project = {
        "label_config": _BOXES,
        "control_weights": {
            "box": {"overall": 2.0, "type": "RectangleLabels", "labels": {"Car": 2.5, "Bus": 1}}
        },
    }
    config = ScoringConfig(
        tags={"box": TagScoring("weighted_region", weight=2.0, label_weights={"Car": 2.5})}
    )
    assert received == [{"Car": 2.5}]
    assert ScoringConfig.from_dict(config.to_dict()) == config
    # From Label Studio: the default region metric takes label_weights.
    from_project = ScoringConfig.from_label_studio(project=project)
    assert from_project.tags["box"] == TagScoring("bbox_iou", {}, 2.0, {"Car": 2.5, "Bus": 1.0})


_BOXES = (
    '<View><Image name="image" value="$image"/><RectangleLabels name="box" toName="image">'
    '<Label value="Car"/><Label value="Bus"/></RectangleLabels></View>'
)


def test_configured_metric_replaces_the_type_default() -> None:
    annotations = [_annotation(1, "pos"), _annotation(2, "pos", "neg")]
    # Default choices metric: Jaccard({pos}, {pos, neg}) = 1/2; exact match: 0.
    assert score_task(annotations).overall == 0.5
    exact = ScoringConfig(tags={"sentiment": TagScoring("exact_match")})
    assert score_task(annotations, exact).overall == 0.0


# --- methodologies -----------------------------------------------------------------------


def test_consensus_methodology_overall_and_dimensions() -> None:
    annotations = [_annotation(1, "pos"), _annotation(2, "pos"), _annotation(3, "neg")]
    score = score_task(annotations, ScoringConfig(methodology=Methodology.CONSENSUS))
    assert score.overall == pytest.approx(2 / 3)
    assert score.dimensions == pytest.approx({"sentiment": 2 / 3})
    # Pair scores are the same under both methodologies; only their combination differs.
    assert score.pairs == score_task(annotations).pairs


def test_consensus_threshold_applies_to_continuous_pair_scores() -> None:
    annotations = [_annotation(1, "a", "b"), _annotation(2, "a"), _annotation(3, "b", "c")]
    # 1-2 Jaccard({a,b},{a}) = 1/2; 1-3 Jaccard({a,b},{b,c}) = 1/3; 2-3 = 0.
    at_half = score_task(annotations, ScoringConfig(methodology=Methodology.CONSENSUS))
    assert at_half.overall == pytest.approx(2 / 3)  # 1 gathers 2
    at_third = ScoringConfig(methodology=Methodology.CONSENSUS, consensus_threshold=0.3)
    assert score_task(annotations, at_third).overall == 1.0  # 1 gathers 2 and 3
    strict = ScoringConfig(methodology=Methodology.CONSENSUS, consensus_threshold=0.9)
    assert score_task(annotations, strict).overall == pytest.approx(1 / 3)


@given(st.lists(strategies.results, max_size=5), strategies.weights)
@settings(deadline=None)
def test_pairwise_equals_recompute_and_the_stream(
    results: list[list[ResultItem]], weights: dict[str, float] | None
) -> None:
    by_id = {str(n): result for n, result in enumerate(results)}
    annotations = [{"id": n, "result": result} for n, result in enumerate(results)]
    config = None
    if weights is not None:
        # The weighted tags with their types' default metrics, as from_label_studio builds.
        types = {"sentiment": "choices", "topics": "choices", "stars": "rating"}
        config = ScoringConfig(
            tags={
                tag: TagScoring(DEFAULT_METRIC.get(types[tag], "exact_match"), weight=weight)
                for tag, weight in weights.items()
            }
        )
    score = score_task(annotations, config)
    assert score.overall == recompute(by_id, weights)
    task = TaskAgreement(weights)
    for annotation_id, result in by_id.items():
        task.upsert(annotation_id, result)
    assert score.overall == task.score
    assert score.pairs == task.pair_scores


# --- custom metric -----------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"{CUSTOM}:same_region_count", f"{CUSTOM}.same_region_count"])
def test_custom_metric_by_dotted_path(path: str) -> None:
    annotations = [_annotation(1, "pos"), _annotation(2, "neg"), _annotation(3, "pos", "neg")]
    score = score_task(annotations, ScoringConfig(custom_metric=path))
    # Same number of items: 1-2 yes, 1-3 and 2-3 no.
    assert score.pairs == {("1", "2"): 1.0, ("1", "3"): 0.0, ("2", "3"): 0.0}
    assert score.overall == pytest.approx(1 / 3)
    # The custom metric replaces the per-tag scoring: no dimensions.
    assert score.dimensions == {}


def test_custom_metric_sees_whole_annotations() -> None:
    annotations = [_annotation(1, "pos", lead_time=2.0), _annotation(2, "pos", lead_time=8.0)]
    config = ScoringConfig(custom_metric=f"{CUSTOM}:lead_time_ratio")
    assert score_task(annotations, config).overall == 0.25


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_such_package.metrics:agreement", "cannot import module 'no_such_package.metrics'"),
        (f"{CUSTOM}:missing", "has no 'missing'"),
        (f"{CUSTOM}:NOT_CALLABLE", "is not callable"),
        ("agreement", "is not 'package.module:function'"),
        (f"{CUSTOM}:", "is not 'package.module:function'"),
    ],
)
def test_bad_custom_metric_path_is_a_clear_error(path: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScoringConfig(custom_metric=path)
    with pytest.raises(ValueError, match=message):
        load_custom_metric(path)


def test_custom_metric_must_return_a_number() -> None:
    config = ScoringConfig(custom_metric=f"{CUSTOM}:not_a_number")
    with pytest.raises(ValueError, match="returned 'high'"):
        score_task([_annotation(1, "pos"), _annotation(2, "pos")], config)


# --- configuration -----------------------------------------------------------------------


def test_config_from_label_studio_project() -> None:
    project = _load("project-api.json")
    config = ScoringConfig.from_label_studio(project=project, methodology="consensus")
    assert config.tags["sentiment"] == TagScoring("choices", {}, 1.0, None)
    assert config.tags["taxonomy"] == TagScoring("taxonomy", {}, 3.0, None)
    assert config.tags["quality"].weight == 0.0
    assert config.methodology == "consensus"
    assert config.weights == {"sentiment": 1.0, "taxonomy": 3.0, "quality": 0.0}
    assert config.metrics["sentiment"] is choices
    # The XML given apart wins over the project's, and weights still come from the project.
    only_sentiment = (
        '<View><Text name="text" value="$text"/>'
        '<Choices name="sentiment" toName="text"><Choice value="pos"/></Choices></View>'
    )
    narrowed = ScoringConfig.from_label_studio(only_sentiment, project)
    # Tags the XML lacks keep their control_weights entry (with their type's metric).
    assert narrowed.tags["taxonomy"] == TagScoring("taxonomy", {}, 3.0, None)


def test_config_with_rating_range_from_the_label_config() -> None:
    config = ScoringConfig.from_label_studio(
        '<View><Text name="t" value="$t"/><Rating name="stars" toName="t"/></View>'
    )
    assert config.tags["stars"] == TagScoring("numeric_difference", {"range": 4.0})


def test_config_dict_round_trip_and_defaults() -> None:
    config = ScoringConfig(
        tags={"sentiment": TagScoring("choices", weight=2.0), "taxonomy": TagScoring("taxonomy")},
        methodology=Methodology.CONSENSUS,
        consensus_threshold=0.75,
        include_predictions=True,
        include_ground_truth=False,
        custom_metric=f"{CUSTOM}:same_region_count",
    )
    body = json.loads(json.dumps(config.to_dict()))
    assert ScoringConfig.from_dict(body) == config
    assert ScoringConfig.from_dict({}) == ScoringConfig()
    # Unknown fields are ignored, as in every Quorum event.
    assert ScoringConfig.from_dict({"future_option": 1}) == ScoringConfig()
    assert ScoringConfig().to_dict() == {
        "methodology": "pairwise",
        "consensus_threshold": 0.5,
        "include_predictions": False,
        "include_ground_truth": True,
        "custom_metric": None,
        "tags": {},
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be an object"),
        ({"tags": []}, "'tags' must be an object"),
        ({"tags": {"s": "choices"}}, r"tags\['s'\] must be an object"),
        ({"tags": {"s": {"metric": 3}}}, r"tags\['s'\]\.metric"),
        ({"tags": {"s": {"params": {"range": 2}}}}, "parameters and label weights need a metric"),
        ({"tags": {"s": {"metric": "choices", "weight": -1}}}, r"tags\['s'\]\.weight"),
        ({"tags": {"s": {"metric": "choices", "weight": "1"}}}, r"tags\['s'\]\.weight"),
        ({"tags": {"s": {"metric": "choices", "params": [1]}}}, r"tags\['s'\]\.params"),
        ({"tags": {"s": {"metric": "no_such_metric"}}}, "unknown metric 'no_such_metric'"),
        ({"tags": {"s": {"metric": "choices", "params": {"x": 1}}}}, "bad parameters"),
        ({"methodology": "majority"}, "methodology must be one of"),
        ({"consensus_threshold": 2}, "consensus threshold"),
        ({"include_predictions": "yes"}, "include_predictions must be true or false"),
    ],
)
def test_config_from_dict_errors_name_the_field(body: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ScoringConfig.from_dict(body)


def test_tag_with_weight_only_keeps_its_type_default_metric() -> None:
    config = ScoringConfig.from_dict({"tags": {"s": {"weight": 2.0}, "t": {"weight": 1.0}}})
    assert config.metrics == {}
    assert config.weights == {"s": 2.0, "t": 1.0}
    a = [choices_item("s", ["pos"]), choices_item("t", ["x"])]
    b = [choices_item("s", ["pos"]), choices_item("t", ["y"])]
    annotations = [{"id": 1, "result": a}, {"id": 2, "result": b}]
    # s agrees (1.0, weight 2), t does not (0.0, weight 1): 2/3 with the default metrics.
    assert score_task(annotations, config).overall == pytest.approx(2 / 3)


def test_config_label_weights_must_be_valid() -> None:
    with pytest.raises(ValueError, match="label weight of 'Car'"):
        ScoringConfig(tags={"box": TagScoring("exact_match", label_weights={"Car": -2.0})})


# --- per-dimension pair scores -----------------------------------------------------------


@given(strategies.results, strategies.results, strategies.weights)
def test_score_pair_overall_is_pair_score_and_symmetric(
    a: list[ResultItem], b: list[ResultItem], weights: dict[str, float] | None
) -> None:
    scored = score_pair(a, b, None, weights)
    assert scored.overall == pair_score(a, b, weights)
    reverse = score_pair(b, a, None, weights)
    assert reverse.overall == scored.overall
    assert reverse.dimensions == scored.dimensions
    assert all(0.0 <= s <= 1.0 for s in scored.dimensions.values())


def test_score_pair_dimensions_by_hand() -> None:
    cat, dog = ["Animal", "Cat"], ["Animal", "Dog"]
    a = [choices_item("sentiment", ["pos"]), _taxonomy_item(cat, dog)]
    b = [choices_item("sentiment", ["pos"]), _taxonomy_item(cat)]
    scored = score_pair(a, b)
    assert scored.dimensions == {"sentiment": 1.0, "taxonomy": 0.5}
    assert scored.overall == 0.75
    # Only in one annotation: 0 for that tag.
    assert score_pair(a, b[:1]).dimensions == {"sentiment": 1.0, "taxonomy": 0.0}
    # A tag's configured metric replaces its type's default.
    assert score_pair(a, b, {"taxonomy": exact_match}).dimensions["taxonomy"] == 0.0
    # Weight 0 removes the tag from both.
    assert score_pair(a, b, None, {"taxonomy": 0}).dimensions == {"sentiment": 1.0}


def test_score_pair_clips_each_dimension_but_averages_like_pair_score() -> None:
    a = [choices_item("sentiment", ["pos"]), choices_item("topics", ["x"])]
    metrics: dict[str, Metric] = {"sentiment": lambda x, y: 1.5, "topics": lambda x, y: 0.25}
    scored = score_pair(a, a, metrics)
    assert scored.dimensions == {"sentiment": 1.0, "topics": 0.25}
    # Mean of the raw scores (1.5 + 0.25) / 2, then clipped, as pair_score does.
    assert scored.overall == 0.875


# --- Label Studio export -----------------------------------------------------------------


def test_score_export_by_hand() -> None:
    export = _load("export-label-studio-json.json")
    config = ScoringConfig.from_label_studio(project=_load("project-api.json"))
    scores = score_export(export, config)
    assert list(scores) == [101, 102, 103, 104]
    # 101: pos, pos (completed_by as an object), neg; 1004 skipped: (1 + 0 + 0) / 3.
    assert scores[101].overall == pytest.approx(1 / 3)
    assert scores[101].annotation_ids == ("1001", "1002", "1003")
    # 102: ground truth pos against neg.
    assert scores[102].overall == 0.0
    assert scores[103].overall is None
    # 104: sentiment 1, taxonomy Jaccard 1/2 weighted 3, quality (weight 0) out:
    # (1 + 3 * 1/2) / 4.
    assert scores[104].overall == pytest.approx(5 / 8)
    assert scores[104].dimensions == {"sentiment": 1.0, "taxonomy": 0.5}


def test_score_export_with_predictions_and_without_ground_truth() -> None:
    export = _load("export-label-studio-json.json")
    config = ScoringConfig.from_label_studio(
        project=_load("project-api.json"), include_predictions=True, include_ground_truth=False
    )
    scores = score_export(export, config)
    # 101 + prediction pos: pairs 1001-1002, 1001-p, 1002-p agree of six: 1/2.
    assert scores[101].overall == 0.5
    assert scores[101].annotation_count == 4
    # 102 without its ground truth: one annotation.
    assert scores[102].overall == 1.0


def test_score_export_needs_a_json_export() -> None:
    with pytest.raises(ValueError, match="list of tasks"):
        score_export({"id": 1})
    with pytest.raises(ValueError, match="'annotations' must be a list"):
        score_export([{"id": 1, "annotations": {}}])


def test_jaccard_reference_for_multi_choice_cases() -> None:
    # The hand-worked numbers above, from the definition.
    assert jaccard({"a", "b"}, {"a"}) == 0.5
    assert jaccard({"a", "b"}, {"b", "c"}) == pytest.approx(1 / 3)


def test_a_custom_metric_that_raises_is_named_in_the_error() -> None:
    config = ScoringConfig(custom_metric=f"{CUSTOM}:fails_on_neutral")
    with pytest.raises(CustomMetricError, match=r"fails_on_neutral.*raised KeyError"):
        score_task([_annotation(1, "pos"), _annotation(2, "neu")], config)
    assert score_task([_annotation(1, "pos"), _annotation(2, "pos")], config).overall == 1.0
