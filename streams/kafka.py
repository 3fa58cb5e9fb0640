"""Kafka plumbing shared by the CLI, the demo and the tests: topics, producers, readers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from streams.settings import Settings
from streams.topics import all_topics


async def ensure_topics(settings: Settings) -> list[str]:
    """Create every Quorum topic that does not exist yet; return the ones created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = all_topics(settings)
        missing = [
            NewTopic(name, num_partitions=settings.partitions, replication_factor=1,
                     topic_configs=config)
            for name, config in wanted.items()
            if name not in existing
        ]
        if missing:
            # Another process may have created them first.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()


async def start_with_backoff(
    consumer: AIOKafkaConsumer,
    stopping: asyncio.Event,
    settings: Settings,
    retrying: Callable[[str, BaseException], None],
) -> bool:
    """Start ``consumer``, retrying with exponential backoff (up to
    ``settings.retry_max_delay_s``) while Kafka cannot be reached: a worker started before
    its broker waits for it instead of exiting. ``retrying(what, error)`` is told of each
    failed attempt. False if ``stopping`` was set before the consumer started."""
    delay = 0.1
    while True:
        try:
            await consumer.start()
            return True
        except KafkaError as exc:
            if stopping.is_set():
                return False
            retrying(f"connecting to Kafka at {settings.kafka_bootstrap}", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, settings.retry_max_delay_s)


async def delete_topics(settings: Settings) -> None:
    """Delete this deployment's topics (tests and `quorum rebuild --wipe-topics` only)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [name for name in all_topics(settings) if name in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def plain_producer(settings: Settings) -> AIOKafkaProducer:
    """A producer for input events (CLI `send`, demo, tests)."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=16 * 1024 * 1024,
    )


async def read_topics(
    settings: Settings,
    short_names: list[str],
    *,
    from_beginning: bool = True,
    idle_timeout_s: float | None = None,
) -> AsyncIterator[tuple[str, bytes | None, bytes | None]]:
    """Yield ``(topic, key, value)`` from output topics, without a consumer group.

    With ``idle_timeout_s`` the iteration ends once nothing arrived for that long.
    """
    consumer = AIOKafkaConsumer(
        *[settings.topic(name) for name in short_names],
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    try:
        idle_since = asyncio.get_running_loop().time()
        while True:
            fetched = await consumer.getmany(timeout_ms=200, max_records=5000)
            now = asyncio.get_running_loop().time()
            if fetched:
                idle_since = now
            elif idle_timeout_s is not None and now - idle_since > idle_timeout_s:
                return
            for tp, messages in fetched.items():
                for message in messages:
                    yield tp.topic, message.key, message.value
    finally:
        await consumer.stop()
