"""Output events: schema names and the builders of their bodies.

Every output carries the envelope (``schema``, ``event_id``, ``project_id``, ``task_id``,
``occurred_at``) and a deterministic ``event_id`` of ``<partition>:<offset>:<n>``: the
input partition and offset that caused it and its rank among that input's outputs, so a
replay produces the same ids and a consumer can drop duplicates by id. ``occurred_at`` is
the causing input's timestamp, never the wall clock, for the same reason.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson

from streams.models.invalid import InvalidEvent, decode_object, optional_str_id

TASK_QUALITY = "quorum.task-quality/v1"
REASSIGN_REQUESTED = "quorum.reassign-requested/v1"
REVIEW_REQUESTED = "quorum.review-requested/v1"
TASK_COMPLETED = "quorum.task-completed/v1"
DEAD_LETTER = "quorum.dead-letter/v1"

# Which output topic (short name, see streams.topics) carries which schema.
TOPIC_OF_SCHEMA = {
    TASK_QUALITY: "task-quality",
    REASSIGN_REQUESTED: "assignments",
    REVIEW_REQUESTED: "review-requests",
    TASK_COMPLETED: "task-completed",
    DEAD_LETTER: "dead-letter",
}

# The dead-letter topic keeps enough of a refused message to diagnose it, not all of a
# 10 MB one: the producer still has the original.
DEAD_LETTER_MAX_ORIGINAL_BYTES = 64 * 1024


# Not frozen: built once or twice per input event, and a frozen dataclass costs five times
# as much to build. Nothing changes an output after the core made it. Its own __init__:
# mypyc compiles it, while the one dataclasses would write runs as Python.
@dataclass(slots=True, init=False)
class OutputEvent:
    """One event to publish: the short topic name, the message key and the body as JSON.

    Made by :func:`output`, which encodes the body at once: its dict is freed while the
    processor still has it in cache. Encoded a stage later, with the whole batch, the
    thousands of dicts of a backlog's batch cost about 1.5 us more per event
    (bench/README.md, session 23).
    """

    topic: str
    key: str
    encoded: bytes

    def __init__(self, topic: str, key: str, encoded: bytes) -> None:
        self.topic = topic
        self.key = key
        self.encoded = encoded

    @property
    def body(self) -> dict[str, Any]:
        """The body, decoded again (tests, diagnostics; the hot path never needs it)."""
        body: dict[str, Any] = orjson.loads(self.encoded)
        return body


def output(topic: str, key: str, body: dict[str, Any]) -> OutputEvent:
    """An output event with its body encoded now (see :class:`OutputEvent`)."""
    return OutputEvent(topic, key, orjson.dumps(body))


def event_id(partition: int, offset: int, rank: int) -> str:
    """The deterministic id of the ``rank``-th output caused by one input message."""
    return f"{partition}:{offset}:{rank}"


def dead_letter_body(
    *, reason: str, topic: str, partition: int, offset: int, original: bytes, eid: str
) -> dict[str, Any]:
    """Body of a dead letter: the reason a person can act on and the original bytes.

    Its envelope's ``project_id``, ``task_id`` and ``occurred_at`` are the original's
    where it is a JSON object that has them as ids and text (so that refusals can be
    counted per project), else null."""
    kept = original[:DEAD_LETTER_MAX_ORIGINAL_BYTES]
    text, encoding = base64.b64encode(kept).decode("ascii"), "base64"
    # A cut may split the last UTF-8 character (up to 3 bytes of it): text is still text.
    for cut in range(4 if len(kept) < len(original) else 1):
        try:
            text, encoding = kept[: len(kept) - cut].decode("utf-8"), "utf-8"
            break
        except UnicodeDecodeError:
            continue
    project_id, task_id, occurred_at = _envelope_of(original)
    return {
        "schema": DEAD_LETTER,
        "event_id": eid,
        "project_id": project_id,
        "task_id": task_id,
        "occurred_at": occurred_at,
        "reason": reason,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "original": text,
        "original_encoding": encoding,
        "original_size": len(original),
        "original_truncated": len(kept) < len(original),
    }


def _envelope_of(original: bytes) -> tuple[str | None, str | None, str | None]:
    """The refused message's project, task and time, where it has them; read only from
    a message small enough to decode again cheaply (a refusal is rare, a 10 MB one
    rarer: its envelope stays null)."""
    try:
        body = decode_object(original, max_bytes=DEAD_LETTER_MAX_ORIGINAL_BYTES)
    except InvalidEvent:
        return None, None, None
    occurred_at = body.get("occurred_at")
    return (_optional_id(body, "project_id"), _optional_id(body, "task_id"),
            occurred_at if isinstance(occurred_at, str) else None)


def _optional_id(body: dict[str, Any], field: str) -> str | None:
    """The field as the events' ids are read (text, or a Label Studio integer); None
    where it is absent or not an id."""
    try:
        return optional_str_id(body, field)
    except InvalidEvent:
        return None


ASSIGNMENT = "quorum.assignment/v1"
ANNOTATOR_QUALITY = "quorum.annotator-quality/v1"
ANNOTATOR_PAUSED = "quorum.annotator-paused/v1"
ANNOTATOR_UNPAUSED = "quorum.annotator-unpaused/v1"
CONSENSUS_LABEL = "quorum.consensus-label/v1"
TOPIC_OF_SCHEMA[ASSIGNMENT] = "assignments"
TOPIC_OF_SCHEMA[ANNOTATOR_QUALITY] = "annotator-quality"
TOPIC_OF_SCHEMA[ANNOTATOR_PAUSED] = "annotator-quality"
TOPIC_OF_SCHEMA[ANNOTATOR_UNPAUSED] = "annotator-quality"
TOPIC_OF_SCHEMA[CONSENSUS_LABEL] = "consensus-labels"


def quality_output(
    outcome: Any, *, event_id: str, project_id: str, occurred_at: str
) -> tuple[str, str, dict[str, Any]]:
    """(short topic, key, body) of an annotator-quality or consensus outcome.

    ``quorum.annotator-quality/v1``: an annotator's numbers after a change (submitted,
    skipped, agreement with others, reliability, ground-truth score and tasks, lead
    times, paused); ``quorum.annotator-paused/v1`` / ``-unpaused/v1``: the evaluation
    paused them (below the minimum ground-truth score) or relaxed settings unpaused them;
    ``quorum.consensus-label/v1``: a task's reliability-weighted consensus label changed.
    """
    kind = type(outcome).__name__
    envelope = {"event_id": event_id, "project_id": project_id, "occurred_at": occurred_at}
    if kind == "ConsensusChanged":
        body = {"schema": CONSENSUS_LABEL, **envelope, "task_id": outcome.task,
                "label": outcome.label, "posterior": outcome.posterior,
                "previous": outcome.previous}
        return TOPIC_OF_SCHEMA[CONSENSUS_LABEL], f"{project_id}:{outcome.task}", body
    if kind == "AnnotatorQuality":
        body = {"schema": ANNOTATOR_QUALITY, **envelope, "annotator": outcome.annotator,
                "submitted": outcome.submitted, "skipped": outcome.skipped,
                "agreement": outcome.agreement, "reliability": outcome.reliability,
                "ground_truth_score": outcome.ground_truth_score,
                "ground_truth_tasks": outcome.ground_truth_tasks,
                "lead_time_mean": outcome.lead_time_mean,
                "lead_time_median": outcome.lead_time_median, "paused": outcome.paused,
                "reviewed": outcome.reviewed, "acceptance_score": outcome.acceptance_score,
                "performance_score": outcome.performance_score}
    elif kind in ("AnnotatorPaused", "AnnotatorUnpaused"):
        schema = ANNOTATOR_PAUSED if kind == "AnnotatorPaused" else ANNOTATOR_UNPAUSED
        body = {"schema": schema, **envelope, "annotator": outcome.annotator,
                "ground_truth_score": outcome.score, "ground_truth_tasks": outcome.tasks,
                "reason": outcome.reason}
    else:
        raise TypeError(f"not a quality outcome: {outcome!r}")
    return TOPIC_OF_SCHEMA[body["schema"]], f"{project_id}:{outcome.annotator}", body


def assignment_body(
    outcome: Any, *, event_id: str, project_id: str, occurred_at: str
) -> dict[str, Any]:
    """A ``quorum.assignment/v1`` event for what the distribution decided.

    ``kind``: ``assigned`` (a task reserved for an annotator: ``queue`` says why,
    ``expires_at`` when it returns to the pool, null for rework that waits),
    ``released`` (a reservation ended: ``reason``), ``unfillable`` (``needed`` free
    seats, only ``available`` annotators who could take them).
    """
    body: dict[str, Any] = {
        "schema": ASSIGNMENT,
        "event_id": event_id,
        "project_id": project_id,
        "task_id": outcome.task,
        "occurred_at": occurred_at,
    }
    kind = type(outcome).__name__
    if kind == "Assignment":
        body.update(kind="assigned", annotator=outcome.annotator, queue=outcome.queue.value,
                    expires_at=None if outcome.expires_at is None
                    else _iso(outcome.expires_at))
    elif kind == "ReservationReleased":
        body.update(kind="released", annotator=outcome.annotator, reason=outcome.reason.value)
    elif kind == "TaskUnfillable":
        body.update(kind="unfillable", needed=outcome.needed, available=outcome.available)
    else:
        raise TypeError(f"not a distribution outcome: {outcome!r}")
    return body


def _iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).isoformat()


MODEL_QUALITY = "quorum.model-quality/v1"
MODEL_REGRESSED = "quorum.model-regressed/v1"
MODEL_RECOVERED = "quorum.model-recovered/v1"
TOPIC_OF_SCHEMA[MODEL_QUALITY] = "model-quality"
TOPIC_OF_SCHEMA[MODEL_REGRESSED] = "model-quality"
TOPIC_OF_SCHEMA[MODEL_RECOVERED] = "model-quality"


def model_output(
    outcome: Any, *, event_id: str, project_id: str, occurred_at: str
) -> tuple[str, str, dict[str, Any]]:
    """(short topic, key ``project:model_version``, body) of a model evaluation outcome.

    ``quorum.model-quality/v1``: a model version's agreement after a change, over all its
    scored predictions: with the annotators, with the consensus and with ground truth
    (each a mean in [0, 1] or null, and the ``*_tasks`` it is the mean over), its
    ``predictions`` and when it was ``first_seen``. ``quorum.model-regressed/v1``: the
    version does worse than the one before it (``previous_version``) on ``metric``: its
    mean ``agreement`` is more than ``margin`` below ``previous_agreement``.
    ``quorum.model-recovered/v1``: that regression no longer holds, for ``reason``
    (``within_margin``, ``too_few_scored_tasks``, ``no_previous_version``,
    ``no_longer_watched``), with the figures now (``previous_version`` and the
    agreements may be null); a new fall is reported again.
    """
    kind = type(outcome).__name__
    envelope = {"event_id": event_id, "project_id": project_id, "occurred_at": occurred_at}
    if kind == "ModelQuality":
        scores = outcome.scores
        body = {"schema": MODEL_QUALITY, **envelope, "model_version": outcome.model_version,
                "first_seen": _iso(scores.start), "predictions": scores.predictions}
        for metric in ("annotators", "consensus", "ground_truth"):
            figure = getattr(scores, metric)
            body[f"{metric}_agreement"] = figure.mean
            body[f"{metric}_tasks"] = figure.count
        version = outcome.model_version
    elif kind == "ModelRegressed":
        body = {"schema": MODEL_REGRESSED, **envelope, "model_version": outcome.new_version,
                "previous_version": outcome.previous_version, "metric": outcome.metric.value,
                "agreement": outcome.new, "previous_agreement": outcome.previous,
                "margin": outcome.margin}
        version = outcome.new_version
    elif kind == "ModelRecovered":
        body = {"schema": MODEL_RECOVERED, **envelope, "model_version": outcome.new_version,
                "previous_version": outcome.previous_version, "metric": outcome.metric.value,
                "agreement": outcome.new, "previous_agreement": outcome.previous,
                "margin": outcome.margin, "reason": outcome.reason.value}
        version = outcome.new_version
    else:
        raise TypeError(f"not a model evaluation outcome: {outcome!r}")
    return TOPIC_OF_SCHEMA[body["schema"]], f"{project_id}:{version}", body


TASK_REVIEWED = "quorum.task-reviewed/v1"
TOPIC_OF_SCHEMA[TASK_REVIEWED] = "task-completed"


def review_output(
    outcome: Any, *, event_id: str, project_id: str, occurred_at: str
) -> tuple[str, str, dict[str, Any]]:
    """(short topic, key, body) of a review-desk outcome.

    ``quorum.task-reviewed/v1`` (on ``task-completed``): the task met the project's
    review criteria (one accepted annotation, or all reviewed). ``quorum.review-requested/v1``
    (on ``review-requests``): the desk wants a reviewer's eyes on the task, with
    ``reason`` (e.g. ``rejected``: an annotation rejected before was resubmitted).
    """
    key = f"{project_id}:{outcome.task}"
    envelope = {"event_id": event_id, "project_id": project_id, "task_id": outcome.task,
                "occurred_at": occurred_at}
    if type(outcome).__name__ == "TaskReviewed":
        return TOPIC_OF_SCHEMA[TASK_REVIEWED], key, {"schema": TASK_REVIEWED, **envelope}
    body = {"schema": REVIEW_REQUESTED, **envelope, "reason": outcome.reason.value,
            "annotation_id": outcome.annotation, "score": outcome.score}
    return TOPIC_OF_SCHEMA[REVIEW_REQUESTED], key, body
