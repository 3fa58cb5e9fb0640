"""Workflow events: what is accepted, the reason given for everything refused, builders."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson
import pytest

from streams.models import WorkflowEvent, parse_workflow_event
from streams.models.invalid import InvalidEvent
from streams.models.workflow import (
    ANNOTATOR_KINDS,
    ANNOTATOR_SCHEMA,
    FACT_SCHEMA,
    TASK_KINDS,
    TASK_SCHEMA,
    annotator_event,
    fact_body,
    task_event,
    workflow_event_from_dict,
)

OCCURRED_AT = "2024-05-01T12:00:00+00:00"
ENVELOPE = {"event_id": "ev-1", "project_id": 7, "occurred_at": OCCURRED_AT}


def event_bytes(schema: Any, kind: Any, **fields: Any) -> bytes:
    """A valid-looking event; ``None`` in ``fields`` removes that field."""
    body = {"schema": schema, **ENVELOPE, "kind": kind, **fields}
    return orjson.dumps({name: value for name, value in body.items() if value is not None})


def task_bytes(kind: Any = "imported", **fields: Any) -> bytes:
    return event_bytes(TASK_SCHEMA, kind, **{"task_id": 42, **fields})


def annotator_bytes(kind: str = "joined", **fields: Any) -> bytes:
    return event_bytes(ANNOTATOR_SCHEMA, kind, **{"annotator": "ann@example.com", **fields})


def fact_bytes(kind: str, **fields: Any) -> bytes:
    return event_bytes(FACT_SCHEMA, kind, **fields)


def refusal(raw: bytes) -> str:
    """The reason ``raw`` is refused, lower-cased for loose matching."""
    with pytest.raises(InvalidEvent) as caught:
        parse_workflow_event(raw)
    return str(caught.value).lower()


# --- accepted ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TASK_KINDS)
def test_task_event_with_integer_ids(kind: str) -> None:
    assert parse_workflow_event(task_bytes(kind)) == WorkflowEvent(
        TASK_SCHEMA, "ev-1", "7", OCCURRED_AT, kind, task_id="42"
    )


@pytest.mark.parametrize("kind", ANNOTATOR_KINDS)
def test_annotator_event(kind: str) -> None:
    assert parse_workflow_event(annotator_bytes(kind, annotator=5)) == WorkflowEvent(
        ANNOTATOR_SCHEMA, "ev-1", "7", OCCURRED_AT, kind, annotator="5"
    )


@pytest.mark.parametrize(
    ("kind", "fields", "expected"),
    [
        ("submitted", {"task_id": "t", "annotator": 3}, {"task_id": "t", "annotator": "3"}),
        ("skipped", {"task_id": "t", "annotator": "a"}, {"task_id": "t", "annotator": "a"}),
        ("reassign", {"task_id": "t", "annotators": 3}, {"task_id": "t", "annotators": 3}),
        ("reassign", {"task_id": "t", "annotators": 0}, {"task_id": "t", "annotators": 0}),
        ("completed", {"task_id": 9}, {"task_id": "9"}),
        ("review", {"task_id": "t"}, {"task_id": "t"}),
    ],
)
def test_fact_events(kind: str, fields: dict[str, Any], expected: dict[str, Any]) -> None:
    event = parse_workflow_event(fact_bytes(kind, **fields))
    assert event == WorkflowEvent(FACT_SCHEMA, "ev-1", "7", OCCURRED_AT, kind, **expected)


def test_fields_a_kind_does_not_use_are_ignored() -> None:
    # A completed fact with an annotator, a task event naming one: neither reaches the event.
    completed = parse_workflow_event(fact_bytes("completed", task_id="t", annotator="a"))
    assert (completed.annotator, completed.annotators) == (None, None)
    imported = parse_workflow_event(task_bytes(annotator="a", annotators=2))
    assert (imported.annotator, imported.annotators) == (None, None)
    joined = parse_workflow_event(annotator_bytes(task_id="t"))
    assert joined.task_id is None


def test_unknown_fields_are_ignored() -> None:
    raw = task_bytes(source={"nested": [1]}, priority=3)
    assert parse_workflow_event(raw) == parse_workflow_event(task_bytes())


def test_from_dict_matches_parse() -> None:
    assert workflow_event_from_dict(orjson.loads(task_bytes())) == parse_workflow_event(
        task_bytes()
    )


# --- refused ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"{not json", ["not valid json"]),
        (b"", ["not valid json"]),
        (b"[1]", ["json object", "a list"]),
        (b"null", ["json object", "null"]),
        # Unknown schema: the three the topic carries are listed.
        (event_bytes("quorum.annotation/v1", "created"),
         ["unknown schema", "quorum.annotation/v1", TASK_SCHEMA, ANNOTATOR_SCHEMA, FACT_SCHEMA]),
        (orjson.dumps({**ENVELOPE, "kind": "imported", "task_id": 1}),
         ["unknown schema none", TASK_SCHEMA]),
        (event_bytes(3, "imported"), ["unknown schema 3"]),
        # Kinds: missing, wrong type, not one of the schema's (which are listed).
        (task_bytes(kind=None), ["missing field 'kind'"]),
        (task_bytes(kind=1), ["'kind'", "non-empty string", "an integer"]),
        (task_bytes("joined"), ["'kind'", TASK_SCHEMA, "imported, deleted", "'joined'"]),
        (annotator_bytes("imported"), ["joined, left, paused, resumed", "'imported'"]),
        (fact_bytes("created", task_id="t"),
         ["submitted, skipped, deleted, reassign, completed, review, reviewed", "'created'"]),
        # The envelope.
        (task_bytes(occurred_at=None), ["missing field 'occurred_at'"]),
        (task_bytes(occurred_at=1714564800), ["'occurred_at'", "an integer"]),
        (task_bytes(occurred_at="yesterday"), ["'occurred_at'", "iso 8601", "'yesterday'"]),
        (task_bytes(event_id=None), ["missing field 'event_id'"]),
        (task_bytes(event_id=""), ["'event_id'", "must not be empty"]),
        (task_bytes(project_id=None), ["missing field 'project_id'"]),
        (task_bytes(project_id=True), ["'project_id'", "string or an integer", "a boolean"]),
        (task_bytes(project_id=[7]), ["'project_id'", "a list"]),
        # A kind that needs a field, without it or with the wrong type.
        (task_bytes(task_id=None), ["missing field 'task_id'", "'imported' event needs task_id"]),
        (task_bytes("deleted", task_id=1.5), ["'task_id'", "a number"]),
        (annotator_bytes(annotator=None), ["missing field 'annotator'", "needs annotator"]),
        (annotator_bytes("paused", annotator={"id": 1}), ["'annotator'", "an object"]),
        (fact_bytes("submitted", annotator="a"), ["missing field 'task_id'",
                                                  "needs task_id, annotator"]),
        (fact_bytes("skipped", task_id="t"), ["missing field 'annotator'",
                                              "'skipped' event needs task_id, annotator"]),
        (fact_bytes("reassign", task_id="t"), ["missing field 'annotators'",
                                               "needs task_id, annotators"]),
        (fact_bytes("reassign", task_id="t", annotators="3"), ["'annotators'", "integer"]),
        (fact_bytes("reassign", task_id="t", annotators=True), ["'annotators'", "a boolean"]),
        (fact_bytes("reassign", task_id="t", annotators=-1), ["'annotators'", ">= 0", "-1"]),
        (fact_bytes("completed"), ["missing field 'task_id'", "'completed' event"]),
        (fact_bytes("review", task_id=""), ["'task_id'", "must not be empty"]),
    ],
)
def test_refusals(raw: bytes, words: list[str]) -> None:
    reason = refusal(raw)
    for word in words:
        assert word.lower() in reason


# --- builders ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TASK_KINDS)
def test_task_event_parses_back(kind: str) -> None:
    body = task_event("p", "t-1", kind, event_id="e", occurred_at=OCCURRED_AT)
    assert parse_workflow_event(orjson.dumps(body)) == WorkflowEvent(
        TASK_SCHEMA, "e", "p", OCCURRED_AT, kind, task_id="t-1"
    )


@pytest.mark.parametrize("kind", ANNOTATOR_KINDS)
def test_annotator_event_parses_back(kind: str) -> None:
    body = annotator_event("p", "ann", kind, event_id="e", occurred_at=OCCURRED_AT)
    assert parse_workflow_event(orjson.dumps(body)) == WorkflowEvent(
        ANNOTATOR_SCHEMA, "e", "p", OCCURRED_AT, kind, annotator="ann"
    )


def test_builders_default_to_a_fresh_id_and_now() -> None:
    first, second = task_event("p", "t", "imported"), annotator_event("p", "a", "joined")
    assert first["event_id"] != second["event_id"]
    assert len(first["event_id"]) == 32 and int(first["event_id"], 16) >= 0  # uuid4 hex
    occurred = datetime.fromisoformat(first["occurred_at"])
    offset = occurred.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    assert abs((datetime.now(occurred.tzinfo) - occurred).total_seconds()) < 60
    for body in (first, second):
        parse_workflow_event(orjson.dumps(body))


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("submitted", {"annotator": "a"}),
        ("skipped", {"annotator": "a"}),
        ("reassign", {"annotators": 2}),
        ("completed", {}),
        ("review", {}),
    ],
)
def test_fact_body_parses_back(kind: str, extra: dict[str, Any]) -> None:
    body = fact_body(event_id="0:12:1", project_id="p", occurred_at=OCCURRED_AT, kind=kind,
                     task_id="t", **extra)
    assert set(body) == {"schema", "event_id", "project_id", "occurred_at", "kind", "task_id",
                         *extra}
    assert parse_workflow_event(orjson.dumps(body)) == WorkflowEvent(
        FACT_SCHEMA, "0:12:1", "p", OCCURRED_AT, kind, task_id="t", **extra
    )


def test_fact_body_is_deterministic() -> None:
    fields: dict[str, Any] = {"event_id": "1:5:0", "project_id": "p", "occurred_at": OCCURRED_AT,
                              "kind": "submitted", "task_id": "t", "annotator": "a"}
    assert fact_body(**fields) == fact_body(**fields)


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: task_event("p", "t", "joined"), ["imported, deleted", "'joined'"]),
        (lambda: annotator_event("p", "a", "imported"), ["joined, left", "'imported'"]),
        (lambda: fact_body(event_id="e", project_id="p", occurred_at=OCCURRED_AT,
                           kind="done", task_id="t"), ["submitted, skipped", "'done'"]),
    ],
)
def test_builders_refuse_a_kind_of_another_schema(build: Any, words: list[str]) -> None:
    with pytest.raises(ValueError) as caught:
        build()
    for word in words:
        assert word in str(caught.value)


def test_quality_fields_of_a_fact_round_trip() -> None:
    body = fact_body(event_id="3:7:2", project_id="p", occurred_at="2026-11-28T06:00:00+00:00",
                     kind="submitted", task_id="t", annotator="u1",
                     quality={"annotation_id": 42, "pairs": {"41": 0.5, "40": 1},
                              "ground_truth_score": 0.25, "label": "pos", "lead_time": None})
    event = parse_workflow_event(orjson.dumps(body))
    assert event.quality is not None
    assert event.quality.annotation_id == "42"
    assert event.quality.pairs == {"41": 0.5, "40": 1.0}
    assert (event.quality.ground_truth_score, event.quality.label) == (0.25, "pos")
    assert event.quality.lead_time is None


@pytest.mark.parametrize(("extra", "words"), [
    ({"annotation_id": "a", "pairs": {"b": 1.5}}, "scores in [0, 1]"),
    ({"annotation_id": "a", "pairs": [0.5]}, "scores in [0, 1]"),
    ({"annotation_id": "a", "ground_truth_score": "high"}, "'ground_truth_score' must be"),
    ({"annotation_id": "a", "lead_time": -1}, "'lead_time' must be"),
    ({"annotation_id": "a", "label": 3}, "'label' must be a string"),
])
def test_bad_quality_fields_are_refused(extra: dict[str, object], words: str) -> None:
    body = fact_body(event_id="3:7:2", project_id="p", occurred_at="2026-11-28T06:00:00+00:00",
                     kind="submitted", task_id="t", annotator="u1", quality=extra)
    with pytest.raises(InvalidEvent, match=re.escape(words)):
        parse_workflow_event(orjson.dumps(body))


def test_a_deleted_fact_needs_its_annotation() -> None:
    body = fact_body(event_id="3:7:2", project_id="p", occurred_at="2026-11-28T06:00:00+00:00",
                     kind="deleted", task_id="t")
    with pytest.raises(InvalidEvent, match="annotation_id"):
        parse_workflow_event(orjson.dumps(body))


def test_a_reviewed_fact_round_trips_and_is_checked() -> None:
    base: dict[str, Any] = {
        "event_id": "3:7:2", "project_id": "p", "occurred_at": "2026-11-28T06:00:00+00:00",
        "kind": "reviewed", "task_id": "t", "annotator": "u1"}
    good = fact_body(**base, review={"annotation_id": 5, "reviewer": "boss",
                                     "action": "fix_and_accept", "score": 0.5, "requeue": None})
    event = parse_workflow_event(orjson.dumps(good))
    assert event.review is not None
    assert (event.review.annotation_id, event.review.action, event.review.score) == \
        ("5", "fix_and_accept", 0.5)
    for bad, words in (({"action": "maybe"}, "'action' must be one of"),
                       ({"score": 2}, "'score' must be a number in [0, 1]"),
                       ({"requeue": "yes"}, "'requeue' must be")):
        body = {**good, **bad}
        with pytest.raises(InvalidEvent, match=re.escape(words)):
            parse_workflow_event(orjson.dumps(body))
