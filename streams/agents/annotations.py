"""The annotations agent: whole fetched batches from Kafka through the processing core.

faust's stream loop hands messages over one at a time (about 4,000 events/s on one core
here, whatever the batch settings; see bench/README.md), so the annotation hot path uses
aiokafka's ``getmany`` directly and gives each partition's fetched batch to
:func:`streams.batch.apply_batch`. faust-streaming still runs the worker: this agent is a
service of the faust app, started and stopped with it.

Per fetch, whatever partitions it holds: one pipelined read, the pure core for each
partition's batch, one pipeline of atomic scripts (one per partition: state, offset,
outbox, fenced by the owner token; under a backlog, sent in parts as the partitions are
computed), then one produce flush. The cycles overlap: a
fetch's write runs in Redis while the next fetch is read and parsed, and its outputs are
published as soon as it is applied; the task records the worker wrote are kept decoded
(:class:`streams.state.task_cache.TaskCache`), and the read is skipped when the fetch
needs nothing Redis has that the worker does not know (its cache, which tasks Redis
holds: :class:`streams.state.task_index.TaskIndex`, and the configurations the last write
read back). See :meth:`AnnotationsAgent._process`.
Redis, not Kafka's committed offset, says where a partition resumes: on assignment the
consumer seeks to the offset after the last one applied, so a crash, a rebalance or a
Redis that lost its last second of writes replays exactly what is missing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streams import native, topics
from streams.backoff import infra_backoff
from streams.batch import (
    BatchOutcome,
    EncodedOutputs,
    Message,
    ParsedBatch,
    apply_batch,
    decode_outputs,
    encode_outputs,
    parse_batch,
)
from streams.fetch_hold import FetchHold, flowing_options
from streams.garbage import FullCollections, tune_garbage_collector
from streams.kafka import start_with_backoff
from streams.models.project import ProjectConfig
from streams.publications import Publications
from streams.raw_records import RAW_RECORDS
from streams.settings import Settings
from streams.state.store import (
    Applied,
    ApplyStatus,
    BatchWrite,
    LoadedBatch,
    StateStore,
    TaskRef,
)
from streams.state.task import TaskRecord
from streams.state.task_cache import TaskCache
from streams.state.task_index import IndexBuild, TaskIndex

log = logging.getLogger(__name__)

# Errors of the infrastructure, not of the input: retried with backoff, never dropped.
INFRA_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    KafkaError,
    OSError,
    asyncio.TimeoutError,
)

# A fetch's partitions whose batches hold at least this many events in all go to Redis
# as soon as they are computed, while the worker computes the rest: a backlog's write
# (about 70 ms for 10,000 events) otherwise ran after the whole fetch was computed, and
# the worker waited for it (bench/README.md, session 23). Smaller ones wait for the rest
# of the fetch: one round trip per live cycle.
_EARLY_WRITE_EVENTS = 1000

# Kafka offsets are committed only so that lag shows in the usual tools; Redis holds the
# position that counts, so committing once a second is plenty.
_COMMIT_INTERVAL_S = 1.0


# Output topics partitioned by message key rather than by the causing input partition.
_KEYED_TOPICS = frozenset({topics.WORKFLOW})
_PARTITIONER = DefaultPartitioner()

_Pending = dict[TopicPartition, tuple[ParsedBatch, BatchOutcome, EncodedOutputs | None]]


@dataclass(slots=True)
class _Write:
    """A fetch's atomic writes, running in Redis while the rest of the fetch is computed
    and the next one is read and parsed; its outputs are published once all are applied."""

    writes: list[BatchWrite]
    pending: _Pending
    projects: list[str]  # whose configurations the last round trip reads back
    # One round trip per group of partitions, in ``writes`` order; the last one (perhaps
    # of no partition) reads the configurations back.
    applied: list[asyncio.Future[Applied]]


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
    reads: int = 0  # fetches whose state was read from Redis
    reads_skipped: int = 0  # fetches whose state the worker knew (see AnnotationsAgent._known)
    writes_in_parts: int = 0  # fetches whose write went to Redis in parts (a backlog's)


class AnnotationsAgent:
    """Consumes ``<prefix>.annotations`` in batches and keeps the state in Redis."""

    def __init__(self, settings: Settings, store: StateStore, producer: AIOKafkaProducer,
                 collections: FullCollections | None = None) -> None:
        self.settings = settings
        # The worker's collection policy, shared with its other agents (streams/garbage.py).
        self.collections = collections if collections is not None else FullCollections()
        self.store = store
        self.producer = producer
        self.topic = settings.topic(topics.ANNOTATIONS)
        self.stats = AgentStats()
        self.consumer: AIOKafkaConsumer | None = None
        self._owned: dict[int, str] = {}  # partition -> fencing token
        # A batch does not wait for Kafka's acknowledgement: the next batch's atomic write
        # trims the outbox entries whose publication (and all before it) is acknowledged.
        self.publications = Publications(self._publication_failed)
        self._positions: dict[TopicPartition, int] = {}
        self._targets: dict[str, tuple[str, int]] = {}  # short name -> topic, partitions
        self._by_key: dict[bytes, int] = {}  # keyed topics: key -> partition (murmur2)
        self._gap_checked: dict[int, int] = {}  # partition -> a batch start seen past a gap
        self._cycle = asyncio.Lock()  # held while batches are processed; rebalances wait
        self._write: _Write | None = None  # the last fetch's write, until settled
        self._recovered: set[int] = set()  # partitions sought back since the last fetch
        self.cache = TaskCache(settings.task_cache_size)
        self._indexes: dict[int, TaskIndex] = {}  # partition -> the tasks Redis holds
        self._index_builds: dict[int, IndexBuild] = {}  # partition -> its scan, running
        self._unindexed: set[int] = set()  # partitions too big to index, said once
        # The configurations (or their absence) of the projects the last round trip read:
        # a fetch of only these projects needs no read for them.
        self._configs: dict[str, ProjectConfig | None] = {}
        self._last_commit = 0.0
        self._committing: asyncio.Future[None] | None = None  # a commit in the background
        self._hold: FetchHold | None = None  # the fetch hold, off while idle; once started

    @property
    def owned_partitions(self) -> list[int]:
        """Partitions this worker owns now."""
        return sorted(self._owned)

    async def run(self, stopping: asyncio.Event) -> None:
        """Fetch and process until ``stopping`` is set."""
        s = self.settings
        consumer = AIOKafkaConsumer(**consumer_options(s))
        self.consumer = consumer
        consumer.subscribe([self.topic], listener=_Rebalance(self))
        if not await start_with_backoff(consumer, stopping, s, self._retrying):
            return
        hold = self._hold = FetchHold(consumer, s.fetch_hold_ms, s.fetch_idle_wait_ms,
                                      s.fetch_sparse_gap_ms)
        tune_garbage_collector()
        log.info("annotations agent: hot path %s", native.state().describe)
        collections = self.collections
        try:
            while not stopping.is_set():
                events = self.stats.events
                await self._fetch_and_dispatch(consumer)
                collections.tick(worked=self.stats.events != events or self._write is not None)
                if self.publications.failed:
                    async with self._cycle:
                        for partition in sorted(self.publications.failed):
                            await self._recover(TopicPartition(self.topic, partition))
                await self._maybe_commit()
        finally:
            async with self._cycle:
                await self._settle()
                await self.publications.drain(list(self._owned))
                await self._maybe_commit(force=True)
            for build in self._index_builds.values():
                build.cancel()
            self._index_builds.clear()
            await consumer.stop()
            self.consumer = None
            stats = self.stats
            log.info("annotations agent stopped: %d events applied in %d batches; the state of "
                     "%d fetches read from Redis, of %d known already; %d writes sent in "
                     "parts; idle %d times, sparse %d times", stats.applied, stats.batches,
                     stats.reads, stats.reads_skipped, stats.writes_in_parts, hold.switches,
                     hold.sparse_switches)

    async def _fetch_and_dispatch(self, consumer: AIOKafkaConsumer) -> None:
        """Fetch what is there, over all partitions, and take it through the core.

        Every fetch drains what aiokafka has buffered: a partition left with buffered
        records holds back the next fetch of the others (aiokafka's prefetch backoff),
        which showed up as latency. At most two Redis round trips (one when the
        worker knows the state) and one produce flush per fetch, however many
        partitions it holds (see :meth:`_process`).
        """
        # With a write in flight, take only what is buffered: its outputs wait for it.
        fetched = await consumer.getmany(
            timeout_ms=0 if self._write is not None else self.settings.batch_fetch_timeout_ms,
            max_records=self.settings.batch_max_records,
        )
        hold = self._hold
        if fetched and hold is not None:
            # Before the next await: the fetcher builds its next request once this fetch's
            # records are taken, and it should be held again.
            hold.events_came(time.monotonic(), sum(map(len, fetched.values())))
        async with self._cycle:
            if fetched:
                await self._process(fetched)
            else:
                if self._write is None:
                    # Nothing came for a whole fetch timeout: the configurations the last
                    # round trip read may be old by now, and the next fetch reads them;
                    # and the next fetches wait for a first event rather than hold.
                    self._configs = {}
                    if hold is not None:
                        hold.nothing_came()
                await self._settle()
                for partition in list(self._index_builds):
                    self._index(partition)  # a scan finished while nothing came

    async def _process(self, fetched: dict[TopicPartition, list]) -> None:
        """One cycle; the previous fetch's write runs in Redis while this one is fetched
        and parsed. Errors end in recovery.

        1. Parse this fetch.
        2. Settle the previous fetch's write: publish its outputs, or recover.
        3. Read this fetch's state (offsets, configurations, the task records the cache
           does not hold): Redis holds every write made before. Skipped when the worker
           knows it all (:meth:`_known`): in a live stream a fetch's uncached tasks are
           nearly all new, and the read was a round trip on every cycle's critical path.
        4. Compute this fetch's batches and send their write, which runs until (2) of
           the next cycle.

        A batch's outputs are published at the start of the next cycle, not after the
        next fetch is computed: a cycle sooner (bench/README.md, session 6).
        """
        self._recovered.clear()
        batches: dict[TopicPartition, ParsedBatch] = {}
        for tp, messages in fetched.items():
            if tp.partition in self._owned and messages:
                # aiokafka's records as they are: a copy per message would cost more.
                batches[tp] = parse_batch(
                    tp.partition, self.topic, messages, max_bytes=self.settings.max_event_bytes
                )
                if self._write is not None:
                    # A backlog's write (about 7 MB for 10,000 events) outgrows the socket's
                    # send buffer (4 MB here): the loop hands Redis the rest only when it
                    # runs, so it runs between partitions, and Redis has the whole write
                    # to apply while this fetch is parsed.
                    await asyncio.sleep(0)
        await self._settle()
        # A partition dropped or sought back while settling is read again from Kafka.
        batches = {tp: b for tp, b in batches.items()
                   if tp.partition in self._owned and tp.partition not in self._recovered}
        if not batches:
            return
        projects = list(dict.fromkeys(p for b in batches.values() for p in b.project_ids))
        cached: dict[int, dict[TaskRef, TaskRecord]] = {}
        wanted: dict[int, list[TaskRef]] = {}
        for tp, batch in batches.items():
            cached[tp.partition], wanted[tp.partition] = self.cache.take(
                tp.partition, batch.task_refs
            )
        known = self._known(wanted, projects)
        if known is not None:
            loaded, configs = known
            self.stats.reads_skipped += 1
        else:
            self.stats.reads += 1
            try:
                loaded, configs = await self._load(batches, wanted, projects, cached)
            except INFRA_ERRORS as exc:
                self._retrying("reading the state of a batch failed", exc)
                await self._recover_all(batches)
                return

        writes: list[BatchWrite] = []
        pending: _Pending = {}
        sent: list[asyncio.Future[Applied]] = []
        flushed = 0  # writes sent already
        unsent = 0  # the events of the writes not sent yet
        last = len(batches) - 1
        for i, (tp, batch) in enumerate(batches.items()):
            p = tp.partition
            state = loaded[p]
            floor = state.applied_offset
            if self._gap(p, batch, floor):
                await self._recover(tp)
                continue
            if floor is not None and batch.last_offset <= floor:
                self._positions[tp] = batch.last_offset + 1
                continue  # all of it was applied before: a replay
            stored: dict[TaskRef, TaskRecord | bytes | None] = dict(state.tasks)
            stored.update(cached[p])
            try:
                outcome = apply_batch(batch, stored, configs, after_offset=floor)
            except BaseException:
                self.cache.forget(p)  # its records may be half changed
                raise
            self.cache.keep(p, outcome.records, str(batch.last_offset))
            index = self._index(p)
            build = self._index_builds.get(p)
            if index is not None or build is not None:
                # The cached ones are in Redis already; the others are once this is written.
                records = outcome.records
                stored_now = [ref for ref in wanted[p] if ref in records]
                if index is not None:
                    index.add(stored_now)
                    self._check_index_size(p, index)
                elif build is not None:
                    build.add(stored_now)
            encoded = encode_outputs(outcome.outputs) if outcome.outputs else None
            writes.append(BatchWrite(
                partition=p,
                token=self._owned[p],
                expected_offset_raw=state.offset_raw,
                new_offset=batch.last_offset,
                acked=self.publications.acknowledged(p),
                records=outcome.records,
                outbox=[] if encoded is None else [encoded.entry],
            ))
            pending[tp] = (batch, outcome, encoded)
            unsent += batch.size
            if unsent >= _EARLY_WRITE_EVENTS and i < last:
                # Sent now, to run in Redis while the rest of the fetch is computed.
                if not sent:
                    self.stats.writes_in_parts += 1
                sent.append(asyncio.ensure_future(self.store.apply(writes[flushed:])))
                flushed, unsent = len(writes), 0
                await asyncio.sleep(0)
        if writes:
            written = list(dict.fromkeys(
                p for batch, _, _ in pending.values() for p in batch.project_ids
            ))
            sent.append(asyncio.ensure_future(self.store.apply(writes[flushed:], written)))
            self._write = _Write(writes, pending, written, sent)
            # Let the write task put its commands on the wire now: the next getmany may
            # return without yielding, and Redis should run the write meanwhile.
            await asyncio.sleep(0)

    def _known(
        self, wanted: dict[int, list[TaskRef]], projects: list[str]
    ) -> tuple[dict[int, LoadedBatch], dict[str, ProjectConfig]] | None:
        """A fetch's state without a read, if the worker knows all of it; else None.

        It does when every partition's applied offset is the one its cached records
        belong to (written by this worker, confirmed by the write's compare-and-set), the
        partition's index says Redis holds none of the tasks the cache lacks, and the
        last round trip read every project's configuration. Should Redis have moved under
        the worker after all (lost writes, a rebuild), the write's compare-and-set or
        fencing refuses the batch and the partition is recovered from Redis.
        """
        configs = self._configs
        if any(project_id not in configs for project_id in projects):
            return None
        loaded: dict[int, LoadedBatch] = {}
        for partition, refs in wanted.items():
            offset_raw = self.cache.offset(partition)
            index = self._index(partition)
            if not offset_raw or index is None:
                return None
            if index.holds_any(refs):
                return None
            loaded[partition] = LoadedBatch(offset_raw, dict.fromkeys(refs))
        return loaded, {p: c for p in projects if (c := configs[p]) is not None}

    async def _load(
        self,
        batches: dict[TopicPartition, ParsedBatch],
        wanted: dict[int, list[TaskRef]],
        projects: list[str],
        cached: dict[int, dict[TaskRef, TaskRecord]],
    ) -> tuple[dict[int, LoadedBatch], dict[str, ProjectConfig]]:
        """Read the partitions' applied offsets, the configurations and the ``wanted``
        task records (those the cache does not hold; ``cached`` has the others), in one
        round trip.

        A partition whose applied offset is not the one its cached records belong to
        is forgotten and read whole, in a second round trip (rare: Redis lost writes or
        was rebuilt under the worker).
        """
        loaded, configs = await self.store.load(wanted, projects)
        self._configs = {p: configs.get(p) for p in projects}
        stale: dict[int, list[TaskRef]] = {}
        for tp, batch in batches.items():
            p = tp.partition
            if not self.cache.valid_at(p, loaded[p].offset_raw) and cached[p]:
                log.info("partition %d: state in Redis moved under the cache; reading it again", p)
                stale[p] = batch.task_refs
        if stale:
            again, _ = await self.store.load(stale, [])
            for p in stale:
                loaded[p] = again[p]
                cached[p] = {}
        return loaded, configs

    async def _settle(self) -> None:
        """Wait for the write in flight, then publish its outputs (or recover)."""
        write, self._write = self._write, None
        if write is None:
            return
        writes, pending = write.writes, write.pending
        # Every round trip's outcome is taken, failed or not: none is left unretrieved.
        outcomes = await asyncio.gather(*write.applied, return_exceptions=True)
        failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
        if failed is not None:
            if not isinstance(failed, INFRA_ERRORS):
                raise failed
            self._configs = {}
            self._retrying("writing a batch failed", failed)
            # Those applied are read again from where Redis says: nothing twice.
            await self._recover_all(pending)
            return
        applied = [o for o in outcomes if not isinstance(o, BaseException)]
        statuses = [status for a in applied for status in a.statuses]
        self._configs = {p: applied[-1].configs.get(p) for p in write.projects}

        sends: list[tuple[TopicPartition, EncodedOutputs]] = []
        for (tp, (batch, outcome, encoded)), status in zip(
            pending.items(), statuses, strict=True
        ):
            if status is ApplyStatus.FENCED:
                log.warning("partition %d was claimed by another worker; dropping it", tp.partition)
                self._owned.pop(tp.partition, None)
                self.cache.forget(tp.partition)
                self._drop_index(tp.partition)
                continue
            if status is ApplyStatus.CONFLICT:
                log.warning("partition %d: applied offset moved under a batch; resyncing",
                            tp.partition)
                await self._recover(tp)
                continue
            self.publications.trimmed(
                tp.partition, next(w.acked for w in writes if w.partition == tp.partition))
            self._positions[tp] = batch.last_offset + 1
            self._count(batch, outcome)
            if encoded is not None:
                sends.append((tp, encoded))
        if not sends:
            return
        try:
            sent = await self._send([(tp.partition, encoded.messages) for tp, encoded in sends])
        except INFRA_ERRORS as exc:
            self._retrying("publishing outputs failed; they stay in the outbox", exc)
            await self._recover_all(dict(sends))
            return
        for partition, futures in sent.items():
            self.publications.add(partition, futures)

    def _publication_failed(self, partition: int, exc: BaseException) -> None:
        """The partition's outbox is published again (``run`` recovers it)."""
        self._retrying(f"partition {partition}: publishing outputs failed", exc)

    def _gap(self, partition: int, batch: ParsedBatch, floor: int | None) -> bool:
        """Whether the batch starts past the applied state and must be read again.

        Nothing that was not applied may be skipped. If the log really has no record at
        the missing offsets (transaction markers), the re-read starts at the same offset
        again, and is accepted then.
        """
        first = batch.first_offset
        if floor is None or first <= floor + 1 or self._gap_checked.get(partition) == first:
            self._gap_checked.pop(partition, None)
            return False
        log.warning("partition %d: batch starts at offset %d but state ends at %d; "
                    "re-reading from %d", partition, first, floor, floor + 1)
        self._gap_checked[partition] = first
        return True

    def _count(self, batch: ParsedBatch, outcome: BatchOutcome) -> None:
        stats = self.stats
        stats.batches += 1
        stats.events += batch.size
        stats.applied += outcome.applied
        stats.ignored += outcome.ignored
        stats.dead_letters += len(batch.refused)
        stats.outputs += len(outcome.outputs)

    async def _recover_all(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            await self._recover(tp)

    async def _send(
        self, entries: Iterable[tuple[int, list[Message]]]
    ) -> dict[int, list[asyncio.Future[object]]]:
        """Hand output messages to the producer; the futures of each input partition's.

        ``entries`` pairs an input partition with the messages its batch caused. An
        output goes to the partition of the input that caused it (modulo the output
        topic's partition count): one task's outputs stay in order, and whole batches go
        to aiokafka without per-message partitioning and futures.
        """
        # Grouped first, then each group's batches built with one bound append: a lookup
        # per message less than appending as they come (about 0.25 us per output message;
        # bench/README.md, session 26). A group keeps its messages' order.
        groups: dict[tuple[int, str], list[Message]] = {}
        for partition, messages in entries:
            for message in messages:
                group = groups.get((partition, message[0]))
                if group is None:
                    group = groups[(partition, message[0])] = []
                group.append(message)
        built: list[tuple[int, str, int, list[BatchBuilder]]] = []
        for (partition, short_topic), group in groups.items():
            topic, count = await self._target(short_topic)
            if short_topic in _KEYED_TOPICS:
                by_key: dict[int, list[Message]] = {}
                for message in group:
                    by_key.setdefault(self._keyed_partition(message[1], count), []).append(message)
                for out_partition, keyed in by_key.items():
                    built.append((partition, topic, out_partition, self._batches(keyed)))
            else:
                built.append((partition, topic, partition % count, self._batches(group)))
        futures: dict[int, list[asyncio.Future[object]]] = defaultdict(list)
        for partition, topic, out_partition, chain in built:
            for builder in chain:
                futures[partition].append(
                    await self.producer.send_batch(builder, topic, partition=out_partition)
                )
        return futures

    async def _target(self, short_topic: str) -> tuple[str, int]:
        """An output topic's full name and partition count (asked of Kafka once)."""
        target = self._targets.get(short_topic)
        if target is None:
            topic = self.settings.topic(short_topic)
            count = len(await self.producer.partitions_for(topic))
            target = self._targets[short_topic] = (topic, count)
        return target

    def _batches(self, messages: list[Message]) -> list[BatchBuilder]:
        """The messages in closed producer batches, in order (several if they outgrow one)."""
        builder = self.producer.create_batch()
        chain = [builder]
        append = builder.append
        for _, key, body in messages:
            if append(key=key, value=body, timestamp=None) is None:
                # The batch is full: start the next one.
                builder = self.producer.create_batch()
                chain.append(builder)
                append = builder.append
                if append(key=key, value=body, timestamp=None) is None:
                    raise ValueError(f"an output event of {len(body)} bytes fits no batch")
        for builder in chain:
            builder.close()
        return chain

    def _keyed_partition(self, key: bytes, count: int) -> int:
        """Kafka's default partitioner (murmur2) on the key, as any producer would pick:
        the workflow topic is keyed by project, and users' own events share it."""
        partition = self._by_key.get(key)
        if partition is None:
            partitions = list(range(count))
            partition = self._by_key[key] = _PARTITIONER(key, partitions, partitions)
        return partition

    async def _publish(self, entries: Iterable[tuple[int, list[Message]]]) -> None:
        """Send output messages and wait until Kafka has them all."""
        sent = await self._send(entries)
        await asyncio.gather(*(f for futures in sent.values() for f in futures))

    async def claim(self, assigned: Iterable[TopicPartition]) -> None:
        """Take the assigned partitions: new token, publish leftovers, seek to Redis' offset."""
        await self._settle()
        for tp in assigned:
            if tp.topic != self.topic:
                continue
            backoff = infra_backoff(self.settings)
            while True:
                try:
                    self._owned[tp.partition] = await self.store.claim(tp.partition)
                    break
                except INFRA_ERRORS as exc:
                    self._retrying(f"partition {tp.partition}: claiming failed", exc)
                    await backoff.wait()
            await self._recover(tp)
        log.info("owning partitions %s of %s", self.owned_partitions, self.topic)

    async def release(self, revoked: Iterable[TopicPartition]) -> None:
        """Give partitions up once their batches in flight are applied and published."""
        revoked = list(revoked)
        async with self._cycle:
            await self._settle()
            await self.publications.drain(tp.partition for tp in revoked)
            await self._maybe_commit(force=True)
        for tp in revoked:
            self._owned.pop(tp.partition, None)
            self.cache.forget(tp.partition)
            self._drop_index(tp.partition)
            self.publications.forget(tp.partition)
            self._positions.pop(tp, None)

    async def _recover(self, tp: TopicPartition) -> None:
        """Publish what the outbox holds, then resume right after the last applied offset,
        and scan which tasks Redis holds again (the partition's index, built in the
        background: fetches read from Redis until it is there).

        Retried with backoff until Redis and Kafka answer: the partition waits, nothing
        is acknowledged and dropped meanwhile.
        """
        await self._settle()  # Redis must hold every write made before the offset is read
        self.cache.forget(tp.partition)
        self._drop_index(tp.partition)
        self._recovered.add(tp.partition)  # its batch fetched meanwhile is read again
        backoff = infra_backoff(self.settings)
        # Whatever is in flight is published again from the outbox below.
        self.publications.forget(tp.partition)
        while tp.partition in self._owned:
            token = self._owned[tp.partition]
            try:
                pending = await self.store.outbox(tp.partition)
                await self._publish([(tp.partition, decode_outputs(e)) for e in pending])
                trimmed = not pending or await self.store.trim_outbox(
                    tp.partition, token, len(pending)
                )
                if not trimmed:
                    log.warning("partition %d was claimed by another worker", tp.partition)
                    self._owned.pop(tp.partition, None)
                    return
                applied = await self.store.applied_offset(tp.partition)
                assert self.consumer is not None
                if applied is None:
                    await self.consumer.seek_to_beginning(tp)
                else:
                    self.consumer.seek(tp, applied + 1)
                self._build_index(tp.partition)
                return
            except INFRA_ERRORS as exc:
                self._retrying(f"partition {tp.partition}: recovery failed", exc)
                await backoff.wait()

    def _build_index(self, partition: int, written: Iterable[TaskRef] = ()) -> None:
        """Scan the partition's tasks in the background (after its claim: no one else
        writes them meanwhile); ``written``: tasks whose writes may still be in flight."""
        if self.settings.task_index_size > 0:
            build = IndexBuild(self.store.task_index(partition, self.settings.task_index_size))
            build.add(written)
            self._index_builds[partition] = build

    def _index(self, partition: int) -> TaskIndex | None:
        """The partition's index, taking over a build that has finished; None while
        there is none (fetches read from Redis)."""
        index = self._indexes.get(partition)
        build = self._index_builds.get(partition)
        if index is not None or build is None or not build.done():
            return index
        del self._index_builds[partition]
        try:
            index = build.take()
        except INFRA_ERRORS as exc:
            self._retrying(f"partition {partition}: scanning its tasks failed", exc)
            # A new scan sees every write applied before it; a write still in flight
            # may land behind its cursor, so the tasks written so far are carried over.
            self._build_index(partition, build.added)
            return None
        if index is None:
            self._too_big_to_index(partition)
            return None
        # Once per partition taken: a big one's scan shows (four of 400,000 tasks took
        # 3.6 s here, side by side), and the fetches meanwhile read from Redis.
        log.info("partition %d: %d tasks indexed in %.1f s", partition, len(index),
                 time.monotonic() - build.began)
        self._indexes[partition] = index
        self._check_index_size(partition, index)
        return self._indexes.get(partition)

    def _check_index_size(self, partition: int, index: TaskIndex) -> None:
        if len(index) > self.settings.task_index_size:
            del self._indexes[partition]
            self._too_big_to_index(partition)

    def _drop_index(self, partition: int) -> None:
        self._indexes.pop(partition, None)
        build = self._index_builds.pop(partition, None)
        if build is not None:
            build.cancel()

    def _too_big_to_index(self, partition: int) -> None:
        if partition not in self._unindexed:
            self._unindexed.add(partition)
            log.info("partition %d holds more than %d tasks (QUORUM_TASK_INDEX_SIZE): every "
                     "batch reads the tasks the cache does not hold", partition,
                     self.settings.task_index_size)

    async def _maybe_commit(self, *, force: bool = False) -> None:
        """Commit the positions once a second, in the background: the cycle does not wait
        for the coordinator (up to 15 ms here, once a second, for every event in flight).
        ``force`` waits for it (a rebalance, a stop)."""
        if self._committing is not None and self._committing.done():
            self._committing = None
        if force and self._committing is not None:
            await asyncio.wait([self._committing])
            self._committing = None
        now = time.monotonic()
        if not self._positions or self.consumer is None or self._committing is not None:
            return
        if not force and now - self._last_commit < _COMMIT_INTERVAL_S:
            return
        self._last_commit = now
        positions = {tp: off for tp, off in self._positions.items() if tp.partition in self._owned}
        if not positions:
            return
        if force:
            await self._commit(self.consumer, positions)
        else:
            self._committing = asyncio.ensure_future(self._commit(self.consumer, positions))

    @staticmethod
    async def _commit(consumer: AIOKafkaConsumer, positions: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(positions)
        except INFRA_ERRORS as exc:
            # Only lag reporting depends on it; the next commit catches up.
            log.info("committing offsets failed (lag figures only): %s", exc)

    def _retrying(self, what: str, exc: BaseException) -> None:
        self.stats.retries += 1
        log.warning("%s: %s: %s; retrying with backoff", what, type(exc).__name__, exc)


def consumer_options(settings: Settings) -> dict[str, Any]:
    """The annotations topic's consumer: offsets live in Redis (Kafka's commits are for
    lag figures), whole fetches go through the core."""
    return {
        "bootstrap_servers": settings.kafka_bootstrap,
        "group_id": settings.consumer_group,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        # About 3,000 annotation events per partition and fetch: batches big enough to pay
        # for their round trips, small enough to keep latency low under a backlog.
        "max_partition_fetch_bytes": 1024 * 1024,
        "fetch_max_bytes": 32 * 1024 * 1024,
        "check_crcs": settings.kafka_check_crcs,
        # The batch decoder's records, not a ConsumerRecord each (streams/raw_records.py).
        "value_deserializer": RAW_RECORDS,
        # A cycle costs about 2 ms of CPU whatever it carries: while events trickle in,
        # the broker holds the fetch a few ms to fill it (not while idle: FetchHold).
        **flowing_options(settings.fetch_hold_ms, settings.fetch_idle_wait_ms),
    }


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, agent: AnnotationsAgent) -> None:
        self.agent = agent

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.agent.release(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        async with self.agent._cycle:
            await self.agent.claim(assigned)


def make_producer(settings: Settings) -> AIOKafkaProducer:
    """The producer for output events: acks from all replicas, no linger (the agent hands
    it whole batches, so waiting for more would only add latency).

    Not idempotent: after one failed batch (a message the topic refuses, a partition
    without a leader for too long) aiokafka's idempotent producer fails every later send
    to that partition with OutOfOrderSequenceNumber, for good (test
    ``test_outputs_kafka_refused_are_published_again_not_lost``). The outbox already makes
    outputs at least once, with ids consumers drop duplicates by, and aiokafka keeps one
    request in flight per broker, so a partition's order holds through retries.
    """
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=False,
        linger_ms=0,
        max_batch_size=1024 * 1024,
        max_request_size=16 * 1024 * 1024,
    )
