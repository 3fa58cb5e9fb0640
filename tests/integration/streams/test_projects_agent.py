"""The projects agent loses no configuration to an unreachable Redis: a configuration
published while the worker cannot reach Redis is applied once it can, its message is
acked (committed) only after that, and a worker stopped while it waits stops at once and
leaves the message to the next worker.

"Redis is down" is a proxy the test cuts (tcp_proxy.py), for this worker only: the
shared Redis keeps serving everyone else. The test itself reads the real Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from urllib.parse import urlsplit

import orjson
import pytest

from streams import topics
from streams.kafka import plain_producer
from streams.models.project import ProjectConfig, project_config_from_dict
from streams.roles import WorkerAgents
from streams.settings import Settings
from streams.worker_process import WorkerProcess

from .pipeline import Deployment, projects_committed
from .tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

BEFORE = ProjectConfig("p1", annotations_per_task=2, agreement_threshold=0.5)
DURING = ProjectConfig("p1", annotations_per_task=3, agreement_threshold=0.8,
                       max_additional_annotators=2)
RETRY = "applying the project configuration failed"


@pytest.fixture
def redis_proxy(settings: Settings) -> Iterator[TcpProxy]:
    """A proxy to the test Redis that the test can cut and restore."""
    url = urlsplit(settings.redis_url)
    proxy = TcpProxy(url.hostname or "127.0.0.1", url.port or 6379)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.close()


async def _worker_behind(proxy: TcpProxy, deployment: Deployment,
                         start_worker: Callable[..., WorkerProcess]) -> WorkerProcess:
    """A worker whose Redis is the proxy, with BEFORE applied (its agent is running)."""
    behind = deployment.settings.model_copy(
        update={"redis_url": proxy.url(deployment.settings.redis_url)})
    worker = start_worker(behind, WorkerAgents.ANNOTATIONS)  # no HTTP API needed
    await worker.wait_owning(deployment.settings.partitions)
    await deployment.configure(BEFORE)
    return worker


async def _publish(settings: Settings, config: ProjectConfig) -> tuple[int, int]:
    """Publish a configuration without waiting for a worker; its partition and offset."""
    producer = plain_producer(settings)
    await producer.start()
    try:
        sent = await producer.send_and_wait(
            settings.topic(topics.PROJECTS), value=orjson.dumps(config.to_dict()),
            key=config.project_id.encode())
        return sent.partition, sent.offset
    finally:
        await producer.stop()


async def _stored(deployment: Deployment, project: str) -> ProjectConfig | None:
    raw = await deployment.redis.hget(deployment.keys.project_configs(), project)
    return None if raw is None else project_config_from_dict(orjson.loads(raw))


async def _until(condition: Callable[[], Awaitable[bool]], failure: str,
                 timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        assert time.monotonic() < deadline, failure
        await asyncio.sleep(0.2)


async def _until_stored(deployment: Deployment, config: ProjectConfig, failure: str) -> None:
    async def stored() -> bool:
        return await _stored(deployment, config.project_id) == config

    await _until(stored, failure, 30)  # the backoff waits at most 5 s between attempts


async def _until_retrying(worker: WorkerProcess, times: int) -> None:
    async def retried() -> bool:
        return worker.log().count(RETRY) >= times

    # redis-py retries a command itself for a few seconds before the agent sees an error.
    await _until(retried, f"the projects agent did not retry {times} times; see "
                          f"{worker.log_path}", 60)


async def test_a_configuration_sent_while_redis_is_unreachable_is_applied_once_it_answers(
    deployment: Deployment, start_worker: Callable[..., WorkerProcess], redis_proxy: TcpProxy,
) -> None:
    worker = await _worker_behind(redis_proxy, deployment, start_worker)
    redis_proxy.cut()
    partition, offset = await _publish(deployment.settings, DURING)
    await _until_retrying(worker, times=3)
    assert "check that Redis at 127.0.0.1:" in worker.log()
    assert await _stored(deployment, "p1") == BEFORE
    # faust commits every 2.8 s: by now it would have committed a message it acked.
    await asyncio.sleep(3.5)
    committed = await projects_committed(deployment.settings, partition)
    assert committed is None or committed <= offset, "acked before it was applied"

    redis_proxy.restore()
    await _until_stored(deployment, DURING, "not applied once Redis answered")

    async def acked() -> bool:
        return (await projects_committed(deployment.settings, partition) or 0) > offset

    # Acked once applied: the group's offset moves past the message.
    await _until(acked, "the applied configuration was never acked", 15)
    assert worker.process.poll() is None, "the worker exited"


async def test_a_worker_stopped_while_waiting_for_redis_leaves_the_configuration_to_the_next(
    deployment: Deployment, start_worker: Callable[..., WorkerProcess], redis_proxy: TcpProxy,
) -> None:
    worker = await _worker_behind(redis_proxy, deployment, start_worker)
    redis_proxy.cut()
    partition, offset = await _publish(deployment.settings, DURING)
    await _until_retrying(worker, times=2)

    started = time.monotonic()
    await asyncio.to_thread(worker.stop, 25.0)
    # A clean stop (SIGTERM answered, not the kill after 25 s) that did not wait for Redis.
    assert time.monotonic() - started < 20, f"slow stop; see {worker.log_path}"
    assert worker.process.returncode == 0, f"see {worker.log_path}"
    committed = await projects_committed(deployment.settings, partition)
    assert committed is None or committed <= offset, "acked when the worker stopped"
    assert await _stored(deployment, "p1") == BEFORE

    redis_proxy.restore()
    replacement = start_worker(deployment.settings, WorkerAgents.ANNOTATIONS)
    await replacement.wait_owning(deployment.settings.partitions)
    await _until_stored(deployment, DURING, "the next worker did not apply the configuration")
