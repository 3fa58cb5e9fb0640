"""Project configuration, model evaluation settings: defaults, parsing, refusals, roundtrip."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from assignment import ModelEvaluationSettings, ModelMetric
from streams.models.invalid import InvalidEvent
from streams.models.project import MODEL_EVALUATION_FIELDS, ProjectConfig, parse_project_config


def config_bytes(**fields: Any) -> bytes:
    return orjson.dumps({"schema": "quorum.project/v1", "project_id": 1, **fields})


def refusal(raw: bytes) -> str:
    with pytest.raises(InvalidEvent) as caught:
        parse_project_config(raw)
    return str(caught.value)


def test_absent_or_null_model_evaluation_keeps_the_defaults() -> None:
    assert parse_project_config(config_bytes()).model_evaluation == ModelEvaluationSettings()
    assert parse_project_config(config_bytes(model_evaluation=None)).model_evaluation == \
        ModelEvaluationSettings()
    assert ProjectConfig("1").model_evaluation == ModelEvaluationSettings()


def test_a_configuration_stored_before_this_field_parses_as_before() -> None:
    legacy = ProjectConfig("7", annotations_per_task=3, distribute=True).to_dict()
    del legacy["model_evaluation"]
    assert parse_project_config(orjson.dumps(legacy)) == ProjectConfig(
        "7", annotations_per_task=3, distribute=True)


def test_every_setting_is_read() -> None:
    given = {"bucket_seconds": 3600, "regression_margin": 0, "min_scored_tasks": 20,
             "regression_metrics": ["ground_truth", "consensus"]}
    assert set(given) == set(MODEL_EVALUATION_FIELDS)
    settings = parse_project_config(config_bytes(model_evaluation=given)).model_evaluation
    assert settings == ModelEvaluationSettings(
        bucket_seconds=3600.0, regression_margin=0.0, min_scored_tasks=20,
        regression_metrics=(ModelMetric.GROUND_TRUTH, ModelMetric.CONSENSUS))
    # JSON integers become the float settings they stand for.
    assert type(settings.bucket_seconds) is float and type(settings.regression_margin) is float


def test_absent_settings_keep_their_defaults() -> None:
    settings = parse_project_config(config_bytes(model_evaluation={"min_scored_tasks": 5}))
    assert settings.model_evaluation == ModelEvaluationSettings(min_scored_tasks=5)
    empty = parse_project_config(config_bytes(model_evaluation={"regression_metrics": []}))
    assert empty.model_evaluation.regression_metrics == ()  # nothing watched


@pytest.mark.parametrize(("value", "words"), [
    ([1], ["'model_evaluation' must be an object", "a list"]),
    ("daily", ["'model_evaluation' must be an object", "a string"]),
    ({"margin": 0.1}, ["'model_evaluation'", "unknown setting 'margin'",
                       "bucket_seconds, regression_margin, min_scored_tasks, regression_metrics"]),
    ({"bucket_seconds": 0}, ["'model_evaluation'", "bucket_seconds must be a positive number"]),
    ({"bucket_seconds": "1d"}, ["bucket_seconds must be a number", "'1d'"]),
    ({"regression_margin": 1.5}, ["regression_margin must be in [0, 1]", "1.5"]),
    ({"regression_margin": True}, ["regression_margin must be a number"]),
    ({"min_scored_tasks": 0}, ["min_scored_tasks must be an integer >= 1", "0"]),
    ({"min_scored_tasks": 2.5}, ["min_scored_tasks must be an integer >= 1", "2.5"]),
    ({"regression_metrics": ["accuracy"]},
     ["regression_metrics must name metrics among 'annotators', 'consensus', 'ground_truth'",
      "'accuracy'"]),
    ({"regression_metrics": "consensus"},
     ["regression_metrics must be a list of metric names", "a string"]),
])
def test_refusals(value: Any, words: list[str]) -> None:
    reason = refusal(config_bytes(model_evaluation=value))
    for word in words:
        assert word in reason, reason


@pytest.mark.parametrize("config", [
    ProjectConfig("1"),
    ProjectConfig("p", distribute=True, model_evaluation=ModelEvaluationSettings(
        bucket_seconds=600.0, regression_margin=0.2, min_scored_tasks=1,
        regression_metrics=(ModelMetric.ANNOTATORS,))),
])
def test_to_dict_parses_back_equal(config: ProjectConfig) -> None:
    body = config.to_dict()
    assert set(body["model_evaluation"]) == set(MODEL_EVALUATION_FIELDS)
    assert parse_project_config(orjson.dumps(body)) == config
