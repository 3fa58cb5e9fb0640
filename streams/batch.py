"""The one processing core: a whole fetched batch of one partition in, new state and outputs out.

Pure: no Redis, no Kafka. The annotations agent reads what a batch needs in one round
trip, calls :func:`apply_batch`, writes the result atomically and publishes the outputs.
Outputs depend only on the input and the stored state, never on batch boundaries or the
clock, so a replay after a crash produces the same events with the same ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from assignment.consensus import ConsensusPolicy, Decision, transition
from streams.models.annotation import AnnotationEvent, parse_annotation
from streams.models.invalid import InvalidEvent
from streams.models.outputs import (
    REASSIGN_REQUESTED,
    REVIEW_REQUESTED,
    TASK_COMPLETED,
    TASK_QUALITY,
    TOPIC_OF_SCHEMA,
    OutputEvent,
    dead_letter_body,
    event_id,
)
from streams.models.project import ProjectConfig
from streams.state.task import TaskRecord

TaskRef = tuple[str, str]  # (project id, task id)

_DECISION_SCHEMA = {
    Decision.REASSIGN: REASSIGN_REQUESTED,
    Decision.REVIEW: REVIEW_REQUESTED,
    Decision.COMPLETED: TASK_COMPLETED,
}


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One fetched message: what the core needs of an aiokafka ``ConsumerRecord``."""

    offset: int
    value: bytes | None


@dataclass(slots=True)
class ParsedBatch:
    """A partition's batch after decoding: valid events and refused messages, by offset."""

    partition: int
    topic: str
    events: list[tuple[int, AnnotationEvent]] = field(default_factory=list)
    refused: list[tuple[int, bytes, str]] = field(default_factory=list)  # offset, raw, reason
    last_offset: int = -1

    @property
    def task_refs(self) -> list[TaskRef]:
        """The tasks the batch touches, each once, in first-seen order."""
        return list(dict.fromkeys((e.project_id, e.task_id) for _, e in self.events))

    @property
    def project_ids(self) -> list[str]:
        """The projects the batch touches, each once."""
        return list(dict.fromkeys(e.project_id for _, e in self.events))


def parse_batch(
    partition: int, topic: str, records: Sequence[InputRecord], *, max_bytes: int
) -> ParsedBatch:
    """Decode and validate every record; a bad one becomes a refusal with its reason."""
    batch = ParsedBatch(partition=partition, topic=topic)
    for record in records:
        batch.last_offset = max(batch.last_offset, record.offset)
        raw = record.value
        if raw is None:
            batch.refused.append((record.offset, b"", "empty message (null value)"))
            continue
        try:
            batch.events.append((record.offset, parse_annotation(raw, max_bytes=max_bytes)))
        except InvalidEvent as exc:
            batch.refused.append((record.offset, raw, str(exc)))
    return batch


@dataclass(slots=True)
class BatchOutcome:
    """What to write and publish for one batch."""

    records: dict[TaskRef, TaskRecord]
    outputs: list[OutputEvent]
    applied: int  # events that changed state
    ignored: int  # duplicates and stale revisions


def apply_batch(
    batch: ParsedBatch,
    stored: Mapping[TaskRef, bytes | None],
    configs: Mapping[str, ProjectConfig],
    *,
    after_offset: int | None,
) -> BatchOutcome:
    """Apply the batch's events in offset order on top of the stored task records.

    ``after_offset`` is the partition's last applied offset: anything at or below it was
    applied before (a replay) and is skipped, dead letters included. ``configs`` holds
    every project of the batch; a project without configuration gets the defaults.
    """
    floor = -1 if after_offset is None else after_offset
    records: dict[TaskRef, TaskRecord] = {}
    # (offset, outputs) pairs, merged in offset order at the end so dead letters and
    # quality events interleave exactly as the input did.
    produced: list[tuple[int, list[OutputEvent]]] = []
    applied = ignored = 0
    p = batch.partition

    for offset, raw, reason in batch.refused:
        if offset > floor:
            body = dead_letter_body(
                reason=reason, topic=batch.topic, partition=p, offset=offset, original=raw,
                eid=event_id(p, offset, 0),
            )
            produced.append((offset, [OutputEvent("dead-letter", f"{p}:{offset}", body)]))

    # Built once per batch: a policy validates itself on construction.
    policies: dict[str, tuple[ProjectConfig, ConsensusPolicy]] = {}
    for offset, event in batch.events:
        if offset <= floor:
            continue
        ref = (event.project_id, event.task_id)
        project = policies.get(event.project_id)
        if project is None:
            config = configs.get(event.project_id) or ProjectConfig(event.project_id)
            project = policies[event.project_id] = (config, config.policy)
        config, policy = project
        record = records.get(ref)
        if record is None:
            record = TaskRecord.from_json(stored.get(ref), config.control_weights or None)
            records[ref] = record
        if not record.apply(event):
            ignored += 1
            continue
        applied += 1
        produced.append((offset, _outputs(p, offset, event, record, policy)))

    produced.sort(key=lambda item: item[0])
    outputs = [out for _, outs in produced for out in outs]
    return BatchOutcome(records=records, outputs=outputs, applied=applied, ignored=ignored)


def _outputs(
    partition: int, offset: int, event: AnnotationEvent, record: TaskRecord, policy: ConsensusPolicy
) -> list[OutputEvent]:
    """The task-quality event, plus a decision event when the task's decision changed."""
    annotators = record.annotators
    score = record.agreement.score
    state, decision = transition(record.decision, policy, len(annotators), score)
    record.decision = state
    key = f"{event.project_id}:{event.task_id}"
    envelope: dict[str, Any] = {
        "project_id": event.project_id,
        "task_id": event.task_id,
        "occurred_at": event.occurred_at,
        "source_event_id": event.event_id,
    }
    quality = {
        "schema": TASK_QUALITY,
        "event_id": event_id(partition, offset, 0),
        **envelope,
        "annotation_id": event.annotation_id,
        "kind": event.kind.value,
        "agreement": score,
        "annotations": len(record.agreement),
        "annotators": annotators,
        "status": state.decision.value,
        "overlap": policy.overlap,
        "threshold": policy.threshold,
    }
    outputs = [OutputEvent(TOPIC_OF_SCHEMA[TASK_QUALITY], key, quality)]
    if decision is None or decision is Decision.COLLECTING:
        return outputs
    schema = _DECISION_SCHEMA[decision]
    body: dict[str, Any] = {
        "schema": schema,
        "event_id": event_id(partition, offset, 1),
        **envelope,
        "agreement": score,
        "threshold": policy.threshold,
        "annotators": annotators,
    }
    if decision is Decision.REASSIGN:
        body["additional_annotators"] = 1
        body["exclude_annotators"] = record.annotators_seen
        body["budget_left"] = policy.max_annotators - len(annotators)
    elif decision is Decision.REVIEW:
        body["reason"] = "low_agreement_budget_exhausted"
    outputs.append(OutputEvent(TOPIC_OF_SCHEMA[schema], key, body))
    return outputs


def encode_outputs(events: Sequence[OutputEvent]) -> bytes:
    """One outbox entry for a batch's outputs: per event a ``[topic, key]`` JSON line and
    its body JSON line.

    orjson never writes a raw newline, so lines split cleanly and the body bytes are
    published as stored, without decoding them again. One entry per batch keeps the
    atomic script's arguments few, whatever the batch size.
    """
    lines: list[bytes] = []
    for event in events:
        lines.append(orjson.dumps([event.topic, event.key]))
        lines.append(orjson.dumps(event.body))
    return b"\n".join(lines)


def decode_outputs(entry: bytes) -> list[tuple[str, str, bytes]]:
    """Inverse of :func:`encode_outputs`: ``(topic, key, body bytes)`` per event."""
    lines = entry.split(b"\n")
    decoded: list[tuple[str, str, bytes]] = []
    for i in range(0, len(lines) - 1, 2):
        topic, key = orjson.loads(lines[i])
        decoded.append((topic, key, lines[i + 1]))
    return decoded
