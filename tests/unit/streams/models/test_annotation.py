"""Annotation events: what is accepted, and the reason given for everything refused."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.models.annotation import AnnotationKind, annotation_from_dict, parse_annotation
from streams.models.invalid import InvalidEvent

from ..events import OCCURRED_AT, annotation_body, annotation_bytes, choice

MAX_BYTES = 1024 * 1024


def refusal(raw: bytes, *, max_bytes: int = MAX_BYTES) -> str:
    """The reason ``raw`` is refused, lower-cased for loose matching."""
    with pytest.raises(InvalidEvent) as caught:
        parse_annotation(raw, max_bytes=max_bytes)
    return str(caught.value).lower()


def body_refusal(**fields: Any) -> str:
    return refusal(annotation_bytes(**fields))


def test_label_studio_event_with_integer_ids() -> None:
    event = parse_annotation(annotation_bytes(), max_bytes=MAX_BYTES)
    assert event.event_id == "ev-1"
    assert event.project_id == "1"
    assert event.task_id == "2"
    assert event.annotation_id == "3"
    assert event.completed_by == "1"
    assert event.model_version is None
    assert event.revision == 1
    assert event.kind is AnnotationKind.CREATED
    assert event.occurred_at == OCCURRED_AT
    assert event.result == choice("pos")


def test_string_ids_are_kept() -> None:
    event = parse_annotation(
        annotation_bytes(
            project_id="projét", task_id="t:1", annotation_id="a-1", completed_by="ann@example.com"
        ),
        max_bytes=MAX_BYTES,
    )
    assert (event.project_id, event.task_id, event.annotation_id, event.completed_by) == (
        "projét",
        "t:1",
        "a-1",
        "ann@example.com",
    )


def test_unknown_fields_are_ignored() -> None:
    raw = annotation_bytes(future={"nested": [1, 2]}, was_cancelled=False, draft_id=4)
    assert parse_annotation(raw, max_bytes=MAX_BYTES) == parse_annotation(
        annotation_bytes(), max_bytes=MAX_BYTES
    )


def test_from_dict_matches_parse() -> None:
    assert annotation_from_dict(annotation_body()) == parse_annotation(
        annotation_bytes(), max_bytes=MAX_BYTES
    )


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"{not json", ["not valid json"]),
        (b"", ["not valid json"]),
        (b"\xff\xfe\x00", ["not valid json"]),
        (b"[1, 2]", ["json object", "a list"]),
        (b'"text"', ["json object", "a string"]),
        (b"null", ["json object", "null"]),
    ],
)
def test_refuses_what_is_not_a_json_object(raw: bytes, words: list[str]) -> None:
    reason = refusal(raw)
    for word in words:
        assert word in reason


@pytest.mark.parametrize("schema", [None, "quorum.annotation/v2", "quorum.project/v1", 1])
def test_refuses_wrong_schema(schema: Any) -> None:
    body = annotation_body()
    if schema is None:
        del body["schema"]
    else:
        body["schema"] = schema
    reason = refusal(orjson.dumps(body))
    assert "schema" in reason
    assert "quorum.annotation/v1" in reason


@pytest.mark.parametrize(
    "field",
    [
        "event_id",
        "project_id",
        "task_id",
        "occurred_at",
        "kind",
        "annotation_id",
        "revision",
        "result",
    ],
)
def test_refuses_missing_required_field(field: str) -> None:
    reason = body_refusal(**{field: None})
    assert "missing" in reason
    assert field in reason


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"revision": "1"}, ["revision", "integer", "a string"]),
        ({"revision": True}, ["revision", "integer", "a boolean"]),
        ({"revision": 1.0}, ["revision", "integer", "a number"]),
        ({"revision": -1}, ["revision", ">= 0", "-1"]),
        ({"task_id": 2.5}, ["task_id", "string or an integer", "a number"]),
        ({"task_id": 2.0}, ["task_id", "a number"]),
        ({"project_id": True}, ["project_id", "a boolean"]),
        ({"annotation_id": [3]}, ["annotation_id", "a list"]),
        ({"event_id": ""}, ["event_id", "empty"]),
        ({"completed_by": {"id": 1}}, ["completed_by", "an object"]),
        ({"kind": 1}, ["kind", "string"]),
        ({"occurred_at": 1764310000}, ["occurred_at", "string"]),
        ({"ground_truth": "yes"}, ["ground_truth", "true or false", "a string"]),
        ({"ground_truth": 1}, ["ground_truth", "true or false"]),
    ],
)
def test_refuses_wrong_types(fields: dict[str, Any], words: list[str]) -> None:
    reason = body_refusal(**fields)
    for word in words:
        assert word in reason


def test_revision_zero_is_accepted() -> None:
    assert parse_annotation(annotation_bytes(revision=0), max_bytes=MAX_BYTES).revision == 0


def test_refuses_unknown_kind() -> None:
    reason = body_refusal(kind="approved")
    assert "kind" in reason
    assert "'approved'" in reason
    for kind in AnnotationKind:
        assert kind.value in reason


@pytest.mark.parametrize("occurred_at", ["yesterday", "2026-13-01T00:00:00Z", ""])
def test_refuses_bad_occurred_at(occurred_at: str) -> None:
    assert "occurred_at" in body_refusal(occurred_at=occurred_at)


@pytest.mark.parametrize(
    ("result", "words"),
    [
        ({"choices": ["pos"]}, ["result", "must be a list", "an object"]),
        ("pos", ["result", "must be a list", "a string"]),
        ([choice("pos")[0], "pos"], ["result[1]", "object", "a string"]),
        ([{"to_name": "text", "type": "choices", "value": {}}], ["result[0].from_name"]),
        ([{"from_name": "", "type": "choices", "value": {}}], ["result[0].from_name"]),
        ([{"from_name": "sentiment", "value": {}}], ["result[0].type"]),
        ([{"from_name": "sentiment", "type": "choices"}], ["result[0].value", "null"]),
        (
            [{"from_name": "sentiment", "type": "choices", "value": ["pos"]}],
            ["result[0].value", "a list"],
        ),
    ],
)
def test_refuses_malformed_result(result: Any, words: list[str]) -> None:
    reason = body_refusal(result=result)
    for word in words:
        assert word in reason


def test_relation_items_are_accepted_without_from_name() -> None:
    relation = {"from_id": "r1", "to_id": "r2", "type": "relation", "direction": "right"}
    event = parse_annotation(
        annotation_bytes(result=[*choice("pos"), relation]), max_bytes=MAX_BYTES
    )
    assert event.result[-1] == relation


def test_empty_result_is_accepted() -> None:
    assert parse_annotation(annotation_bytes(result=[]), max_bytes=MAX_BYTES).result == []


@pytest.mark.parametrize("kind", ["created", "updated"])
def test_created_and_updated_need_the_result(kind: str) -> None:
    reason = body_refusal(kind=kind, result=None)
    assert "result" in reason
    assert kind in reason


def test_deleted_needs_neither_result_nor_author() -> None:
    event = parse_annotation(
        annotation_bytes(kind="deleted", result=None, completed_by=None), max_bytes=MAX_BYTES
    )
    assert event.kind is AnnotationKind.DELETED
    assert event.result == []
    assert event.completed_by is None
    assert event.model_version is None


def test_skipped_needs_no_result() -> None:
    event = parse_annotation(annotation_bytes(kind="skipped", result=None), max_bytes=MAX_BYTES)
    assert event.kind is AnnotationKind.SKIPPED
    assert event.result == []


def test_prediction_names_its_model_version() -> None:
    event = parse_annotation(
        annotation_bytes(completed_by=None, model_version="sentiment-v2"), max_bytes=MAX_BYTES
    )
    assert event.model_version == "sentiment-v2"
    assert event.completed_by is None


def test_refuses_both_completed_by_and_model_version() -> None:
    reason = body_refusal(model_version="sentiment-v2")
    assert "completed_by" in reason
    assert "model_version" in reason
    assert "not both" in reason


@pytest.mark.parametrize("kind", ["created", "updated", "skipped"])
def test_refuses_neither_completed_by_nor_model_version(kind: str) -> None:
    reason = body_refusal(kind=kind, completed_by=None)
    assert "completed_by" in reason
    assert "model_version" in reason


def test_refuses_annotation_id_with_the_pair_separator() -> None:
    # The agreement state joins pair keys with '|': such an id must become a dead letter,
    # not an error raised later while the batch is applied.
    reason = body_refusal(annotation_id="a|b")
    assert "annotation_id" in reason
    assert "'|'" in reason


def test_refuses_message_over_max_bytes_with_its_size() -> None:
    raw = annotation_bytes(result=choice("x" * 2000))
    reason = refusal(raw, max_bytes=1024)
    assert str(len(raw)) in reason
    assert "1024" in reason
    assert "quorum_max_event_bytes" in reason


def test_message_of_exactly_max_bytes_is_accepted() -> None:
    raw = annotation_bytes()
    assert parse_annotation(raw, max_bytes=len(raw)).annotation_id == "3"
    assert str(len(raw)) in refusal(raw, max_bytes=len(raw) - 1)


def test_ground_truth_flag() -> None:
    assert annotation_from_dict(annotation_body(ground_truth=True)).ground_truth is True
    assert annotation_from_dict(annotation_body(ground_truth=False)).ground_truth is False
    assert annotation_from_dict(annotation_body()).ground_truth is False


def test_lead_time_is_label_studios_seconds() -> None:
    assert annotation_from_dict(annotation_body(lead_time=3.2)).lead_time == 3.2
    assert annotation_from_dict(annotation_body(lead_time=0)).lead_time == 0.0
    assert annotation_from_dict(annotation_body(lead_time=None)).lead_time is None
    assert annotation_from_dict(annotation_body()).lead_time is None


@pytest.mark.parametrize("value", [-1, float("inf"), float("nan"), "3.2", True, [1]])
def test_lead_time_must_be_finite_seconds(value: object) -> None:
    with pytest.raises(InvalidEvent, match="lead_time"):
        annotation_from_dict(annotation_body(lead_time=value))


def test_task_overlap_is_the_tools_count_of_annotations_wanted() -> None:
    assert annotation_from_dict(annotation_body(task_overlap=1)).task_overlap == 1
    assert annotation_from_dict(annotation_body(task_overlap=4)).task_overlap == 4
    assert annotation_from_dict(annotation_body()).task_overlap is None


@pytest.mark.parametrize("value", [0, -1, 1.5, "3", True, [3]])
def test_task_overlap_must_be_a_whole_number_of_annotations(value: object) -> None:
    with pytest.raises(InvalidEvent, match="task_overlap"):
        annotation_from_dict(annotation_body(task_overlap=value))
