"""Why an input event was refused, and the small field checks that say so."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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


def kind_of(value: object) -> str:
    """The JSON name of a value's type, for messages a producer's author understands."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
             int: "an integer", float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)

