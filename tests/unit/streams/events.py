"""Builders of ``quorum.annotation/v1`` events as producers send them, for the streams tests."""

from __future__ import annotations

from typing import Any

import orjson

from streams.models.annotation import AnnotationEvent, annotation_from_dict

OCCURRED_AT = "2026-11-28T06:24:24.003238Z"


def choice(label: str, from_name: str = "sentiment") -> list[dict[str, Any]]:
    """A one-item Choices result, as Label Studio writes it."""
    return [
        {
            "from_name": from_name,
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [label]},
        }
    ]


def annotation_body(**fields: Any) -> dict[str, Any]:
    """A valid created event of annotator 1 with Label Studio's integer ids; override any field.

    A field given as ``None`` is removed, so ``completed_by=None`` leaves it out.
    """
    body: dict[str, Any] = {
        "schema": "quorum.annotation/v1",
        "event_id": "ev-1",
        "project_id": 1,
        "task_id": 2,
        "occurred_at": OCCURRED_AT,
        "kind": "created",
        "annotation_id": 3,
        "revision": 1,
        "completed_by": 1,
        "result": choice("pos"),
    }
    body.update(fields)
    return {name: value for name, value in body.items() if value is not None}


def annotation_bytes(**fields: Any) -> bytes:
    """:func:`annotation_body`, encoded as it arrives on the annotations topic."""
    return orjson.dumps(annotation_body(**fields))


def annotation_event(**fields: Any) -> AnnotationEvent:
    """:func:`annotation_body`, validated."""
    return annotation_from_dict(annotation_body(**fields))
