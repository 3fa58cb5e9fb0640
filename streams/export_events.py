"""A Label Studio JSON export as Quorum annotation events, to stream a finished project.

Each annotation of each task becomes one ``quorum.annotation/v1`` event: ``created``
(``skipped`` when Label Studio says ``was_cancelled``), its ``result`` unchanged, the
annotator from ``completed_by``. Predictions are left out: they are not annotations, and
the stream keeps them apart. Event ids are derived from the export's ids, so sending the
same export twice changes nothing (the second copy is a duplicate of every event).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from agreement.label_studio import annotator_of, read_export
from streams.models.annotation import ANNOTATION_SCHEMA

# Label Studio writes ``created_at`` on every exported annotation; older exports may not.
_FALLBACK_TIME = datetime(1970, 1, 1, tzinfo=UTC).isoformat()


def annotation_events(export: object, project_id: str) -> Iterator[dict[str, Any]]:
    """The events of every annotation in ``export`` (a decoded Label Studio JSON export).

    Raises ``ValueError`` (from :func:`agreement.label_studio.read_export`) when ``export``
    is not an export; an annotation without an annotator or an id is refused the same way.
    """
    for task in read_export(export):
        for annotation in task.annotations:
            yield _event(project_id, str(task.id), annotation)


def _event(project_id: str, task_id: str, annotation: Mapping[str, Any]) -> dict[str, Any]:
    annotation_id = annotation.get("id")
    if annotation_id is None:
        raise ValueError(
            f"task {task_id}: an annotation has no 'id'; export again from Label Studio"
        )
    annotator = annotator_of(annotation)
    if annotator is None:
        raise ValueError(
            f"task {task_id}, annotation {annotation_id}: no 'completed_by'; an annotation "
            "needs its annotator"
        )
    return {
        "schema": ANNOTATION_SCHEMA,
        "event_id": f"label-studio-export:{project_id}:{task_id}:{annotation_id}",
        "project_id": project_id,
        "task_id": task_id,
        "occurred_at": _timestamp(annotation),
        "kind": "skipped" if annotation.get("was_cancelled") else "created",
        "annotation_id": str(annotation_id),
        "revision": 1,
        "completed_by": annotator,
        "result": annotation.get("result") or [],
        "ground_truth": bool(annotation.get("ground_truth")),
        "lead_time": _lead_time(annotation.get("lead_time")),
    }


def _lead_time(value: object) -> float | None:
    """Label Studio's seconds spent on the annotation, when it is a usable number (some
    exports carry null or, from old versions, nothing)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if 0 <= value < math.inf else None


def _timestamp(annotation: Mapping[str, Any]) -> str:
    for name in ("updated_at", "created_at"):
        value = annotation.get(name)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
            return parsed.isoformat()
    return _FALLBACK_TIME
