"""Project configuration, push mode: ``assignment_mode`` and ``push_depth`` from the
configuration event (and ``quorum project set``) to the distribution policy."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from assignment.distribution_policy import AssignmentMode
from streams.cli import app
from streams.models.invalid import InvalidEvent
from streams.models.project import ProjectConfig, parse_project_config


def config_bytes(**fields: Any) -> bytes:
    return orjson.dumps({"schema": "quorum.project/v1", "project_id": "p", **fields})


def test_pull_with_depth_one_by_default_and_for_older_configurations() -> None:
    config = parse_project_config(config_bytes())
    assert (config.assignment_mode, config.push_depth) == ("pull", 1)
    assert config.distribution_policy.assignment_mode is AssignmentMode.PULL
    legacy = ProjectConfig("p").to_dict()
    del legacy["assignment_mode"], legacy["push_depth"]
    assert parse_project_config(orjson.dumps(legacy)) == ProjectConfig("p")


def test_push_settings_reach_the_policy_and_round_trip() -> None:
    config = parse_project_config(config_bytes(distribute=True, assignment_mode="push",
                                               push_depth=3))
    policy = config.distribution_policy
    assert (policy.assignment_mode, policy.push_depth) == (AssignmentMode.PUSH, 3)
    assert parse_project_config(orjson.dumps(config.to_dict())) == config


@pytest.mark.parametrize(("fields", "message"), [
    ({"assignment_mode": "shove"}, "assignment_mode must be one of pull, push"),
    ({"assignment_mode": 1}, "'assignment_mode' must be a string"),
    ({"push_depth": 0}, "push_depth must be a whole number of tasks >= 1"),
    ({"push_depth": 1.5}, "'push_depth' must be an integer"),
])
def test_bad_push_settings_are_refused_with_the_field_named(fields: dict[str, Any],
                                                             message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        parse_project_config(config_bytes(**fields))


def test_project_set_refuses_a_bad_push_depth_before_sending() -> None:
    result = CliRunner().invoke(app, ["project", "set", "p1", "--distribute",
                                      "--assignment-mode", "push", "--push-depth", "0"])
    assert result.exit_code == 1
    assert "push_depth must be a whole number of tasks >= 1" in result.output
