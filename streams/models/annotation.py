"""The annotation event: one submission, update, deletion or skip of a task's annotation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from streams.models.invalid import (
    InvalidEvent,
    check_annotation_id,
    decode_object,
    kind_of,
    require_int,
    require_str,
    require_str_id,
    require_timestamp,
)

ANNOTATION_SCHEMA = "quorum.annotation/v1"


class AnnotationKind(StrEnum):
    """What happened to the annotation."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    SKIPPED = "skipped"


# Kinds whose body must carry the full result: an update of an annotation this worker
# never saw then counts as its creation, so nothing valid is lost for want of order.
_KINDS_WITH_RESULT = frozenset({AnnotationKind.CREATED, AnnotationKind.UPDATED})
# A dict lookup is 10x cheaper than calling the enum, once per event.
_KIND_BY_NAME = {kind.value: kind for kind in AnnotationKind}
# A global, not AnnotationKind.DELETED: reading a member from its enum class costs ~0.15 us.
_DELETED = AnnotationKind.DELETED


# Not frozen: a frozen dataclass costs 3.5 us to build against 0.7 us, on a path that builds
# one per event. Nothing mutates an event after parsing. Its own __init__: mypyc compiles
# it, while the one dataclasses would write runs as Python (0.3 us more per event).
@dataclass(slots=True, init=False)
class AnnotationEvent:
    """A validated ``quorum.annotation/v1`` event.

    ``result`` is Label Studio's result list, unchanged. Exactly one of ``completed_by``
    (a person) and ``model_version`` (a prediction) names the author, except on deletes,
    which need neither.
    """

    event_id: str
    project_id: str
    task_id: str
    occurred_at: str
    kind: AnnotationKind
    annotation_id: str
    revision: int
    completed_by: str | None
    model_version: str | None
    result: list[dict[str, Any]]
    # Label Studio's flag: this annotation is the task's ground truth (one per task).
    ground_truth: bool = False
    # Label Studio's ``lead_time``: seconds the annotator spent on it (annotator
    # performance reports its mean and median); ``None`` when the tool does not say.
    lead_time: float | None = None
    # Annotations the labeling tool wants for the task (Label Studio's task ``overlap``):
    # 1 puts the task outside the project's overlap cohort, so the consensus decides it
    # after one annotation. ``None`` when the tool does not say: Quorum's own cohort rule
    # (a hash of the task id) decides.
    task_overlap: int | None = None

    def __init__(
        self,
        event_id: str,
        project_id: str,
        task_id: str,
        occurred_at: str,
        kind: AnnotationKind,
        annotation_id: str,
        revision: int,
        completed_by: str | None,
        model_version: str | None,
        result: list[dict[str, Any]],
        ground_truth: bool = False,
        lead_time: float | None = None,
        task_overlap: int | None = None,
    ) -> None:
        self.event_id = event_id
        self.project_id = project_id
        self.task_id = task_id
        self.occurred_at = occurred_at
        self.kind = kind
        self.annotation_id = annotation_id
        self.revision = revision
        self.completed_by = completed_by
        self.model_version = model_version
        self.result = result
        self.ground_truth = ground_truth
        self.lead_time = lead_time
        self.task_overlap = task_overlap


def parse_annotation(raw: bytes, *, max_bytes: int) -> AnnotationEvent:
    """Decode and validate one message value; raise ``InvalidEvent`` with the reason."""
    return annotation_from_dict(decode_object(raw, max_bytes=max_bytes,
                                              what="annotation events"))


def annotation_from_dict(body: dict[str, Any]) -> AnnotationEvent:
    """Validate an already decoded event body."""
    schema = body.get("schema")
    if schema != ANNOTATION_SCHEMA:
        raise InvalidEvent(
            f"unknown schema {schema!r}: this worker reads {ANNOTATION_SCHEMA!r} on this topic"
        )
    kind_text = body.get("kind")
    kind = _KIND_BY_NAME.get(kind_text) if isinstance(kind_text, str) else None
    if kind is None:
        require_str(body, "kind")
        allowed = ", ".join(k.value for k in AnnotationKind)
        raise InvalidEvent(f"field 'kind' must be one of {allowed}; got {kind_text!r}")
    occurred_at = require_timestamp(body, "occurred_at", body.get("occurred_at"))
    completed_by = _optional_id(body, "completed_by")
    model_version = _optional_id(body, "model_version")
    if kind is not _DELETED:
        if completed_by is None and model_version is None:
            raise InvalidEvent(
                "missing field 'completed_by' (the annotator) or 'model_version' (a prediction)"
            )
        if completed_by is not None and model_version is not None:
            raise InvalidEvent("an event has either 'completed_by' or 'model_version', not both")
    result = _result(body, required=kind in _KINDS_WITH_RESULT)
    annotation_id = check_annotation_id(_id(body, "annotation_id"))
    revision = body.get("revision")
    if revision.__class__ is not int or revision < 0:
        revision = require_int(body, "revision")
    ground_truth = body.get("ground_truth", False)
    if ground_truth is not False and ground_truth is not True:
        if ground_truth is not None:
            raise InvalidEvent(
                f"field 'ground_truth' must be true or false, got {kind_of(ground_truth)}"
            )
        ground_truth = False
    lead_time = body.get("lead_time")
    if lead_time is not None:
        lead_time = _lead_time(lead_time)
    task_overlap = body.get("task_overlap")
    if task_overlap is not None and (task_overlap.__class__ is not int or task_overlap < 1):
        raise InvalidEvent(
            "field 'task_overlap' must be a whole number of annotations >= 1 (Label Studio's "
            f"task overlap) or null; got {task_overlap!r} ({kind_of(task_overlap)})"
        )
    # Positional: cheaper than ten keywords, once per event; the order is the fields'.
    return AnnotationEvent(
        _id(body, "event_id"),
        _id(body, "project_id"),
        _id(body, "task_id"),
        occurred_at,
        kind,
        annotation_id,
        revision,
        completed_by,
        model_version,
        result,
        ground_truth,
        lead_time,
        task_overlap,
    )

# The checks above and in _id decide the common valid case inline, by exact class (so bool,
# whose class is not int, never passes), and leave anything else, and every reason, to the
# require_* functions: one place says what is valid.


def _id(body: dict[str, Any], field: str) -> str:
    """``require_str_id`` with the common cases (a non-empty string, an int) decided inline."""
    value = body.get(field)
    cls = value.__class__
    if cls is str:
        if value:
            return value
    elif cls is int:  # Label Studio's ids
        return str(value)
    return require_str_id(body, field)


def _lead_time(value: object) -> float:
    """Seconds spent on the annotation: a finite number >= 0."""
    if value.__class__ is float or value.__class__ is int:
        seconds = float(value)
        if 0.0 <= seconds < math.inf:
            return seconds
    raise InvalidEvent(
        f"field 'lead_time' must be seconds, a finite number >= 0, or null; got "
        f"{value!r} ({kind_of(value)})"
    )


def _optional_id(body: dict[str, Any], field: str) -> str | None:
    """``optional_str_id`` by way of :func:`_id`."""
    value = body.get(field)
    if value is None:
        return None
    if value.__class__ is str and value:
        return value
    return _id(body, field)


def _result(body: dict[str, Any], *, required: bool) -> list[dict[str, Any]]:
    """Label Studio's ``result`` list: objects with ``from_name``, ``type`` and ``value``."""
    result = body.get("result")
    if result is None:
        if required:
            raise InvalidEvent(
                f"missing field 'result': a {body['kind']} event carries the full result list"
            )
        return []
    if not isinstance(result, list):
        raise InvalidEvent(f"field 'result' must be a list, got {kind_of(result)}")
    for index, item in enumerate(result):
        if not isinstance(item, dict):
            raise InvalidEvent(f"result[{index}] must be an object, got {kind_of(item)}")
        # Relations link two regions and carry no from_name; they are kept, not scored.
        item_type = item.get("type")
        if item_type == "relation":
            continue
        from_name = item.get("from_name")
        if not isinstance(from_name, str) or not from_name:
            raise InvalidEvent(f"result[{index}].from_name must be a non-empty string")
        if not isinstance(item_type, str) or not item_type:
            raise InvalidEvent(f"result[{index}].type must be a non-empty string")
        if not isinstance(item.get("value"), dict):
            raise InvalidEvent(
                f"result[{index}].value must be an object, got {kind_of(item.get('value'))}"
            )
    return result
