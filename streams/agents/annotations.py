"""The annotations agent: whole fetched batches from Kafka through the processing core.

faust's stream loop hands messages over one at a time (about 4,000 events/s on one core
here, whatever the batch settings; see bench/README.md), so the annotation hot path uses
aiokafka's ``getmany`` directly and gives each partition's fetched batch to
:func:`streams.batch.apply_batch`. faust-streaming still runs the worker: this agent is a
service of the faust app, started and stopped with it.

Per batch and partition: one pipelined read, the pure core, one atomic script (state,
offset, outbox, fenced by the owner token), then one produce flush for all partitions.
Redis, not Kafka's committed offset, says where a partition resumes: on assignment the
consumer seeks to the offset after the last one applied, so a crash, a rebalance or a
Redis that lost its last second of writes replays exactly what is missing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.producer.message_accumulator import BatchBuilder
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streams import topics
from streams.batch import InputRecord, apply_batch, decode_outputs, encode_outputs, parse_batch
from streams.settings import Settings
from streams.state.store import ApplyStatus, StateStore

log = logging.getLogger(__name__)

# Errors of the infrastructure, not of the input: retried with backoff, never dropped.
INFRA_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    KafkaError,
    OSError,
    asyncio.TimeoutError,
)

# Kafka offsets are committed only so that lag shows in the usual tools; Redis holds the
# position that counts, so committing once a second is plenty.
_COMMIT_INTERVAL_S = 1.0


class _LostPartition(Exception):
    """The partition was claimed by another worker (fenced) or its offset moved."""


@dataclass(slots=True)
class AgentStats:
    """Counters for logs, the demo summary and the benchmark."""

    batches: int = 0
    events: int = 0
    applied: int = 0
    ignored: int = 0
    dead_letters: int = 0
    outputs: int = 0
    retries: int = 0


class AnnotationsAgent:
    """Consumes ``<prefix>.annotations`` in batches and keeps the state in Redis."""

    def __init__(self, settings: Settings, store: StateStore, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.store = store
        self.producer = producer
        self.topic = settings.topic(topics.ANNOTATIONS)
        self.stats = AgentStats()
        self.consumer: AIOKafkaConsumer | None = None
        self._owned: dict[int, str] = {}  # partition -> fencing token
        self._acked: dict[int, int] = {}  # partition -> published outbox entries to trim
        self._positions: dict[TopicPartition, int] = {}
        self._partition_counts: dict[str, int] = {}  # output topic -> partitions
        self._lock = asyncio.Lock()  # a rebalance waits for the batch in flight
        self._last_commit = 0.0

    @property
    def owned_partitions(self) -> list[int]:
        """Partitions this worker owns now."""
        return sorted(self._owned)

    async def run(self, stopping: asyncio.Event) -> None:
        """Fetch and process until ``stopping`` is set."""
        s = self.settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap,
            group_id=s.consumer_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
        )
        self.consumer = consumer
        consumer.subscribe([self.topic], listener=_Rebalance(self))
        delay = 0.1
        while True:
            try:
                await consumer.start()
                break
            except KafkaError as exc:
                if stopping.is_set():
                    return
                self._retrying(f"connecting to Kafka at {s.kafka_bootstrap}", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, s.retry_max_delay_s)
        try:
            while not stopping.is_set():
                fetched = await consumer.getmany(
                    timeout_ms=s.batch_fetch_timeout_ms, max_records=s.batch_max_records
                )
                if fetched:
                    async with self._lock:
                        await self._handle(fetched)
                await self._maybe_commit()
        finally:
            async with self._lock:
                await self._maybe_commit(force=True)
            await consumer.stop()
            self.consumer = None

    async def _handle(self, fetched: dict[TopicPartition, list]) -> None:
        published: list[tuple[TopicPartition, bytes]] = []
        for tp, messages in fetched.items():
            token = self._owned.get(tp.partition)
            if token is None:
                continue  # revoked while the fetch was in flight
            try:
                entry = await self._process(tp.partition, token, messages)
            except _LostPartition:
                await self._recover(tp)
                continue
            except INFRA_ERRORS as exc:
                self._retrying(f"partition {tp.partition}: applying a batch failed", exc)
                await self._recover(tp)
                continue
            self._positions[tp] = messages[-1].offset + 1
            if entry is not None:
                published.append((tp, entry))
        if not published:
            return
        try:
            await self._publish([(tp.partition, entry) for tp, entry in published])
        except INFRA_ERRORS as exc:
            self._retrying("publishing outputs failed; they stay in the outbox", exc)
            for tp, _ in published:
                await self._recover(tp)
            return
        for tp, _ in published:
            self._acked[tp.partition] = self._acked.get(tp.partition, 0) + 1

    async def _process(self, partition: int, token: str, messages: Sequence) -> bytes | None:
        """One partition's batch through read, core and atomic write; returns its outbox entry."""
        records = [InputRecord(m.offset, m.value) for m in messages]
        batch = parse_batch(
            partition, self.topic, records, max_bytes=self.settings.max_event_bytes
        )
        loaded = await self.store.load(partition, batch.task_refs, batch.project_ids)
        floor = loaded.applied_offset
        if floor is not None and batch.last_offset <= floor:
            return None  # all of it was applied before: a replay
        outcome = apply_batch(batch, loaded.tasks, loaded.configs, after_offset=floor)
        entry = encode_outputs(outcome.outputs) if outcome.outputs else None
        status = await self.store.apply(
            partition,
            token=token,
            expected_offset_raw=loaded.offset_raw,
            new_offset=batch.last_offset,
            acked=self._acked.get(partition, 0),
            records=outcome.records,
            outbox=[] if entry is None else [entry],
            projects=batch.project_ids,
        )
        if status is ApplyStatus.FENCED:
            log.warning("partition %d was claimed by another worker; dropping it", partition)
            self._owned.pop(partition, None)
            raise _LostPartition
        if status is ApplyStatus.CONFLICT:
            log.warning("partition %d: applied offset moved under this batch; resyncing", partition)
            raise _LostPartition
        self._acked[partition] = 0
        stats = self.stats
        stats.batches += 1
        stats.events += len(records)
        stats.applied += outcome.applied
        stats.ignored += outcome.ignored
        stats.dead_letters += len(batch.refused)
        stats.outputs += len(outcome.outputs)
        return entry

    async def _publish(self, entries: Iterable[tuple[int, bytes]]) -> None:
        """Send outbox entries and wait until Kafka has them all.

        An output goes to the partition of the input that caused it (modulo the output
        topic's partition count): one task's outputs stay in order, and whole batches go
        to aiokafka without per-message partitioning and futures.
        """
        builders: dict[tuple[str, int], list[BatchBuilder]] = {}
        for partition, entry in entries:
            for short_topic, key, body in decode_outputs(entry):
                topic = self.settings.topic(short_topic)
                count = self._partition_counts.get(topic)
                if count is None:
                    count = len(await self.producer.partitions_for(topic))
                    self._partition_counts[topic] = count
                chain = builders.setdefault((topic, partition % count), [])
                raw_key = key.encode()
                if not chain or chain[-1].append(key=raw_key, value=body, timestamp=None) is None:
                    # The last batch is full (or there is none): start the next one.
                    chain.append(self.producer.create_batch())
                    if chain[-1].append(key=raw_key, value=body, timestamp=None) is None:
                        raise ValueError(f"an output event of {len(body)} bytes fits no batch")
        futures = []
        for (topic, out_partition), chain in builders.items():
            for builder in chain:
                builder.close()
                futures.append(
                    await self.producer.send_batch(builder, topic, partition=out_partition)
                )
        if futures:
            await asyncio.gather(*futures)

    async def claim(self, assigned: Iterable[TopicPartition]) -> None:
        """Take the assigned partitions: new token, publish leftovers, seek to Redis' offset."""
        for tp in assigned:
            if tp.topic != self.topic:
                continue
            delay = 0.1
            while True:
                try:
                    self._owned[tp.partition] = await self.store.claim(tp.partition)
                    break
                except INFRA_ERRORS as exc:
                    self._retrying(f"partition {tp.partition}: claiming failed", exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.settings.retry_max_delay_s)
            await self._recover(tp)
        log.info("owning partitions %s of %s", self.owned_partitions, self.topic)

    async def release(self, revoked: Iterable[TopicPartition]) -> None:
        """Give partitions up after the batch in flight (the caller holds no lock)."""
        async with self._lock:
            await self._maybe_commit(force=True)
            for tp in revoked:
                self._owned.pop(tp.partition, None)
                self._acked.pop(tp.partition, None)
                self._positions.pop(tp, None)

    async def _recover(self, tp: TopicPartition) -> None:
        """Publish what the outbox holds, then resume right after the last applied offset.

        Retried with backoff until Redis and Kafka answer: the partition waits, nothing
        is acknowledged and dropped meanwhile.
        """
        delay = 0.1
        while tp.partition in self._owned:
            token = self._owned[tp.partition]
            try:
                pending = await self.store.outbox(tp.partition)
                if pending:
                    await self._publish([(tp.partition, entry) for entry in pending])
                    if not await self.store.trim_outbox(tp.partition, token, len(pending)):
                        log.warning("partition %d was claimed by another worker", tp.partition)
                        self._owned.pop(tp.partition, None)
                        return
                self._acked[tp.partition] = 0
                applied = await self.store.applied_offset(tp.partition)
                assert self.consumer is not None
                if applied is None:
                    await self.consumer.seek_to_beginning(tp)
                else:
                    self.consumer.seek(tp, applied + 1)
                return
            except INFRA_ERRORS as exc:
                self._retrying(f"partition {tp.partition}: recovery failed", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.retry_max_delay_s)

    async def _maybe_commit(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not self._positions or self.consumer is None:
            return
        if not force and now - self._last_commit < _COMMIT_INTERVAL_S:
            return
        self._last_commit = now
        positions = {tp: off for tp, off in self._positions.items() if tp.partition in self._owned}
        try:
            if positions:
                await self.consumer.commit(positions)
        except INFRA_ERRORS as exc:
            # Only lag reporting depends on it; the next commit catches up.
            log.info("committing offsets failed (lag figures only): %s", exc)

    def _retrying(self, what: str, exc: BaseException) -> None:
        self.stats.retries += 1
        log.warning("%s: %s: %s; retrying with backoff", what, type(exc).__name__, exc)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, agent: AnnotationsAgent) -> None:
        self.agent = agent

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.agent.release(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        async with self.agent._lock:
            await self.agent.claim(assigned)


def make_producer(settings: Settings) -> AIOKafkaProducer:
    """The producer for output events: acks from all replicas, idempotent, small linger."""
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=1024 * 1024,
        max_request_size=16 * 1024 * 1024,
    )
