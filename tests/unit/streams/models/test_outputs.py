"""Output bodies: deterministic event ids and dead letters that keep the original."""

from __future__ import annotations

import base64

import orjson

from streams.models.outputs import (
    DEAD_LETTER,
    DEAD_LETTER_MAX_ORIGINAL_BYTES,
    TOPIC_OF_SCHEMA,
    dead_letter_body,
    event_id,
)
from streams.topics import OUTPUTS


def dead_letter(original: bytes) -> dict[str, object]:
    return dead_letter_body(
        reason="not valid JSON",
        topic="quorum.annotations",
        partition=3,
        offset=41,
        original=original,
        eid=event_id(3, 41, 0),
    )


def test_event_id() -> None:
    assert event_id(7, 1234, 0) == "7:1234:0"
    assert event_id(0, 0, 1) == "0:0:1"


def test_every_schema_has_an_output_topic() -> None:
    assert set(TOPIC_OF_SCHEMA.values()) == set(OUTPUTS)


def test_utf8_original_is_kept_as_text() -> None:
    original = '{"task_id": "tâche 7", "result": ["积极"'.encode()
    body = dead_letter(original)
    assert body == {
        "schema": DEAD_LETTER,
        "event_id": "3:41:0",
        "project_id": None,  # not JSON: no envelope to read
        "task_id": None,
        "occurred_at": None,
        "reason": "not valid JSON",
        "topic": "quorum.annotations",
        "partition": 3,
        "offset": 41,
        "original": original.decode(),
        "original_encoding": "utf-8",
        "original_size": len(original),
        "original_truncated": False,
    }
    orjson.dumps(body)  # publishable as is


def test_binary_original_is_base64() -> None:
    original = b"\xff\xfe\x00binary\x80"
    body = dead_letter(original)
    assert body["original_encoding"] == "base64"
    assert base64.b64decode(str(body["original"])) == original
    assert body["original_size"] == len(original)
    assert body["original_truncated"] is False


def test_empty_original() -> None:
    body = dead_letter(b"")
    assert (body["original"], body["original_encoding"], body["original_size"]) == ("", "utf-8", 0)


def test_original_at_the_limit_is_whole() -> None:
    original = b"x" * DEAD_LETTER_MAX_ORIGINAL_BYTES
    body = dead_letter(original)
    assert body["original"] == original.decode()
    assert body["original_truncated"] is False


def test_large_original_is_truncated_to_64_kib() -> None:
    assert DEAD_LETTER_MAX_ORIGINAL_BYTES == 64 * 1024
    original = b"a" * (3 * DEAD_LETTER_MAX_ORIGINAL_BYTES + 5)
    body = dead_letter(original)
    assert body["original"] == "a" * DEAD_LETTER_MAX_ORIGINAL_BYTES
    assert body["original_encoding"] == "utf-8"
    assert body["original_size"] == len(original)
    assert body["original_truncated"] is True


def test_large_binary_original_is_truncated_then_base64() -> None:
    original = bytes(range(256)) * 1024
    body = dead_letter(original)
    assert body["original_encoding"] == "base64"
    assert base64.b64decode(str(body["original"])) == original[:DEAD_LETTER_MAX_ORIGINAL_BYTES]
    assert body["original_size"] == len(original)
    assert body["original_truncated"] is True


def test_cut_through_a_utf8_character_stays_text() -> None:
    # 'é' is two bytes: an odd prefix length puts the 64 KiB cut inside one of them.
    original = b"x" + "é".encode() * DEAD_LETTER_MAX_ORIGINAL_BYTES
    body = dead_letter(original)
    assert body["original_encoding"] == "utf-8"
    assert body["original_truncated"] is True
    assert body["original"] == "x" + "é" * ((DEAD_LETTER_MAX_ORIGINAL_BYTES - 1) // 2)


def test_the_envelope_is_the_originals_where_it_has_one() -> None:
    body = dead_letter(orjson.dumps({"schema": "quorum.annotation/v1", "project_id": 7,
                                     "task_id": "t1", "occurred_at": "2026-11-29T10:00:00Z",
                                     "kind": "created", "revision": "one"}))
    assert (body["project_id"], body["task_id"], body["occurred_at"]) == (
        "7", "t1", "2026-11-29T10:00:00Z")
    for original in (b"not json", b"[1, 2]", orjson.dumps({"project_id": True,
                                                          "task_id": ["t"],
                                                          "occurred_at": 5})):
        body = dead_letter(original)
        assert (body["project_id"], body["task_id"], body["occurred_at"]) == (None, None, None)
    # Too large to decode again: the envelope stays null, the reason says the rest.
    large = orjson.dumps({"project_id": "p", "task_id": "t",
                          "pad": "x" * DEAD_LETTER_MAX_ORIGINAL_BYTES})
    assert dead_letter(large)["project_id"] is None
