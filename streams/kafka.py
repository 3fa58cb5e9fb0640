"""Kafka plumbing shared by the CLI, the demo and the tests: topics, producers, readers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from streams.backoff import infra_backoff
from streams.errors import QuorumError
from streams.settings import Settings
from streams.topics import all_topics, worker_app_id

log = logging.getLogger(__name__)

# DescribeConfigs' source of a value set on the topic itself (not a broker default).
_TOPIC_CONFIG_SOURCE = 1


async def ensure_topics(settings: Settings) -> list[str]:
    """Create every Quorum topic that does not exist yet; return the ones created.

    A topic that exists but lacks a config Quorum sets (one created by an older version,
    e.g. with the broker's finite retention on an input) gets it, with a warning that
    names the change.
    """
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
        await _update_configs(admin, {name: config for name, config in wanted.items()
                                      if name in existing and config})
        return [t.name for t in missing]
    finally:
        await admin.close()


def config_changes(current: Mapping[str, str | None],
                   wanted: Mapping[str, str]) -> dict[str, tuple[str | None, str]]:
    """The configs whose ``current`` value differs from the ``wanted`` one:
    name -> (current value, wanted value)."""
    return {name: (current.get(name), value) for name, value in wanted.items()
            if current.get(name) != value}


async def _update_configs(admin: AIOKafkaAdminClient,
                          wanted: Mapping[str, Mapping[str, str]]) -> None:
    """Give existing topics the configs they lack, and log each change. AlterConfigs
    replaces a topic's whole set of its own configs, so those set on it before (by hand,
    say) are sent again."""
    if not wanted:
        return
    described = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in wanted])
    updates, changed = [], {}
    for resource in _resources(described):
        name, entries = resource["resource_name"], resource["config_entries"]
        changes = config_changes({e["config_names"]: e["config_value"] for e in entries},
                                 wanted[name])
        if changes:
            own = {e["config_names"]: e["config_value"] for e in entries
                   if e["config_source"] == _TOPIC_CONFIG_SOURCE}
            updates.append(ConfigResource(ConfigResourceType.TOPIC, name,
                                          {**own, **wanted[name]}))
            changed[name] = changes
    if not updates:
        return
    _resources(await admin.alter_configs(updates))
    for name, changes in changed.items():
        log.warning("topic %s brought up to Quorum's configs (streams/topics.py): %s", name,
                    ", ".join(f"{key} {old} -> {new}" for key, (old, new) in changes.items()))


def _resources(responses: list[Any]) -> list[dict[str, Any]]:
    """The resources of DescribeConfigs or AlterConfigs responses; :class:`QuorumError`
    for one the broker refused (aiokafka returns the error codes, it does not raise)."""
    resources = [r for response in responses for r in response.to_object()["resources"]]
    for resource in resources:
        if resource["error_code"]:
            raise QuorumError(
                "Kafka refused to read or change the configs of topic "
                f"{resource['resource_name']} (error {resource['error_code']}: "
                f"{resource['error_message']}); allow this client to alter topic configs, or "
                "set them by hand as streams/topics.py lists them, then run `quorum infra up` "
                "again")
    return resources


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
    backoff = infra_backoff(settings)
    while True:
        try:
            await consumer.start()
            return True
        except KafkaError as exc:
            if stopping.is_set():
                return False
            retrying(f"connecting to Kafka at {settings.kafka_bootstrap}", exc)
            await backoff.wait()


async def delete_topics(settings: Settings) -> list[str]:
    """Delete this deployment's topics (tests, benchmarks and the demo only): Quorum's own
    and the ones faust made for the worker app (its assignor's leader topic). Left behind,
    a broker that served a few hundred benchmark runs carried as many stray topics.
    Returns the names deleted: the broker lists them a moment longer, and a worker
    started meanwhile would find them going."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        faust_prefix = f"{worker_app_id(settings)}-"
        doomed = [name for name in all_topics(settings) if name in existing]
        doomed += sorted(name for name in existing if name.startswith(faust_prefix))
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()
    return doomed


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
