"""The one processing core: a whole fetched batch of one partition in, new state and outputs out.

Pure: no Redis, no Kafka. The annotations agent reads what a batch needs in one round
trip, calls :func:`apply_batch`, writes the result atomically and publishes the outputs.
Outputs depend only on the input and the stored state, never on batch boundaries or the
clock, so a replay after a crash produces the same events with the same ids.

The annotations topic carries reviewers' verdicts too (``quorum.review/v1``, keyed by
task like the annotations they judge): a review changes the task's agreement, so it is
applied here, in offset order with the annotations.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from operator import itemgetter
from typing import Any, Protocol

import orjson

from agreement import CustomMetricError
from assignment.consensus import INITIAL_STATE, ConsensusPolicy, Decision, transition
from streams.facts import REVIEWED, emit_facts, emit_review_facts
from streams.models.annotation import (
    ANNOTATION_SCHEMA,
    AnnotationEvent,
    AnnotationKind,
    parse_annotation,
)
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
    output,
)
from streams.models.project import ProjectConfig
from streams.models.review import ReviewEvent, review_or_reason
from streams.state.task import TaskRecord

TaskRef = tuple[str, str]  # (project id, task id)

_DECISION_SCHEMA = {
    Decision.REASSIGN: REASSIGN_REQUESTED,
    Decision.REVIEW: REVIEW_REQUESTED,
    Decision.COMPLETED: TASK_COMPLETED,
}

# Looked up once here, not per event: an enum member read from its class and an enum's
# ``.value`` each cost about 0.1-0.3 us, a module global or a dict lookup far less.
_QUALITY_TOPIC = TOPIC_OF_SCHEMA[TASK_QUALITY]
_REASSIGN = Decision.REASSIGN
_REVIEW = Decision.REVIEW
_COLLECTING = Decision.COLLECTING
_KIND_TEXT = {kind: kind.value for kind in AnnotationKind}
_DECISION_TEXT = {decision: decision.value for decision in Decision}


class Fetched(Protocol):
    """What the core reads of a fetched message: an aiokafka ``ConsumerRecord`` has it."""

    @property
    def offset(self) -> int: ...

    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One fetched message, for callers that do not hold aiokafka's records (tests, the
    clean-run oracle, benchmarks)."""

    offset: int
    value: bytes | None


@dataclass(slots=True)
class ParsedBatch:
    """A partition's batch after decoding: valid events and refused messages, by offset."""

    partition: int
    topic: str
    events: list[tuple[int, AnnotationEvent]] = field(default_factory=list)
    # Apart from the annotations, so that a batch without reviews (most) costs nothing
    # more; the raw bytes are kept for the dead letter of a review that cannot apply.
    reviews: list[tuple[int, bytes, ReviewEvent]] = field(default_factory=list)
    refused: list[tuple[int, bytes, str]] = field(default_factory=list)  # offset, raw, reason
    first_offset: int = -1
    last_offset: int = -1
    # The fetched records, by reference (nothing copied): the original bytes of an event
    # that fails later, for its dead letter (a project's own metric raising on it).
    records: Sequence[Fetched] = ()

    @property
    def size(self) -> int:
        """Messages in the batch, valid or not."""
        return len(self.events) + len(self.reviews) + len(self.refused)

    @property
    def task_refs(self) -> list[TaskRef]:
        """The tasks the batch touches, each once, in first-seen order (reviews' last)."""
        refs = [(e.project_id, e.task_id) for _, e in self.events]
        refs += [(r.project_id, r.task_id) for _, _, r in self.reviews]
        return list(dict.fromkeys(refs))

    @property
    def project_ids(self) -> list[str]:
        """The projects the batch touches, each once."""
        projects = [e.project_id for _, e in self.events]
        projects += [r.project_id for _, _, r in self.reviews]
        return list(dict.fromkeys(projects))

    def original(self, offset: int) -> bytes | None:
        """The fetched bytes of the message at ``offset`` (a rare path: a scan)."""
        for record in self.records:
            if record.offset == offset:
                return record.value
        return None

    def in_offset_order(self) -> list[tuple[int, AnnotationEvent | ReviewEvent]]:
        """Annotations and reviews together, by offset: the order they apply in."""
        if not self.reviews:
            return list(self.events)
        merged: list[tuple[int, AnnotationEvent | ReviewEvent]] = [*self.events]
        merged += [(offset, review) for offset, _, review in self.reviews]
        merged.sort(key=itemgetter(0))  # two ascending runs: linear
        return merged


def parse_batch(
    partition: int, topic: str, records: Sequence[Fetched], *, max_bytes: int
) -> ParsedBatch:
    """Decode and validate every record; a bad one becomes a refusal with its reason.

    Every message is parsed as an annotation first; only one that fails is looked at
    again, as a review, so the annotation path pays nothing for reviews.
    """
    batch = ParsedBatch(partition=partition, topic=topic, records=records)
    # Locals and a running maximum: this loop runs once per message.
    events = batch.events
    refused = batch.refused
    last_offset = batch.last_offset
    for record in records:
        offset = record.offset
        if offset > last_offset:
            last_offset = offset
        raw = record.value
        if raw is None:
            refused.append((offset, b"", "empty message (null value)"))
            continue
        try:
            events.append((offset, parse_annotation(raw, max_bytes=max_bytes)))
        except InvalidEvent as exc:
            review = review_or_reason(raw, exc, max_bytes=max_bytes)
            if isinstance(review, str):
                refused.append((offset, raw, review))
            else:
                batch.reviews.append((offset, raw, review))
    batch.last_offset = last_offset
    if records:
        batch.first_offset = records[0].offset
    return batch


@dataclass(slots=True)
class BatchOutcome:
    """What to write and publish for one batch."""

    records: dict[TaskRef, TaskRecord]
    outputs: list[OutputEvent]
    applied: int  # events that changed state
    ignored: int  # duplicates and stale revisions
    dead_letters: int = 0  # reviews refused when applied (of an annotation not counted)


def apply_batch(
    batch: ParsedBatch,
    stored: Mapping[TaskRef, TaskRecord | bytes | None],
    configs: Mapping[str, ProjectConfig],
    *,
    after_offset: int | None,
) -> BatchOutcome:
    """Apply the batch's events in offset order on top of the stored task records.

    ``stored`` holds each task's stored document (``None``: no task yet), or the record
    decoded from it, which is then changed in place and returned in the outcome.
    ``after_offset`` is the partition's last applied offset: anything at or below it was
    applied before (a replay) and is skipped, dead letters included. ``configs`` holds
    every project of the batch; a project without configuration gets the defaults.
    """
    floor = -1 if after_offset is None else after_offset
    records: dict[TaskRef, TaskRecord] = {}
    outputs: list[OutputEvent] = []
    # The offset of the input that caused each output: dead letters come first, so a
    # stable sort on it at the end interleaves them with the rest exactly as the input did.
    # Two flat lists rather than an (offset, [outputs]) pair per event: fewer objects per
    # event for the garbage collector to track.
    causes: list[int] = []
    applied = ignored = dead_letters = 0
    p = batch.partition

    for offset, raw, reason in batch.refused:
        if offset > floor:
            outputs.append(_dead_letter(batch, offset, raw, reason))
            causes.append(offset)

    # Built once per batch: a policy validates itself on construction. The second policy
    # is for tasks outside the overlap cohort, None when the project has none.
    # Then whether the project scores with a custom metric (user code that may fail on an
    # event), whether its skips count toward the overlap (skip_mode count_as_done), and
    # whether its events also become workflow facts (distributed or quality-tracked).
    policies: dict[str, tuple[ProjectConfig, ConsensusPolicy, ConsensusPolicy | None, bool,
                              bool, bool]] = {}
    snapshot, mark, counts = b"", 0, (0, 0)
    items: Sequence[tuple[int, AnnotationEvent | ReviewEvent]] = batch.events
    raws: dict[int, bytes] = {}
    if batch.reviews:
        items = batch.in_offset_order()
        raws = {offset: raw for offset, raw, _ in batch.reviews}
    for offset, event in items:
        if offset <= floor:
            continue
        ref = (event.project_id, event.task_id)
        project = policies.get(event.project_id)
        if project is None:
            config = configs.get(event.project_id) or _default_config(event.project_id)
            project = policies[event.project_id] = (
                config, config.policy, config.outside_cohort_policy,
                config.scoring.custom_metric is not None, config.skips_count,
                config.emits_facts)
        config, policy, outside, custom, skips, facts = project
        record = records.get(ref)
        if record is None:
            record = records[ref] = _record(stored.get(ref), config)
        if custom:
            # The project's own metric may fail on this event: keep what to put back.
            snapshot, mark, counts = record.to_json(), len(outputs), (applied, ignored)
        try:  # free in Python 3.11 when nothing is raised
            if type(event) is ReviewEvent:  # the one check reviews cost an annotation
                try:
                    changed = record.review(event)
                # Its own name: compiled (streams/native.py), a variable keeps one type.
                except InvalidEvent as refused:  # of an annotation it cannot judge
                    outputs.append(_dead_letter(batch, offset, raws[offset], str(refused)))
                    causes.append(offset)
                    dead_letters += 1
                    if not record.entries:
                        del records[ref]  # nothing ever applied: store no empty task
                    continue
                if not changed:
                    ignored += 1
                    continue
                applied += 1
                if outside is not None:
                    policy = _cohort_policy(config, event.task_id, record, policy, outside)
                _emit(outputs, causes, p, offset, event, record, policy, REVIEWED, skips)
                if facts:
                    emit_review_facts(outputs, causes, p, offset, event, record)
                continue
            # Whether the task had predictions before the event: the model facts of a
            # project with facts send empty scores once when its last one is deleted. Any
            # other project pays one local read (about 10 ns of the core's 14 us).
            predicted = facts and bool(record.predictions)
            truth_before = record.ground_truth if facts else None
            if not record.apply(event):
                ignored += 1
                continue
            applied += 1
            if outside is not None:
                policy = _cohort_policy(config, event.task_id, record, policy, outside)
            decision = _emit(outputs, causes, p, offset, event, record, policy,
                             _KIND_TEXT[event.kind], skips)
            if facts:
                emit_facts(outputs, causes, p, offset, event, record, predicted=predicted,
                           truth_before=truth_before, collecting=decision is _COLLECTING)
        except CustomMetricError as exc:
            if not custom:
                raise
            # The user's metric failed on this annotation: a dead letter, as bad input
            # is, with the task and the batch's counts as they were before it.
            del outputs[mark:], causes[mark:]
            applied, ignored = counts
            restored = TaskRecord.from_json(snapshot, scoring=config.scoring)
            if restored.entries:
                records[ref] = restored
            else:
                del records[ref]  # nothing ever applied: store no empty task
            reason = f"{exc}; the event was not applied: resend it once the metric is fixed"
            original = raws.get(offset) or batch.original(offset) or _encoded(event)
            outputs.append(_dead_letter(batch, offset, original, reason))
            causes.append(offset)
            dead_letters += 1

    # Usually in order already: a partition's offsets ascend and dead letters are rare.
    if causes != sorted(causes):
        order = sorted(range(len(outputs)), key=causes.__getitem__)  # stable
        outputs = [outputs[i] for i in order]
    return BatchOutcome(records=records, outputs=outputs, applied=applied, ignored=ignored,
                        dead_letters=dead_letters)


def _encoded(event: AnnotationEvent | ReviewEvent) -> bytes:
    """An annotation event as a producer would send it, for its dead letter when the
    batch was built without its fetched records (by hand, in a test)."""
    body = {f.name: getattr(event, f.name) for f in fields(event)}
    return orjson.dumps({"schema": ANNOTATION_SCHEMA, **body})


def _cohort_policy(config: ProjectConfig, task_id: str, record: TaskRecord,
                   policy: ConsensusPolicy, outside: ConsensusPolicy) -> ConsensusPolicy:
    """The consensus policy of a task of a project with an overlap cohort: the project's
    own in the cohort, ``outside`` (one annotation wanted) for the other tasks."""
    return policy if config.in_overlap_cohort(task_id, record.tool_overlap) else outside


@functools.lru_cache(maxsize=4096)
def _default_config(project_id: str) -> ProjectConfig:
    """The defaults of a project with no configuration: one object per project (frozen),
    so that its cached task records keep the same scoring from batch to batch."""
    return ProjectConfig(project_id)


def _record(stored: TaskRecord | bytes | None, config: ProjectConfig) -> TaskRecord:
    """The task's record, scored as its project says now."""
    if not isinstance(stored, TaskRecord):
        return TaskRecord.from_json(stored, scoring=config.scoring)
    scoring = stored.agreement.scoring
    if scoring is not config.scoring and scoring != config.scoring:
        # The project's scoring changed since the record was decoded: decode it again,
        # exactly as a batch that read it from Redis would.
        return TaskRecord.from_json(stored.to_json(), scoring=config.scoring)
    return stored


def _dead_letter(batch: ParsedBatch, offset: int, raw: bytes, reason: str) -> OutputEvent:
    """The dead letter of the message at ``offset``, keyed by its partition and offset."""
    p = batch.partition
    body = dead_letter_body(
        reason=reason, topic=batch.topic, partition=p, offset=offset, original=raw,
        eid=event_id(p, offset, 0),
    )
    return output("dead-letter", f"{p}:{offset}", body)


def _emit(
    outputs: list[OutputEvent],
    causes: list[int],
    partition: int,
    offset: int,
    event: AnnotationEvent | ReviewEvent,
    record: TaskRecord,
    policy: ConsensusPolicy,
    kind: str,
    skips: bool = False,
) -> Decision | None:
    """Append the task-quality event (``kind``: the annotation event's, or ``reviewed``),
    plus a decision event when the task's decision changed, each with ``offset`` as its
    cause. Returns the new decision when it changed, ``None`` otherwise (COLLECTING
    again, which has no event of its own, is then a workflow fact). ``skips``: the
    project's skips count toward the overlap and the budget."""
    annotators = record.annotators
    score = record.agreement.score
    # The seats the task's people hold: its counted annotators, and with ``skips`` (Label
    # Studio's "ignore skipped", the distribution's count_as_done) those who skipped it.
    seats = len(annotators) + record.skippers_apart_from(annotators) if skips \
        else len(annotators)
    if record.verdicts:
        # A reviewer has acted on the task: theirs is the decision now. The consensus
        # stops reassigning or completing it, so a reject or a redone annotation cannot
        # send it round the low-agreement loop again or past its annotator budget.
        state, decision = record.decision or INITIAL_STATE, None
    else:
        # No annotation counts in the agreement (e.g. only a ground truth the project
        # leaves out of it): nothing to decide on yet, the task is still collecting.
        counted = seats if score is not None else 0
        state, decision = transition(record.decision, policy, counted, score)
    record.decision = state
    key = f"{event.project_id}:{event.task_id}"
    quality = {
        "schema": TASK_QUALITY,
        "event_id": f"{partition}:{offset}:0",
        "project_id": event.project_id,
        "task_id": event.task_id,
        "occurred_at": event.occurred_at,
        "source_event_id": event.event_id,
        "annotation_id": event.annotation_id,
        "kind": kind,
        "agreement": score,
        "dimensions": record.agreement.dimensions_at(score),
        "ground_truth_agreement": None
        if record.ground_truth is None
        else record.ground_truth_agreement(event.annotation_id),
        "annotations": len(record.agreement),
        "annotators": annotators,
        "status": _DECISION_TEXT[state.decision],
        "overlap": policy.overlap,
        "threshold": policy.threshold,
    }
    outputs.append(output(_QUALITY_TOPIC, key, quality))
    causes.append(offset)
    # No decision event when nothing changed, nor when a task went back to COLLECTING
    # (the one decision without a schema).
    schema = None if decision is None else _DECISION_SCHEMA.get(decision)
    if schema is None:
        return decision
    body: dict[str, Any] = {
        "schema": schema,
        "event_id": event_id(partition, offset, 1),
        "project_id": event.project_id,
        "task_id": event.task_id,
        "occurred_at": event.occurred_at,
        "source_event_id": event.event_id,
        "agreement": score,
        "threshold": policy.threshold,
        "annotators": annotators,
    }
    if decision is _REASSIGN:
        body["additional_annotators"] = 1
        body["exclude_annotators"] = record.annotators_seen
        body["budget_left"] = policy.max_annotators - seats
    elif decision is _REVIEW:
        body["reason"] = "low_agreement_budget_exhausted"
    outputs.append(output(TOPIC_OF_SCHEMA[schema], key, body))
    causes.append(offset)
    return decision


Message = tuple[str, bytes, bytes]  # short topic name, key, body


@dataclass(frozen=True, slots=True)
class EncodedOutputs:
    """A batch's outputs, once as the outbox entry and once as messages to publish."""

    entry: bytes
    messages: list[Message]


def encode_outputs(events: Sequence[OutputEvent]) -> EncodedOutputs:
    """Encode a batch's outputs once: the outbox entry and the messages share the bytes.

    The entry has per event a ``[topic, key]`` JSON line and its body JSON line. orjson
    never writes a raw newline, so lines split cleanly; one entry per batch keeps the atomic
    script's arguments few, whatever the batch size.
    """
    lines: list[bytes] = []
    messages: list[Message] = []
    headers: dict[tuple[str, str], bytes] = {}  # a task's outputs share their header
    for event in events:
        header = headers.get((event.topic, event.key))
        if header is None:
            header = headers[(event.topic, event.key)] = orjson.dumps([event.topic, event.key])
        body = event.encoded
        lines.append(header)
        lines.append(body)
        messages.append((event.topic, event.key.encode(), body))
    return EncodedOutputs(b"\n".join(lines), messages)


def decode_outputs(entry: bytes) -> list[Message]:
    """The messages of an outbox entry made by :func:`encode_outputs`."""
    lines = entry.split(b"\n")
    decoded: list[Message] = []
    for i in range(0, len(lines) - 1, 2):
        topic, key = orjson.loads(lines[i])
        decoded.append((topic, key.encode(), lines[i + 1]))
    return decoded
