"""Project configuration, annotator quality settings: evaluation and reliability."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from assignment import EvaluationSettings
from streams.models.invalid import InvalidEvent
from streams.models.project import ProjectConfig, parse_project_config
from streams.quality import EVALUATION_FIELDS, QualitySettings


def config_bytes(**fields: Any) -> bytes:
    return orjson.dumps({"schema": "quorum.project/v1", "project_id": 1, **fields})


def refusal(raw: bytes) -> str:
    with pytest.raises(InvalidEvent) as caught:
        parse_project_config(raw)
    return str(caught.value)


def test_defaults_evaluate_nothing_and_estimate_reliability() -> None:
    config = parse_project_config(config_bytes())
    assert config.evaluation == EvaluationSettings()
    assert config.evaluation.enabled is False
    assert config.reliability is True
    assert config.quality_settings == QualitySettings()


def test_a_configuration_stored_before_these_fields_parses_as_before() -> None:
    legacy = ProjectConfig("7", annotations_per_task=3, distribute=True).to_dict()
    del legacy["evaluation"], legacy["reliability"]
    assert parse_project_config(orjson.dumps(legacy)) == ProjectConfig(
        "7", annotations_per_task=3, distribute=True
    )


def test_null_evaluation_keeps_the_defaults() -> None:
    assert parse_project_config(config_bytes(evaluation=None)).evaluation == EvaluationSettings()


def test_every_evaluation_setting_reaches_the_quality_settings() -> None:
    evaluation: dict[str, Any] = {
        "enabled": True,
        "onboarding_tasks": 5,
        "continuous_share": 0.1,
        "pause_on_failure": True,
        "minimum_score": 0.8,
        "minimum_tasks": 12,
        "review_below": 0.5,
    }
    assert set(evaluation) == set(EVALUATION_FIELDS)
    config = parse_project_config(config_bytes(evaluation=evaluation, reliability=False))
    expected = EvaluationSettings(**evaluation)
    assert config.evaluation == expected
    assert config.quality_settings == QualitySettings(evaluation=expected, reliability=False)


def test_absent_evaluation_fields_keep_their_defaults() -> None:
    config = parse_project_config(config_bytes(evaluation={"minimum_score": 1}))
    assert config.evaluation == EvaluationSettings(minimum_score=1.0)
    assert isinstance(config.evaluation.minimum_score, float)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"evaluation": [1]}, ["'evaluation'", "an object", "a list"]),
        ({"evaluation": "strict"}, ["'evaluation'", "an object", "a string"]),
        ({"evaluation": {"minimum": 0.9}},
         ["'evaluation'", "unknown evaluation setting 'minimum'", "minimum_score"]),
        ({"evaluation": {"minimum_score": 95}}, ["'evaluation'", "minimum_score", "[0, 1]", "95"]),
        ({"evaluation": {"minimum_tasks": -1}}, ["'evaluation'", "minimum_tasks", ">= 0"]),
        ({"evaluation": {"minimum_tasks": 2.5}}, ["minimum_tasks", "whole number", "2.5"]),
        ({"evaluation": {"enabled": "yes"}}, ["'evaluation'", "enabled", "true or false"]),
        ({"evaluation": {"pause_on_failure": 1}}, ["pause_on_failure", "true or false"]),
        ({"evaluation": {"continuous_share": 2}}, ["continuous_share", "[0, 1]"]),
        ({"evaluation": {"review_below": "low"}}, ["review_below", "'low'"]),
        ({"reliability": "yes"}, ["'reliability'", "true or false", "a string"]),
        ({"reliability": None}, ["'reliability'", "true or false", "null"]),
    ],
)
def test_refusals(fields: dict[str, Any], words: list[str]) -> None:
    reason = refusal(config_bytes(**fields))
    for word in words:
        assert word in reason


@pytest.mark.parametrize(
    "config",
    [
        ProjectConfig("1"),
        ProjectConfig("1", reliability=False),
        ProjectConfig(
            "p",
            distribute=True,
            evaluation=EvaluationSettings(
                enabled=True,
                onboarding_tasks=3,
                continuous_share=0.25,
                pause_on_failure=True,
                minimum_score=0.9,
                minimum_tasks=4,
                review_below=0.3,
            ),
        ),
    ],
)
def test_to_dict_parses_back_equal(config: ProjectConfig) -> None:
    body = config.to_dict()
    assert set(body["evaluation"]) == set(EVALUATION_FIELDS)
    assert isinstance(body["reliability"], bool)
    parsed = parse_project_config(orjson.dumps(body))
    assert parsed == config
    assert parsed.quality_settings == config.quality_settings


def test_quality_is_tracked_for_distributing_or_tracking_projects_only() -> None:
    assert parse_project_config(config_bytes()).emits_facts is False
    tracked = parse_project_config(config_bytes(track_quality=True))
    assert tracked.track_quality and tracked.emits_facts and not tracked.distribute
    assert parse_project_config(config_bytes(distribute=True)).emits_facts is True
    assert parse_project_config(orjson.dumps(tracked.to_dict())) == tracked
    legacy = tracked.to_dict()
    del legacy["track_quality"]  # stored before the field existed
    assert parse_project_config(orjson.dumps(legacy)).track_quality is False
    assert "track_quality" in refusal(config_bytes(track_quality="yes"))
