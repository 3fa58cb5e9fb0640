"""Project configuration, distribution settings: defaults, the policy, refusals, roundtrip."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from assignment import DistributionPolicy, SkipMode
from assignment.consensus import ConsensusPolicy
from assignment.distribution import DEFAULT_RESERVATION_TTL
from streams.models.invalid import InvalidEvent
from streams.models.project import ProjectConfig, parse_project_config

DISTRIBUTION_FIELDS = (
    "distribute",
    "overlap_cohort_percentage",
    "show_overlap_first",
    "max_tasks_per_annotator",
    "max_share_per_annotator",
    "reservation_ttl_s",
    "skip_mode",
)


def config_bytes(**fields: Any) -> bytes:
    return orjson.dumps({"schema": "quorum.project/v1", "project_id": 1, **fields})


def refusal(raw: bytes) -> str:
    with pytest.raises(InvalidEvent) as caught:
        parse_project_config(raw)
    return str(caught.value).lower()


def test_defaults_are_label_studio_enterprises() -> None:
    config = parse_project_config(config_bytes(annotations_per_task=2))
    assert config.distribute is False
    assert config.overlap_cohort_percentage == 100.0
    assert config.show_overlap_first is False
    assert config.max_tasks_per_annotator is None
    assert config.max_share_per_annotator is None
    assert config.reservation_ttl_s == DEFAULT_RESERVATION_TTL == 86_400.0
    assert config.skip_mode == "requeue_for_others"
    assert config.distribution_policy == DistributionPolicy(
        consensus=ConsensusPolicy(overlap=2)
    )


def test_a_configuration_stored_before_these_fields_parses_as_before() -> None:
    # What `to_dict` wrote before the distribution settings existed.
    legacy = ProjectConfig("7", annotations_per_task=3, agreement_threshold=0.7).to_dict()
    for name in DISTRIBUTION_FIELDS:
        del legacy[name]
    assert parse_project_config(orjson.dumps(legacy)) == ProjectConfig(
        "7", annotations_per_task=3, agreement_threshold=0.7
    )


def test_every_setting_reaches_the_policy() -> None:
    config = parse_project_config(
        config_bytes(
            annotations_per_task=3,
            agreement_threshold=0.7,
            max_additional_annotators=2,
            distribute=True,
            overlap_cohort_percentage=40,
            show_overlap_first=True,
            max_tasks_per_annotator=50,
            max_share_per_annotator=0.25,
            reservation_ttl_s=600,
            skip_mode="count_as_done",
        )
    )
    assert config.distribute is True
    assert isinstance(config.overlap_cohort_percentage, float)
    assert isinstance(config.reservation_ttl_s, float)
    assert config.distribution_policy == DistributionPolicy(
        consensus=ConsensusPolicy(overlap=3, threshold=0.7, max_additional=2),
        overlap_cohort_percentage=40.0,
        show_overlap_first=True,
        max_tasks_per_annotator=50,
        max_share_per_annotator=0.25,
        reservation_ttl=600.0,
        skip_mode=SkipMode.COUNT_AS_DONE,
    )


def test_null_limits_mean_no_limit() -> None:
    config = parse_project_config(
        config_bytes(max_tasks_per_annotator=None, max_share_per_annotator=None)
    )
    assert config.distribution_policy.annotator_limit(1000) is None


def test_integer_share_becomes_float() -> None:
    config = parse_project_config(config_bytes(max_share_per_annotator=1))
    assert config.max_share_per_annotator == 1.0
    assert isinstance(config.max_share_per_annotator, float)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"distribute": "yes"}, ["'distribute'", "true or false", "a string"]),
        ({"distribute": 1}, ["'distribute'", "true or false", "an integer"]),
        ({"distribute": None}, ["'distribute'", "null"]),
        ({"show_overlap_first": 0}, ["'show_overlap_first'", "true or false"]),
        ({"overlap_cohort_percentage": "50"}, ["'overlap_cohort_percentage'", "a string"]),
        ({"overlap_cohort_percentage": 150}, ["overlap_cohort_percentage", "[0.0, 100.0]", "150"]),
        ({"overlap_cohort_percentage": -1}, ["overlap_cohort_percentage", "-1"]),
        ({"max_tasks_per_annotator": 0}, ["max_tasks_per_annotator", ">= 1", "0"]),
        ({"max_tasks_per_annotator": 2.5}, ["'max_tasks_per_annotator'", "integer", "a number"]),
        ({"max_tasks_per_annotator": True}, ["'max_tasks_per_annotator'", "a boolean"]),
        ({"max_share_per_annotator": 0}, ["max_share_per_annotator", "(0.0, 1.0]", "0"]),
        ({"max_share_per_annotator": 1.5}, ["max_share_per_annotator", "1.5"]),
        ({"max_share_per_annotator": "0.5"}, ["'max_share_per_annotator'", "a string"]),
        ({"reservation_ttl_s": 0}, ["reservation_ttl_s must be", "0"]),
        ({"reservation_ttl_s": -60}, ["reservation_ttl_s must be", "-60"]),
        ({"reservation_ttl_s": "1h"}, ["'reservation_ttl_s'", "a number", "a string"]),
        ({"skip_mode": "skip"}, ["skip_mode", "requeue_for_me", "count_as_done", "'skip'"]),
        ({"skip_mode": 1}, ["'skip_mode'", "a string", "an integer"]),
    ],
)
def test_refusals(fields: dict[str, Any], words: list[str]) -> None:
    reason = refusal(config_bytes(**fields))
    for word in words:
        assert word in reason


@pytest.mark.parametrize(
    "config",
    [
        ProjectConfig("1", distribute=True),
        ProjectConfig(
            "p",
            annotations_per_task=3,
            max_additional_annotators=2,
            distribute=True,
            overlap_cohort_percentage=12.5,
            show_overlap_first=True,
            max_tasks_per_annotator=10,
            max_share_per_annotator=0.1,
            reservation_ttl_s=90.0,
            skip_mode="requeue_for_me",
        ),
        ProjectConfig("q", max_tasks_per_annotator=1, skip_mode="count_as_done"),
    ],
)
def test_to_dict_parses_back_equal(config: ProjectConfig) -> None:
    body = config.to_dict()
    assert set(DISTRIBUTION_FIELDS) <= set(body)
    assert parse_project_config(orjson.dumps(body)) == config
