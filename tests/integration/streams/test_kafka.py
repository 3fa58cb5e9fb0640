"""Topic housekeeping against the real broker (streams/kafka.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from aiokafka.admin import AIOKafkaAdminClient

from streams.kafka import delete_topics, ensure_topics
from streams.settings import Settings
from streams.topics import all_topics
from streams.worker_process import WorkerProcess

from .pipeline import Deployment


async def _topics(settings: Settings) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_delete_topics_takes_the_worker_apps_own_topics_too(
    deployment: Deployment, start_worker: Callable[..., WorkerProcess],
) -> None:
    settings = deployment.settings
    # A neighbour whose prefix starts like this one's: its topics must stay.
    neighbour = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}x"})
    await ensure_topics(neighbour)
    try:
        worker = start_worker(settings)
        await worker.wait_owning(settings.partitions)
        worker.stop()
        before = await _topics(settings)
        made_by_faust = {t for t in before if t.startswith(f"{settings.topic_prefix}-worker-")}
        assert made_by_faust, f"the worker made no topic of its own: {sorted(before)}"

        deleted = await delete_topics(settings)

        assert set(deleted) == set(all_topics(settings)) | made_by_faust
        after = await _topics(settings)
        assert not after & set(deleted)
        assert set(all_topics(neighbour)) <= after
    finally:
        await delete_topics(neighbour)


async def test_delete_topics_of_a_deployment_that_never_ran(settings: Settings) -> None:
    # Nothing to delete is not an error (the demo and the tests clean up unconditionally).
    fresh = settings.model_copy(update={"topic_prefix": f"none{uuid.uuid4().hex[:8]}"})
    assert await delete_topics(fresh) == []
