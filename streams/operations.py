"""What the CLI, the demo and the tests do to a running deployment: configure, send, query."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from redis.asyncio import Redis

from agreement.label_studio import ExportTask
from streams import lag, topics
from streams.errors import QuorumError
from streams.kafka import plain_producer
from streams.label_studio_sync import (
    ExportSnapshot,
    deleted_annotations,
    deletion_events,
    missing_annotations,
    not_deleted_yet,
    unlisted_tasks,
)
from streams.lag import PartitionLag
from streams.models.invalid import InvalidEvent
from streams.models.project import (
    ProjectConfig,
    parse_project_config,
    project_config_from_dict,
)
from streams.settings import Settings
from streams.state.keys import Keys
from streams.state.task import COUNTED, DELETED, SKIPPED, TaskRecord

_PARTITIONER = DefaultPartitioner()  # Kafka's default (murmur2), as any producer's


def message_key(event: dict[str, object]) -> bytes:
    """The input message key: the task, so one task's events stay in order on one partition."""
    return f"{event.get('project_id')}:{event.get('task_id')}".encode()


def input_key(short_topic: str, event: dict[str, object]) -> bytes | None:
    """An input topic's message key for ``event``: the task on the annotations topic; the
    project on the workflow topic (its agent refuses events off their project's
    partition) and on the compacted projects topic (compaction keeps one per key).
    ``None`` when the event lacks what the key is made of: the worker says why."""
    if short_topic == topics.ANNOTATIONS:
        return message_key(event)
    project = event.get("project_id")
    if isinstance(project, bool) or not isinstance(project, str | int):
        return None
    return str(project).encode()


@dataclass(frozen=True, slots=True)
class KeyedLines:
    """A JSONL input's non-blank lines, each with its message key (:func:`key_lines`)."""

    messages: list[tuple[bytes, bytes | None]]
    # The lines that get no key: 1-based line number, and why.
    refused: list[tuple[int, str]]


def key_lines(short_topic: str, lines: Sequence[bytes]) -> KeyedLines:
    """Each non-blank line with its key on ``short_topic`` (:func:`input_key`), parsed
    once. A line that is not JSON, not a JSON object, or (off the annotations topic)
    without a project id gets none and is listed in ``refused`` with why: the worker
    dead-letters it on the annotations and workflow topics, and the compacted projects
    topic takes no message without a key."""
    messages: list[tuple[bytes, bytes | None]] = []
    refused: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        key: bytes | None = None
        try:
            body = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            refused.append((number, f"not JSON ({exc})"))
        else:
            if not isinstance(body, dict):
                refused.append((number, f"{_json_kind(body)}, not a JSON object"))
            elif (key := input_key(short_topic, body)) is None:
                refused.append((number, "no project_id (a string or an integer)"))
        messages.append((line, key))
    return KeyedLines(messages, refused)


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string" if isinstance(value, str) else "a list"


def describe_lines(refused: Sequence[tuple[int, str]], most: int = 3) -> str:
    """``line 2: not JSON (...); line 5: ...`` for the first ``most``, and how many more."""
    shown = "; ".join(f"line {number}: {why}" for number, why in refused[:most])
    more = len(refused) - most
    return shown + (f"; and {more} more" if more > 0 else "")


async def _send_project(settings: Settings, project_id: str, value: bytes | None) -> None:
    """One message to the compacted projects topic, keyed by the project, acknowledged."""
    producer = plain_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(topics.PROJECTS), value=value,
                                     key=project_id.encode())
    finally:
        await producer.stop()


async def remove_project_config(settings: Settings, project_id: str) -> None:
    """Send the project's tombstone (a null value) to the compacted projects topic: the
    projects agent deletes its configuration, and the defaults apply again."""
    await _send_project(settings, project_id, None)


async def publish_project_config(
    settings: Settings, config: ProjectConfig, *, wait_s: float
) -> bool:
    """Send a configuration to the compacted topic; with ``wait_s``, wait until it is applied."""
    await _send_project(settings, config.project_id, orjson.dumps(config.to_dict()))
    if wait_s <= 0:
        return False
    redis = Redis.from_url(settings.redis_url)
    try:
        deadline = time.monotonic() + wait_s
        key = Keys(settings.key_prefix).project_configs()
        while time.monotonic() < deadline:
            stored = await redis.hget(key, config.project_id)
            if stored is not None and project_config_from_dict(orjson.loads(stored)) == config:
                return True
            await asyncio.sleep(0.1)
        return False
    finally:
        await redis.aclose()


async def latest_project_config(settings: Settings, project_id: str, *,
                                timeout_s: float = 30) -> ProjectConfig | None:
    """The project's configuration on the compacted projects topic, as the projects agent
    applies its messages in order (a tombstone removes it, one it refuses changes
    nothing); None for a project without one.

    Read from the topic, not from Redis: the topic has every configuration sent, also
    one no worker has applied yet (``quorum project set --no-wait``, no worker running).
    """
    topic = settings.topic(topics.PROJECTS)
    partitions = list(range((await _partition_counts(settings, [topic]))[topic]))
    key = project_id.encode()
    # The partition the producer picks for the key: one partition to read, not all.
    where = TopicPartition(topic, _PARTITIONER(key, partitions, partitions))
    # From the earliest offset by the reset policy: a seek_to_beginning races with the
    # consumer's own reset of a new assignment, and may lose (read from the end).
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap,
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([where])
        end = (await consumer.end_offsets([where]))[where]
        config: ProjectConfig | None = None
        async with asyncio.timeout(timeout_s):
            while await consumer.position(where) < end:
                fetched = await consumer.getmany(where, timeout_ms=500)
                for message in fetched.get(where, []):
                    if message.key == key:
                        config = _applied_config(config, project_id, message.value)
        return config
    except TimeoutError:
        raise QuorumError(f"could not read {topic} to its end within {timeout_s:g} s; "
                          f"check that Kafka at {settings.kafka_bootstrap} answers") from None
    finally:
        await consumer.stop()


def _applied_config(config: ProjectConfig | None, project_id: str,
                    value: bytes | None) -> ProjectConfig | None:
    """The configuration after one message of the project's key, as the agent has it."""
    if value is None:
        return None
    try:
        sent = parse_project_config(value)
    except InvalidEvent:
        return config  # dead-lettered by the agent: the one before stays
    return sent if sent.project_id == project_id else config


@dataclass(frozen=True, slots=True)
class ProjectRow:
    """A project as ``quorum project list`` shows it."""

    project_id: str
    config: ProjectConfig
    configured: bool


async def list_projects(settings: Settings) -> list[ProjectRow]:
    """Every project configured or seen in annotations; unconfigured ones use the defaults."""
    keys = Keys(settings.key_prefix)
    redis = Redis.from_url(settings.redis_url)
    try:
        stored = await redis.hgetall(keys.project_configs())
        seen: set[str] = set()
        async for key in redis.scan_iter(match=keys.partition_pattern("projects"), count=1000):
            seen.update(_text(m) for m in await redis.smembers(key))
    finally:
        await redis.aclose()
    configs = {_text(k): project_config_from_dict(orjson.loads(v)) for k, v in stored.items()}
    rows = [ProjectRow(pid, configs.get(pid, ProjectConfig(pid)), pid in configs)
            for pid in sorted(seen | configs.keys())]
    return rows


async def send_lines(
    settings: Settings,
    short_topic: str,
    keyed: KeyedLines,
    *,
    on_sent: Callable[[int], object] | None = None,
    chunk: int = 5000,
) -> int:
    """Produce keyed JSON lines (:func:`key_lines`) to an input topic; how many. A line
    without a key is sent as is, for the worker to dead-letter with the reason; on the
    compacted projects topic, which takes no keyless message, such lines refuse the whole
    input (:class:`QuorumError`, nothing sent)."""
    if short_topic not in topics.INPUTS:
        raise QuorumError(f"{short_topic!r} is not an input topic: send to one of "
                          f"{', '.join(topics.INPUTS)}")
    if short_topic == topics.PROJECTS and keyed.refused:
        raise QuorumError(
            f"nothing sent: the projects topic keeps one configuration per project id, so "
            f"every line must be a JSON object with a project_id "
            f"({describe_lines(keyed.refused)}); to remove a project's configuration, run "
            "`quorum project remove PROJECT`")
    producer = plain_producer(settings)
    await producer.start()
    topic = settings.topic(short_topic)
    messages = keyed.messages
    try:
        for start in range(0, len(messages), chunk):
            futures = [await producer.send(topic, value=line, key=key)
                       for line, key in messages[start:start + chunk]]
            await asyncio.gather(*futures)
            if on_sent is not None:
                on_sent(len(futures))
    finally:
        await producer.stop()
    return len(messages)


async def task_records(redis: Redis, keys: Keys, partitions: Sequence[int], project_id: str,
                       tasks: Sequence[str]) -> dict[str, bytes]:
    """The stored records of a project's tasks (the ones that have one), in one round trip.

    A task's record is on the partition Kafka's default partitioner (murmur2 on the
    task's message key) gives its events; ``partitions`` are the annotations topic's.
    """
    ordered = sorted(partitions)
    reads = redis.pipeline(transaction=False)
    for task_id in tasks:
        key = message_key({"project_id": project_id, "task_id": task_id})
        partition = _PARTITIONER(key, ordered, ordered)
        reads.hget(keys.tasks(partition), keys.task_field(project_id, task_id))
    records = await reads.execute()
    return {task_id: raw for task_id, raw in zip(tasks, records, strict=True)
            if isinstance(raw, bytes)}


async def label_studio_annotations(settings: Settings, project_id: str) -> dict[str, str]:
    """Annotation id -> task id of every Label Studio annotation the receiver or
    ``send-export`` passed on for the project (scanned: the hash may be large)."""
    redis = Redis.from_url(settings.redis_url)
    try:
        key = Keys(settings.key_prefix).label_studio_annotations(project_id)
        return {_text(annotation): _text(task)
                async for annotation, task in redis.hscan_iter(key, count=10_000)}
    finally:
        await redis.aclose()


async def annotation_entries_in_stream(settings: Settings, project_id: str,
                                       tasks: Sequence[str]) -> dict[str, tuple[int, str]]:
    """Annotation id -> the newest revision and status the stream holds (deleted ones
    included), for the annotations of these tasks: one read of their records, on the
    annotations topic's true partition count (asked of Kafka, so it holds even if the
    topic differs from ``QUORUM_PARTITIONS``)."""
    topic = settings.topic(topics.ANNOTATIONS)
    partitions = (await _partition_counts(settings, [topic]))[topic]
    redis = Redis.from_url(settings.redis_url)
    try:
        records = await task_records(redis, Keys(settings.key_prefix), range(partitions),
                                     project_id, list(tasks))
    finally:
        await redis.aclose()
    return {aid: entry for raw in records.values()
            for aid, entry in TaskRecord.stored_entries(raw).items()}


@dataclass(frozen=True, slots=True)
class LabelStudioDeletions:
    """What a Label Studio export says the stream must delete."""

    events: list[dict[str, Any]]  # quorum.annotation/v1 deletions, not sent yet
    elsewhere: list[str]  # unlisted tasks Label Studio has in another project


async def label_studio_deletions(
    project_id: str,
    known: Mapping[str, str],
    snapshot: ExportSnapshot,
    held: Mapping[str, tuple[int, str]],
    has_task: Callable[[str], bool],
    *,
    on_asked: Callable[[int, int], object] | None = None,
) -> LabelStudioDeletions:
    """The deletions of the annotations Quorum got from Label Studio (``known``, read
    before the export was taken) that the export (``snapshot``) no longer holds and the
    stream does not yet hold as deleted (:mod:`streams.label_studio_sync`).

    ``held`` is :func:`annotation_entries_in_stream` of the tasks of ``known``'s
    missing annotations (:func:`streams.label_studio_sync.tasks_to_read` reads them with
    the export's). ``has_task`` answers whether Label Studio still has a task the export
    does not list (a blocking call, run in a thread); ``on_asked(answered, tasks to ask
    about)`` is told of each answer.
    """
    missing = not_deleted_yet(missing_annotations(known, snapshot),
                              {aid for aid, (_, status) in held.items() if status == DELETED})
    deleted_tasks: set[str] = set()
    elsewhere: list[str] = []
    unlisted = unlisted_tasks(missing, snapshot)
    for answered, task in enumerate(unlisted, 1):
        if await asyncio.to_thread(has_task, task):
            elsewhere.append(task)
        else:
            deleted_tasks.add(task)
        if on_asked is not None:
            on_asked(answered, len(unlisted))
    deleted = deleted_annotations(missing, snapshot, deleted_tasks)
    events = deletion_events(project_id, deleted, deleted_at=datetime.now(UTC).isoformat())
    return LabelStudioDeletions(events, elsewhere)


async def label_studio_task_ids(settings: Settings, project_id: str) -> set[str]:
    """The Label Studio tasks a distributing project's label stream got from Label
    Studio (:meth:`streams.state.keys.Keys.label_studio_tasks`)."""
    redis = Redis.from_url(settings.redis_url)
    try:
        key = Keys(settings.key_prefix).label_studio_tasks(project_id)
        return {_text(task) async for task in redis.sscan_iter(key, count=10_000)}
    finally:
        await redis.aclose()


async def send_label_studio_tasks(settings: Settings, project_id: str,
                                  events: Sequence[dict[str, Any]]) -> int:
    """Send the ``quorum.task/v1`` events, then keep the label stream's Label Studio task
    ids as they leave it (imports added, deletions removed)."""
    sent = await send_workflow(settings, project_id, events)
    imported = [e["task_id"] for e in events if e["kind"] == "imported"]
    deleted = [e["task_id"] for e in events if e["kind"] == "deleted"]
    redis = Redis.from_url(settings.redis_url)
    try:
        key = Keys(settings.key_prefix).label_studio_tasks(project_id)
        for start in range(0, len(imported), 10_000):
            await redis.sadd(key, *imported[start:start + 10_000])
        for start in range(0, len(deleted), 10_000):
            await redis.srem(key, *deleted[start:start + 10_000])
    finally:
        await redis.aclose()
    return sent


async def send_workflow(settings: Settings, project_id: str,
                        bodies: Sequence[dict[str, Any]]) -> int:
    """Produce workflow events keyed by the project; how many Kafka acknowledged."""
    producer = plain_producer(settings)
    try:
        await producer.start()  # inside: a start that fails must still close the client
        topic, key = settings.topic(topics.WORKFLOW), project_id.encode()
        futures = [await producer.send(topic, value=orjson.dumps(body), key=key)
                   for body in bodies]
        await producer.flush()
        await asyncio.gather(*futures)  # raises the first delivery error, if any
        return len(futures)
    finally:
        await producer.stop()


async def project_distributes(settings: Settings, project_id: str) -> bool:
    """Whether the project's stored configuration has Quorum distribute its tasks."""
    redis = Redis.from_url(settings.redis_url)
    try:
        stored = await redis.hget(Keys(settings.key_prefix).project_configs(), project_id)
    finally:
        await redis.aclose()
    return stored is not None and orjson.loads(stored).get("distribute") is True


async def remember_annotation_tasks(settings: Settings, project_id: str,
                                    task_of: dict[str, str]) -> None:
    """Keep each Label Studio annotation's task, as the webhook receiver does for what it
    sees: a later ``ANNOTATIONS_DELETED`` webhook names only the annotation."""
    if not task_of:
        return
    redis = Redis.from_url(settings.redis_url)
    try:
        key = Keys(settings.key_prefix).label_studio_annotations(project_id)
        items = list(task_of.items())
        for start in range(0, len(items), 10_000):
            await redis.hset(key, mapping=dict(items[start:start + 10_000]))
    finally:
        await redis.aclose()


@dataclass(frozen=True, slots=True)
class TaskAgreementRow:
    """A task and its current agreement."""

    project_id: str
    task_id: str
    agreement: float


async def input_lag(settings: Settings) -> tuple[list[PartitionLag], int]:
    """Every input partition of the annotations and workflow streams against what Redis
    says is applied (:mod:`streams.lag`), and the messages the dead-letter topic holds.

    Raises :class:`QuorumError` naming the topic when the input topics do not exist yet.
    """
    keys = Keys(settings.key_prefix)
    streams = ((lag.ANNOTATIONS, topics.ANNOTATIONS, keys.offset, keys.outbox),
               (lag.WORKFLOW, topics.WORKFLOW, keys.workflow_offset, keys.workflow_outbox))
    names = [settings.topic(short) for _, short, _, _ in streams]
    letters_topic = settings.topic(topics.DEAD_LETTER)
    partitions = await _partition_counts(settings, [*names, letters_topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    redis = Redis.from_url(settings.redis_url)
    try:
        await consumer.start()
        rows: list[PartitionLag] = []
        for (stream, _, offset_key, outbox_key), topic in zip(streams, names, strict=True):
            tps = [TopicPartition(topic, p) for p in range(partitions[topic])]
            starts = await consumer.beginning_offsets(tps)
            ends = await consumer.end_offsets(tps)
            reads = redis.pipeline(transaction=False)
            for tp in tps:
                reads.get(offset_key(tp.partition))
                reads.llen(outbox_key(tp.partition))
            stored = await reads.execute()
            rows += [PartitionLag(stream, tp.partition, starts[tp], ends[tp],
                                  lag.applied_offset(stored[2 * i]), int(stored[2 * i + 1]))
                     for i, tp in enumerate(tps)]
        letters = [TopicPartition(letters_topic, p) for p in range(partitions[letters_topic])]
        starts = await consumer.beginning_offsets(letters)
        ends = await consumer.end_offsets(letters)
        return rows, sum(ends[tp] - starts[tp] for tp in letters)
    finally:
        await consumer.stop()
        await redis.aclose()


async def _partition_counts(settings: Settings, names: Sequence[str]) -> dict[str, int]:
    """The partition count of each topic; :class:`QuorumError` for one that does not
    exist. Existence is checked against the list of all topics first: asking the broker
    about a missing topic by name could create it (``auto.create.topics.enable``)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        for name in names:
            if name not in existing:
                raise QuorumError(f"Kafka has no topic {name}: a worker creates it when it "
                                  "starts (`quorum worker`); check QUORUM_TOPIC_PREFIX")
        described = await admin.describe_topics(list(names))
    finally:
        await admin.close()
    return {topic["topic"]: len(topic["partitions"]) for topic in described}


async def rewind_group(settings: Settings, group_id: str, topic_names: Sequence[str]) -> None:
    """Commit offset 0 for every partition of ``topic_names`` in ``group_id``, a group
    with no member running.

    The broker drops a deleted topic's committed offsets some time after the deletion.
    A topic created again under the same name before that keeps them: once written to,
    an old offset can be a valid position past the new messages, and a consumer resuming
    there skips them without an error.
    """
    counts = await _partition_counts(settings, topic_names)
    partitions = [TopicPartition(name, p) for name, count in counts.items() for p in range(count)]
    await _until_coordinator(settings, group_id)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group_id,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.commit({tp: 0 for tp in partitions})
    finally:
        await consumer.stop()


async def _until_coordinator(settings: Settings, group_id: str, timeout_s: float = 30.0) -> None:
    """Wait until the broker names ``group_id``'s coordinator.

    A new broker creates its offsets topic on the first request for a coordinator and
    answers "not available" until it is there; aiokafka's consumer logs each of those at
    ERROR level while it retries, which a fresh clone's first demo printed. Past the
    timeout the consumer's own retries take over and say what is wrong.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                await admin.find_coordinator(group_id)
                return
            except KafkaError:
                if time.monotonic() > deadline:
                    return
                await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def tasks_below(
    settings: Settings, agreement: float, *, project_id: str | None = None, limit: int = 50
) -> list[TaskAgreementRow]:
    """Tasks whose agreement is below ``agreement``, lowest first, merged over partitions."""
    keys = Keys(settings.key_prefix)
    redis = Redis.from_url(settings.redis_url)
    rows: list[TaskAgreementRow] = []
    try:
        wanted = "*" if project_id is None else _glob_literal(project_id)
        pattern = keys.partition_pattern(f"agreement:{wanted}")
        async for key in redis.scan_iter(match=pattern, count=1000):
            project = _text(key).split(":agreement:", 1)[1]
            members: list[tuple[bytes, float]] = await redis.zrangebyscore(
                key, "-inf", f"({agreement!r}", start=0, num=limit, withscores=True
            )  # type: ignore[assignment]
            rows += [TaskAgreementRow(project, _text(m), float(s)) for m, s in members]
    finally:
        await redis.aclose()
    rows.sort(key=lambda r: (r.agreement, r.project_id, r.task_id))
    return rows[:limit]


async def require_full_history(settings: Settings) -> None:
    """Refuse a rebuild that would silently lose events: :class:`QuorumError` naming every
    partition of the replayed inputs (annotations, workflow) that no longer starts at
    offset 0, with its first offset, or the replayed topic that does not exist.

    Kafka moves a partition's first offset past events that retention or a
    DeleteRecords removed; replaying the rest would rebuild a state without them.
    """
    names = [settings.topic(short) for short in topics.REPLAYED]
    partitions = await _partition_counts(settings, names)
    tps = [TopicPartition(name, p) for name in names for p in range(partitions[name])]
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        await consumer.start()
        starts = await consumer.beginning_offsets(tps)
    finally:
        await consumer.stop()
    truncated = [f"{tp.topic} partition {tp.partition} (first offset {starts[tp]:,})"
                 for tp in tps if starts[tp] > 0]
    if truncated:
        raise QuorumError(
            f"Kafka no longer holds the start of {', '.join(truncated)}: a rebuild would "
            "replay only what is left and lose the older events. Nothing was deleted; keep "
            "the current state, or rebuild from what is left with `quorum rebuild --yes "
            "--allow-partial-history`")


async def delete_state(settings: Settings) -> int:
    """Delete every partition-scoped key (task state, offsets, outboxes, indexes) and the
    workflow partitions' (distribution snapshots, journals, offsets, outboxes)."""
    keys = Keys(settings.key_prefix)
    removed = 0
    for pattern in (keys.partition_pattern("*"), keys.workflow_pattern("*")):
        removed += await delete_keys(settings.redis_url, pattern)
    return removed


async def delete_keys(redis_url: str, pattern: str) -> int:
    """Delete every key matching a SCAN ``pattern``, a thousand at a time; how many."""
    redis = Redis.from_url(redis_url)
    removed = 0
    try:
        batch: list[bytes] = []
        async for key in redis.scan_iter(match=pattern, count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                removed += await redis.delete(*batch)
                batch.clear()
        if batch:
            removed += await redis.delete(*batch)
    finally:
        await redis.aclose()
    return removed


def _glob_literal(text: str) -> str:
    """``text`` as a SCAN pattern that matches only itself (ids may hold ``*?[]``)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _text(value: bytes | str) -> str:
    """A Redis reply as text (clients here are made without ``decode_responses``)."""
    return value.decode() if isinstance(value, bytes) else value


async def project_tasks(settings: Settings, project_id: str) -> list[ExportTask]:
    """A project's tasks as the stream holds them, shaped like a Label Studio export.

    Every partition's task records of the project, read with HSCAN: counted annotations
    with their annotator and result, skipped ones as cancelled, predictions with their
    model version. :func:`streams.report.build_report` scores them exactly as
    ``quorum score`` scores an export, so the figures are the stream's own. A task whose
    every annotation was deleted (its deletion in Label Studio, most often) is left out,
    as Label Studio's export leaves out a deleted task.
    """
    keys = Keys(settings.key_prefix)
    redis = Redis.from_url(settings.redis_url)
    tasks: list[ExportTask] = []
    try:
        for partition in range(settings.partitions):
            async for task_id, doc in _project_records(redis, keys, partition, project_id):
                task = _as_export_task(task_id, doc)
                if task is not None:
                    tasks.append(task)
    finally:
        await redis.aclose()
    tasks.sort(key=lambda task: str(task.id))
    return tasks


async def task_statuses(settings: Settings, project_id: str
                        ) -> list[tuple[str, float | None, str]]:
    """Every task of the project the stream holds: ``(task id, agreement, status)`` as
    its last task-quality event said them, from each partition's task records (the
    decision) and agreement index (the score the worker computed; none while no
    annotation counts)."""
    keys = Keys(settings.key_prefix)
    redis = Redis.from_url(settings.redis_url)
    rows: list[tuple[str, float | None, str]] = []
    try:
        for partition in range(settings.partitions):
            indexed: list[tuple[bytes, float]] = await redis.zrange(
                keys.agreement_index(partition, project_id), 0, -1, withscores=True
            )  # type: ignore[assignment]
            scores = {_text(task): float(score) for task, score in indexed}
            rows += [(task_id, scores.get(task_id), TaskRecord.stored_status(doc))
                     async for task_id, doc in _project_records(redis, keys, partition,
                                                                project_id)]
    finally:
        await redis.aclose()
    rows.sort()
    return rows


async def _project_records(redis: Redis, keys: Keys, partition: int,
                           project_id: str) -> AsyncIterator[tuple[str, bytes]]:
    """``(task id, stored record)`` of each of the project's tasks on a partition (HSCAN:
    a thousand at a time, never the whole hash at once)."""
    prefix = keys.task_field(project_id, "")
    async for field, doc in redis.hscan_iter(
        keys.tasks(partition), match=_glob_literal(prefix) + "*", count=1000
    ):
        name = _text(field)
        if name.startswith(prefix):
            yield name[len(prefix):], doc


def _as_export_task(task_id: str, doc: bytes) -> ExportTask | None:
    """The record as an export's task; None when it holds nothing but deletions."""
    record = TaskRecord.from_json(doc)
    if all(entry.status == DELETED for entry in record.entries.values()):
        return None
    truth_id, truth_result = record.ground_truth or (None, [])
    annotations = []
    for annotation_id, entry in record.entries.items():
        if entry.status == COUNTED:
            truth = annotation_id == truth_id
            annotations.append(
                {"id": annotation_id, "completed_by": entry.author or None,
                 # Ground truth left out of the agreement is kept apart with its result.
                 "result": truth_result if truth
                 else record.agreement.result_of(annotation_id) or [],
                 "ground_truth": truth}
            )
        elif entry.status == SKIPPED:
            annotations.append(
                {"id": annotation_id, "completed_by": entry.author or None, "result": [],
                 "was_cancelled": True}
            )
    predictions = [
        {"id": prediction_id, "model_version": record.entries[prediction_id].author,
         "result": result}
        for prediction_id, result in record.predictions.items()
    ]
    return ExportTask(id=task_id, annotations=tuple(annotations), predictions=tuple(predictions))
