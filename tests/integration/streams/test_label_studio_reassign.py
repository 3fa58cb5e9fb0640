"""`quorum label-studio reassign` on the real Kafka: the project's reassign requests are
carried out in order, the rest of the topic is left alone, nothing is lost while Label
Studio refuses, and a restart resumes after what was done. Label Studio itself is stood
in for by a function here (its calls were checked against Label Studio 1.23.2 by hand)."""

from __future__ import annotations

import functools
from typing import Any

import orjson
import pytest

from streams import topics
from streams.errors import QuorumError
from streams.kafka import plain_producer
from streams.label_studio_follow import follow
from streams.label_studio_overlap import OverlapRaise
from streams.label_studio_reassign import RAISED, REASSIGN
from streams.settings import Settings

from .follower import follow_until
from .pipeline import Deployment

pytestmark = pytest.mark.integration

PROJECT = "ls-4"


def _request(task: str, annotators: int, project: str = PROJECT) -> dict[str, Any]:
    return {"schema": "quorum.reassign-requested/v1", "event_id": f"0:{task}:1",
            "project_id": project, "task_id": task, "agreement": 0.25, "threshold": 0.7,
            "annotators": [str(a) for a in range(annotators)], "additional_annotators": 1,
            "exclude_annotators": [], "budget_left": 1}


async def _produce(settings: Settings, values: list[Any]) -> None:
    producer = plain_producer(settings)
    await producer.start()
    try:
        topic = settings.topic(topics.ASSIGNMENTS)
        for value in values:
            raw = value if isinstance(value, bytes) else orjson.dumps(value)
            await producer.send_and_wait(topic, raw, key=b"k")
    finally:
        await producer.stop()


async def _follow(settings: Settings, carry: Any, until: int,
                  retries: list[float] | None = None) -> list[tuple[int, int, str]]:
    """Run the follower until ``until`` outcomes came (or 20 s passed)."""
    return await follow_until(
        functools.partial(follow, settings, REASSIGN, PROJECT, carry),
        lambda change, what: (change.task_id, change.overlap, what),
        lambda done: len(done) >= until, retries)


async def test_reassign_requests_are_carried_out_once_and_in_order(
        deployment: Deployment) -> None:
    settings = deployment.settings
    await _produce(settings, [
        _request("19", 2),
        _request("19", 2, project="other"),
        {"schema": "quorum.assignment/v1", "project_id": PROJECT, "task_id": "20"},
        _request("not-a-label-studio-id", 2),
        b"not json",
        _request("20", 3),
    ])
    attempts: list[int] = []

    def carry(change: OverlapRaise) -> str:
        attempts.append(change.task_id)
        if attempts.count(20) == 1 and change.task_id == 20:
            raise QuorumError("cannot reach Label Studio at http://ls (refused)")
        return RAISED

    retries: list[float] = []
    assert await _follow(settings, carry, until=2, retries=retries) == [
        (19, 3, RAISED), (20, 4, RAISED)]
    assert attempts == [19, 20, 20] and retries == [1.0]

    # A restart resumes after what was committed: only the new request.
    await _produce(settings, [_request("21", 2)])
    assert await _follow(settings, lambda change: RAISED, until=1) == [(21, 3, RAISED)]
