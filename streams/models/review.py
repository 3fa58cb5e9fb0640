"""The review event: a reviewer's verdict on one annotation (accept, reject, fix-and-accept).

Label Studio Enterprise's review workflow (docs: guide/project_settings_lse.md,
"Review"). Reviews travel on the annotations topic, keyed by task like the annotations
they judge, so a task's annotations and reviews stay in order on one partition.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, final

from assignment.review_events import ReviewAction
from streams.models.annotation import ANNOTATION_SCHEMA, _result
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

REVIEW_SCHEMA = "quorum.review/v1"

_ACTIONS = {action.value: action for action in ReviewAction}

__all__ = ["REVIEW_SCHEMA", "ReviewAction", "ReviewEvent", "parse_review",
           "review_event", "review_from_dict", "review_or_reason"]


# Final: the batch core tells a review from an annotation by its exact class.
@final
@dataclass(frozen=True, slots=True)
class ReviewEvent:
    """A validated ``quorum.review/v1`` event.

    ``revision`` is the review's own revision for its annotation (>= 1): a review at or
    below the last one applied to that annotation is a redelivery or stale, and changes
    nothing. ``result`` is the fixed Label Studio result of a ``fix_and_accept``, and
    ``None`` for the other actions. ``requeue`` is the reviewer's choice for a reject
    (``None``: the project's reject mode decides); it is ``None`` for the other actions.
    """

    event_id: str
    project_id: str
    task_id: str
    occurred_at: str
    annotation_id: str
    reviewer: str
    action: ReviewAction
    revision: int
    result: list[dict[str, Any]] | None = None
    requeue: bool | None = None


def parse_review(raw: bytes, *, max_bytes: int) -> ReviewEvent:
    """Decode and validate one message value; raise ``InvalidEvent`` with the reason."""
    return review_from_dict(decode_object(raw, max_bytes=max_bytes,
                                          what="events on the annotations topic"))


def review_from_dict(body: dict[str, Any]) -> ReviewEvent:
    """Validate an already decoded event body: the envelope first, then the verdict."""
    schema = body.get("schema")
    if schema != REVIEW_SCHEMA:
        raise InvalidEvent(f"unknown schema {schema!r}: a review event is {REVIEW_SCHEMA!r}")
    event_id = require_str_id(body, "event_id")
    project_id = require_str_id(body, "project_id")
    task_id = require_str_id(body, "task_id")
    occurred_at = require_timestamp(body)
    annotation_id = check_annotation_id(require_str_id(body, "annotation_id"))
    reviewer = require_str_id(body, "reviewer")
    action_text = require_str(body, "action")
    action = _ACTIONS.get(action_text)
    if action is None:
        raise InvalidEvent(
            f"field 'action' must be one of {', '.join(_ACTIONS)}; got {action_text!r}"
        )
    revision = require_int(body, "revision", minimum=1)
    result = None
    if action is ReviewAction.FIX_AND_ACCEPT:
        if body.get("result") is None:
            raise InvalidEvent(
                "missing field 'result': a fix_and_accept review carries the fixed result list"
            )
        # The same checks as an annotation's result: the fixed result is scored as one.
        result = _result(body, required=True)
    requeue = body.get("requeue")
    if requeue is not None and not isinstance(requeue, bool):
        raise InvalidEvent(f"field 'requeue' must be true, false or null, got {kind_of(requeue)}")
    return ReviewEvent(
        event_id, project_id, task_id, occurred_at, annotation_id, reviewer, action, revision,
        result,
        # Only a reject is requeued; with another verdict the choice means nothing.
        requeue if action is ReviewAction.REJECT else None,
    )


def review_or_reason(raw: bytes, refusal: InvalidEvent, *, max_bytes: int) -> ReviewEvent | str:
    """What a message of the annotations topic that ``parse_annotation`` refused is: a
    review, or the reason to refuse it (the review's own, when it is one).

    Decodes the message a second time, which only reviews and bad input pay for: the
    annotations, nearly all of the topic, are parsed once.
    """
    try:
        body = decode_object(raw, max_bytes=max_bytes)
    except InvalidEvent:
        return str(refusal)
    schema = body.get("schema")
    if schema == REVIEW_SCHEMA:
        try:
            return review_from_dict(body)
        except InvalidEvent as exc:
            return str(exc)
    if schema != ANNOTATION_SCHEMA:
        return (f"unknown schema {schema!r}: the annotations topic carries "
                f"{ANNOTATION_SCHEMA!r} and {REVIEW_SCHEMA!r} events")
    return str(refusal)


def review_event(
    project_id: str,
    task_id: str,
    annotation_id: str,
    reviewer: str,
    action: ReviewAction | str,
    *,
    revision: int,
    result: list[dict[str, Any]] | None = None,
    requeue: bool | None = None,
    event_id: str | None = None,
    occurred_at: str | None = None,
) -> dict[str, Any]:
    """A ``quorum.review/v1`` body, as a reviewer's tool sends it (send it keyed by
    ``<project>:<task>``, like the task's annotations).

    ``result`` (the fixed result) only for ``fix_and_accept``, ``requeue`` only for a
    reject. ``event_id`` defaults to a fresh uuid4 hex, ``occurred_at`` to now (UTC).
    """
    text = str(action)
    if text not in _ACTIONS:
        raise ValueError(f"a review's action must be one of {', '.join(_ACTIONS)}; got {text!r}")
    body: dict[str, Any] = {
        "schema": REVIEW_SCHEMA,
        "event_id": event_id if event_id is not None else uuid.uuid4().hex,
        "project_id": project_id,
        "task_id": task_id,
        "occurred_at": (
            occurred_at if occurred_at is not None else datetime.now(UTC).isoformat()
        ),
        "annotation_id": annotation_id,
        "reviewer": reviewer,
        "action": text,
        "revision": revision,
    }
    if result is not None:
        body["result"] = result
    if requeue is not None:
        body["requeue"] = requeue
    return body
