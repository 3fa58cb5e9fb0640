"""Model evaluation: prediction scores by hand, the time buckets, the regression rule,
incremental updates equal to a recompute, and state round trips."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agreement import ScoringConfig, TagScoring, pair_score
from agreement.stats.sums import ExactSum
from assignment.model_settings import (
    MetricMean,
    ModelAlert,
    ModelEvaluationSettings,
    ModelMetric,
    ModelRecovered,
    ModelRegressed,
    ModelScores,
    RecoveryReason,
)
from assignment.models import ModelEvaluation
from assignment.prediction_scores import (
    Prediction,
    PredictionScore,
    majority,
    score_predictions,
)

DAY = 86_400.0


def choice(label: str) -> list[dict[str, Any]]:
    """A single-choice Label Studio result."""
    return [{"from_name": "sentiment", "to_name": "text", "type": "choices",
             "value": {"choices": [label]}}]


def box(x: float, width: float) -> list[dict[str, Any]]:
    """A rectangle 10 high at y = 0, labelled Car."""
    value = {"x": x, "y": 0.0, "width": width, "height": 10.0, "rotation": 0.0,
             "rectanglelabels": ["Car"]}
    return [{"from_name": "box", "to_name": "image", "type": "rectanglelabels", "value": value}]


def gt_score(version: str, value: float | None) -> PredictionScore:
    return PredictionScore(version, ground_truth=value)


# -- scoring one task's predictions -----------------------------------------------------------


def test_scores_against_annotators_majority_and_ground_truth_by_hand() -> None:
    people = {"1": choice("pos"), "2": choice("pos"), "3": choice("neg")}
    predictions = {"p": Prediction("v1", choice("pos")), "q": Prediction("v2", choice("neg"))}
    scores = score_predictions(predictions, people, ground_truth=choice("pos"))
    # "pos" agrees with 2 of 3 people, with the majority {1, 2}, and with the truth.
    assert scores["p"] == PredictionScore("v1", 2 / 3, 1.0, 1.0)
    assert scores["q"] == PredictionScore("v2", 1 / 3, 0.0, 0.0)


def test_no_strict_majority_no_consensus_score() -> None:
    people = {"1": choice("pos"), "2": choice("neg")}
    assert majority(people) == ()
    scores = score_predictions({"p": Prediction("v1", choice("pos"))}, people)
    assert scores["p"] == PredictionScore("v1", 0.5, None, None)


def test_one_annotation_is_its_own_majority() -> None:
    assert majority({"7": choice("pos")}) == ("7",)
    scores = score_predictions({"p": Prediction("v1", choice("neg"))}, {"7": choice("pos")})
    assert scores["p"] == PredictionScore("v1", 0.0, 0.0, None)


def test_no_annotation_nothing_to_score() -> None:
    scores = score_predictions({"p": Prediction("v1", choice("pos"))}, {})
    assert scores["p"] == PredictionScore("v1")


def test_a_given_consensus_replaces_the_majority() -> None:
    # The reliability-weighted label may differ from the majority's.
    people = {"1": choice("pos"), "2": choice("pos"), "3": choice("neg")}
    scores = score_predictions(
        {"p": Prediction("v1", choice("neg"))}, people, consensus=choice("neg")
    )
    assert scores["p"].consensus == 1.0


def test_boxes_use_the_projects_metric() -> None:
    # IoU of [0, 10] x [0, 10] and [5, 15] x [0, 10]: 50 / 150.
    people = {"1": box(5.0, 10.0)}
    scores = score_predictions({"p": Prediction("v1", box(0.0, 10.0))}, people,
                               ground_truth=box(0.0, 10.0))
    assert scores["p"].annotators == pytest.approx(1 / 3)
    assert scores["p"].annotators == pair_score(box(0.0, 10.0), box(5.0, 10.0))
    assert scores["p"].ground_truth == 1.0
    # A project that thresholds IoU at 0.3 counts that pair as agreeing.
    thresholded = ScoringConfig(tags={"box": TagScoring("bbox_iou_threshold", {"threshold": 0.3})})
    scores = score_predictions({"p": Prediction("v1", box(0.0, 10.0))}, people,
                               config=thresholded)
    assert scores["p"].annotators == 1.0


def test_a_custom_metric_scores_whole_annotations() -> None:
    config = ScoringConfig(custom_metric="tests.unit.agreement.custom_metric:same_region_count")
    people = {"1": choice("pos"), "2": choice("neg") + choice("neu")}
    scores = score_predictions({"p": Prediction("v1", choice("neg"))}, people, config=config)
    # Same number of items as annotation 1 only.
    assert scores["p"].annotators == 0.5


def test_bad_prediction_inputs() -> None:
    with pytest.raises(ValueError, match="Prediction"):
        score_predictions({"p": ("v1", choice("pos"))}, {})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        PredictionScore("v1", annotators=1.5)
    with pytest.raises(ValueError, match="model_version"):
        PredictionScore(3)  # type: ignore[arg-type]


# -- means and time buckets --------------------------------------------------------------


def test_means_per_version_and_per_bucket_by_hand() -> None:
    evaluation = ModelEvaluation(ModelEvaluationSettings(bucket_seconds=DAY))
    evaluation.update_task("t1", {"p1": PredictionScore("v1", 1.0, 1.0, None)}, now=10.0)
    evaluation.update_task("t2", {"p2": PredictionScore("v1", 0.5, None, 0.0)}, now=20.0)
    evaluation.update_task("t3", {"p3": PredictionScore("v1", 0.0, 0.0, 1.0)}, now=DAY + 5)
    overall = evaluation.scores("v1")
    assert overall == ModelScores(
        "v1", 10.0, 3, MetricMean(0.5, 3), MetricMean(0.5, 2), MetricMean(0.5, 2)
    )
    assert evaluation.timeline("v1") == [
        ModelScores("v1", 0.0, 2, MetricMean(0.75, 2), MetricMean(1.0, 1), MetricMean(0.0, 1)),
        ModelScores("v1", DAY, 1, MetricMean(0.0, 1), MetricMean(0.0, 1), MetricMean(1.0, 1)),
    ]


def test_a_changed_score_moves_to_the_new_bucket_an_unchanged_one_stays() -> None:
    evaluation = ModelEvaluation(ModelEvaluationSettings(bucket_seconds=100.0))
    evaluation.update_task("t1", {"a": gt_score("v1", 1.0), "b": gt_score("v1", 0.0)}, now=50.0)
    evaluation.update_task("t1", {"a": gt_score("v1", 1.0), "b": gt_score("v1", 0.5)}, now=250.0)
    starts = {bucket.start: bucket.ground_truth for bucket in evaluation.timeline("v1")}
    assert starts == {0.0: MetricMean(1.0, 1), 200.0: MetricMean(0.5, 1)}


def test_removals_and_sticky_versions() -> None:
    evaluation = ModelEvaluation()
    evaluation.update_task("t1", {"p": gt_score("v1", 1.0)}, now=0.0)
    evaluation.update_task("t2", {"q": gt_score("v1", 0.0)}, now=0.0)
    evaluation.update_task("t1", {}, now=5.0)  # prediction deleted
    assert evaluation.scores("v1").ground_truth == MetricMean(0.0, 1)
    assert evaluation.remove_task("t2") == ()
    assert evaluation.remove_task("t2") == ()
    # The version stays known (and keeps its place) with nothing scored.
    assert evaluation.versions() == ["v1"]
    assert evaluation.scores("v1") == ModelScores(
        "v1", 0.0, 0, MetricMean(None, 0), MetricMean(None, 0), MetricMean(None, 0)
    )
    assert evaluation.timeline("v1") == []
    with pytest.raises(ValueError, match="no scored prediction"):
        evaluation.scores("v9")


def test_score_task_scores_and_applies() -> None:
    evaluation = ModelEvaluation()
    evaluation.score_task(
        "задача",
        predictions={"p": Prediction("модель-1", choice("pos"))},
        annotations={"1": choice("pos"), "2": choice("neg"), "3": choice("pos")},
        ground_truth=choice("neg"),
        now=1.0,
    )
    scores = evaluation.scores("модель-1")
    assert (scores.annotators.mean, scores.consensus.mean, scores.ground_truth.mean) == (
        pytest.approx(2 / 3), 1.0, 0.0
    )


# -- the regression rule ------------------------------------------------------------------

RULE = ModelEvaluationSettings(regression_margin=0.1, min_scored_tasks=3)


def feed(evaluation: ModelEvaluation, version: str, values: list[float], now: float,
         first: int = 0) -> list[ModelAlert]:
    events: list[ModelAlert] = []
    for i, value in enumerate(values, start=first):
        task = f"{version}-{i}"
        events += evaluation.update_task(task, {task: gt_score(version, value)}, now)
    return events


def test_regression_needs_enough_tasks_and_more_than_the_margin() -> None:
    evaluation = ModelEvaluation(RULE)
    assert feed(evaluation, "v1", [1.0, 1.0, 1.0], now=0.0) == []
    assert feed(evaluation, "v2", [1.0, 1.0], now=10.0) == []  # 2 < 3 tasks
    assert feed(evaluation, "v2", [0.8], now=10.0, first=2) == []  # drop 0.067 <= 0.1
    events = feed(evaluation, "v2", [0.0], now=10.0, first=3)  # mean 0.7: drop 0.3
    # 2.8 / 4 is 0.7 rounded the same way math.fsum would.
    assert events == [ModelRegressed("v2", "v1", ModelMetric.GROUND_TRUTH, 2.8 / 4, 1.0, 0.1)]
    # Once per regression: a worse score emits nothing new.
    assert feed(evaluation, "v2", [0.0], now=10.0, first=4) == []
    assert evaluation.regressions() == [("v2", ModelMetric.GROUND_TRUTH)]
    # Recovering closes the alert once (the first update back within the margin)...
    events = feed(evaluation, "v2", [1.0] * 20, now=10.0, first=5)  # 22.8 / 25
    [closed] = events
    assert closed == ModelRecovered("v2", "v1", ModelMetric.GROUND_TRUTH, closed.new, 1.0,
                                    0.1, RecoveryReason.WITHIN_MARGIN)
    assert closed.new is not None and 1.0 - closed.new <= 0.1
    assert evaluation.regressions() == []
    # ... and re-arms the rule: falling again emits again.
    events = feed(evaluation, "v2", [0.0] * 6, now=10.0, first=25)  # 22.8 / 31
    assert [type(e) for e in events] == [ModelRegressed]


def test_an_alert_closes_when_too_few_tasks_are_left() -> None:
    evaluation = ModelEvaluation(RULE)
    feed(evaluation, "v1", [1.0, 1.0, 1.0], now=0.0)
    assert len(feed(evaluation, "v2", [0.0, 0.0, 0.0], now=10.0)) == 1
    assert evaluation.remove_task("v2-2") == (
        ModelRecovered("v2", "v1", ModelMetric.GROUND_TRUTH, 0.0, 1.0, 0.1,
                       RecoveryReason.TOO_FEW_SCORED_TASKS),)
    assert evaluation.remove_task("v2-1") == ()  # closed once


def test_an_alert_closes_when_the_version_becomes_the_first() -> None:
    evaluation = ModelEvaluation(RULE)
    feed(evaluation, "v1", [1.0, 1.0, 1.0], now=10.0)
    assert len(feed(evaluation, "v2", [0.0, 0.0, 0.0], now=20.0)) == 1
    # A v2 prediction scored before v1 was first seen: v2 is the first version now.
    events = evaluation.update_task("late", {"late": gt_score("v2", 0.0)}, now=5.0)
    assert evaluation.versions() == ["v2", "v1"]
    assert ModelRecovered("v2", None, ModelMetric.GROUND_TRUTH, 0.0, None, 0.1,
                          RecoveryReason.NO_PREVIOUS_VERSION) in events


def test_a_drop_of_exactly_the_margin_is_not_a_regression() -> None:
    evaluation = ModelEvaluation(ModelEvaluationSettings(regression_margin=0.25,
                                                         min_scored_tasks=2))
    feed(evaluation, "v1", [1.0, 1.0], now=0.0)
    assert feed(evaluation, "v2", [1.0, 0.5], now=1.0) == []  # 1.0 - 0.75 == 0.25
    assert len(feed(evaluation, "v2", [0.5], now=1.0, first=2)) == 1


def test_the_one_before_is_the_previous_version_by_first_seen_time() -> None:
    evaluation = ModelEvaluation(RULE)
    feed(evaluation, "v1", [1.0, 1.0, 1.0], now=0.0)
    feed(evaluation, "v2", [0.5, 0.5, 0.5], now=10.0)
    # v3 is compared with v2 (0.5), not v1: no regression at 0.45.
    assert feed(evaluation, "v3", [0.45, 0.45, 0.45], now=20.0) == []
    assert evaluation.previous_version("v3") == "v2"
    assert evaluation.previous_version("v1") is None
    assert evaluation.regressions() == [("v2", ModelMetric.GROUND_TRUTH)]


def test_the_previous_version_needs_enough_tasks_too() -> None:
    evaluation = ModelEvaluation(RULE)
    feed(evaluation, "v1", [1.0, 1.0, 1.0], now=0.0)
    feed(evaluation, "v2", [1.0], now=10.0)  # too few to compare with
    assert feed(evaluation, "v3", [0.0, 0.0, 0.0], now=20.0) == []
    events = feed(evaluation, "v2", [1.0, 1.0], now=30.0, first=1)
    assert [(e.new_version, e.previous_version) for e in events] == [("v3", "v2")]


def test_an_earlier_first_seen_reorders_the_versions() -> None:
    evaluation = ModelEvaluation(RULE)
    feed(evaluation, "new", [0.0, 0.0, 0.0], now=100.0)
    assert evaluation.versions() == ["new"]
    # An older version's predictions arrive late, replayed with their own times.
    events = feed(evaluation, "old", [1.0, 1.0, 1.0], now=50.0)
    assert evaluation.versions() == ["old", "new"]
    assert [(e.new_version, e.previous_version) for e in events] == [("new", "old")]


def test_only_watched_metrics_regress() -> None:
    watched = ModelEvaluationSettings(regression_margin=0.1, min_scored_tasks=1,
                                      regression_metrics=(ModelMetric.ANNOTATORS,))
    evaluation = ModelEvaluation(watched)
    evaluation.update_task("t1", {"a": PredictionScore("v1", 1.0, 1.0, 1.0)}, now=0.0)
    events = evaluation.update_task("t2", {"b": PredictionScore("v2", 1.0, 0.0, 0.0)}, now=1.0)
    assert events == ()
    events = evaluation.update_task("t2", {"b": PredictionScore("v2", 0.0, 0.0, 0.0)}, now=2.0)
    assert [e.metric for e in events] == [ModelMetric.ANNOTATORS]


# -- changing the settings after predictions were scored -------------------------------------


def regressed_pair() -> ModelEvaluation:
    """v1 at 1.0 and v2 at 0.85 on ground truth, three tasks each, under a 0.2 margin."""
    evaluation = ModelEvaluation(ModelEvaluationSettings(regression_margin=0.2,
                                                         min_scored_tasks=3))
    feed(evaluation, "v1", [1.0, 1.0, 1.0], now=0.0)
    assert feed(evaluation, "v2", [0.85, 0.85, 0.85], now=10.0) == []
    return evaluation


def test_a_narrower_margin_alerts_on_predictions_scored_before_once() -> None:
    evaluation = regressed_pair()
    narrower = ModelEvaluationSettings(regression_margin=0.1, min_scored_tasks=3)
    events = evaluation.reconfigure(narrower)
    assert events == (ModelRegressed("v2", "v1", ModelMetric.GROUND_TRUTH, 0.85, 1.0, 0.1),)
    assert evaluation.settings == narrower
    assert evaluation.regressions() == [("v2", ModelMetric.GROUND_TRUTH)]
    assert evaluation.reconfigure(narrower) == ()  # the settings in use: nothing new
    # Equal settings built afresh are the same settings.
    assert evaluation.reconfigure(ModelEvaluationSettings(regression_margin=0.1,
                                                          min_scored_tasks=3)) == ()
    # Later updates are judged under the new margin.
    assert feed(evaluation, "v2", [0.85], now=20.0, first=3) == []


def test_a_wider_margin_closes_the_alert() -> None:
    evaluation = regressed_pair()
    narrow = ModelEvaluationSettings(regression_margin=0.1, min_scored_tasks=3)
    assert len(evaluation.reconfigure(narrow)) == 1
    assert evaluation.reconfigure(ModelEvaluationSettings(regression_margin=0.2,
                                                          min_scored_tasks=3)) == (
        ModelRecovered("v2", "v1", ModelMetric.GROUND_TRUTH, 0.85, 1.0, 0.2,
                       RecoveryReason.WITHIN_MARGIN),)
    assert evaluation.regressions() == []
    # Narrowed again, the regression holds again and is reported again, like a
    # version that recovered and fell back.
    assert len(evaluation.reconfigure(narrow)) == 1


def test_a_lower_minimum_compares_versions_with_fewer_scored_tasks() -> None:
    evaluation = ModelEvaluation(ModelEvaluationSettings(regression_margin=0.1,
                                                         min_scored_tasks=3))
    feed(evaluation, "v1", [1.0, 1.0], now=0.0)
    assert feed(evaluation, "v2", [0.5, 0.5], now=10.0) == []  # two tasks each, below 3
    events = evaluation.reconfigure(ModelEvaluationSettings(regression_margin=0.1,
                                                            min_scored_tasks=2))
    assert [(e.new_version, e.metric, e.new, e.previous) for e in events] == [
        ("v2", ModelMetric.GROUND_TRUTH, 0.5, 1.0)
    ]


def test_watched_metrics_follow_the_settings() -> None:
    both = (ModelMetric.ANNOTATORS, ModelMetric.GROUND_TRUTH)
    evaluation = ModelEvaluation(ModelEvaluationSettings(
        regression_margin=0.1, min_scored_tasks=1, regression_metrics=both))
    evaluation.update_task("t1", {"a": PredictionScore("v1", 1.0, 1.0, 1.0)}, now=0.0)
    events = evaluation.update_task("t2", {"b": PredictionScore("v2", 0.0, 0.0, 0.0)}, now=1.0)
    assert [e.metric for e in events] == list(both)
    # Annotators no longer watched: its alert is closed, not kept stale.
    only_truth = ModelEvaluationSettings(regression_margin=0.1, min_scored_tasks=1,
                                         regression_metrics=(ModelMetric.GROUND_TRUTH,))
    assert evaluation.reconfigure(only_truth) == (
        ModelRecovered("v2", "v1", ModelMetric.ANNOTATORS, 0.0, 1.0, 0.1,
                       RecoveryReason.NO_LONGER_WATCHED),)
    assert evaluation.regressions() == [("v2", ModelMetric.GROUND_TRUTH)]
    # Consensus now watched too: it regressed all along, so it alerts now, alone.
    events = evaluation.reconfigure(ModelEvaluationSettings(
        regression_margin=0.1, min_scored_tasks=1,
        regression_metrics=(ModelMetric.CONSENSUS, ModelMetric.GROUND_TRUTH)))
    assert [(e.new_version, e.metric) for e in events] == [("v2", ModelMetric.CONSENSUS)]


def test_new_buckets_regroup_the_predictions_scored_before() -> None:
    hour = 3_600.0
    evaluation = ModelEvaluation(ModelEvaluationSettings(bucket_seconds=DAY))
    evaluation.update_task("t1", {"p1": gt_score("v1", 1.0)}, now=10.0)
    evaluation.update_task("t2", {"p2": gt_score("v1", 0.0)}, now=2 * hour + 5)
    evaluation.update_task("t3", {"p3": gt_score("v1", 0.5)}, now=DAY + 1)
    overall = evaluation.scores("v1")
    daily = evaluation.timeline("v1")
    assert [(b.start, b.ground_truth) for b in daily] == [
        (0.0, MetricMean(0.5, 2)), (DAY, MetricMean(0.5, 1))]
    assert evaluation.reconfigure(ModelEvaluationSettings(bucket_seconds=hour)) == ()
    assert [(b.start, b.ground_truth) for b in evaluation.timeline("v1")] == [
        (0.0, MetricMean(1.0, 1)), (2 * hour, MetricMean(0.0, 1)), (DAY, MetricMean(0.5, 1))]
    assert evaluation.scores("v1") == overall  # the overall figures have no buckets
    # An unchanged score keeps its time, a new one lands in the new-size bucket.
    evaluation.update_task("t1", {"p1": gt_score("v1", 1.0), "q": gt_score("v1", 1.0)},
                           now=DAY + 3 * hour)
    assert [b.start for b in evaluation.timeline("v1")] == [0.0, 2 * hour, DAY, DAY + 3 * hour]
    evaluation.update_task("t1", {"p1": gt_score("v1", 1.0)}, now=DAY + 4 * hour)
    assert evaluation.reconfigure(ModelEvaluationSettings(bucket_seconds=DAY)) == ()
    assert evaluation.timeline("v1") == daily


def test_bad_new_settings_change_nothing() -> None:
    evaluation = regressed_pair()
    state = evaluation.to_state()
    with pytest.raises(ValueError, match="ModelEvaluationSettings"):
        evaluation.reconfigure({"regression_margin": 0.1})  # type: ignore[arg-type]
    assert evaluation.to_state() == state
    # Assigning the settings would skip the recompute: they change only by reconfigure.
    with pytest.raises(AttributeError):
        evaluation.settings = ModelEvaluationSettings()  # type: ignore[misc]


# -- incremental equals recompute, and state -------------------------------------------------

score_values = st.one_of(st.none(), st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0))
prediction_scores = st.builds(
    PredictionScore, st.sampled_from(["v1", "v2", "v3"]), score_values, score_values,
    score_values,
)
updates = st.lists(
    st.tuples(
        st.sampled_from(["t1", "t2", "t3", "t4", "t5"]),
        st.dictionaries(st.sampled_from(["p1", "p2", "p3"]), prediction_scores, max_size=3),
        st.floats(0.0, 10 * DAY),
    ),
    max_size=30,
)
SMALL_RULE = ModelEvaluationSettings(regression_margin=0.1, min_scored_tasks=2)


def recompute(state: dict[str, Any]) -> dict[tuple[str, float | None], list[float | None]]:
    """Per (version, bucket start or None for overall) and metric, math.fsum over the
    stored scores divided by their count: the figures from scratch."""
    width = state["settings"]["bucket_seconds"]
    values: dict[tuple[str, float | None], list[list[float]]] = {}
    for predictions in state["tasks"].values():
        for scored_at, version, *scores in predictions.values():
            start = math.floor(scored_at / width) * width
            for key in ((version, None), (version, start)):
                lists = values.setdefault(key, [[], [], []])
                for i, score in enumerate(scores):
                    if score is not None:
                        lists[i].append(score)
    return {
        key: [math.fsum(v) / len(v) if v else None for v in lists]
        for key, lists in values.items()
    }


@settings(max_examples=80, deadline=None)
@given(updates)
def test_incremental_means_equal_a_recompute_to_the_bit(
    steps: list[tuple[str, dict[str, PredictionScore], float]],
) -> None:
    evaluation = ModelEvaluation(SMALL_RULE)
    for task, scores, now in steps:
        # Prediction ids are unique per project: prefix them with the task.
        evaluation.update_task(task, {f"{task}/{k}": s for k, s in scores.items()}, now)
    expected = recompute(evaluation.to_state())
    for version in evaluation.versions():
        overall = evaluation.scores(version)
        figures = [overall.annotators.mean, overall.consensus.mean, overall.ground_truth.mean]
        assert figures == expected.get((version, None), [None, None, None])
        for bucket in evaluation.timeline(version):
            figures = [bucket.annotators.mean, bucket.consensus.mean, bucket.ground_truth.mean]
            assert figures == expected[(version, bucket.start)]


@settings(max_examples=60, deadline=None)
@given(updates, updates)
def test_state_round_trip_resumes_exactly(
    before: list[tuple[str, dict[str, PredictionScore], float]],
    after: list[tuple[str, dict[str, PredictionScore], float]],
) -> None:
    evaluation = ModelEvaluation(SMALL_RULE)
    for task, scores, now in before:
        evaluation.update_task(task, scores, now)
    restored = ModelEvaluation.from_state(json.loads(json.dumps(evaluation.to_state())))
    assert restored.to_state() == evaluation.to_state()
    for task, scores, now in after:
        assert restored.update_task(task, scores, now) == evaluation.update_task(
            task, scores, now
        )
    assert restored.to_state() == evaluation.to_state()
    for version in evaluation.versions():
        assert restored.scores(version) == evaluation.scores(version)
        assert restored.timeline(version) == evaluation.timeline(version)


rule_settings = st.builds(
    ModelEvaluationSettings,
    bucket_seconds=st.sampled_from([3_600.0, DAY, 7 * DAY, 1_000.5]),
    regression_margin=st.sampled_from([0.0, 0.05, 0.1, 0.3]),
    min_scored_tasks=st.integers(1, 3),
    regression_metrics=st.lists(st.sampled_from(list(ModelMetric)), unique=True).map(tuple),
)


@settings(max_examples=80, deadline=None)
@given(updates, rule_settings, rule_settings)
def test_new_settings_give_the_evaluation_they_would_have_given_from_the_start(
    steps: list[tuple[str, dict[str, PredictionScore], float]],
    old: ModelEvaluationSettings,
    new: ModelEvaluationSettings,
) -> None:
    changed = ModelEvaluation(old)
    fresh = ModelEvaluation(new)
    for task, scores, at in steps:
        changed.update_task(task, scores, at)
        fresh.update_task(task, scores, at)
    before = set(changed.regressions())
    events = changed.reconfigure(new)
    assert changed.to_state() == fresh.to_state()
    for version in fresh.versions():
        assert changed.scores(version) == fresh.scores(version)
        assert changed.timeline(version) == fresh.timeline(version)
    # Reported once: exactly the pairs that regress now and did not before, and the
    # alerts closed of those that regressed before and do not now.
    now = set(fresh.regressions())
    regressed = [(e.new_version, e.metric) for e in events if isinstance(e, ModelRegressed)]
    recovered = [(e.new_version, e.metric) for e in events if isinstance(e, ModelRecovered)]
    assert regressed == sorted(now - before, key=lambda pair: (
        changed.versions().index(pair[0]), new.regression_metrics.index(pair[1])))
    assert sorted(recovered) == sorted(before - now)
    assert len(recovered) == len(set(recovered))
    assert all(e.margin == new.regression_margin for e in events)
    assert changed.reconfigure(new) == ()


def test_exact_sums_leave_nothing_after_removing_everything() -> None:
    evaluation = ModelEvaluation()
    for i, value in enumerate([0.1, 0.7, 1e-17, 0.2]):
        evaluation.update_task(f"t{i}", {f"p{i}": gt_score("v1", value)}, now=float(i))
    for i in range(4):
        evaluation.remove_task(f"t{i}")
    assert evaluation.scores("v1").ground_truth == MetricMean(None, 0)
    # The same partial sums ExactSum keeps: nothing is left, not a rounding residue.
    total = ExactSum()
    for value in [0.1, 0.7, 1e-17, 0.2]:
        total.add(value)
    for value in [0.1, 0.7, 1e-17, 0.2]:
        total.remove(value)
    assert total.is_zero()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"bucket_seconds": 0.0}, "bucket_seconds"),
        ({"bucket_seconds": "1d"}, "bucket_seconds"),
        ({"regression_margin": 1.5}, "regression_margin"),
        ({"min_scored_tasks": 0}, "min_scored_tasks"),
        ({"regression_metrics": ("accuracy",)}, "regression_metrics"),
    ],
)
def test_bad_settings_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelEvaluationSettings(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(version=0), "version 0"),
        # Version 1 kept bucket starts, which cannot be re-bucketed: rebuilt, not read.
        (lambda s: s.update(version=1), "version 1, expected 2; rebuild .* `quorum rebuild`"),
        (lambda s: s.pop("first_seen"), "malformed"),
        (lambda s: s["tasks"]["t1"]["p"].__setitem__(1, "v9"), "unknown version"),
        (lambda s: s["tasks"]["t1"]["p"].__setitem__(2, 2.0), "malformed"),
        (lambda s: s.update(regressed=[["v1", "speed"]]), "malformed"),
    ],
)
def test_bad_states_are_refused(change: object, message: str) -> None:
    evaluation = ModelEvaluation()
    evaluation.update_task("t1", {"p": PredictionScore("v1", 1.0)}, now=0.0)
    state = json.loads(json.dumps(evaluation.to_state()))
    change(state)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        ModelEvaluation.from_state(state)


def test_bad_updates_are_refused() -> None:
    evaluation = ModelEvaluation()
    with pytest.raises(ValueError, match="now"):
        evaluation.update_task("t1", {}, now=math.nan)
    with pytest.raises(ValueError, match="PredictionScore"):
        evaluation.update_task("t1", {"p": 1.0}, now=0.0)  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="task"):
        evaluation.update_task(7, {}, now=0.0)  # type: ignore[arg-type]
