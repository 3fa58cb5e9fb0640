"""`quorum label-studio connect --every`: refusals before anything is contacted."""

from __future__ import annotations

from typer.testing import CliRunner

from streams.cli import app

runner = CliRunner()

# Nothing listens there: a command that contacted Label Studio would say it cannot reach it.
UNREACHABLE = "http://127.0.0.1:9"


def test_an_unreadable_interval_is_refused_with_how_to_write_one() -> None:
    result = runner.invoke(app, ["label-studio", "connect", "7", "--url", UNREACHABLE,
                                 "--token", "t", "--every", "soon"])
    assert result.exit_code == 1
    assert "'soon' is not an interval" in result.output
    assert "cannot reach Label Studio" not in result.output


def test_a_schedule_without_the_backfill_is_refused() -> None:
    result = runner.invoke(app, ["label-studio", "connect", "7", "--url", UNREACHABLE,
                                 "--token", "t", "--every", "15m", "--no-backfill"])
    assert result.exit_code == 1
    assert "leave out --no-backfill" in result.output
    assert "cannot reach Label Studio" not in result.output


def test_one_pass_that_cannot_reach_label_studio_says_so() -> None:
    result = runner.invoke(app, ["label-studio", "connect", "7", "--url", UNREACHABLE,
                                 "--token", "t"])
    assert result.exit_code == 1
    assert f"cannot reach Label Studio at {UNREACHABLE}" in result.output
