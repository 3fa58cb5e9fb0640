"""Why an input event was refused, and the small field checks that say so."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson


class InvalidEvent(ValueError):
    """An input event that breaks the schema. Its message is the dead-letter reason.

    Not a ``QuorumError``: bad input is data for the dead-letter topic, never an error
    that escapes an agent.
    """


def require_str_id(body: Mapping[str, Any], field: str) -> str:
    """An identifier: Label Studio sends integers, other tools strings; both become str."""
    value = body.get(field)
    if value is None:
        raise InvalidEvent(f"missing field {field!r}")
    # bool is an int subclass; an id of `true` is a producer bug, not an id.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidEvent(f"field {field!r} must be a string or an integer, got {kind_of(value)}")
    text = str(value)
    if not text:
        raise InvalidEvent(f"field {field!r} must not be empty")
    return text


def optional_str_id(body: Mapping[str, Any], field: str) -> str | None:
    """Like ``require_str_id`` but ``None`` when the field is absent or null."""
    if body.get(field) is None:
        return None
    return require_str_id(body, field)


def require_int(body: Mapping[str, Any], field: str, *, minimum: int = 0) -> int:
    """A whole number at or above ``minimum``."""
    value = body.get(field)
    if value is None:
        raise InvalidEvent(f"missing field {field!r}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEvent(f"field {field!r} must be an integer, got {kind_of(value)}")
    if value < minimum:
        raise InvalidEvent(f"field {field!r} must be >= {minimum}, got {value}")
    return value


def require_str(body: Mapping[str, Any], field: str) -> str:
    """A non-empty string."""
    value = body.get(field)
    if value is None:
        raise InvalidEvent(f"missing field {field!r}")
    if not isinstance(value, str) or not value:
        raise InvalidEvent(f"field {field!r} must be a non-empty string, got {kind_of(value)}")
    return value


def decode_object(raw: bytes, *, max_bytes: int | None = None,
                  what: str = "events") -> dict[str, Any]:
    """One message value as a JSON object; ``max_bytes`` (``QUORUM_MAX_EVENT_BYTES``)
    refuses a larger one before it is decoded."""
    if max_bytes is not None and len(raw) > max_bytes:
        raise InvalidEvent(
            f"message is {len(raw)} bytes, above the {max_bytes}-byte limit for {what} "
            "(QUORUM_MAX_EVENT_BYTES); send large media by reference, not inline"
        )
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidEvent(f"the event must be a JSON object, got {kind_of(body)}")
    return body


def require_timestamp(body: Mapping[str, Any], field: str = "occurred_at",
                      value: object = None) -> str:
    """An ISO 8601 timestamp (``value``: the field's value when the caller has it)."""
    text = value if isinstance(value, str) and value else require_str(body, field)
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise InvalidEvent(f"field {field!r} must be an ISO 8601 timestamp, got {text!r}") from None
    return text


def check_annotation_id(annotation_id: str) -> str:
    """The agreement state joins pair keys with '|' (agreement.task): such an id is refused
    here, as a dead letter, rather than failing a whole batch when it is applied."""
    if "|" in annotation_id:
        raise InvalidEvent(f"field 'annotation_id' must not contain '|', got {annotation_id!r}")
    return annotation_id


def kind_of(value: object) -> str:
    """The JSON name of a value's type, for messages a producer's author understands."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "an integer", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)

