"""Review events: what is accepted, and the reason given for everything refused."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.models.invalid import InvalidEvent
from streams.models.review import (
    REVIEW_SCHEMA,
    ReviewAction,
    ReviewEvent,
    parse_review,
    review_event,
    review_from_dict,
)

from ..events import OCCURRED_AT, choice

MAX_BYTES = 64 * 1024


def body(**fields: Any) -> dict[str, Any]:
    """A valid reject of annotation 3 of task 2 (project 1) by reviewer 9, Label Studio's
    integer ids; a field given as ``None`` is removed."""
    doc: dict[str, Any] = {
        "schema": REVIEW_SCHEMA,
        "event_id": "rv-1",
        "project_id": 1,
        "task_id": 2,
        "occurred_at": OCCURRED_AT,
        "annotation_id": 3,
        "reviewer": 9,
        "action": "reject",
        "revision": 1,
    }
    doc.update(fields)
    return {name: value for name, value in doc.items() if value is not None}


def parse(**fields: Any) -> ReviewEvent:
    return parse_review(orjson.dumps(body(**fields)), max_bytes=MAX_BYTES)


def refusal(raw: bytes, *, max_bytes: int = MAX_BYTES) -> str:
    """The reason ``raw`` is refused, lower-cased for loose matching."""
    with pytest.raises(InvalidEvent) as caught:
        parse_review(raw, max_bytes=max_bytes)
    return str(caught.value).lower()


def test_a_reject_with_integer_ids() -> None:
    event = parse(requeue=True)
    assert event == ReviewEvent(
        event_id="rv-1", project_id="1", task_id="2", occurred_at=OCCURRED_AT,
        annotation_id="3", reviewer="9", action=ReviewAction.REJECT, revision=1,
        result=None, requeue=True,
    )


def test_a_fix_carries_the_fixed_result() -> None:
    event = parse(action="fix_and_accept", result=choice("neg"))
    assert event.action is ReviewAction.FIX_AND_ACCEPT
    assert event.result == choice("neg")
    # An empty result is a fix too: the reviewer removed every region.
    assert parse(action="fix_and_accept", result=[]).result == []


def test_an_accept_keeps_neither_result_nor_requeue() -> None:
    event = parse(action="accept", result=choice("neg"), requeue=False)
    assert event.action is ReviewAction.ACCEPT
    assert (event.result, event.requeue) == (None, None)


def test_unknown_fields_are_ignored_and_from_dict_matches_parse() -> None:
    assert parse(comment="looks fine", future={"x": [1]}) == parse()
    assert review_from_dict(body()) == parse()


def test_the_builder_writes_what_the_parser_reads() -> None:
    built = review_event("p", "t", "a1", "boss", ReviewAction.FIX_AND_ACCEPT, revision=2,
                         result=choice("neg"), event_id="e", occurred_at=OCCURRED_AT)
    event = review_from_dict(built)
    assert (event.project_id, event.task_id, event.annotation_id, event.reviewer) == \
        ("p", "t", "a1", "boss")
    assert (event.action, event.revision, event.result) == \
        (ReviewAction.FIX_AND_ACCEPT, 2, choice("neg"))
    fresh = review_event("p", "t", "a1", "boss", "reject", revision=1, requeue=False)
    assert review_from_dict(fresh).requeue is False
    assert fresh["event_id"] != review_event("p", "t", "a1", "boss", "reject",
                                             revision=1)["event_id"]
    with pytest.raises(ValueError, match="accept, reject, fix_and_accept"):
        review_event("p", "t", "a1", "boss", "approve", revision=1)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"{not json", ["not valid json"]),
        (b"[1]", ["json object", "a list"]),
        (orjson.dumps(body(schema="quorum.annotation/v1")),
         ["unknown schema", "quorum.review/v1"]),
        (orjson.dumps(body(schema=None)), ["unknown schema none"]),
    ],
)
def test_refuses_what_is_no_review(raw: bytes, words: list[str]) -> None:
    reason = refusal(raw)
    assert all(word in reason for word in words), reason


def test_refuses_an_oversize_message() -> None:
    raw = orjson.dumps(body(comment="x" * 200))
    assert f"{len(raw)} bytes" in refusal(raw, max_bytes=100)


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        # The envelope.
        ({"event_id": None}, ["missing field 'event_id'"]),
        ({"event_id": True}, ["'event_id'", "a boolean"]),
        ({"project_id": None}, ["missing field 'project_id'"]),
        ({"project_id": ""}, ["'project_id'", "must not be empty"]),
        ({"task_id": None}, ["missing field 'task_id'"]),
        ({"task_id": [2]}, ["'task_id'", "a list"]),
        ({"occurred_at": None}, ["missing field 'occurred_at'"]),
        ({"occurred_at": 1714564800}, ["'occurred_at'", "an integer"]),
        ({"occurred_at": "yesterday"}, ["'occurred_at'", "iso 8601", "'yesterday'"]),
        # The verdict.
        ({"annotation_id": None}, ["missing field 'annotation_id'"]),
        ({"annotation_id": 1.5}, ["'annotation_id'", "a number"]),
        ({"annotation_id": "a|1"}, ["'annotation_id'", "'|'"]),
        ({"reviewer": None}, ["missing field 'reviewer'"]),
        ({"reviewer": {"id": 9}}, ["'reviewer'", "an object"]),
        ({"action": None}, ["missing field 'action'"]),
        ({"action": 1}, ["'action'", "an integer"]),
        ({"action": "approve"}, ["'action'", "accept, reject, fix_and_accept", "'approve'"]),
        ({"revision": None}, ["missing field 'revision'"]),
        ({"revision": 0}, ["'revision'", ">= 1", "got 0"]),
        ({"revision": "2"}, ["'revision'", "a string"]),
        ({"revision": True}, ["'revision'", "a boolean"]),
        ({"requeue": "yes"}, ["'requeue'", "true, false or null", "a string"]),
        ({"action": "fix_and_accept"}, ["missing field 'result'", "fixed result"]),
        ({"action": "fix_and_accept", "result": {"a": 1}}, ["'result'", "a list"]),
        ({"action": "fix_and_accept", "result": [1]}, ["result[0]", "an integer"]),
        ({"action": "fix_and_accept", "result": [{"type": "choices", "value": {}}]},
         ["result[0].from_name"]),
    ],
)
def test_refuses_with_a_reason(fields: dict[str, Any], words: list[str]) -> None:
    reason = refusal(orjson.dumps(body(**fields)))
    assert all(word in reason for word in words), reason
