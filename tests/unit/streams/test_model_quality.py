"""Model evaluation in the workflow agent: ProjectModels' events, regressions, state round
trips, and the model-quality output events."""

from __future__ import annotations

from typing import Any, cast

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assignment.model_settings import (
    MetricMean,
    ModelEvaluationSettings,
    ModelMetric,
    ModelRecovered,
    ModelRegressed,
    ModelScores,
    RecoveryReason,
)
from assignment.prediction_scores import PredictionScore
from streams.model_quality import ModelQuality, ProjectModels
from streams.models.outputs import (
    MODEL_QUALITY,
    MODEL_RECOVERED,
    MODEL_REGRESSED,
    model_output,
)

DAY = 86_400.0
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
STRICT = ModelEvaluationSettings(regression_margin=0.1, min_scored_tasks=3,
                                 regression_metrics=(ModelMetric.ANNOTATORS,))


def score(version: str, annotators: float | None = None, consensus: float | None = None,
          ground_truth: float | None = None) -> PredictionScore:
    return PredictionScore(version, annotators, consensus, ground_truth)


def regressions(events: list[Any]) -> list[ModelRegressed]:
    return [e for e in events if isinstance(e, ModelRegressed)]


def qualities(events: list[Any]) -> list[ModelQuality]:
    return [e for e in events if isinstance(e, ModelQuality)]


# Events -------------------------------------------------------------------------------------


def test_a_new_version_reports_its_figures() -> None:
    models = ProjectModels()
    events = models.scores("t1", {"p1": score("v1", 1.0, 0.5, None)}, T0)
    assert events == [ModelQuality("v1", ModelScores(
        "v1", T0, 1, MetricMean(1.0, 1), MetricMean(0.5, 1), MetricMean(None, 0)))]


def test_unchanged_scores_report_nothing_and_changed_ones_report_their_version() -> None:
    models = ProjectModels()
    models.scores("t1", {"p1": score("v1", 1.0), "p2": score("v2", 0.0)}, T0)
    assert models.scores("t1", {"p1": score("v1", 1.0), "p2": score("v2", 0.0)}, T0 + 5) == []
    events = models.scores("t1", {"p1": score("v1", 1.0), "p2": score("v2", 0.5)}, T0 + 9)
    assert [e.model_version for e in qualities(events)] == ["v2"]
    first = events[0]
    assert isinstance(first, ModelQuality)  # the figures; only they have scores
    assert first.scores.annotators == MetricMean(0.5, 1)


def test_a_task_that_lost_its_predictions_leaves_the_figures() -> None:
    models = ProjectModels()
    models.scores("t1", {"p1": score("v1", 1.0)}, T0)
    models.scores("t2", {"p2": score("v1", 0.0)}, T0)
    events = models.scores("t1", {}, T0 + 1)
    assert events == [ModelQuality("v1", ModelScores(
        "v1", T0, 1, MetricMean(0.0, 1), MetricMean(None, 0), MetricMean(None, 0)))]
    assert models.scores("t1", {}, T0 + 2) == []  # already gone
    assert models.quality("v1") == events[0]


def test_versions_are_reported_in_first_seen_order() -> None:
    models = ProjectModels()
    models.scores("t0", {"p0": score("b", 1.0)}, T0)
    models.scores("t1", {"p1": score("a", 1.0)}, T0 + 10)
    events = models.scores("t2", {"x": score("a", 0.0), "y": score("b", 0.0)}, T0 + 20)
    # The two versions' figures (ModelQuality events, which name their model_version).
    assert [e.model_version for e in cast("list[ModelQuality]", events)] == ["b", "a"]


def test_a_worse_version_regresses_once_both_have_enough_tasks() -> None:
    models = ProjectModels(STRICT)
    for i in range(3):
        assert regressions(models.scores(f"old{i}", {f"o{i}": score("v1", 0.9)}, T0 + i)) == []
    # v2 is 0.3 below v1 on the watched metric, 0.5 below on another one, but has only
    # two scored tasks: no alert yet.
    for i in range(2):
        events = models.scores(f"new{i}", {f"n{i}": score("v2", 0.6, 0.4)}, T0 + DAY + i)
        assert regressions(events) == []
    events = models.scores("new2", {"n2": score("v2", 0.6, 0.4)}, T0 + DAY + 2)
    (regressed,) = regressions(events)
    assert regressed == ModelRegressed("v2", "v1", ModelMetric.ANNOTATORS, 0.6,
                                       cast(float, pytest.approx(0.9)), 0.1)
    assert regressed.previous - regressed.new > STRICT.regression_margin
    # Regression events come after the figures that caused them, and only once.
    assert isinstance(events[0], ModelQuality) and events[-1] == regressed
    assert regressions(models.scores("new3", {"n3": score("v2", 0.6)}, T0 + DAY + 3)) == []
    assert models.evaluation.regressions() == [("v2", ModelMetric.ANNOTATORS)]


def test_a_version_within_the_margin_does_not_regress() -> None:
    models = ProjectModels(STRICT)
    for i in range(3):
        models.scores(f"old{i}", {f"o{i}": score("v1", 0.9)}, T0 + i)
    for i in range(5):
        events = models.scores(f"new{i}", {f"n{i}": score("v2", 0.85)}, T0 + DAY + i)
        assert regressions(events) == []


def test_a_regressed_version_that_recovers_can_regress_again() -> None:
    models = ProjectModels(STRICT)
    for i in range(3):
        models.scores(f"old{i}", {f"o{i}": score("v1", 1.0)}, T0 + i)
    for i in range(3):
        models.scores(f"new{i}", {f"n{i}": score("v2", 0.5)}, T0 + DAY + i)
    assert models.evaluation.regressions() == [("v2", ModelMetric.ANNOTATORS)]
    recovered = []
    for i in range(3):
        recovered += models.scores(f"new{i}", {f"n{i}": score("v2", 1.0)}, T0 + DAY + 10 + i)
    assert models.evaluation.regressions() == []
    # The alert is closed once, by the first update back within the margin.
    [closed] = [e for e in recovered if isinstance(e, ModelRecovered)]
    assert (closed.new_version, closed.previous_version, closed.reason) == (
        "v2", "v1", RecoveryReason.WITHIN_MARGIN)
    events = []
    for i in range(3):
        events += models.scores(f"new{i}", {f"n{i}": score("v2", 0.0)}, T0 + DAY + 20 + i)
    assert [(e.new_version, e.previous_version) for e in regressions(events)] == [("v2", "v1")]


def test_new_settings_apply_to_the_predictions_scored_before() -> None:
    models = ProjectModels(STRICT)
    for i in range(3):
        models.scores(f"old{i}", {f"o{i}": score("v1", 0.9)}, T0 + i)
        assert regressions(models.scores(f"new{i}", {f"n{i}": score("v2", 0.85)},
                                         T0 + DAY + i)) == []  # 0.05 <= 0.1
    figures = [models.quality(v) for v in models.evaluation.versions()]
    tighter = ModelEvaluationSettings(regression_margin=0.02, min_scored_tasks=3,
                                      regression_metrics=(ModelMetric.ANNOTATORS,))
    events = models.reconfigure(tighter)
    # Only the regression: the overall figures do not depend on the settings.
    assert events == [ModelRegressed("v2", "v1", ModelMetric.ANNOTATORS, 0.85, 0.9, 0.02)]
    assert models.settings == tighter
    assert [models.quality(v) for v in models.evaluation.versions()] == figures
    assert models.reconfigure(tighter) == []
    # Back to the wider margin: the alert is closed, and re-armed.
    assert models.reconfigure(STRICT) == [ModelRecovered(
        "v2", "v1", ModelMetric.ANNOTATORS, 0.85, 0.9, STRICT.regression_margin,
        RecoveryReason.WITHIN_MARGIN)]
    assert models.evaluation.regressions() == []


def test_bad_input_changes_nothing() -> None:
    models = ProjectModels()
    models.scores("t1", {"p1": score("v1", 1.0)}, T0)
    state = models.to_state()
    for task, scores, now in (
        ("t2", {"p2": score("v1", 0.0), "p3": 0.5}, T0),  # not a PredictionScore
        ("t2", {"p2": score("v1", 0.0)}, float("nan")),
        (7, {"p2": score("v1", 0.0)}, T0),
    ):
        with pytest.raises(ValueError):
            models.scores(task, scores, now)  # type: ignore[arg-type]
        assert models.to_state() == state


# State --------------------------------------------------------------------------------------

update = st.tuples(
    st.sampled_from(["t1", "t2", "t3", "t4"]),
    st.dictionaries(
        st.sampled_from(["p1", "p2", "p3"]),
        st.builds(score, st.sampled_from(["v1", "v2", "v3"]),
                  st.one_of(st.none(), st.sampled_from([0.0, 0.25, 1 / 3, 1.0])),
                  st.one_of(st.none(), st.sampled_from([0.0, 0.5, 0.1])),
                  st.one_of(st.none(), st.sampled_from([0.0, 1.0, 0.7]))),
        max_size=3),
    st.floats(0, 3 * DAY),
)


@settings(max_examples=100, deadline=None)
@given(before=st.lists(update, max_size=15), after=st.lists(update, max_size=10))
def test_state_round_trips_exactly_and_resumes_identically(
    before: list[Any], after: list[Any]
) -> None:
    settings_ = ModelEvaluationSettings(bucket_seconds=DAY / 2, regression_margin=0.05,
                                        min_scored_tasks=1)
    live = ProjectModels(settings_)
    for task, scores, offset in before:
        live.scores(task, scores, T0 + offset)
    state = orjson.loads(orjson.dumps(live.to_state()))
    resumed = ProjectModels.from_state(state)
    assert resumed.to_state() == live.to_state()
    assert resumed.settings == settings_
    for task, scores, offset in after:
        now = T0 + 3 * DAY + offset
        assert resumed.scores(task, scores, now) == live.scores(task, scores, now)
    assert resumed.to_state() == live.to_state()
    for version in live.evaluation.versions():
        assert resumed.quality(version) == live.quality(version)
        assert resumed.evaluation.timeline(version) == live.evaluation.timeline(version)


new_settings = st.builds(
    ModelEvaluationSettings,
    bucket_seconds=st.sampled_from([DAY / 2, DAY, 3_600.0]),
    regression_margin=st.sampled_from([0.0, 0.05, 0.2]),
    min_scored_tasks=st.integers(1, 2),
    regression_metrics=st.lists(st.sampled_from(list(ModelMetric)), unique=True).map(tuple),
)
step = st.one_of(update, new_settings)


def apply(models: ProjectModels, change: Any, now: float) -> list[Any]:
    if isinstance(change, ModelEvaluationSettings):
        return models.reconfigure(change)
    task, scores, offset = change
    return models.scores(task, scores, now + offset)


@settings(max_examples=100, deadline=None)
@given(before=st.lists(step, max_size=15), after=st.lists(step, max_size=10))
def test_settings_changes_round_trip_and_replay_identically(
    before: list[Any], after: list[Any]
) -> None:
    live = ProjectModels(STRICT)
    for change in before:
        apply(live, change, T0)
    resumed = ProjectModels.from_state(orjson.loads(orjson.dumps(live.to_state())))
    assert resumed.to_state() == live.to_state()
    assert resumed.settings == live.settings
    for change in after:
        assert apply(resumed, change, T0 + 3 * DAY) == apply(live, change, T0 + 3 * DAY)
    assert resumed.to_state() == live.to_state()
    for version in live.evaluation.versions():
        assert resumed.evaluation.timeline(version) == live.evaluation.timeline(version)


@pytest.mark.parametrize(("state", "words"), [
    ({"version": 2, "evaluation": {}}, "version 2, expected 1"),
    ([], "version None"),
    ({"version": 1}, "has no evaluation"),
    ({"version": 1, "evaluation": {"version": 2}}, "malformed"),
    ({"version": 1, "evaluation": {"version": 1}}, "version 1, expected 2"),
])
def test_a_state_that_does_not_fit_is_refused(state: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        ProjectModels.from_state(state)


# Output events ------------------------------------------------------------------------------

ENVELOPE = {"event_id": "0:5:1", "project_id": "p", "occurred_at": "2027-01-15T08:00:00+00:00"}


def test_model_quality_output() -> None:
    outcome = ModelQuality("v2", ModelScores("v2", 0.0, 4, MetricMean(0.75, 4),
                                             MetricMean(None, 0), MetricMean(1.0, 1)))
    topic, key, body = model_output(outcome, **ENVELOPE)
    assert (topic, key) == ("model-quality", "p:v2")
    assert body == {
        "schema": MODEL_QUALITY, **ENVELOPE, "model_version": "v2",
        "first_seen": "1970-01-01T00:00:00+00:00", "predictions": 4,
        "annotators_agreement": 0.75, "annotators_tasks": 4,
        "consensus_agreement": None, "consensus_tasks": 0,
        "ground_truth_agreement": 1.0, "ground_truth_tasks": 1,
    }
    orjson.dumps(body)  # JSON-ready


def test_model_regressed_output() -> None:
    outcome = ModelRegressed("v2", "v1", ModelMetric.GROUND_TRUTH, 0.6, 0.9, 0.05)
    topic, key, body = model_output(outcome, **ENVELOPE)
    assert (topic, key) == ("model-quality", "p:v2")
    assert body == {
        "schema": MODEL_REGRESSED, **ENVELOPE, "model_version": "v2",
        "previous_version": "v1", "metric": "ground_truth", "agreement": 0.6,
        "previous_agreement": 0.9, "margin": 0.05,
    }
    assert type(body["metric"]) is str


def test_model_recovered_output() -> None:
    outcome = ModelRecovered("v2", None, ModelMetric.CONSENSUS, 0.6, None, 0.05,
                             RecoveryReason.NO_PREVIOUS_VERSION)
    topic, key, body = model_output(outcome, **ENVELOPE)
    assert (topic, key) == ("model-quality", "p:v2")
    assert body == {
        "schema": MODEL_RECOVERED, **ENVELOPE, "model_version": "v2",
        "previous_version": None, "metric": "consensus", "agreement": 0.6,
        "previous_agreement": None, "margin": 0.05, "reason": "no_previous_version",
    }
    assert type(body["reason"]) is str
    orjson.dumps(body)  # JSON-ready


def test_model_output_refuses_other_outcomes() -> None:
    with pytest.raises(TypeError, match="not a model evaluation outcome"):
        model_output(object(), **ENVELOPE)
