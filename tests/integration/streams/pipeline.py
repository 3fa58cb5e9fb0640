"""Helpers for pipeline tests: build events, send them, wait for the worker, read the outputs."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from redis.asyncio import Redis

from streams import topics
from streams.batch import InputRecord, apply_batch, parse_batch
from streams.kafka import plain_producer
from streams.models.project import ProjectConfig
from streams.operations import message_key, publish_project_config
from streams.settings import Settings
from streams.state.keys import Keys


def annotation(
    task: str,
    annotation_id: str,
    annotator: str,
    label: str | None,
    *,
    kind: str = "created",
    revision: int = 1,
    project: str = "p1",
    lead_time: float | None = None,
) -> dict[str, Any]:
    """A `quorum.annotation/v1` event with a single-choice Label Studio result."""
    event: dict[str, Any] = {
        "schema": "quorum.annotation/v1",
        "event_id": f"{annotation_id}@{revision}",
        "project_id": project,
        "task_id": task,
        "occurred_at": "2026-11-28T06:00:00+00:00",
        "kind": kind,
        "annotation_id": annotation_id,
        "revision": revision,
        "completed_by": annotator,
    }
    if lead_time is not None:
        event["lead_time"] = lead_time
    if label is not None:
        event["result"] = [
            {"from_name": "sentiment", "to_name": "text", "type": "choices",
             "value": {"choices": [label]}}
        ]
    return event


@dataclass
class Deployment:
    """One test's deployment: its settings and a Redis client (bytes responses)."""

    settings: Settings
    redis: Redis

    @property
    def keys(self) -> Keys:
        return Keys(self.settings.key_prefix)

    async def configure(self, config: ProjectConfig) -> None:
        """Set a project's configuration and wait until the worker applied it."""
        applied = await publish_project_config(self.settings, config, wait_s=30)
        assert applied, "no worker applied the project configuration within 30 s"

    async def send(self, events: Sequence[dict[str, Any] | bytes], *, gap_s: float = 0.0) -> None:
        """Produce events to the annotations topic, keyed by task (raw bytes keyless);
        with ``gap_s``, one at a time, each acknowledged, then ``gap_s`` later the next."""
        producer = plain_producer(self.settings)
        await producer.start()
        try:
            topic = self.settings.topic(topics.ANNOTATIONS)
            futures = []
            for event in events:
                if isinstance(event, bytes):
                    futures.append(await producer.send(topic, value=event, key=b"bad"))
                else:
                    futures.append(await producer.send(
                        topic, value=orjson.dumps(event), key=message_key(event)))
                if gap_s:
                    await futures[-1]
                    await asyncio.sleep(gap_s)
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    async def limit_message_bytes(self, short_topic: str, limit: int | None) -> None:
        """Set a topic's ``max.message.bytes`` (None: the broker's default again): a
        limit below every event makes Kafka refuse what is published to it."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.alter_configs([ConfigResource(
                ConfigResourceType.TOPIC, self.settings.topic(short_topic),
                configs={"max.message.bytes": str(limit if limit is not None else 1048588)})])
        finally:
            await admin.close()
        await asyncio.sleep(1)  # the broker applies a topic's new configuration

    async def end_offsets(self) -> dict[int, int]:
        """Next offset per partition of the annotations topic."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap)
        await consumer.start()
        try:
            topic = self.settings.topic(topics.ANNOTATIONS)
            tps = [TopicPartition(topic, p) for p in range(self.settings.partitions)]
            ends = await consumer.end_offsets(tps)
            return {tp.partition: off for tp, off in ends.items()}
        finally:
            await consumer.stop()

    async def applied_offsets(self) -> dict[int, int]:
        """Last applied offset + 1 per partition, as stored with the state."""
        result = {}
        for p in range(self.settings.partitions):
            raw = await self.redis.get(self.keys.offset(p))
            result[p] = int(raw) + 1 if raw else 0
        return result

    async def wait_applied(self, timeout_s: float = 60) -> None:
        """Wait until every produced annotation event is applied and its outputs published."""
        ends = await self.end_offsets()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            applied = await self.applied_offsets()
            if all(applied[p] >= end for p, end in ends.items()):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"not applied in {timeout_s}s: applied {applied}, end {ends}")

    async def read_outputs(
        self,
        names: tuple[str, ...] = topics.OUTPUTS,
        *,
        at_least: int = 0,
        timeout_s: float = 60,
        settle_s: float = 1.0,
    ) -> list[dict[str, Any]]:
        """Events on the output topics: at least ``at_least`` distinct ids (or fail at
        ``timeout_s``), then whatever else arrives until ``settle_s`` passes quietly."""
        consumer = AIOKafkaConsumer(
            *[self.settings.topic(n) for n in names],
            bootstrap_servers=self.settings.kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        await consumer.start()
        events: list[dict[str, Any]] = []
        ids: set[str] = set()
        deadline = time.monotonic() + timeout_s
        try:
            quiet_since = time.monotonic()
            while len(ids) < at_least or time.monotonic() - quiet_since < settle_s:
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"only {len(ids)} of {at_least} output events within {timeout_s}s"
                    )
                fetched = await consumer.getmany(timeout_ms=200)
                for messages in fetched.values():
                    for message in messages:
                        event = orjson.loads(message.value)
                        events.append(event)
                        ids.add(event["event_id"])
                if fetched:
                    quiet_since = time.monotonic()
        finally:
            await consumer.stop()
        return events

    async def input_records(self) -> dict[int, list[InputRecord]]:
        """The annotations topic as stored, per partition (for the clean-run oracle)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        await consumer.start()
        ends = await self.end_offsets()
        topic = self.settings.topic(topics.ANNOTATIONS)
        tps = [TopicPartition(topic, p) for p in ends]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: dict[int, list[InputRecord]] = defaultdict(list)
        try:
            while any(len(records[p]) < end for p, end in ends.items()):
                fetched = await consumer.getmany(timeout_ms=500)
                for tp, messages in fetched.items():
                    records[tp.partition] += [InputRecord(m.offset, m.value) for m in messages]
        finally:
            await consumer.stop()
        return dict(records)

    async def task_states(self) -> dict[str, bytes]:
        """Every stored task record, by ``<partition>/<task field>``."""
        states: dict[str, bytes] = {}
        for partition in range(self.settings.partitions):
            stored = await self.redis.hgetall(self.keys.tasks(partition))
            for field, doc in stored.items():
                assert isinstance(field, bytes) and isinstance(doc, bytes)  # no decoding client
                states[f"{partition}/{field.decode()}"] = doc
        return states


async def clean_run(
    deployment: Deployment, configs: dict[str, ProjectConfig]
) -> tuple[dict[str, bytes], list[dict[str, Any]]]:
    """What a clean run gives: every partition's whole input through the core in one batch.

    The oracle for crash and replay tests: same input, same offsets, no interruption.
    """
    states: dict[str, bytes] = {}
    outputs: list[dict[str, Any]] = []
    settings = deployment.settings
    for partition, records in (await deployment.input_records()).items():
        batch = parse_batch(
            partition, settings.topic(topics.ANNOTATIONS), records,
            max_bytes=settings.max_event_bytes,
        )
        outcome = apply_batch(batch, {}, configs, after_offset=None)
        for (project, task), record in outcome.records.items():
            states[f"{partition}/{deployment.keys.task_field(project, task)}"] = record.to_json()
        outputs += [event.body for event in outcome.outputs]
    return states, outputs


def by_schema(events: list[dict[str, Any]], schema: str) -> list[dict[str, Any]]:
    """The events of one schema, e.g. ``quorum.task-completed/v1``."""
    return [e for e in events if e.get("schema") == schema]


async def next_task(session: Any, worker: Any, project: str, annotator: str) -> dict[str, Any]:
    """The label stream's answer for ``annotator`` (an aiohttp session, a WorkerProcess)."""
    url = f"{worker.web_url}/projects/{project}/annotators/{annotator}/next-task"
    async with session.post(url) as response:
        assert response.status == 200, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer


async def projects_committed(settings: Settings, partition: int) -> int | None:
    """The projects topic's committed offset of faust's group (the worker's app id)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                group_id=topics.worker_app_id(settings),
                                enable_auto_commit=False)
    await consumer.start()
    try:
        offset: int | None = await consumer.committed(
            TopicPartition(settings.topic(topics.PROJECTS), partition))
        return offset
    finally:
        await consumer.stop()
