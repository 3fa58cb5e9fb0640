"""The local services are what the rest of the suite assumes: durable Redis, a Kafka that
creates topics and carries messages up to the 10 MB the dead-letter path must accept."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.settings import Settings

pytestmark = pytest.mark.integration

# Matches message.max.bytes in infra/kafka/server.properties.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def test_redis_answers_and_is_durable(redis_client: redis.Redis) -> None:
    """PING works and writes go to an append-only file, so state survives a restart."""
    assert redis_client.ping()
    assert redis_client.config_get("appendonly") == {"appendonly": "yes"}
    assert redis_client.config_get("appendfsync") == {"appendfsync": "everysec"}


def test_redis_does_not_fork_on_its_own_while_a_worker_streams(
    redis_client: redis.Redis,
) -> None:
    """No RDB snapshots, and AOF rewrites only past 1 GB: each fork took most of a core
    while a busy worker waited (streams/infra.py, REDIS_PERSISTENCE)."""
    assert redis_client.config_get("save") == {"save": ""}
    assert redis_client.config_get("auto-aof-rewrite-min-size") == {
        "auto-aof-rewrite-min-size": str(1024 ** 3)}


async def _round_trip(settings: Settings, value: bytes) -> bytes:
    """Create a fresh topic, send ``value`` to it and read it back from the start."""
    topic = f"test.infra.{uuid.uuid4().hex}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, max_request_size=MAX_MESSAGE_BYTES
    )
    await producer.start()
    try:
        # Retries NotLeaderForPartition while the new topic's leader is being elected.
        await producer.send_and_wait(topic, value, key=b"k")
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=MAX_MESSAGE_BYTES,
        fetch_max_bytes=2 * MAX_MESSAGE_BYTES,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            record = await consumer.getone()
    finally:
        await consumer.stop()
    assert record.value is not None
    return record.value


async def test_kafka_creates_topic_and_round_trips(settings: Settings) -> None:
    """A topic created through the admin API carries a message from producer to consumer."""
    assert await _round_trip(settings, b"hello quorum") == b"hello quorum"


async def test_kafka_round_trips_10mb_message(settings: Settings) -> None:
    """The broker accepts and serves a 10 MB message (message.max.bytes is 16 MB)."""
    value = uuid.uuid4().bytes * (10 * 1024 * 1024 // 16)
    received = await _round_trip(settings, value)
    assert len(received) == len(value)
    assert received == value


async def test_kafka_keeps_its_log_cleaner_small(settings: Settings) -> None:
    """The cleaner's dedupe buffer is 16 MB, not the default 128 MB that was most of the
    broker's live heap and kept its collector busy (infra/kafka/server.properties)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.BROKER, "1",
                            configs={"log.cleaner.dedupe.buffer.size": None})])
    finally:
        await admin.close()
    [(_, _, _, _, entries)] = response.resources
    values = {entry[0]: entry[1] for entry in entries}
    assert values == {"log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024)}
