"""`quorum project set` with the topic read and the publication stood in for: what it
sends for the options given, what it says changed, and its refusals."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from streams import operations
from streams.cli import app
from streams.models.project import ProjectConfig
from streams.settings import Settings

from .test_project_update import CONFIGURED

runner = CliRunner()


class Topic:
    """The projects topic as `project set` reads and publishes it."""

    def __init__(self, stored: ProjectConfig | None) -> None:
        self.stored = stored
        self.sent: list[ProjectConfig] = []
        self.waits: list[float] = []

    async def latest(self, settings: Settings, project_id: str) -> ProjectConfig | None:
        return self.stored

    async def publish(self, settings: Settings, config: ProjectConfig, *,
                      wait_s: float) -> bool:
        self.sent.append(config)
        self.waits.append(wait_s)
        return wait_s > 0


def project_set(monkeypatch: pytest.MonkeyPatch, topic: Topic, *args: str) -> Result:
    monkeypatch.setattr(operations, "latest_project_config", topic.latest)
    monkeypatch.setattr(operations, "publish_project_config", topic.publish)
    return runner.invoke(app, ["project", "set", "p", *args])


def said(result: Result) -> str:
    """The output as one line: the summary is wrapped to the terminal's width."""
    return " ".join(result.output.split())


def test_one_option_changes_one_setting_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    topic = Topic(CONFIGURED)
    result = project_set(monkeypatch, topic, "--threshold", "0.8")
    assert result.exit_code == 0, result.output
    assert topic.sent == [replace(CONFIGURED, agreement_threshold=0.8)]
    assert "changed:\n  agreement_threshold: 0.7 -> 0.8\n" in result.output
    assert "applied by a worker" in said(result)


def test_nothing_to_change_sends_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    topic = Topic(CONFIGURED)
    result = project_set(monkeypatch, topic, "--threshold", "0.7", "--distribute")
    assert result.exit_code == 0, result.output
    assert topic.sent == []
    assert "project p: nothing to change, nothing sent" in said(result)


def test_reset_starts_from_the_defaults_and_names_what_was_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = Topic(CONFIGURED)
    result = project_set(monkeypatch, topic, "--reset", "--threshold", "0.8")
    assert result.exit_code == 0, result.output
    assert topic.sent == [ProjectConfig("p", agreement_threshold=0.8)]
    assert "  reject_mode: remove -> requeue_to_annotator\n" in result.output
    assert "  agreement_threshold: 0.7 -> 0.8\n" in result.output


def test_a_project_without_configuration_starts_from_the_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = Topic(None)
    result = project_set(monkeypatch, topic, "--overlap", "2", "--no-wait")
    assert result.exit_code == 0, result.output
    assert topic.sent == [ProjectConfig("p", annotations_per_task=2)] and topic.waits == [0]
    assert "it had no configuration (the defaults applied); changed from the defaults:\n" \
           "  annotations_per_task: 1 -> 2\n" in result.output
    assert "no worker has applied it yet" in said(result)


def test_flags_and_limits_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    topic = Topic(CONFIGURED)
    result = project_set(monkeypatch, topic, "--no-distribute",
                         "--max-tasks-per-annotator", "none", "--max-share-per-annotator", "0.5")
    assert result.exit_code == 0, result.output
    assert topic.sent == [replace(CONFIGURED, distribute=False, max_tasks_per_annotator=None,
                                  max_share_per_annotator=0.5)]
    assert "  distribute: true -> false\n" in result.output
    assert "  max_tasks_per_annotator: 40 -> null\n" in result.output


@pytest.mark.parametrize(("args", "code", "reason"), [
    (["--threshold", "1.5"], 1, "threshold must be between 0 and 1"),
    (["--max-tasks-per-annotator", "ten"], 2, "'ten' is not a whole number"),
    (["--methodology", "majority"], 1, "majority"),
])
def test_a_bad_option_is_refused_before_the_topic_is_read(
    monkeypatch: pytest.MonkeyPatch, args: list[str], code: int, reason: str,
) -> None:
    async def unread(*_: Any) -> None:
        raise AssertionError("the topic was read")

    topic = Topic(CONFIGURED)
    topic.latest = unread  # type: ignore[method-assign, assignment]
    result = project_set(monkeypatch, topic, *args)
    assert result.exit_code == code
    assert reason in result.output
    assert topic.sent == []
