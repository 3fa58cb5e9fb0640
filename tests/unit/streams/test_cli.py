"""The CLI's own checks, which need no service: help, and refusals with a clear message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import typer
from typer.testing import CliRunner, Result

from agreement import ScoringConfig, score_export
from streams.cli import app
from streams.settings import Settings

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("infra", "worker", "project", "send", "follow", "tasks", "demo", "rebuild",
                    "score", "send-export", "stats"):
        assert command in result.output


def _commands(group: Any, path: str = "quorum") -> Iterator[tuple[str, Any]]:
    """Every command under ``group``, by its command line (typer's own click types)."""
    for name, command in group.commands.items():
        yield f"{path} {name}", command
        if hasattr(command, "commands"):
            yield from _commands(command, f"{path} {name}")


def test_every_command_is_listed_by_a_one_line_summary() -> None:
    """The command lists of --help show each summary as written: a docstring's first
    paragraph wrapped over source lines came out as ragged lines mid-sentence."""
    listed = list(_commands(typer.main.get_command(app)))
    assert len(listed) > 30
    for path, command in listed:
        summary = command.short_help or command.help or ""
        assert summary and "\n" not in summary, f"{path}: {summary!r}"
    worker = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert ("Run a worker until interrupted: the projects agent and the batch agents (the "
            "annotations hot path") in worker.output


def test_project_set_refuses_a_threshold_above_one_before_sending() -> None:
    result = runner.invoke(app, ["project", "set", "p1", "--threshold", "1.5"])
    assert result.exit_code == 1
    assert "threshold must be between 0 and 1" in result.output


@pytest.mark.parametrize("agreement", ["-0.2", "-1", "1.5"])
def test_tasks_below_refuses_an_agreement_outside_zero_to_one(agreement: str) -> None:
    """Before connecting to anything; a negative one too, which click took for an
    unknown option ("No such option: -1")."""
    result = runner.invoke(app, ["tasks", "below", agreement])
    assert result.exit_code == 2
    assert "Invalid value for 'agreement'" in result.output
    assert "No such option" not in result.output


def test_rebuild_asks_for_confirmation() -> None:
    result = runner.invoke(app, ["rebuild"])
    assert result.exit_code == 1
    assert "--yes" in result.output


def test_send_refuses_a_missing_file(tmp_path) -> None:
    result = runner.invoke(app, ["send", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


# --- quorum score -----------------------------------------------------------------------


def test_score_help_lists_its_options() -> None:
    result = runner.invoke(app, ["score", "--help"])
    assert result.exit_code == 0
    for option in ("--config", "--project", "--methodology", "--threshold", "--lowest"):
        assert option in result.output
    assert "--report" in result.output and "--histogram" in result.output


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "label-studio"
EXPORT = FIXTURES / "export-score-three-annotators.json"
LABEL_CONFIG = FIXTURES / "score-labeling-config.xml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def score(tmp_path: Path, *args: str) -> tuple[Result, dict[str, Any]]:
    """Run `quorum score` with outputs in tmp_path; the result and the JSON report."""
    report, histogram = tmp_path / "report.json", tmp_path / "histogram.png"
    result = runner.invoke(
        app, ["score", *args, "--report", str(report), "--histogram", str(histogram)]
    )
    body = json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}
    return result, body


def assert_scores_equal(body: dict[str, Any], expected: dict[Any, Any]) -> None:
    assert [task["id"] for task in body["tasks"]] == list(expected)
    for task in body["tasks"]:
        assert task["score"] == expected[task["id"]].overall
        assert task["dimensions"] == expected[task["id"]].dimensions


def test_score_report_equals_score_export(tmp_path: Path) -> None:
    result, body = score(tmp_path, str(EXPORT), "--config", str(LABEL_CONFIG), "--threshold", "0.7")
    assert result.exit_code == 0, result.output
    config = ScoringConfig.from_label_studio(LABEL_CONFIG.read_text(encoding="utf-8"))
    expected = score_export(json.loads(EXPORT.read_text(encoding="utf-8")), config)
    assert_scores_equal(body, expected)
    # Tasks with two or more annotations have an overall score.
    scored = cast("list[float]", [s.overall for s in expected.values() if s.annotation_count >= 2])
    assert body["summary"]["mean"] == pytest.approx(sum(scored) / len(scored))
    assert body["summary"]["below_threshold"] == sum(s < 0.7 for s in scored)
    assert body["summary"]["annotators"] == 3 and body["summary"]["cancelled"] == 1
    # Topics is a multi-choice tag: the two annotations with two topics are skipped.
    assert body["tags"]["topics"]["skipped"] == {"several_values": 2}
    assert body["tags"]["entities"]["kind"] == "other"
    assert (tmp_path / "histogram.png").read_bytes().startswith(PNG_SIGNATURE)
    for heading in ("lowest tasks", "Annotators", "Project statistics", "Cohen's kappa"):
        assert heading in result.output
    assert "report written to" in result.output


def test_score_with_project_json_and_consensus(tmp_path: Path) -> None:
    export = FIXTURES / "export-label-studio-json.json"
    project = FIXTURES / "project-api.json"
    result, body = score(
        tmp_path, str(export), "--project", str(project), "--methodology", "consensus"
    )
    assert result.exit_code == 0, result.output
    config = ScoringConfig.from_label_studio(
        project=json.loads(project.read_text(encoding="utf-8")), methodology="consensus"
    )
    assert_scores_equal(body, score_export(json.loads(export.read_text(encoding="utf-8")), config))
    assert body["scoring"]["methodology"] == "consensus"
    # The project gives quality weight 0: no task has it as a dimension.
    assert all("quality" not in task["dimensions"] for task in body["tasks"])


def test_score_writes_to_the_current_directory_by_default(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["score", str(EXPORT)])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "score-report.json").read_bytes())["summary"]["tasks"] == 8
    assert (tmp_path / "score-histogram.png").read_bytes().startswith(PNG_SIGNATURE)


def test_score_shows_progress_on_large_exports(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("streams.cli._SCORE_PROGRESS_TASKS", 3)
    result, body = score(tmp_path, str(EXPORT))
    assert result.exit_code == 0, result.output
    assert "scoring export-score-three-annotators.json" in result.output
    assert body["summary"]["tasks"] == 8


BAD_EXPORTS = [
    (None, "export.json does not exist; pass the path of a Label Studio JSON export"),
    (b"{not json", "export.json is not JSON"),
    (b'{"id": 1, "annotations": []}', "export.json: a Label Studio JSON export is a list of tasks"),
    (b'[{"annotations": []}]', "export.json: export item 0 is not a task with an 'id'"),
    (b'[{"id": 1, "annotations": [{"result": []}]}]', "export.json: annotation 0 has no 'id'"),
]


@pytest.mark.parametrize(("content", "reason"), BAD_EXPORTS)
def test_score_refuses_a_bad_export_with_the_reason(
    tmp_path: Path, content: bytes | None, reason: str
) -> None:
    export = tmp_path / "export.json"
    if content is not None:
        export.write_bytes(content)
    result, body = score(tmp_path, str(export))
    assert_refused(result, body, tmp_path, reason)


@pytest.mark.parametrize(
    ("option", "content", "reason"),
    [
        ("--config", "<View><Choices name='a' toName='t'></View>",
         "config.txt: the labeling config is not well-formed XML (line 1"),
        ("--config", None, "config.txt does not exist; pass the path of a labeling config"),
        ("--project", '{"control_weights": {"a": "heavy"}}',
         "config.txt: control_weights['a'] must be a number >= 0"),
        ("--project", "[", "config.txt is not JSON"),
        ("--methodology", None, "methodology must be one of 'pairwise', 'consensus'"),
        ("--threshold", None, "--threshold must be between 0 and 1, got 2"),
        ("--report", None, "cannot write the report"),
    ],
)  # fmt: skip
def test_score_refuses_bad_options_with_the_reason(
    tmp_path: Path, option: str, content: str | None, reason: str
) -> None:
    path = tmp_path / "config.txt"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    value = {"--methodology": "majority", "--threshold": "2"}.get(option, str(path))
    if option == "--report":
        value = str(tmp_path / "missing-directory" / "report.json")
    result = runner.invoke(app, ["score", str(EXPORT), option, value, "--histogram",
                                 str(tmp_path / "histogram.png")])  # fmt: skip
    assert_refused(result, {}, tmp_path, reason)


def assert_refused(result: Result, body: dict[str, Any], tmp_path: Path, reason: str) -> None:
    assert result.exit_code == 1
    # Rich wraps long messages, at spaces or inside a long path: compare without spaces.
    assert "".join(reason.split()) in "".join(result.output.split())
    assert body == {}
    if "cannot write" not in reason:  # nothing is written when the input is refused
        assert not (tmp_path / "histogram.png").exists()


def test_score_says_when_there_is_no_annotation(tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    cancelled = {"id": 5, "completed_by": 1, "was_cancelled": True, "result": []}
    export.write_text(
        json.dumps([{"id": 1, "annotations": []}, {"id": 2, "annotations": [cancelled]}]),
        encoding="utf-8",
    )
    result, body = score(tmp_path, str(export))
    assert result.exit_code == 0
    assert "2 tasks and no annotation to score" in " ".join(result.output.split())
    assert body == {}


def test_follow_refuses_a_name_that_is_no_output_topic_and_lists_them() -> None:
    result = runner.invoke(app, ["follow", "reviews"], env={"QUORUM_TOPIC_PREFIX": "quorum"})
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "'reviews' is not an output topic" in text
    assert "task-completed" in text and "review-requests" in text


def test_follow_takes_short_and_full_topic_names() -> None:
    from streams.cli import _output_topic

    settings = Settings(topic_prefix="ops")
    assert _output_topic(settings, "task-completed") == "task-completed"
    assert _output_topic(settings, "ops.task-completed") == "task-completed"
