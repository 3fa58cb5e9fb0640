"""`quorum label-studio scores` on the real Kafka: each task's latest agreement of the
project is written, the rest of the topic is left alone, nothing is lost while Label
Studio refuses, and a restart resumes after what was written. Label Studio itself is
stood in for by a function here (its calls were checked against Label Studio 1.23.2 by
hand)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from streams import topics
from streams.errors import QuorumError
from streams.kafka import plain_producer
from streams.label_studio_follow import follow
from streams.label_studio_scores import SCORES, WRITTEN, TaskScore, held_scores
from streams.models.project import ProjectConfig
from streams.operations import task_statuses
from streams.settings import Settings
from streams.worker_process import WorkerProcess

from .follower import follow_until
from .pipeline import Deployment, annotation

pytestmark = pytest.mark.integration

PROJECT = "ls-4"


def _quality(task: str, agreement: float | None, status: str,
             project: str = PROJECT) -> dict[str, Any]:
    return {"schema": "quorum.task-quality/v1", "event_id": f"0:{task}:{status}",
            "project_id": project, "task_id": task, "agreement": agreement,
            "status": status}


async def _produce(settings: Settings, values: list[Any]) -> None:
    producer = plain_producer(settings)
    await producer.start()
    try:
        topic = settings.topic(topics.TASK_QUALITY)
        for value in values:
            raw = value if isinstance(value, bytes) else orjson.dumps(value)
            # One key per task, as the workers key them: a task's events stay in order.
            key = b"k" if isinstance(value, bytes) else f"{value['task_id']}".encode()
            await producer.send_and_wait(topic, raw, key=key)
    finally:
        await producer.stop()


Written = tuple[int, float | None, str]


async def _follow(settings: Settings, write: Any, until: set[Written],
                  retries: list[float] | None = None) -> list[Written]:
    """Run the follower until every score of ``until`` was written (or 20 s passed)."""

    def written(score: TaskScore, what: str) -> Written:
        assert what == WRITTEN
        return (score.task_id, score.agreement, score.status)

    return await follow_until(functools.partial(follow, settings, SCORES, PROJECT, write),
                              written, lambda done: until <= set(done), retries)


async def test_each_tasks_latest_score_is_written_and_a_restart_resumes(
        deployment: Deployment) -> None:
    settings = deployment.settings
    await _produce(settings, [
        _quality("19", None, "collecting"),
        _quality("19", 0.25, "reassign", project="other"),
        {"schema": "quorum.task-completed/v1", "project_id": PROJECT, "task_id": "19"},
        _quality("not-a-label-studio-id", 1.0, "completed"),
        b"not json",
        _quality("19", 1 / 3, "reassign"),
        _quality("20", 1.0, "completed"),
    ])
    attempts: list[int] = []

    def write(score: TaskScore) -> str:
        attempts.append(score.task_id)
        if attempts.count(20) == 1 and score.task_id == 20:
            raise QuorumError("cannot reach Label Studio at http://ls (refused)")
        return WRITTEN

    retries: list[float] = []
    last: set[Written] = {(19, 1 / 3, "reassign"), (20, 1.0, "completed")}
    done = await _follow(settings, write, until=last, retries=retries)
    # Only the project's Label Studio tasks; task 19's collecting score is written only
    # if a fetch ended between its two events (else the later one makes it moot), and
    # its last score is written last.
    assert set(done) - last <= {(19, None, "collecting")}
    assert [d for d in done if d[0] == 19][-1] == (19, 1 / 3, "reassign")
    assert attempts.count(20) == 2 and retries == [1.0]

    # A restart resumes after what was committed: only the new score.
    await _produce(settings, [_quality("21", 0.5, "review")])
    assert await _follow(settings, lambda score: WRITTEN,
                         until={(21, 0.5, "review")}) == [(21, 0.5, "review")]


async def test_the_backfill_reads_each_tasks_last_score_from_the_stream(
        deployment: Deployment, start_worker: Callable[[Settings], WorkerProcess]) -> None:
    worker = start_worker(deployment.settings)
    await worker.wait_owning(deployment.settings.partitions)
    await deployment.configure(ProjectConfig(PROJECT, annotations_per_task=2,
                                             agreement_threshold=0.7,
                                             max_additional_annotators=1))
    await deployment.send([
        annotation("19", "a1", "u1", "pos", project=PROJECT),
        annotation("19", "a2", "u2", "neg", project=PROJECT),   # 0.0: reassign
        annotation("20", "b1", "u1", "pos", project=PROJECT),
        annotation("20", "b2", "u2", "pos", project=PROJECT),   # 1.0: completed
        annotation("21", "c1", "u1", "pos", project=PROJECT),   # collecting
        annotation("t-22", "d1", "u1", "pos", project=PROJECT),  # not a Label Studio id
        annotation("23", "e1", "u1", "pos", project=PROJECT),
        annotation("23", "e1", "u1", None, project=PROJECT, kind="deleted", revision=2),
    ])
    await deployment.wait_applied()
    events = await deployment.read_outputs((topics.TASK_QUALITY,), at_least=8)
    last = {e["task_id"]: (e["agreement"], e["status"]) for e in events}
    rows = await task_statuses(deployment.settings, PROJECT)
    assert {task: (agreement, status) for task, agreement, status in rows} == last
    assert held_scores(rows) == [TaskScore(19, 0.0, "reassign"),
                                 TaskScore(20, 1.0, "completed"),
                                 TaskScore(21, 1.0, "collecting"),
                                 TaskScore(23, None, "collecting")]
