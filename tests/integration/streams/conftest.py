"""Fixtures for pipeline tests: a fresh deployment (topics + key prefix) and real workers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from streams.kafka import delete_topics, ensure_topics
from streams.operations import delete_state
from streams.roles import WorkerAgents
from streams.settings import Settings
from streams.worker_process import WorkerProcess

from .pipeline import Deployment


@pytest.fixture
async def deployment(settings: Settings) -> AsyncIterator[Deployment]:
    """A deployment of its own: unique topics, consumer group and Redis key prefix."""
    name = f"t{uuid.uuid4().hex[:10]}"
    deployed = settings.model_copy(update={"topic_prefix": name, "consumer_group": f"{name}-g"})
    await ensure_topics(deployed)
    redis = Redis.from_url(deployed.redis_url)
    deployment = Deployment(deployed, redis)
    try:
        yield deployment
    finally:
        await delete_state(deployed)
        await redis.delete(deployment.keys.project_configs())
        await redis.aclose()
        await delete_topics(deployed)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start workers for a deployment (``agents``: which batch agents, default all);
    every one is stopped at the end of the test."""
    started: list[WorkerProcess] = []

    def start(settings: Settings, agents: WorkerAgents = WorkerAgents.ALL) -> WorkerProcess:
        worker = WorkerProcess(settings, tmp_path / f"worker-{len(started)}.log",
                               agents=agents)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def start_owning_worker(
    start_worker: Callable[..., WorkerProcess],
) -> Callable[[Settings], Awaitable[WorkerProcess]]:
    """Start a worker and wait until both its annotations and workflow agents own every
    partition (what a test of the workflow needs before it sends anything)."""

    async def start(settings: Settings) -> WorkerProcess:
        worker = start_worker(settings)
        await worker.wait_owning(settings.partitions)
        await worker.wait_owning(settings.partitions, workflow=True)
        return worker

    return start
