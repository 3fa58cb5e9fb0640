"""The CLI's own checks, which need no service: help, and refusals with a clear message."""

from __future__ import annotations

from typer.testing import CliRunner

from streams.cli import app

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("infra", "worker", "project", "send", "follow", "tasks", "demo", "rebuild"):
        assert command in result.output


def test_project_set_refuses_a_threshold_above_one_before_sending() -> None:
    result = runner.invoke(app, ["project", "set", "p1", "--threshold", "1.5"])
    assert result.exit_code == 1
    assert "threshold must be between 0 and 1" in result.output


def test_rebuild_asks_for_confirmation() -> None:
    result = runner.invoke(app, ["rebuild"])
    assert result.exit_code == 1
    assert "--yes" in result.output


def test_send_refuses_a_missing_file(tmp_path) -> None:
    result = runner.invoke(app, ["send", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
