"""Fixtures for pipeline tests: a fresh deployment (topics + key prefix) and real workers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from streams.kafka import delete_topics, ensure_topics
from streams.operations import delete_state
from streams.settings import Settings
from streams.worker_process import WorkerProcess

from .pipeline import Deployment


@pytest.fixture(scope="session")
def services() -> Settings:
    """The shared Kafka and Redis; fails (never skips) with what to run when they are down."""
    from streams import infra

    settings = Settings()
    status = infra.status(settings)
    if not all(status.values()):
        down = ", ".join(name for name, answers in status.items() if not answers)
        pytest.fail(
            f"{down} not answering ({settings.kafka_bootstrap}, {settings.redis_url}): "
            "run `make up` (or `quorum infra up`) first",
            pytrace=False,
        )
    return settings


@pytest.fixture
async def deployment(services: Settings) -> AsyncIterator[Deployment]:
    """A deployment of its own: unique topics, consumer group and Redis key prefix."""
    name = f"t{uuid.uuid4().hex[:10]}"
    settings = services.model_copy(update={"topic_prefix": name, "consumer_group": f"{name}-g"})
    await ensure_topics(settings)
    redis = Redis.from_url(settings.redis_url)
    try:
        yield Deployment(settings, redis)
    finally:
        await delete_state(settings)
        await redis.delete(f"{settings.key_prefix}:projects:config")
        await redis.aclose()
        await delete_topics(settings)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[[Settings], WorkerProcess]]:
    """Start workers for a deployment; every one is stopped at the end of the test."""
    started: list[WorkerProcess] = []

    def start(settings: Settings) -> WorkerProcess:
        worker = WorkerProcess(settings, tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
