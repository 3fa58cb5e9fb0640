"""What `quorum label-studio scores` writes into Label Studio's tasks."""

from __future__ import annotations

from typing import Any

import pytest

from streams.label_studio_scores import (
    DELETED,
    UNCHANGED,
    WRITTEN,
    TaskScore,
    data_with_score,
    held_scores,
    latest_per_task,
    task_score,
    write_score,
)


def quality(task: Any = "19", project: str = "ls-4", **fields: Any) -> dict[str, Any]:
    body = {"schema": "quorum.task-quality/v1", "event_id": "0:7:0", "project_id": project,
            "task_id": task, "agreement": 0.25, "status": "reassign", "annotations": 2}
    body.update(fields)
    return body


def test_a_task_quality_event_gives_the_tasks_score() -> None:
    assert task_score(quality(), "ls-4") == TaskScore(19, 0.25, "reassign")
    assert task_score(quality(task=20, agreement=None, status="collecting"), "ls-4") == \
        TaskScore(20, None, "collecting")
    assert task_score(quality(agreement=1), "ls-4") == TaskScore(19, 1.0, "reassign")


@pytest.mark.parametrize("event", [
    quality(project="other"),                          # another project's
    quality(schema="quorum.task-completed/v1"),        # a decision, not the score
    quality(task="t-19"),                              # not a Label Studio task id
    quality(status=None),
])
def test_anything_else_gives_no_score(event: dict[str, Any]) -> None:
    assert task_score(event, "ls-4") is None


def test_a_score_that_is_not_a_number_is_written_as_none() -> None:
    assert task_score(quality(agreement=True), "ls-4") == TaskScore(19, None, "reassign")
    assert task_score(quality(agreement="0.5"), "ls-4") == TaskScore(19, None, "reassign")


def test_only_each_tasks_last_score_of_a_fetch_is_written() -> None:
    a1, b1, a2, c1, b2 = (TaskScore(1, 0.5, "collecting"), TaskScore(2, None, "collecting"),
                          TaskScore(1, 1.0, "completed"), TaskScore(3, 0.0, "review"),
                          TaskScore(2, 0.3, "reassign"))
    assert latest_per_task([a1, b1, a2, c1, b2]) == [a2, c1, b2]
    assert latest_per_task([]) == []


def test_the_data_keeps_its_keys_and_gets_the_score() -> None:
    data = {"text": "awful plot", "quorum_agreement": 0.1}
    assert data_with_score(data, TaskScore(2, 1 / 3, "review")) == {
        "text": "awful plot", "quorum_agreement": 0.3333, "quorum_status": "review"}
    assert data == {"text": "awful plot", "quorum_agreement": 0.1}  # not changed in place


def test_a_task_that_shows_the_score_already_is_not_written_again() -> None:
    shown = {"text": "t", "quorum_agreement": 0.3333, "quorum_status": "review"}
    assert data_with_score(shown, TaskScore(2, 1 / 3, "review")) is None
    assert data_with_score(shown, TaskScore(2, 1 / 3, "completed")) is not None
    unscored = {"text": "t", "quorum_status": "collecting"}
    assert data_with_score(unscored, TaskScore(2, None, "collecting")) == {
        **unscored, "quorum_agreement": None}  # the column is there, empty
    assert data_with_score({**unscored, "quorum_agreement": None},
                           TaskScore(2, None, "collecting")) is None


class _Studio:
    """Label Studio's two task calls, on a dict of tasks."""

    def __init__(self, tasks: dict[int, dict[str, Any]]) -> None:
        self.tasks = tasks
        self.writes: list[int] = []

    def task(self, task_id: int) -> dict[str, Any] | None:
        return self.tasks.get(task_id)

    def set_task_data(self, task_id: int, data: dict[str, Any]) -> None:
        self.writes.append(task_id)
        self.tasks[task_id]["data"] = data


def test_write_score_reads_the_task_and_writes_what_changed() -> None:
    studio = _Studio({19: {"id": 19, "data": {"text": "t"}}})
    score = TaskScore(19, 0.25, "reassign")
    assert write_score(studio, score) == WRITTEN  # type: ignore[arg-type]
    assert studio.tasks[19]["data"] == {"text": "t", "quorum_agreement": 0.25,
                                        "quorum_status": "reassign"}
    assert write_score(studio, score) == UNCHANGED  # type: ignore[arg-type]
    assert write_score(studio, TaskScore(20, 1.0, "completed")) == DELETED  # type: ignore[arg-type]
    assert studio.writes == [19]


def test_the_streams_held_scores_are_those_of_label_studio_tasks() -> None:
    rows = [("19", 0.25, "reassign"), ("t-7", 1.0, "completed"), ("20", None, "collecting")]
    assert held_scores(rows) == [TaskScore(19, 0.25, "reassign"),
                                 TaskScore(20, None, "collecting")]
