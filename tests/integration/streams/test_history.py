"""The input history on the real Kafka: the replayed inputs are kept forever, topics made
with the broker's retention are brought up to date, and `quorum rebuild` refuses to
replay a partition that no longer starts at offset 0."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from typer.testing import CliRunner, Result

from streams import topics
from streams.cli import app
from streams.errors import QuorumError
from streams.kafka import delete_topics, ensure_topics, plain_producer
from streams.operations import require_full_history
from streams.settings import Settings

from .pipeline import Deployment

pytestmark = pytest.mark.integration

KEPT_FOREVER = {"retention.ms": "-1", "retention.bytes": "-1"}
WEEK = {"retention.ms": "604800000", "retention.bytes": "1073741824"}


@pytest.fixture
async def fresh(settings: Settings) -> AsyncIterator[Settings]:
    """Settings with a prefix no topic has yet; its topics are deleted at the end."""
    fresh = settings.model_copy(update={"topic_prefix": f"t{uuid.uuid4().hex[:10]}"})
    try:
        yield fresh
    finally:
        await delete_topics(fresh)


async def describe(settings: Settings, topic: str, names: list[str]) -> dict[str, str]:
    """Config name -> value of one topic, as the broker describes it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, dict.fromkeys(names))])
    finally:
        await admin.close()
    [resource] = responses[0].to_object()["resources"]
    return {e["config_names"]: e["config_value"] for e in resource["config_entries"]}


async def eventually_described(settings: Settings, topic: str,
                               expected: dict[str, str]) -> dict[str, str]:
    """The topic's configs once they are ``expected`` (the broker applies an alteration
    shortly after answering it), or as they are after 10 s."""
    deadline = time.monotonic() + 10
    while True:
        described = await describe(settings, topic, list(expected))
        if described == expected or time.monotonic() > deadline:
            return described
        await asyncio.sleep(0.2)


async def test_new_input_topics_are_kept_forever(deployment: Deployment) -> None:
    # Polled: a topic just created may not be described yet (its configs came back empty
    # in one CI run).
    settings = deployment.settings
    for name in (topics.ANNOTATIONS, topics.WORKFLOW):
        assert await eventually_described(settings, settings.topic(name), KEPT_FOREVER) == \
            KEPT_FOREVER
    compacted = {"cleanup.policy": "compact"}  # retention does not apply to it
    assert await eventually_described(
        settings, settings.topic(topics.PROJECTS), compacted) == compacted


async def test_an_input_topic_with_the_brokers_retention_is_brought_up_to_date(
        fresh: Settings, caplog: pytest.LogCaptureFixture) -> None:
    annotations = fresh.topic(topics.ANNOTATIONS)
    admin = AIOKafkaAdminClient(bootstrap_servers=fresh.kafka_bootstrap)
    await admin.start()
    try:  # as an older Quorum made it, plus a config someone set by hand
        await admin.create_topics([NewTopic(annotations, fresh.partitions, 1, topic_configs={
            **WEEK, "segment.ms": "3600000"})])
        # ensure_topics would create it again while the broker does not list it yet.
        while annotations not in await admin.list_topics():
            await asyncio.sleep(0.1)
    finally:
        await admin.close()

    with caplog.at_level(logging.WARNING, logger="streams.kafka"):
        created = await ensure_topics(fresh)
    assert annotations not in created and fresh.topic(topics.WORKFLOW) in created
    expected = {**KEPT_FOREVER, "segment.ms": "3600000",
                "max.message.bytes": str(16 * 1024 * 1024)}
    assert await eventually_described(fresh, annotations, expected) == expected
    assert f"topic {annotations} brought up to Quorum's configs" in caplog.text
    assert "retention.ms 604800000 -> -1, retention.bytes 1073741824 -> -1" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="streams.kafka"):
        assert await ensure_topics(fresh) == []
    assert caplog.text == ""  # up to date: nothing changed, nothing said


def _rebuild(settings: Settings, *args: str) -> Result:
    env = {"QUORUM_TOPIC_PREFIX": settings.topic_prefix, "QUORUM_REDIS_URL": settings.redis_url,
           "QUORUM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
    return CliRunner().invoke(app, ["rebuild", "--yes", *args], env=env)


async def delete_first_records(settings: Settings, before: dict[TopicPartition, int]) -> None:
    """Remove each partition's records before an offset, as retention would have."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_records(
            {tp: RecordsToDelete(before_offset=offset) for tp, offset in before.items()})
    finally:
        await admin.close()


async def produce(settings: Settings, tp: TopicPartition, count: int) -> None:
    producer = plain_producer(settings)
    await producer.start()
    try:
        for i in range(count):
            await producer.send_and_wait(tp.topic, value=b"{}", key=f"k{i}".encode(),
                                         partition=tp.partition)
    finally:
        await producer.stop()


async def test_rebuild_refuses_inputs_that_lost_their_first_events(
        deployment: Deployment) -> None:
    settings = deployment.settings
    annotations = TopicPartition(settings.topic(topics.ANNOTATIONS), 0)
    workflow = TopicPartition(settings.topic(topics.WORKFLOW), 1)
    for tp in (annotations, workflow):
        await produce(settings, tp, 3)
    await require_full_history(settings)  # every partition still starts at 0
    state = deployment.keys.offset(0)
    await deployment.redis.set(state, "2")

    await delete_first_records(settings, {annotations: 2, workflow: 1})
    with pytest.raises(QuorumError) as refused:
        await require_full_history(settings)
    assert f"{annotations.topic} partition 0 (first offset 2)" in str(refused.value)
    assert f"{workflow.topic} partition 1 (first offset 1)" in str(refused.value)
    assert "partition 2" not in str(refused.value)

    result = await asyncio.to_thread(_rebuild, settings)
    output = " ".join(result.output.split())  # as rich wrapped it for the terminal
    assert result.exit_code == 1
    assert f"{annotations.topic} partition 0 (first offset 2)" in output
    assert "`quorum rebuild --yes --allow-partial-history`" in output
    assert await deployment.redis.get(state) == b"2"  # refused before deleting anything

    result = await asyncio.to_thread(_rebuild, settings, "--allow-partial-history")
    assert result.exit_code == 0, result.output
    assert await deployment.redis.get(state) is None


async def test_rebuild_refuses_a_deployment_without_input_topics(fresh: Settings) -> None:
    with pytest.raises(QuorumError, match=f"Kafka has no topic {fresh.topic_prefix}"):
        await require_full_history(fresh)
