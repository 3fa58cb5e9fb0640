"""Project configuration, review settings: the ``review`` object (criteria), its link to
``reject_mode``, refusals and the round trip."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from assignment import ReviewSettings
from assignment.review_events import ReviewCriteria
from assignment.skips import RejectMode
from streams.models.invalid import InvalidEvent
from streams.models.project import REVIEW_FIELDS, ProjectConfig, parse_project_config


def config_bytes(**fields: Any) -> bytes:
    return orjson.dumps({"schema": "quorum.project/v1", "project_id": 1, **fields})


def refusal(raw: bytes) -> str:
    with pytest.raises(InvalidEvent) as caught:
        parse_project_config(raw)
    return str(caught.value)


def test_defaults_one_accepted_and_the_projects_reject_mode() -> None:
    for config in (parse_project_config(config_bytes()), ProjectConfig("1")):
        assert config.review == ReviewSettings(
            requeue_mode=RejectMode.REQUEUE_TO_ANNOTATOR, criteria=ReviewCriteria.ONE_ACCEPTED)
    assert parse_project_config(config_bytes(review=None)).review == ProjectConfig("1").review
    assert parse_project_config(config_bytes(review={})).review == ProjectConfig("1").review


@pytest.mark.parametrize("criteria", ["one_accepted", "all_reviewed"])
def test_the_criteria_are_read(criteria: str) -> None:
    assert set(REVIEW_FIELDS) == {"criteria"}
    config = parse_project_config(config_bytes(review={"criteria": criteria}))
    assert config.review.criteria is ReviewCriteria(criteria)


@pytest.mark.parametrize("mode", [mode.value for mode in RejectMode])
def test_the_review_settings_carry_the_projects_reject_mode(mode: str) -> None:
    parsed = parse_project_config(config_bytes(reject_mode=mode,
                                               review={"criteria": "all_reviewed"}))
    assert parsed.review == ReviewSettings(RejectMode(mode), ReviewCriteria.ALL_REVIEWED)
    # Built directly: the review settings keep their criteria and take reject_mode, even
    # when they name another mode.
    built = ProjectConfig("1", reject_mode=mode, review=ReviewSettings(
        RejectMode.REVIEWER_CHOICE if mode != "reviewer_choice" else RejectMode.REMOVE,
        ReviewCriteria.ALL_REVIEWED))
    assert built.review == parsed.review
    assert built.review.requeue_mode is RejectMode(mode)


def test_a_bad_reject_mode_is_refused_when_built_directly() -> None:
    with pytest.raises(ValueError, match="reject mode must be one of"):
        ProjectConfig("1", reject_mode="sometimes")


@pytest.mark.parametrize(("value", "words"), [
    ("all", ["field 'review' must be an object", "a string"]),
    ([1], ["field 'review' must be an object", "a list"]),
    ({"criteria": "all"}, ["field 'review'", "'one_accepted', 'all_reviewed'", "'all'"]),
    ({"criteria": 1}, ["field 'review'", "criteria must be one of", "1"]),
    ({"criteria": "all_reviewed", "reviewers": 2},
     ["field 'review'", "unknown setting 'reviewers'", "the settings are criteria"]),
    ({"requeue_mode": "remove"}, ["field 'review'", "'reject_mode'", "'requeue_mode'"]),
])
def test_bad_review_settings_are_refused(value: object, words: list[str]) -> None:
    reason = refusal(config_bytes(review=value))
    for word in words:
        assert word in reason


def test_a_bad_reject_mode_is_still_refused_with_its_field() -> None:
    reason = refusal(config_bytes(reject_mode="sometimes", review={"criteria": "all_reviewed"}))
    assert "field 'reject_mode'" in reason and "requeue_to_annotator" in reason


def test_to_dict_writes_the_criteria_once_and_parses_back_equal() -> None:
    config = ProjectConfig("7", reject_mode="remove",
                           review=ReviewSettings(criteria=ReviewCriteria.ALL_REVIEWED))
    body = config.to_dict()
    assert body["review"] == {"criteria": "all_reviewed"}
    assert body["reject_mode"] == "remove"
    parsed = parse_project_config(orjson.dumps(body))
    assert parsed == config
    assert parsed.review == ReviewSettings(RejectMode.REMOVE, ReviewCriteria.ALL_REVIEWED)


def test_a_configuration_stored_before_this_field_parses_as_before() -> None:
    legacy = ProjectConfig("7", annotations_per_task=3, distribute=True,
                           reject_mode="reviewer_choice").to_dict()
    del legacy["review"]
    parsed = parse_project_config(orjson.dumps(legacy))
    assert parsed == ProjectConfig("7", annotations_per_task=3, distribute=True,
                                   reject_mode="reviewer_choice")
    assert parsed.review.criteria is ReviewCriteria.ONE_ACCEPTED
