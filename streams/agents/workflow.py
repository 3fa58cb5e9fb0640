"""The workflow agent: task distribution per project, from ``<prefix>.workflow``.

The annotations stream is keyed by task, but who labels what is a per-project question,
so it has its own project-keyed topic: task and annotator events from the labeling tool,
and the facts the annotations agent derives for projects with ``distribute: true`` or
``track_quality: true`` (submitted, skipped, one more annotator needed, completed, sent
to review). This agent
owns some of its partitions; for each, every project's :class:`assignment.Distribution`
lives in memory and is event-sourced in Redis (``streams.state.workflow_store``):

* a fetched batch becomes ops (``streams.workflow``), applied in memory, then journaled
  with its outputs and the partition's offset in one fenced script, then published;
* a label-stream request (:meth:`WorkflowAgent.next_task`) is applied, journaled and
  published the same way, before it is answered;
* on assignment, or after any failed write, the partition is rebuilt from the snapshot
  and the journal, its outbox published again, and the consumer put back at the offset
  after the last one applied. Every op carries the time it was applied at, so the rebuilt
  state is the one the live worker had.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from assignment import (
    Assignment,
    ModelRecovered,
    ModelRegressed,
    Queue,
    ReservationReleased,
    TaskUnfillable,
)
from assignment.review_events import ReviewRequested, TaskReviewed
from streams import topics, workflow_reports
from streams.agents.annotations import INFRA_ERRORS
from streams.backoff import infra_backoff
from streams.batch import OutputEvent, decode_outputs, encode_outputs
from streams.garbage import FullCollections, tune_garbage_collector
from streams.kafka import start_with_backoff
from streams.model_quality import ModelQuality
from streams.models.invalid import InvalidEvent
from streams.models.outputs import (
    assignment_body,
    dead_letter_body,
    model_output,
    output,
    quality_output,
    review_output,
)
from streams.models.workflow import ANNOTATOR_SCHEMA, TASK_SCHEMA, parse_workflow_event
from streams.publications import Publications
from streams.settings import Settings
from streams.state.store import ApplyStatus, StateStore
from streams.state.workflow_store import WorkflowStore
from streams.workflow import (
    Op,
    Outcome,
    ProjectWorkflow,
    WorkflowPartition,
    encode_entry,
    op_time,
)

log = logging.getLogger(__name__)

_EXPIRE_INTERVAL_S = 1.0
# Answers that reserve nothing new: the annotator already holds the task, or has a
# rejected annotation to redo. Nothing changes, so nothing is journaled or published.
_UNCHANGED_QUEUES = frozenset({Queue.RESERVED, Queue.REWORK})


_DISTRIBUTION_OUTCOMES = (Assignment, ReservationReleased, TaskUnfillable)
_MODEL_OUTCOMES = (ModelQuality, ModelRegressed, ModelRecovered)
_REVIEW_OUTCOMES = (ReviewRequested, TaskReviewed)


class NotOwner(Exception):
    """This worker does not own the project's workflow partition (now)."""


@dataclass(slots=True)
class _Owned:
    token: str
    state: WorkflowPartition
    offset_raw: bytes | None
    requests: int
    journal: int  # entries since the snapshot


@dataclass(slots=True)
class WorkflowStats:
    batches: int = 0
    events: int = 0
    requests: int = 0
    assignments: int = 0
    dead_letters: int = 0
    retries: int = 0


class WorkflowAgent:
    """Consumes ``<prefix>.workflow``; answers the label stream for the projects it owns."""

    def __init__(self, settings: Settings, store: WorkflowStore, configs: StateStore,
                 producer: AIOKafkaProducer, collections: FullCollections | None = None
                 ) -> None:
        self.settings = settings
        # The worker's collection policy, shared with its other agents: with automatic
        # collections on, a full one over 100,000 open tasks stalled the label stream for
        # about a second (bench/README.md, session 7).
        self.collections = collections if collections is not None else FullCollections()
        self.store = store
        self.configs = configs
        self.producer = producer
        self.topic = settings.topic(topics.WORKFLOW)
        self.stats = WorkflowStats()
        self.consumer: AIOKafkaConsumer | None = None
        self._owned: dict[int, _Owned] = {}
        self._lock = asyncio.Lock()  # one change at a time: batches, requests, rebalances
        self._partitioner = DefaultPartitioner()
        self._partition_of: dict[str, int] = {}
        self._targets: dict[str, tuple[str, int]] = {}
        self._last_expire = 0.0
        # Outputs are published without waiting; a later write trims what Kafka has.
        self.publications = Publications(self._publication_failed)

    @property
    def owned_partitions(self) -> list[int]:
        return sorted(self._owned)

    def partition_of(self, project: str) -> int:
        """The workflow partition of a project: Kafka's default partitioner on its key."""
        partition = self._partition_of.get(project)
        if partition is None:
            # The topic's real partition count, as producers see it, once it is known.
            known = self.consumer.partitions_for_topic(self.topic) if self.consumer else None
            partitions = sorted(known) if known else list(range(self.settings.partitions))
            partition = self._partitioner(project.encode(), partitions, partitions)
            self._partition_of[project] = partition
        return partition

    # The stream ------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        s = self.settings
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.kafka_bootstrap,
            group_id=f"{s.consumer_group}-workflow",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        self.consumer = consumer
        consumer.subscribe([self.topic], listener=_Rebalance(self))
        if not await start_with_backoff(consumer, stopping, s, self._retrying):
            return
        tune_garbage_collector()
        try:
            while not stopping.is_set():
                fetched = await consumer.getmany(timeout_ms=100, max_records=5000)
                self.collections.tick(worked=bool(fetched))
                async with self._lock:
                    for tp, messages in fetched.items():
                        if tp.partition in self._owned and messages:
                            await self._batch(tp, messages)
                    if time.monotonic() - self._last_expire >= _EXPIRE_INTERVAL_S:
                        self._last_expire = time.monotonic()
                        for partition in list(self._owned):
                            await self._expire(partition)
                    for partition in list(self._owned):
                        await self._maybe_snapshot(partition)
                    for partition in sorted(self.publications.failed):
                        if partition in self._owned:
                            await self._recover(partition)
                        else:
                            self.publications.forget(partition)
        finally:
            async with self._lock:
                await self.publications.drain(list(self._owned))
            await consumer.stop()
            self.consumer = None

    async def _batch(self, tp: TopicPartition, messages: list[Any]) -> None:
        owned = self._owned[tp.partition]
        floor = -1 if owned.offset_raw is None else int(owned.offset_raw)
        messages = [m for m in messages if m.offset > floor]
        if not messages:
            return
        p = tp.partition
        parsed: list[tuple[Any, Any]] = []
        projects: list[str] = []
        for message in messages:
            try:
                event = parse_workflow_event(message.value)
            except InvalidEvent as exc:
                parsed.append((message, str(exc)))
                continue
            parsed.append((message, event))
            projects.append(event.project_id)
        try:
            configs = await self.configs.project_configs(list(dict.fromkeys(projects)))
        except INFRA_ERRORS as exc:
            self._retrying("reading project configurations failed", exc)
            await self._recover(p)
            return
        ops: list[Op] = []
        outputs: list[OutputEvent] = []
        now = time.time()
        settled: set[str] = set()  # projects whose settings this batch checked
        for message, event in parsed:
            eid = f"w{p}:{message.offset}"
            if isinstance(event, str):
                outputs.append(output("dead-letter", eid, dead_letter_body(
                    reason=event, topic=self.topic, partition=p, offset=message.offset,
                    original=message.value, eid=f"{eid}:0")))
                self.stats.dead_letters += 1
                continue
            project = event.project_id
            if self.partition_of(project) != p:
                # The label stream looks a project up on the partition its id hashes to:
                # state kept elsewhere would never be found.
                outputs.append(output("dead-letter", eid, dead_letter_body(
                    reason=f"project {project!r} arrived on workflow partition {p}, not "
                           f"{self.partition_of(project)}: key workflow events by project "
                           "id (the message key must be the project_id)",
                    topic=self.topic, partition=p, offset=message.offset,
                    original=message.value, eid=f"{eid}:0")))
                self.stats.dead_letters += 1
                continue
            in_force = configs.get(project) or _default_config(project)
            caused: list[Outcome] = []
            if project not in settled:
                # The batch's configurations are read once: a project's settings ops, if
                # any, go before its first event, and its other events find them applied.
                settled.add(project)
                caused = self._settings_ops(owned.state, project, in_force, now, ops)
            try:
                op = _op_of(event, now, in_force)
                outcomes = owned.state.apply(op)
            except ValueError as exc:
                # Valid JSON the distribution cannot take (e.g. a fact id that is not
                # <partition>:<offset>:<rank>): refused before it changed anything.
                outputs.append(output("dead-letter", eid, dead_letter_body(
                    reason=str(exc), topic=self.topic, partition=p, offset=message.offset,
                    original=message.value, eid=f"{eid}:0")))
                self.stats.dead_letters += 1
                continue
            ops.append(op)
            outputs.extend(self._outputs([*caused, *outcomes], project, eid, event.occurred_at))
        entry = encode_outputs(outputs) if outputs else None
        # Counted once: the script trims exactly these, and exactly these are forgotten.
        acked = self.publications.acknowledged(p)
        try:
            status = await self.store.apply(
                p, owned.token, expected_offset_raw=owned.offset_raw,
                new_offset=messages[-1].offset,
                journal_entry=encode_entry(ops) if ops else None,
                outbox_entries=[] if entry is None else [entry.entry],
                acked=acked,
            )
        except INFRA_ERRORS as exc:
            self._retrying("writing a workflow batch failed", exc)
            await self._recover(p)
            return
        if status is not ApplyStatus.APPLIED:
            log.warning("workflow partition %d: write refused (%s); rebuilding", p, status.name)
            await self._recover(p)
            return
        self.publications.trimmed(p, acked)
        owned.offset_raw = str(messages[-1].offset).encode()
        owned.journal += 1 if ops else 0
        self.stats.batches += 1
        self.stats.events += len(messages)
        if entry is not None:
            await self._publish(p, entry.messages)

    @staticmethod
    def _settings_ops(state: WorkflowPartition, project: str, config: Any, now: float,
                      ops: list[Op]) -> list[Outcome]:
        """Apply (and add to ``ops``) the ops that bring ``project`` to ``config``'s
        distribution, model-evaluation, quality and review settings; what they caused."""
        caused: list[Outcome] = []
        policy_op = state.policy_op(project, config.distribution_policy, config.distribute)
        if policy_op is not None:
            ops.append(policy_op)
            state.apply(policy_op)
        for op in (state.models_op(project, config.model_evaluation),
                   state.quality_op(project, config.quality_settings, now),
                   state.reviews_op(project, config.review, now)):
            if op is not None:
                ops.append(op)
                caused += state.apply(op)
        return caused

    async def _expire(self, partition: int) -> None:
        owned = self._owned[partition]
        now = time.time()
        for project in sorted(owned.state.projects):
            op: Op = ["expire", project, now]
            outcomes = owned.state.apply(op)
            if outcomes:
                await self._request(partition, owned, op, outcomes, project)

    # The label stream ------------------------------------------------------------------

    async def next_task(self, project: str, annotator: str) -> Assignment | str:
        """Reserve the next task for ``annotator`` in ``project``; if there is none, why:
        ``no_tasks_imported``, ``not_distributed`` (the project only tracks its quality),
        or :meth:`assignment.Distribution.no_task_reason`'s answer.

        Raises :class:`NotOwner` when another worker owns the project's partition.
        The reservation is journaled in Redis before it is returned.
        """
        partition = self.partition_of(project)
        async with self._lock:
            owned = self._owned.get(partition)
            if owned is None:
                raise NotOwner(project)
            workflow = owned.state.projects.get(project)
            if workflow is None:
                return "no_tasks_imported"  # nothing of the project reached the workflow
            if not workflow.distributed:
                return "not_distributed"
            op: Op = ["next", project, annotator, time.time(),
                      owned.state.low_agreement_last(project, annotator)]
            outcomes = owned.state.apply(op)
            # In push mode the op's push round may assign tasks to others too.
            answer = next((o for o in outcomes
                           if isinstance(o, Assignment) and o.annotator == annotator), None)
            changed = [o for o in outcomes
                       if not (isinstance(o, Assignment) and o.queue in _UNCHANGED_QUEUES)]
            if changed and not await self._request(partition, owned, op, changed, project):
                raise NotOwner(project)
            self.stats.requests += 1
            return answer if answer is not None \
                else workflow.distribution.no_task_reason(annotator)

    async def next_review(self, project: str, reviewer: str) -> str | None:
        """The task ``reviewer`` should review next (lowest agreement first); reads only.

        Raises :class:`NotOwner` when another worker owns the project's partition.
        """
        async with self._lock:
            owned = self._owned.get(self.partition_of(project))
            if owned is None:
                raise NotOwner(project)
            return owned.state.next_review(project, reviewer)

    async def annotators_report(self, project: str) -> dict[str, Any] | None:
        """The project's annotator performance and agreement matrix
        (:func:`streams.workflow_reports.annotators_report`); ``None`` for a project this
        partition has no state of. Reads only; :class:`NotOwner` as :meth:`next_task`."""
        return await self._report(project, workflow_reports.annotators_report)

    async def models_report(self, project: str) -> dict[str, Any] | None:
        """The project's model versions (:func:`streams.workflow_reports.models_report`);
        ``None`` for a project this partition has no state of. Reads only."""
        return await self._report(project, workflow_reports.models_report)

    async def _report(self, project: str, build: Callable[[str, ProjectWorkflow], Any]) -> Any:
        # Under the lock: a batch or a rebuild must not change the state mid-read.
        async with self._lock:
            owned = self._owned.get(self.partition_of(project))
            if owned is None:
                raise NotOwner(project)
            workflow = owned.state.projects.get(project)
            return None if workflow is None else build(project, workflow)

    async def _request(self, partition: int, owned: _Owned, op: Op, outcomes: list[Outcome],
                       project: str) -> bool:
        """Journal one request's op and publish what it caused; False if the write failed."""
        number = owned.requests + 1
        occurred = datetime.fromtimestamp(op_time(op), UTC).isoformat()
        outputs = list(self._outputs(outcomes, project, f"w{partition}:r{number}", occurred))
        entry = encode_outputs(outputs)
        acked = self.publications.acknowledged(partition)
        try:
            status, stored = await self.store.record_request(
                partition, owned.token, journal_entry=encode_entry([op]),
                outbox_entries=[entry.entry], acked=acked)
        except INFRA_ERRORS as exc:
            self._retrying("journaling a label-stream request failed", exc)
            await self._recover(partition)
            return False
        if status is not ApplyStatus.APPLIED or stored != number:
            log.warning("workflow partition %d: request write refused (%s); rebuilding",
                        partition, status.name)
            await self._recover(partition)
            return False
        self.publications.trimmed(partition, acked)
        owned.requests = number
        owned.journal += 1
        await self._publish(partition, entry.messages)
        return True

    def _outputs(self, outcomes: Iterable[Outcome], project: str, eid: str,
                 occurred_at: str) -> Iterable[OutputEvent]:
        for rank, outcome in enumerate(outcomes):
            if isinstance(outcome, _DISTRIBUTION_OUTCOMES):
                body = assignment_body(outcome, event_id=f"{eid}:{rank}", project_id=project,
                                       occurred_at=occurred_at)
                if body["kind"] == "assigned":
                    self.stats.assignments += 1
                yield output("assignments", f"{project}:{outcome.task}", body)
            else:
                build = (model_output if isinstance(outcome, _MODEL_OUTCOMES)
                         else review_output if isinstance(outcome, _REVIEW_OUTCOMES)
                         else quality_output)
                topic, key, body = build(outcome, event_id=f"{eid}:{rank}", project_id=project,
                                         occurred_at=occurred_at)
                yield output(topic, key, body)

    # Publication, as the annotations agent does it ---------------------------------------

    async def _publish(self, partition: int, messages: list[Any]) -> None:
        futures = []
        try:
            for short_topic, key, body in messages:
                topic, count = await self._target(short_topic)
                futures.append(await self.producer.send(
                    topic, value=body, key=key, partition=partition % count))
        except INFRA_ERRORS as exc:
            self._retrying("publishing workflow outputs failed; they stay in the outbox", exc)
            await self._recover(partition)
            return
        self.publications.add(partition, futures)

    async def _target(self, short_topic: str) -> tuple[str, int]:
        target = self._targets.get(short_topic)
        if target is None:
            topic = self.settings.topic(short_topic)
            target = self._targets[short_topic] = (
                topic, len(await self.producer.partitions_for(topic)))
        return target

    def _publication_failed(self, partition: int, exc: BaseException) -> None:
        """The partition's outbox is published again (``run`` recovers it): nothing
        after the failed entry is trimmed before that."""
        self._retrying(f"workflow partition {partition}: publishing outputs failed", exc)

    # Ownership and recovery ------------------------------------------------------------

    async def claim(self, assigned: Iterable[TopicPartition]) -> None:
        async with self._lock:
            for tp in assigned:
                if tp.topic != self.topic:
                    continue
                backoff = infra_backoff(self.settings)
                while True:
                    try:
                        token = await self.store.claim(tp.partition)
                        break
                    except INFRA_ERRORS as exc:
                        self._retrying(f"workflow partition {tp.partition}: claiming failed", exc)
                        await backoff.wait()
                self._owned[tp.partition] = _Owned(token, WorkflowPartition(), None, 0, 0)
                await self._recover(tp.partition)
            log.info("owning workflow partitions %s of %s", self.owned_partitions, self.topic)

    async def release(self, revoked: Iterable[TopicPartition]) -> None:
        revoked = [tp.partition for tp in revoked if tp.topic == self.topic]
        async with self._lock:
            await self.publications.drain(revoked)
            for partition in revoked:
                self._owned.pop(partition, None)
                self.publications.forget(partition)

    async def _recover(self, partition: int) -> None:
        """Rebuild the partition from Redis, publish its outbox, seek after its offset."""
        backoff = infra_backoff(self.settings)
        # Whatever is in flight is published again from the outbox below.
        self.publications.forget(partition)
        while partition in self._owned:
            token = self._owned[partition].token
            try:
                loaded = await self.store.load(partition)
                state = WorkflowPartition.restore(loaded.snapshot, loaded.journal)
                owned = _Owned(token, state, loaded.offset_raw, loaded.requests,
                               len(loaded.journal))
                self._owned[partition] = owned
                futures = []
                for entry in loaded.outbox:
                    for short_topic, key, body in decode_outputs(entry):
                        topic, count = await self._target(short_topic)
                        futures.append(await self.producer.send(
                            topic, value=body, key=key, partition=partition % count))
                await asyncio.gather(*futures)
                if loaded.outbox and not await self.store.trim_outbox(
                        partition, token, len(loaded.outbox)):
                    log.warning("workflow partition %d was claimed by another worker", partition)
                    self._owned.pop(partition, None)
                    return
                assert self.consumer is not None
                tp = TopicPartition(self.topic, partition)
                if loaded.offset is None:
                    await self.consumer.seek_to_beginning(tp)
                else:
                    self.consumer.seek(tp, loaded.offset + 1)
                return
            except INFRA_ERRORS as exc:
                self._retrying(f"workflow partition {partition}: rebuilding failed", exc)
                await backoff.wait()

    async def _maybe_snapshot(self, partition: int) -> None:
        owned = self._owned[partition]
        if owned.journal < self.settings.workflow_snapshot_every:
            return
        states = {p: owned.state.projects[p].to_json() for p in sorted(owned.state.dirty)}
        offset = None if owned.offset_raw is None else int(owned.offset_raw)
        try:
            status = await self.store.write_snapshot(
                partition, owned.token, states=states, offset=offset,
                requests=owned.requests, journal_entries=owned.journal)
        except INFRA_ERRORS as exc:
            self._retrying("writing a workflow snapshot failed (the journal still holds "
                           "everything)", exc)
            return
        if status is ApplyStatus.APPLIED:
            owned.journal = 0
            owned.state.dirty.clear()

    def _retrying(self, what: str, exc: BaseException) -> None:
        self.stats.retries += 1
        log.warning("%s: %s: %s; retrying with backoff", what, type(exc).__name__, exc)


def _op_of(event: Any, now: float, config: Any) -> Op:
    """The op of one parsed workflow event."""
    if event.schema == TASK_SCHEMA:
        return ["task", event.project_id, event.kind, event.task_id, now]
    if event.schema == ANNOTATOR_SCHEMA:
        return ["annotator", event.project_id, event.kind, event.annotator, now]
    parts = event.event_id.split(":")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise ValueError(f"a {event.schema} event_id must be <partition>:<offset>:<rank> of "
                         f"the annotation that caused it, got {event.event_id!r}; facts come "
                         "from Quorum's annotations agent, not from other producers")
    partition, offset, rank = (int(part) for part in parts)
    detail = event.annotators if event.kind == "reassign" else event.annotator
    q, r = event.quality, event.review
    quality: dict[str, Any] | None = None
    if q is not None:
        quality = {"annotation_id": q.annotation_id, "pairs": dict(q.pairs),
                   "ground_truth_score": q.ground_truth_score, "label": q.label,
                   "lead_time": q.lead_time, "agreement": q.agreement}
    elif event.marked is not None:
        quality = {"marked": event.marked, "was_marked": event.was_marked,
                   "scores": None if event.ground_truth_scores is None
                   else dict(event.ground_truth_scores)}
    elif event.model_scores is not None:
        quality = {key: {"model_version": v.model_version, "annotators": v.annotators,
                         "consensus": v.consensus, "ground_truth": v.ground_truth}
                   for key, v in event.model_scores.items()}
    elif r is not None:
        # The reject mode in force when the review arrived: a replay must not read today's.
        quality = {"annotation_id": r.annotation_id, "reviewer": r.reviewer,
                   "action": r.action, "score": r.score, "requeue": r.requeue,
                   "reject_mode": config.reject_mode, "agreement": r.agreement}
    return ["fact", event.project_id, event.kind, event.task_id, detail, now,
            [partition, offset, rank], quality]


@functools.lru_cache(maxsize=1024)
def _default_config(project: str) -> Any:
    from streams.models.project import ProjectConfig

    return ProjectConfig(project)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, agent: WorkflowAgent) -> None:
        self.agent = agent

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self.agent.release(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self.agent.claim(assigned)
