"""Workflow events on the project-keyed ``workflow`` topic: tasks, annotators, and the
facts the annotations agent reports for projects that distribute their tasks (see
:mod:`streams.facts`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from assignment.prediction_scores import PredictionScore
from assignment.review_events import ReviewAction
from streams.models.invalid import (
    InvalidEvent,
    decode_object,
    kind_of,
    optional_str_id,
    require_int,
    require_str,
    require_str_id,
    require_timestamp,
)

TASK_SCHEMA = "quorum.task/v1"
ANNOTATOR_SCHEMA = "quorum.annotator/v1"
FACT_SCHEMA = "quorum.workflow-fact/v1"

# Kinds per schema, in the order a refusal lists them.
TASK_KINDS = ("imported", "deleted")
ANNOTATOR_KINDS = ("joined", "left", "paused", "resumed")
# ``collecting``: the consensus went back to collecting annotations (a counted one was
# deleted): the distribution reopens the task. Last, so that refusals read as before.
FACT_KINDS = ("submitted", "skipped", "deleted", "reassign", "completed", "review", "reviewed",
              "model-scores", "ground-truth", "collecting")
KINDS: Mapping[str, tuple[str, ...]] = {
    TASK_SCHEMA: TASK_KINDS,
    ANNOTATOR_SCHEMA: ANNOTATOR_KINDS,
    FACT_SCHEMA: FACT_KINDS,
}

# The body fields each (schema, kind) needs. Fields a kind does not use are ignored, like
# unknown ones, so a fact never carries a stray annotator into the distribution.
_TASK, _ANNOTATOR, _ANNOTATORS = "task_id", "annotator", "annotators"
_NEEDS: Mapping[tuple[str, str], tuple[str, ...]] = {
    **{(TASK_SCHEMA, kind): (_TASK,) for kind in TASK_KINDS},
    **{(ANNOTATOR_SCHEMA, kind): (_ANNOTATOR,) for kind in ANNOTATOR_KINDS},
    (FACT_SCHEMA, "submitted"): (_TASK, _ANNOTATOR),
    (FACT_SCHEMA, "skipped"): (_TASK, _ANNOTATOR),
    (FACT_SCHEMA, "deleted"): (_TASK,),
    (FACT_SCHEMA, "reviewed"): (_TASK, _ANNOTATOR),
    (FACT_SCHEMA, "reassign"): (_TASK, _ANNOTATORS),
    (FACT_SCHEMA, "completed"): (_TASK,),
    (FACT_SCHEMA, "review"): (_TASK,),
    (FACT_SCHEMA, "collecting"): (_TASK,),
    (FACT_SCHEMA, "model-scores"): (_TASK,),
    (FACT_SCHEMA, "ground-truth"): (_TASK,),
}

__all__ = [
    "ANNOTATOR_KINDS",
    "ANNOTATOR_SCHEMA",
    "FACT_KINDS",
    "FACT_SCHEMA",
    "KINDS",
    "REVIEW_ACTIONS",
    "TASK_KINDS",
    "TASK_SCHEMA",
    "AnnotationQuality",
    "ReviewVerdict",
    "WorkflowEvent",
    "annotator_event",
    "fact_body",
    "parse_workflow_event",
    "task_event",
    "workflow_event_from_dict",
]


@dataclass(frozen=True, slots=True)
class WorkflowEvent:
    """A validated event of the ``workflow`` topic.

    ``task_id``, ``annotator`` and ``annotators`` (the counted annotators of a
    ``reassign`` fact) are set exactly when ``kind`` needs them, ``None`` otherwise;
    besides, a ``deleted`` fact's optional ``annotator`` is the one whose seat on the task
    the deletion frees (the annotation's author, unless it is a prediction, unknown, or
    its author still has another annotation counted on the task).
    """

    schema: str
    event_id: str
    project_id: str
    occurred_at: str
    kind: str
    task_id: str | None = None
    annotator: str | None = None
    annotators: int | None = None
    quality: AnnotationQuality | None = None
    review: ReviewVerdict | None = None
    # A model-scores fact's prediction id -> scores; empty when the task's last
    # prediction was deleted.
    model_scores: Mapping[str, PredictionScore] | None = None
    # A ``ground-truth`` fact: whether the task has a ground truth after the event and
    # before it (``None`` before: a fact from before the field, which always flipped it),
    # and every other counted annotation's agreement with the ground truth now (null: none).
    marked: bool | None = None
    was_marked: bool | None = None
    ground_truth_scores: Mapping[str, float | None] | None = None


REVIEW_ACTIONS = tuple(action.value for action in ReviewAction)  # accept, reject, fix_and_accept


@dataclass(frozen=True, slots=True)
class ReviewVerdict:
    """What a ``reviewed`` fact says: a reviewer's ``action`` on one annotation.

    ``score`` is its performance-score contribution (accept 1, reject 0, fix-and-accept
    the agreement between the submitted and the fixed result); ``requeue`` the reviewer's
    choice for a rejected annotation (``None``: the project's reject mode decides);
    ``agreement`` the task's agreement after the verdict (``None`` while no annotation
    counts, or from a producer that predates the field).
    """

    annotation_id: str
    reviewer: str
    action: str
    score: float
    requeue: bool | None = None
    agreement: float | None = None


def _review(body: Mapping[str, Any]) -> ReviewVerdict:
    annotation_id = require_str_id(body, "annotation_id")
    reviewer = require_str_id(body, "reviewer")
    action = require_str(body, "action")
    if action not in REVIEW_ACTIONS:
        raise InvalidEvent(f"field 'action' must be one of {', '.join(REVIEW_ACTIONS)}; "
                           f"got {action!r}")
    score = body.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
        raise InvalidEvent(f"field 'score' must be a number in [0, 1], got {score!r}")
    requeue = body.get("requeue")
    if requeue is not None and not isinstance(requeue, bool):
        raise InvalidEvent(f"field 'requeue' must be true, false or null, got {kind_of(requeue)}")
    return ReviewVerdict(annotation_id, reviewer, action, float(score), requeue,
                         _optional_number(body, "agreement", 1.0))


def _optional_number(body: Mapping[str, Any], name: str, top: float) -> float | None:
    """An optional number in [0, ``top``] (null or absent: ``None``), as a float."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= top:
        bound = f"in [0, {top:g}]" if top != float("inf") else ">= 0"
        raise InvalidEvent(f"field {name!r} must be a number {bound} or null, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class AnnotationQuality:
    """What a ``submitted``, ``skipped`` or ``deleted`` fact says of the annotation, for
    annotator performance, evaluation and reliability (all optional on the wire).

    ``pairs``: its pair score with each other counted annotation of the task, by
    annotation id; ``ground_truth_score``: its agreement with the task's ground truth;
    ``label``: its single classification label; ``lead_time``: seconds spent on it;
    ``agreement``: the task's agreement after the fact's event (``None`` while no
    annotation counts), which orders the review queue.
    """

    annotation_id: str
    pairs: Mapping[str, float]
    ground_truth_score: float | None = None
    label: str | None = None
    lead_time: float | None = None
    agreement: float | None = None


_QUALITY_KINDS = frozenset({"submitted", "skipped", "deleted"})


def _quality(body: Mapping[str, Any]) -> AnnotationQuality | None:
    """The optional annotation fields of a fact; ``None`` without ``annotation_id``."""
    if body.get("annotation_id") is None:
        return None
    annotation_id = require_str_id(body, "annotation_id")
    pairs = body.get("pairs") or {}
    if not isinstance(pairs, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and 0.0 <= v <= 1.0
            for v in pairs.values()):
        raise InvalidEvent("field 'pairs' must map annotation ids to scores in [0, 1]")
    ground_truth_score = _optional_number(body, "ground_truth_score", 1.0)
    lead_time = _optional_number(body, "lead_time", float("inf"))
    agreement = _optional_number(body, "agreement", 1.0)
    label = body.get("label")
    if label is not None and not isinstance(label, str):
        raise InvalidEvent(f"field 'label' must be a string or null, got {kind_of(label)}")
    return AnnotationQuality(annotation_id, {str(k): float(v) for k, v in pairs.items()},
                             ground_truth_score, label, lead_time, agreement)


_SCORE_FIELDS = ("annotators", "consensus", "ground_truth")


def _model_scores(body: Mapping[str, Any]) -> dict[str, PredictionScore]:
    """The ``scores`` of a model-scores fact: prediction id -> ``model_version`` and the
    prediction's agreement with the ``annotators``, the ``consensus`` and the
    ``ground_truth``, each a number in [0, 1] or null."""
    scores = body.get("scores")
    if not isinstance(scores, dict):
        raise InvalidEvent(
            "a model-scores fact needs 'scores', an object of prediction id -> {model_version, "
            f"annotators, consensus, ground_truth}}, got {kind_of(scores)}"
        )
    parsed: dict[str, PredictionScore] = {}
    for key, score in scores.items():
        if not key:
            raise InvalidEvent("field 'scores' has an empty prediction id")
        if not isinstance(score, dict):
            raise InvalidEvent(f"scores[{key!r}] must be an object, got {kind_of(score)}")
        try:
            version = require_str_id(score, "model_version")
        except InvalidEvent as exc:
            raise InvalidEvent(f"scores[{key!r}]: {exc}") from None
        values = []
        for name in _SCORE_FIELDS:
            value = score.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                      or not 0 <= value <= 1):
                raise InvalidEvent(f"scores[{key!r}].{name} must be a number in [0, 1] or "
                                   f"null, got {value!r}")
            values.append(None if value is None else float(value))
        parsed[key] = PredictionScore(version, *values)
    return parsed


def parse_workflow_event(raw: bytes) -> WorkflowEvent:
    """Decode and validate one message value; raise ``InvalidEvent`` with the reason."""
    return workflow_event_from_dict(decode_object(raw))


def workflow_event_from_dict(body: Mapping[str, Any]) -> WorkflowEvent:
    """Validate an already decoded event body."""
    schema = body.get("schema")
    if not isinstance(schema, str) or schema not in KINDS:
        raise InvalidEvent(
            f"unknown schema {schema!r}: the workflow topic carries "
            f"{', '.join(repr(name) for name in KINDS)}"
        )
    kinds = KINDS[schema]
    kind = require_str(body, "kind")
    if kind not in kinds:
        raise InvalidEvent(
            f"field 'kind' of a {schema} event must be one of {', '.join(kinds)}; got {kind!r}"
        )
    occurred_at = require_timestamp(body)
    event_id = require_str_id(body, "event_id")
    project_id = require_str_id(body, "project_id")
    needs = _NEEDS[schema, kind]
    try:
        task_id = require_str_id(body, _TASK) if _TASK in needs else None
        annotator = require_str_id(body, _ANNOTATOR) if _ANNOTATOR in needs else None
        annotators = require_int(body, _ANNOTATORS) if _ANNOTATORS in needs else None
    except InvalidEvent as exc:
        # Say which kind needs the field: the producer may have sent the wrong kind.
        raise InvalidEvent(f"{exc} (a {schema} '{kind}' event needs {', '.join(needs)})") from None
    quality = _quality(body) if schema == FACT_SCHEMA and kind in _QUALITY_KINDS else None
    if kind == "deleted" and schema == FACT_SCHEMA:
        if quality is None:
            raise InvalidEvent("a deleted fact needs 'annotation_id'")
        # Optional: the annotator whose seat the deletion frees, absent when it frees none.
        annotator = optional_str_id(body, _ANNOTATOR)
    review = _review(body) if schema == FACT_SCHEMA and kind == "reviewed" else None
    scores = _model_scores(body) if schema == FACT_SCHEMA and kind == "model-scores" else None
    marked = was_marked = truth_scores = None
    if schema == FACT_SCHEMA and kind == "ground-truth":
        marked, was_marked, truth_scores = _ground_truth(body)
    return WorkflowEvent(
        schema, event_id, project_id, occurred_at, kind, task_id, annotator, annotators,
        quality, review, scores, marked, was_marked, truth_scores,
    )


def _ground_truth(body: Mapping[str, Any]
                  ) -> tuple[bool, bool | None, dict[str, float | None] | None]:
    """``marked``, ``was_marked`` and ``ground_truth_scores`` of a ground-truth fact (the
    last two absent from facts written before them)."""
    marked = body.get("marked")
    if not isinstance(marked, bool):
        raise InvalidEvent(f"field 'marked' of a ground-truth fact must be true or false, "
                           f"got {kind_of(marked)}")
    was_marked = body.get("was_marked")
    if was_marked is not None and not isinstance(was_marked, bool):
        raise InvalidEvent(f"field 'was_marked' of a ground-truth fact must be true, false or "
                           f"absent, got {kind_of(was_marked)}")
    scores = body.get("ground_truth_scores")
    if scores is None:
        return marked, was_marked, None
    if not isinstance(scores, dict) or not all(
            value is None or (isinstance(value, int | float) and not isinstance(value, bool)
                              and 0.0 <= value <= 1.0)
            for value in scores.values()):
        raise InvalidEvent("field 'ground_truth_scores' must map annotation ids to scores in "
                           "[0, 1] or null")
    return marked, was_marked, {str(k): None if v is None else float(v)
                                for k, v in scores.items()}


def task_event(
    project_id: str,
    task_id: str,
    kind: str,
    *,
    event_id: str | None = None,
    occurred_at: str | None = None,
) -> dict[str, Any]:
    """A ``quorum.task/v1`` body: ``kind`` is ``imported`` or ``deleted``.

    ``event_id`` defaults to a fresh uuid4 hex, ``occurred_at`` to now (UTC, ISO 8601).
    """
    _check_kind(TASK_SCHEMA, kind)
    return {
        **_envelope(TASK_SCHEMA, project_id, event_id, occurred_at),
        "kind": kind,
        "task_id": task_id,
    }


def annotator_event(
    project_id: str,
    annotator: str,
    kind: str,
    *,
    event_id: str | None = None,
    occurred_at: str | None = None,
) -> dict[str, Any]:
    """A ``quorum.annotator/v1`` body: ``kind`` is joined, left, paused or resumed.

    ``event_id`` defaults to a fresh uuid4 hex, ``occurred_at`` to now (UTC, ISO 8601).
    """
    _check_kind(ANNOTATOR_SCHEMA, kind)
    return {
        **_envelope(ANNOTATOR_SCHEMA, project_id, event_id, occurred_at),
        "kind": kind,
        "annotator": annotator,
    }


def fact_body(
    *,
    event_id: str,
    project_id: str,
    occurred_at: str,
    kind: str,
    task_id: str,
    annotator: str | None = None,
    annotators: int | None = None,
    quality: Mapping[str, Any] | None = None,
    review: Mapping[str, Any] | None = None,
    scores: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A ``quorum.workflow-fact/v1`` body, as the annotations agent writes it.

    Nothing is generated: the agent passes deterministic ids and the source event's time,
    so that a replayed batch writes the same facts. ``annotator`` and ``annotators`` are
    written only when given; ``scores`` (a model-scores fact's prediction id ->
    ``model_version``, ``annotators``, ``consensus``, ``ground_truth``) likewise, even
    empty.
    """
    _check_kind(FACT_SCHEMA, kind)
    body: dict[str, Any] = {
        **_envelope(FACT_SCHEMA, project_id, event_id, occurred_at),
        "kind": kind,
        "task_id": task_id,
    }
    if annotator is not None:
        body["annotator"] = annotator
    if annotators is not None:
        body["annotators"] = annotators
    if quality is not None:
        # annotation_id, pairs, ground_truth_score, label, lead_time, agreement
        body.update(quality)
    if review is not None:
        body.update(review)  # annotation_id, reviewer, action, score, requeue, agreement
    if scores is not None:
        body["scores"] = scores
    return body


def _envelope(
    schema: str, project_id: str, event_id: str | None, occurred_at: str | None
) -> dict[str, Any]:
    return {
        "schema": schema,
        "event_id": event_id if event_id is not None else uuid.uuid4().hex,
        "project_id": project_id,
        "occurred_at": (
            occurred_at if occurred_at is not None else datetime.now(UTC).isoformat()
        ),
    }


def _check_kind(schema: str, kind: str) -> None:
    """A builder called with a kind its schema lacks is a bug in the caller: say so now,
    not later as a dead letter."""
    if kind not in KINDS[schema]:
        raise ValueError(f"a {schema} event's kind must be one of "
                         f"{', '.join(KINDS[schema])}; got {kind!r}")
