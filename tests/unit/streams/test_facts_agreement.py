"""The task's agreement in the workflow facts: written by the processing core after each
submission, skip, deletion and verdict (what orders the review queue), and read back by the
workflow agent's parser as an optional number in [0, 1].

Expected values by hand: Choices scored by exact match, pairwise methodology (the mean
of the pair scores; one annotation scores 1.0; none scores null).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from streams.batch import BatchOutcome, InputRecord, TaskRef, apply_batch, parse_batch
from streams.models.invalid import InvalidEvent
from streams.models.project import ProjectConfig
from streams.models.review import review_event
from streams.models.workflow import fact_body, parse_workflow_event

from .events import OCCURRED_AT, annotation_bytes, choice

PARTITION = 4
TOPIC = "quorum.annotations"
MAX_BYTES = 4096
DISTRIBUTED = ProjectConfig("1", annotations_per_task=3, agreement_threshold=0.7,
                            max_additional_annotators=1, distribute=True)


def vote(annotator: int, label: str = "pos", *, kind: str = "created", revision: int = 1) -> bytes:
    """Annotator ``annotator``'s annotation ``a<annotator>`` of task 2."""
    return annotation_bytes(annotation_id=f"a{annotator}", completed_by=annotator, kind=kind,
                            revision=revision, task_id="2", result=choice(label),
                            event_id=f"ev-{annotator}-{revision}")


def delete(annotator: int) -> bytes:
    return annotation_bytes(annotation_id=f"a{annotator}", completed_by=None, kind="deleted",
                            revision=9, task_id="2", result=None, event_id=f"del-{annotator}")


def verdict(annotator: int, action: str, label: str | None = None) -> bytes:
    body = review_event("1", "2", f"a{annotator}", "boss", action, revision=1,
                        result=None if label is None else choice(label),
                        event_id=f"rv-{annotator}", occurred_at=OCCURRED_AT)
    return orjson.dumps(body)


def run(values: list[bytes]) -> BatchOutcome:
    records = [InputRecord(100 + i, value) for i, value in enumerate(values)]
    batch = parse_batch(PARTITION, TOPIC, records, max_bytes=MAX_BYTES)
    stored: dict[TaskRef, bytes | None] = dict.fromkeys(batch.task_refs)
    return apply_batch(batch, stored, {"1": DISTRIBUTED}, after_offset=None)


def facts(outcome: BatchOutcome) -> list[dict[str, Any]]:
    """The person facts (submitted, skipped, deleted, reviewed), in order."""
    return [o.body for o in outcome.outputs if o.topic == "workflow"
            and o.body["kind"] in ("submitted", "skipped", "deleted", "reviewed")]


def agreements(outcome: BatchOutcome) -> list[tuple[str, float | None]]:
    return [(fact["kind"], fact["agreement"]) for fact in facts(outcome)]


# Written by the core ---------------------------------------------------------------------


def test_each_submission_carries_the_tasks_agreement_after_it() -> None:
    outcome = run([vote(1), vote(2), vote(3, "neg")])
    # One annotation: 1.0. Two pos: their pair agrees. Pos, pos, neg: pairs 1, 0, 0.
    assert agreements(outcome) == [("submitted", 1.0), ("submitted", 1.0),
                                   ("submitted", pytest.approx(1 / 3))]


@pytest.mark.parametrize("leave", [
    pytest.param(delete(3), id="deleted"),
    pytest.param(vote(3, "neg", kind="skipped", revision=2), id="skipped"),
])
def test_a_deletion_or_skip_carries_the_agreement_without_the_annotation(leave: bytes) -> None:
    outcome = run([vote(1), vote(2), vote(3, "neg"), leave])
    kind, agreement = agreements(outcome)[-1]
    assert kind in ("deleted", "skipped")
    assert agreement == 1.0  # the two pos remain


def test_no_counted_annotation_gives_a_null_agreement() -> None:
    assert agreements(run([vote(1, kind="skipped")])) == [("skipped", None)]
    assert agreements(run([vote(1), delete(1)])) == [("submitted", 1.0), ("deleted", None)]


@pytest.mark.parametrize(("action", "label", "after"), [
    ("accept", None, 1 / 3),  # nothing changes
    ("reject", None, 1.0),  # the neg leaves the agreement
    ("fix_and_accept", "pos", 1.0),  # the neg becomes a pos
    ("fix_and_accept", "neg", 1 / 3),  # fixed to what it was
])
def test_a_verdict_carries_the_agreement_after_it(action: str, label: str | None,
                                                   after: float) -> None:
    outcome = run([vote(1), vote(2), vote(3, "neg"), verdict(3, action, label)])
    assert agreements(outcome)[-1] == ("reviewed", pytest.approx(after))
    reviewed = facts(outcome)[-1]
    assert (reviewed["action"], reviewed["annotation_id"]) == (action, "a3")


# Read by the workflow agent ---------------------------------------------------------------


def test_the_agreement_parses_back_from_every_kind_that_carries_it() -> None:
    outcome = run([vote(1), vote(2, "neg"), vote(3), verdict(2, "reject"), delete(3)])
    parsed = [parse_workflow_event(orjson.dumps(fact)) for fact in facts(outcome)]
    read = [event.review.agreement if event.review is not None
            else event.quality.agreement if event.quality is not None else "missing"
            for event in parsed]
    assert read == [1.0, 0.0, pytest.approx(1 / 3), 1.0, 1.0]
    assert all(type(value) is float for value in read)


BASE: dict[str, Any] = {
    "event_id": "3:7:2", "project_id": "p", "occurred_at": "2026-11-28T06:00:00+00:00",
    "task_id": "t", "annotator": "u1",
}
QUALITY = {"annotation_id": "a", "pairs": {}}
VERDICT = {"annotation_id": "a", "reviewer": "boss", "action": "accept", "score": 1.0,
           "requeue": None}
KINDS = [("submitted", "quality", QUALITY), ("skipped", "quality", QUALITY),
         ("deleted", "quality", QUALITY), ("reviewed", "review", VERDICT)]


def read_agreement(kind: str, part: str, fields: dict[str, Any]) -> float | None:
    parts: dict[str, Any] = {part: fields}
    event = parse_workflow_event(orjson.dumps(fact_body(**BASE, kind=kind, **parts)))
    carrier = event.review if part == "review" else event.quality
    assert carrier is not None
    return carrier.agreement


@pytest.mark.parametrize(("kind", "part", "fields"), KINDS)
def test_absent_or_null_agreement_reads_none(kind: str, part: str, fields: dict[str, Any]) -> None:
    # Absent: a fact written before the field existed.
    assert read_agreement(kind, part, fields) is None
    assert read_agreement(kind, part, {**fields, "agreement": None}) is None
    value = read_agreement(kind, part, {**fields, "agreement": 1})
    assert value == 1.0 and type(value) is float
    assert read_agreement(kind, part, {**fields, "agreement": 0}) == 0.0


@pytest.mark.parametrize(("kind", "part", "fields"), KINDS)
@pytest.mark.parametrize("bad", [1.5, -0.25, "high", True, [0.5]])
def test_an_agreement_out_of_range_is_refused(kind: str, part: str, fields: dict[str, Any],
                                              bad: object) -> None:
    parts: dict[str, Any] = {part: {**fields, "agreement": bad}}
    body = fact_body(**BASE, kind=kind, **parts)
    words = "field 'agreement' must be a number in [0, 1] or null"
    with pytest.raises(InvalidEvent, match=re.escape(words)):
        parse_workflow_event(orjson.dumps(body))


def test_a_submission_carries_its_lead_time_to_the_workflow() -> None:
    timed = annotation_bytes(annotation_id="a1", completed_by=1, task_id="2",
                             result=choice("pos"), event_id="ev-timed", lead_time=7.5)
    outcome = run([timed, vote(2)])
    parsed = [parse_workflow_event(orjson.dumps(fact)) for fact in facts(outcome)]
    assert [p.quality.lead_time for p in parsed if p.quality is not None] == [7.5, None]
