"""Deletions Label Studio made while no webhook reached Quorum, found from its export and
streamed through a real worker (real Kafka, real Redis): the project's figures end as a
clean run of what Label Studio holds now, and looking again sends nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.export_events import annotation_events
from streams.label_studio_sync import (
    export_snapshot,
    label_stream_events,
    newer_than_stream,
    tasks_to_read,
)
from streams.label_studio_webhook import WEBHOOK_PATH
from streams.models.project import ProjectConfig
from streams.models.workflow import annotator_event
from streams.operations import (
    annotation_entries_in_stream,
    label_studio_annotations,
    label_studio_deletions,
    label_studio_task_ids,
    project_tasks,
    send_label_studio_tasks,
    send_workflow,
    tasks_below,
)
from streams.settings import Settings
from streams.worker_process import WorkerProcess

from .pipeline import Deployment, next_task
from .test_honeypots import _wait_workflow_applied

pytestmark = pytest.mark.integration

PROJECT = "ls-sync"
CLEAN = "ls-sync-clean"


def _annotation(annotation_id: int, annotator: int, label: str) -> dict[str, Any]:
    return {"id": annotation_id, "completed_by": annotator,
            "updated_at": f"2026-11-29T01:00:{annotation_id % 60:02d}Z",
            "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                        "value": {"choices": [label]}}]}


def _task(task_id: int, *annotations: dict[str, Any]) -> dict[str, Any]:
    return {"id": task_id, "data": {"text": f"text {task_id}"}, "annotations": list(annotations)}


BEFORE = [
    _task(1, _annotation(11, 1, "pos"), _annotation(12, 2, "neg"), _annotation(13, 3, "pos")),
    _task(2, _annotation(21, 1, "neg"), _annotation(22, 2, "neg")),
    _task(3, _annotation(31, 1, "pos"), _annotation(32, 3, "neg")),
    _task(4, _annotation(41, 2, "pos"), _annotation(42, 3, "neg")),
]
# Meanwhile in Label Studio, no webhook getting through: annotation 12 deleted, task 3
# deleted, task 4 moved to another project (still there), annotation 14 made on task 1.
AFTER = [
    _task(1, _annotation(11, 1, "pos"), _annotation(13, 3, "pos"), _annotation(14, 4, "neg")),
    _task(2, _annotation(21, 1, "neg"), _annotation(22, 2, "neg")),
]
ELSEWHERE = {"4"}


def _send_export(settings: Settings, export: list[dict[str, Any]], project: str,
                 tmp_path: Path) -> None:
    path = tmp_path / f"export-{project}-{len(list(tmp_path.iterdir()))}.json"
    path.write_bytes(orjson.dumps(export))
    env = {"QUORUM_TOPIC_PREFIX": settings.topic_prefix, "QUORUM_REDIS_URL": settings.redis_url,
           "QUORUM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
    result = CliRunner().invoke(app, ["send-export", str(path), "--project", project], env=env)
    assert result.exit_code == 0, result.output


async def _agreements(settings: Settings, project: str) -> dict[str, float]:
    rows = await tasks_below(settings, 2.0, project_id=project, limit=1000)
    return {row.task_id: row.agreement for row in rows}


async def test_deletions_missed_meanwhile_end_as_a_clean_run(
    deployment: Deployment,
    start_owning_worker: Callable[[Settings], Awaitable[WorkerProcess]],
    tmp_path: Path,
) -> None:
    settings = deployment.settings
    worker = await start_owning_worker(settings)
    for project in (PROJECT, CLEAN):
        await deployment.configure(ProjectConfig(project, annotations_per_task=2))
    await asyncio.to_thread(_send_export, settings, BEFORE, PROJECT, tmp_path)
    await deployment.wait_applied()
    assert set(await _agreements(settings, PROJECT)) == {"1", "2", "3", "4"}
    # Of an export, connect sends only what the stream does not hold at its revision.
    assert await _to_send(settings, BEFORE) == []
    assert await _to_send(settings, AFTER) == ["14"]

    # What connect does: the annotations Quorum got, read before the export is taken.
    known = await label_studio_annotations(settings, PROJECT)
    assert set(known) == {"11", "12", "13", "21", "22", "31", "32", "41", "42"}
    asked: list[str] = []

    def has_task(task: str) -> bool:
        asked.append(task)
        return task in ELSEWHERE

    found = await label_studio_deletions(PROJECT, known, export_snapshot(AFTER),
                                         await _held(settings, known, AFTER), has_task)
    assert sorted(asked) == ["3", "4"]  # only the tasks the export leaves out
    assert found.elsewhere == ["4"]
    assert [(e["task_id"], e["annotation_id"]) for e in found.events] == [
        ("1", "12"), ("3", "31"), ("3", "32")]
    await asyncio.to_thread(_send_export, settings, AFTER, PROJECT, tmp_path)
    await deployment.send(found.events)

    # The clean run: what Label Studio holds now, and task 4 as the other project has it.
    await asyncio.to_thread(_send_export, settings, [*AFTER, BEFORE[3]], CLEAN, tmp_path)
    await deployment.wait_applied()
    clean = await _agreements(settings, CLEAN)
    assert set(clean) == {"1", "2", "4"}
    assert await _agreements(settings, PROJECT) == pytest.approx(clean)
    # `quorum stats` holds the same tasks: the deleted one is left out.
    held = await project_tasks(settings, PROJECT)
    assert sorted(str(task.id) for task in held) == ["1", "2", "4"]
    assert [len(task.annotations) for task in held] == [
        len(task.annotations) for task in await project_tasks(settings, CLEAN)]

    # Connecting again finds the deletions in the stream: nothing is sent, and Label
    # Studio is asked only about the other project's task, whose annotations are held.
    asked.clear()
    known = await label_studio_annotations(settings, PROJECT)
    again = await label_studio_deletions(PROJECT, known, export_snapshot(AFTER),
                                         await _held(settings, known, AFTER), has_task)
    assert again.events == [] and again.elsewhere == ["4"] and asked == ["4"]
    assert await _to_send(settings, AFTER) == []
    assert "Traceback" not in worker.log()


async def _held(settings: Settings, known: dict[str, str],
                export: list[dict[str, Any]]) -> dict[str, tuple[int, str]]:
    """What connect reads of PROJECT's stream, once, for ``export``."""
    return await annotation_entries_in_stream(
        settings, PROJECT, tasks_to_read(known, export_snapshot(export)))


async def _to_send(settings: Settings, export: list[dict[str, Any]]) -> list[str]:
    """The annotations of ``export`` that connect would send to PROJECT's stream now."""
    held = await _held(settings, {}, export)
    return [e["annotation_id"]
            for e in newer_than_stream(annotation_events(export, PROJECT), held)]


async def _sync_label_stream(settings: Settings, project: str,
                             export: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """What connect does for a distributing project; the task ids imported and deleted."""
    known = await label_studio_task_ids(settings, project)
    imports, deletions = label_stream_events(project, known, export_snapshot(export),
                                             occurred_at="2026-11-29T03:00:00+00:00")
    await send_label_studio_tasks(settings, project, [*imports, *deletions])
    return [e["task_id"] for e in imports], [e["task_id"] for e in deletions]


async def test_a_distributing_projects_label_stream_follows_label_studios_tasks(
    deployment: Deployment,
    start_owning_worker: Callable[[Settings], Awaitable[WorkerProcess]],
) -> None:
    settings = deployment.settings
    worker = await start_owning_worker(settings)
    await deployment.configure(ProjectConfig(PROJECT, annotations_per_task=1, distribute=True))
    # The first connect imports the project's tasks into the label stream.
    assert await _sync_label_stream(settings, PROJECT, BEFORE) == (["1", "2", "3", "4"], [])
    # During the outage: task 3 deleted, task 4 moved to another project, task 6 made.
    after = [*AFTER, _task(6)]
    assert await _sync_label_stream(settings, PROJECT, after) == (["1", "2", "6"], ["3", "4"])
    assert await label_studio_task_ids(settings, PROJECT) == {"1", "2", "6"}
    # The receiver keeps the same ids as Label Studio's task webhooks come in.
    url = f"{worker.web_url}{WEBHOOK_PATH}?project={PROJECT}"
    async with aiohttp.ClientSession() as session:
        for action, expected in (("TASKS_CREATED", {"1", "2", "6", "7"}),
                                 ("TASKS_DELETED", {"1", "2", "6"})):
            body = {"action": action, "project": {"id": 3}, "tasks": [{"id": 7}]}
            async with session.post(url, data=orjson.dumps(body)) as response:
                assert response.status == 200, await response.text()
                assert (await response.json())["task_events"] == 1
            assert await label_studio_task_ids(settings, PROJECT) == expected
    annotators = ["u1", "u2", "u3", "u4"]
    await send_workflow(settings, PROJECT, [annotator_event(PROJECT, who, "joined")
                                            for who in annotators])
    await _wait_workflow_applied(deployment)
    async with aiohttp.ClientSession() as session:
        offered = [(await next_task(session, worker, PROJECT, who))["task_id"]
                   for who in annotators]
    # Overlap 1, import order: Label Studio's three tasks, then nothing.
    assert offered == ["1", "2", "6", None]
    # Again: nothing changes (the imports of tasks the label stream has are no-ops).
    assert await _sync_label_stream(settings, PROJECT, after) == (["1", "2", "6"], [])
    assert "Traceback" not in worker.log()
