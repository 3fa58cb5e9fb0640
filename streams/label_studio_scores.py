"""``quorum label-studio scores``: the stream's agreement of each task written into the
task in Label Studio, as ``data.quorum_agreement`` and ``data.quorum_status``.

Label Studio shows keys under a task's ``data`` as Data Manager columns, sortable and
filterable (``ordering=["tasks:data.quorum_agreement"]``), so reviewers of a Label Studio
Community project, which computes no agreement itself, can sort its tasks by Quorum's and
open the lowest first. ``precomputed_agreement``, the task model's own field, cannot be
written through the API (checked on 1.23.2).

It follows ``<prefix>.task-quality`` in a consumer group of its own
(:mod:`streams.label_studio_follow`): of a fetch's events it keeps each task's last, reads
the task, and writes its ``data`` back with the two keys only when they differ, so an
event read again changes nothing. The output topics keep the broker's retention (7 days
here), so a first run on an older deployment starts with ``--backfill``: the score of
every task the stream holds, from Redis (:func:`held_scores`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams import topics
from streams.label_studio_api import LabelStudio
from streams.label_studio_follow import Follower
from streams.models.outputs import TASK_QUALITY

AGREEMENT_KEY = "quorum_agreement"
STATUS_KEY = "quorum_status"
WRITTEN, UNCHANGED, DELETED = "written", "unchanged", "deleted"


@dataclass(frozen=True, slots=True)
class TaskScore:
    """What Label Studio's task should show: Quorum's agreement (``None`` while no
    annotation counts) and the task's status (collecting, completed, reassign, review)."""

    task_id: int
    agreement: float | None
    status: str


def task_score(event: Mapping[str, Any], project_id: str) -> TaskScore | None:
    """The score a task-quality event of ``project_id`` gives a Label Studio task (an
    integer id); ``None`` for anything else."""
    if event.get("schema") != TASK_QUALITY or event.get("project_id") != project_id:
        return None
    task, status = str(event.get("task_id")), event.get("status")
    agreement = event.get("agreement")
    if not task.isdigit() or not isinstance(status, str):
        return None
    if not isinstance(agreement, int | float) or isinstance(agreement, bool):
        agreement = None
    return TaskScore(int(task), None if agreement is None else float(agreement), status)


def held_scores(rows: list[tuple[str, float | None, str]]) -> list[TaskScore]:
    """The scores of the tasks the stream holds (``(task id, agreement, status)``, as
    :func:`streams.operations.task_statuses` reads them) that are Label Studio tasks."""
    return [TaskScore(int(task), agreement, status) for task, agreement, status in rows
            if task.isdigit()]


def latest_per_task(scores: list[TaskScore]) -> list[TaskScore]:
    """Each task's last score of a fetch (a task's events are in order: one partition),
    in the order of those last ones: the earlier ones would be overwritten at once."""
    last = {score.task_id: score for score in scores}
    return [score for score in scores if last[score.task_id] is score]


def data_with_score(data: Mapping[str, Any], score: TaskScore) -> dict[str, Any] | None:
    """The task's ``data`` with the score's two keys, or ``None`` when it holds them
    already (the agreement rounded to 4 places, as a column shows it)."""
    agreement = None if score.agreement is None else round(score.agreement, 4)
    if data.get(AGREEMENT_KEY) == agreement and data.get(STATUS_KEY) == score.status \
            and AGREEMENT_KEY in data:
        return None
    return {**data, AGREEMENT_KEY: agreement, STATUS_KEY: score.status}


def write_score(studio: LabelStudio, score: TaskScore) -> str:
    """Write the score into the Label Studio task: ``written``, ``unchanged`` (it shows
    it already) or ``deleted`` (the task is gone)."""
    task = studio.task(score.task_id)
    if task is None:
        return DELETED
    data = task.get("data")
    updated = data_with_score(data if isinstance(data, dict) else {}, score)
    if updated is None:
        return UNCHANGED
    studio.set_task_data(score.task_id, updated)
    return WRITTEN


SCORES = Follower(topics.TASK_QUALITY, task_score, group_suffix="-scores",
                  coalesce=latest_per_task)
"""The task scores of ``<prefix>.task-quality``, each task's last of a fetch, in a
consumer group apart from ``reassign``'s."""
