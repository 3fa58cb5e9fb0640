"""A Label Studio JSON export as Quorum annotation events, to stream a finished project.

Each annotation of each task becomes one ``quorum.annotation/v1`` event: ``created``
(``skipped`` when Label Studio says ``was_cancelled``), its ``result`` unchanged, the
annotator from ``completed_by``. Each prediction becomes one too, with its
``model_version`` as the author: it never counts toward the overlap, and a project that
tracks quality scores its model versions with it. Label Studio numbers predictions apart
from annotations, so a prediction's id in the stream is ``prediction-<id>``.

The revision is the annotation's ``updated_at`` in microseconds, as for the webhook
receiver (:mod:`streams.label_studio_webhook`), which builds its events here too: sending
the same export twice changes nothing (every event of the second copy is at a revision
already stored), a version the webhooks delivered is not applied again, and an export
taken after an update the webhooks missed brings the newer version in.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from agreement.label_studio import annotator_of, read_export
from streams.models.annotation import ANNOTATION_SCHEMA

# Label Studio writes ``created_at`` on every exported annotation; older exports may not.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FALLBACK_TIME = _EPOCH.isoformat()


# Label Studio lets a prediction be imported without a model version; the stream needs
# one to score it by.
UNVERSIONED = "unversioned"


def annotation_events(export: object, project_id: str) -> Iterator[dict[str, Any]]:
    """The events of every annotation in ``export`` (a decoded Label Studio JSON export),
    each task's predictions after its annotations.

    Raises ``ValueError`` (from :func:`agreement.label_studio.read_export`) when ``export``
    is not an export; an annotation without an annotator or an id, or a prediction
    without an id, is refused the same way.
    """
    for task in read_export(export):
        for annotation in task.annotations:
            yield annotation_event(project_id, str(task.id), annotation,
                                   source="label-studio-export")
        for prediction in task.predictions:
            yield prediction_event(project_id, str(task.id), prediction,
                                   source="label-studio-export")


def prediction_annotation_id(prediction_id: object) -> str:
    """A Label Studio prediction's annotation id in the stream (``prediction-<id>``; not
    :func:`streams.state.task.prediction_key`, the key a stored prediction scores under)."""
    return f"prediction-{prediction_id}"


def prediction_event(project_id: str, task_id: str, prediction: Mapping[str, Any], *,
                     source: str) -> dict[str, Any]:
    """One Label Studio prediction as a ``quorum.annotation/v1`` body (``model_version``
    instead of ``completed_by``; :data:`UNVERSIONED` when it has none). Raises
    ``ValueError`` naming the task when the prediction has no id."""
    raw_id = prediction.get("id")
    if raw_id is None or isinstance(raw_id, bool):
        raise ValueError(
            f"task {task_id}: a prediction has no 'id'; export again from Label Studio")
    annotation_id = prediction_annotation_id(raw_id)
    version = prediction.get("model_version")
    occurred_at, revision = _version(prediction)
    return {
        "schema": ANNOTATION_SCHEMA,
        "event_id": f"{source}:{project_id}:{task_id}:{annotation_id}:{revision}",
        "project_id": project_id,
        "task_id": task_id,
        "occurred_at": occurred_at,
        "kind": "created",
        "annotation_id": annotation_id,
        "revision": revision,
        "model_version": str(version) if version not in (None, "") else UNVERSIONED,
        "result": prediction.get("result") or [],
    }


def annotation_event(
    project_id: str, task_id: str, annotation: Mapping[str, Any], *, source: str,
    updated: bool = False, task_overlap: int | None = None,
) -> dict[str, Any]:
    """One Label Studio annotation as a ``quorum.annotation/v1`` body.

    ``source`` starts the event id (which ends with the revision: one id per version);
    ``updated`` makes it an ``updated`` event (the same to the stream: both carry the
    whole result). Raises ``ValueError`` naming the task and annotation when the
    annotation has no id or no annotator. ``task_overlap`` is Label Studio's overlap of
    the task when the caller knows it (a webhook's task object; exports do not carry it).
    """
    annotation_id = annotation.get("id")
    if annotation_id is None or isinstance(annotation_id, bool):
        raise ValueError(
            f"task {task_id}: an annotation has no 'id'; export again from Label Studio"
        )
    annotator = annotator_of(annotation)
    if annotator is None:
        raise ValueError(
            f"task {task_id}, annotation {annotation_id}: no 'completed_by'; an annotation "
            "needs its annotator"
        )
    occurred_at, revision = _version(annotation)
    kind = "skipped" if annotation.get("was_cancelled") else "updated" if updated else "created"
    event = {
        "schema": ANNOTATION_SCHEMA,
        "event_id": f"{source}:{project_id}:{task_id}:{annotation_id}:{revision}",
        "project_id": project_id,
        "task_id": task_id,
        "occurred_at": occurred_at,
        "kind": kind,
        "annotation_id": str(annotation_id),
        "revision": revision,
        "completed_by": annotator,
        "result": annotation.get("result") or [],
        "ground_truth": bool(annotation.get("ground_truth")),
        "lead_time": _lead_time(annotation.get("lead_time")),
    }
    if task_overlap is not None:
        event["task_overlap"] = task_overlap
    return event


def _lead_time(value: object) -> float | None:
    """Label Studio's seconds spent on the annotation, when it is a usable number (some
    exports carry null or, from old versions, nothing)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value < math.inf else None


def _version(annotation: Mapping[str, Any]) -> tuple[str, int]:
    """When the annotation was last saved (ISO 8601) and that time in microseconds since
    the epoch, its revision: Label Studio has no revision counter, but every save moves
    ``updated_at`` forward. Without a usable time (old exports), revision 1."""
    for name in ("updated_at", "created_at"):
        value = annotation.get(name)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)  # Label Studio writes UTC
            micros = (parsed - _EPOCH) // timedelta(microseconds=1)
            return parsed.isoformat(), max(micros, 1)
    return _FALLBACK_TIME, 1
