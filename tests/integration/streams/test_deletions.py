"""A deletion after the consensus decided, end to end on the real Kafka and Redis: Label
Studio's delete webhook does not say who wrote the annotation, yet the author's seat is
freed from the task record, the consensus goes back to collecting, and the label stream
offers the task again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp

from streams import topics
from streams.models.project import ProjectConfig
from streams.models.workflow import annotator_event, task_event
from streams.settings import Settings
from streams.worker_process import WorkerProcess

from .pipeline import Deployment, annotation, by_schema, next_task
from .test_honeypots import _wait_workflow_applied
from .test_workflow import _produce_workflow

PROJECT = "del"


async def _settle(deployment: Deployment) -> None:
    """Everything sent so far applied: the annotations, then the facts they caused."""
    await deployment.wait_applied()
    await _wait_workflow_applied(deployment)


async def test_a_deletion_without_its_author_reopens_a_completed_task(
    deployment: Deployment,
    start_owning_worker: Callable[[Settings], Awaitable[WorkerProcess]],
) -> None:
    settings = deployment.settings
    worker = await start_owning_worker(settings)
    await deployment.configure(ProjectConfig(PROJECT, annotations_per_task=2, distribute=True))
    await _produce_workflow(settings, [
        task_event(PROJECT, "t0", "imported"),
        *[annotator_event(PROJECT, who, "joined") for who in ("u1", "u2", "u3")]])
    await _wait_workflow_applied(deployment)
    async with aiohttp.ClientSession() as session:
        for who in ("u1", "u2"):
            assert (await next_task(session, worker, PROJECT, who))["task_id"] == "t0"
        await deployment.send([annotation("t0", f"t0-{who}", who, "pos", project=PROJECT)
                               for who in ("u1", "u2")])
        await _settle(deployment)
        # Completed at its overlap: nothing for a third annotator.
        assert (await next_task(session, worker, PROJECT, "u3")) == {
            "project_id": PROJECT, "annotator": "u3", "task_id": None, "reason": "nothing_left"}

        deleted = annotation("t0", "t0-u2", "u2", None, kind="deleted", revision=2,
                             project=PROJECT)
        del deleted["completed_by"]  # as Label Studio's webhook sends it
        await deployment.send([deleted])
        await _settle(deployment)
        answer = await next_task(session, worker, PROJECT, "u3")
    assert answer["task_id"] == "t0"

    outputs = await deployment.read_outputs(
        (topics.TASK_COMPLETED, topics.TASK_QUALITY, topics.DEAD_LETTER), at_least=4)
    assert not by_schema(outputs, "quorum.dead-letter/v1")
    assert [e["task_id"] for e in by_schema(outputs, "quorum.task-completed/v1")] == ["t0"]
    quality = by_schema(outputs, "quorum.task-quality/v1")
    assert [(q["kind"], q["status"]) for q in quality] == [
        ("created", "collecting"), ("created", "completed"), ("deleted", "collecting")]
