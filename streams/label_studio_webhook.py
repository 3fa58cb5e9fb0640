"""Label Studio's webhooks as Quorum events: what the receiver (``POST /label-studio/webhook``
of ``quorum worker``, :mod:`streams.label_studio_receiver`) sends for each payload.

Pure: the receiver looks up what a payload does not say (the task of a deleted annotation,
the project's configuration) and hands it in.

- ``ANNOTATION_CREATED``, ``ANNOTATIONS_CREATED``, ``ANNOTATION_UPDATED``: one
  ``quorum.annotation/v1`` event per annotation, as for an export
  (:func:`streams.export_events.annotation_event`): the revision is ``updated_at`` in
  microseconds, so a webhook delivered twice, or an export of a version already sent,
  changes nothing.
- ``ANNOTATIONS_DELETED``: Label Studio sends only the annotations' ids, so the receiver
  keeps each annotation's task when it sees it created or updated (``quorum send-export``
  keeps them too), and a delete of an annotation it never saw is refused with that
  reason. A delete is final (Label Studio never reuses an annotation id), so its revision
  is above any ``updated_at``, and a delete delivered twice changes nothing.
- ``TASKS_DELETED``: a deletion of each annotation the stream holds for the task (Label
  Studio sends no annotation deletions with it), so the task leaves the project's
  figures; and for a project whose tasks Quorum distributes (``--distribute``), a
  ``quorum.task/v1`` deletion.
- ``TASKS_CREATED``: ``quorum.task/v1`` imports, for a distributing project; ignored
  otherwise.
- Anything else (project and label-link actions) is acknowledged and ignored.

The Quorum project is the Label Studio project's id, or the ``project`` query parameter of
the webhook's URL. The payload's ``project`` object carries the project's secret token:
nothing here keeps or logs it; only its labeling settings are read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from streams.export_events import annotation_event
from streams.models.annotation import ANNOTATION_SCHEMA
from streams.models.invalid import InvalidEvent, kind_of
from streams.models.project import PROJECT_SCHEMA
from streams.models.workflow import task_event

WEBHOOK_PATH = "/label-studio/webhook"
EVENT_SOURCE = "label-studio-webhook"

ANNOTATION_ACTIONS = frozenset({"ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED"})
DELETE_ACTION = "ANNOTATIONS_DELETED"
TASK_ACTIONS = {"TASKS_CREATED": "imported", "TASKS_DELETED": "deleted"}

# Label Studio's ``skip_queue`` -> Quorum's ``skip_mode``: "ignore skipped" makes a skip
# count toward the task's overlap, as count_as_done does.
_SKIP_MODES = {"REQUEUE_FOR_ME": "requeue_for_me", "REQUEUE_FOR_OTHERS": "requeue_for_others",
               "IGNORE_SKIPPED": "count_as_done"}

# Above every ``updated_at`` in microseconds (until the year 2255), and exact in JSON
# numbers everywhere (2**53 - 1).
DELETED_REVISION = 2**53 - 1


@dataclass(frozen=True, slots=True)
class Webhook:
    """A payload's parts Quorum uses. ``project`` is Label Studio's project object, held
    only to configure a project that has no configuration yet."""

    action: str
    project_id: str
    project: Mapping[str, Any] | None
    annotations: list[Mapping[str, Any]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # annotation ids
    tasks: list[str] = field(default_factory=list)  # task ids (TASKS_*)
    # task id -> Label Studio's overlap for it, from the payload's task objects: 1 for a
    # task outside the project's overlap cohort
    task_overlaps: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Translation:
    """What to send for one payload."""

    annotation_events: list[dict[str, Any]] = field(default_factory=list)
    task_events: list[dict[str, Any]] = field(default_factory=list)
    # annotation id -> task id, for the annotations' later deletion
    remember: dict[str, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # reasons, one per annotation or task
    ignored: str | None = None  # why nothing was sent, when the action is not used


def read_webhook(payload: object, *, project_id: str | None = None) -> Webhook:
    """The parts of a decoded payload Quorum uses; ``InvalidEvent`` says what is wrong.

    ``project_id`` (the URL's ``project`` parameter) names the Quorum project; without
    it the payload's project id does.
    """
    if not isinstance(payload, dict):
        raise InvalidEvent(f"a Label Studio webhook payload is a JSON object, got "
                           f"{kind_of(payload)}")
    action = payload.get("action")
    if not isinstance(action, str) or not action:
        raise InvalidEvent("missing field 'action': this is not a Label Studio webhook payload")
    project = payload.get("project")
    if project is not None and not isinstance(project, dict):
        raise InvalidEvent(f"field 'project' must be an object, got {kind_of(project)}")
    if project_id is None:
        project_id = _project_id(action, project, payload)
    if action in ANNOTATION_ACTIONS:
        return Webhook(action, project_id, project,
                       annotations=_objects(payload, "annotation", action),
                       task_overlaps=_task_overlaps(payload))
    if action == DELETE_ACTION:
        ids = [_id_of(item, "annotations") for item in _objects(payload, "annotations", action)]
        return Webhook(action, project_id, project, deleted=ids)
    if action in TASK_ACTIONS:
        ids = [_id_of(item, "tasks") for item in _objects(payload, "tasks", action)]
        return Webhook(action, project_id, project, tasks=ids)
    return Webhook(action, project_id, project)


def translate(
    webhook: Webhook,
    *,
    task_of: Mapping[str, str | None],
    distribute: bool,
    received_at: str,
    annotations_of: Mapping[str, list[str]] | None = None,
) -> Translation:
    """The events for ``webhook``.

    ``task_of`` maps each deleted annotation id to its task (None: never seen);
    ``distribute`` is whether Quorum distributes the project's tasks; ``received_at``
    (ISO 8601) dates deletions, which Label Studio does not date; ``annotations_of``
    maps each deleted task to the annotations the stream holds for it.
    """
    out = Translation()
    project_id = webhook.project_id
    if webhook.action in ANNOTATION_ACTIONS:
        updated = webhook.action == "ANNOTATION_UPDATED"
        for annotation in webhook.annotations:
            task_id = annotation.get("task")
            if task_id is None or isinstance(task_id, bool | dict | list):
                out.refused.append(f"annotation {annotation.get('id')!r} names no task "
                                   f"(field 'task' is {task_id!r})")
                continue
            try:
                event = annotation_event(project_id, str(task_id), annotation,
                                         source=EVENT_SOURCE, updated=updated,
                                         task_overlap=webhook.task_overlaps.get(str(task_id)))
            except ValueError as exc:
                out.refused.append(str(exc))
                continue
            out.annotation_events.append(event)
            out.remember[event["annotation_id"]] = event["task_id"]
    elif webhook.action == DELETE_ACTION:
        for annotation_id in webhook.deleted:
            task_id = task_of.get(annotation_id)
            if task_id is None:
                out.refused.append(
                    f"annotation {annotation_id} of project {project_id} was deleted, but "
                    "neither this receiver nor `quorum send-export` saw it, so its task is "
                    "unknown (Label Studio's delete webhook names only the annotation). If "
                    "the stream holds it, send its deletion with the task id: a "
                    "quorum.annotation/v1 event of kind 'deleted' (`quorum send`)"
                )
                continue
            out.annotation_events.append(deletion_event(project_id, task_id, annotation_id,
                                                   received_at))
    elif webhook.action in TASK_ACTIONS:
        if webhook.action == "TASKS_DELETED":
            for task_id in webhook.tasks:
                for annotation_id in (annotations_of or {}).get(task_id, ()):
                    out.annotation_events.append(
                        deletion_event(project_id, task_id, annotation_id, received_at))
        if not distribute:
            if not out.annotation_events:
                out.ignored = (f"project {project_id} does not distribute its tasks in "
                               "Quorum (`quorum project set --distribute`): task events "
                               "are not used")
        else:
            kind = TASK_ACTIONS[webhook.action]
            out.task_events = [label_studio_task_event(project_id, task_id, kind, received_at)
                               for task_id in webhook.tasks]
    else:
        out.ignored = f"Quorum does not use {webhook.action} webhooks"
    return out


def _task_overlaps(payload: Mapping[str, Any]) -> dict[str, int]:
    """Label Studio's overlap of each task the payload carries (``task``, or ``tasks`` in
    bulk payloads); a task object without a usable one is left out, not refused: the
    overlap only tells the cohort apart, and Quorum's own rule stands in for it."""
    found = payload.get("tasks")
    tasks = [payload.get("task")] + (found if isinstance(found, list) else [])
    overlaps: dict[str, int] = {}
    for task in tasks:
        if not isinstance(task, dict):
            continue
        task_id, overlap = task.get("id"), task.get("overlap")
        if (isinstance(task_id, int | str) and not isinstance(task_id, bool)
                and isinstance(overlap, int) and not isinstance(overlap, bool) and overlap >= 1):
            overlaps[str(task_id)] = overlap
    return overlaps


def project_config_body(webhook: Webhook) -> dict[str, Any] | None:
    """A ``quorum.project/v1`` body from the payload's project, for a project that has no
    configuration yet: its labeling config and control weights (each tag's metric), its
    overlap (``maximum_annotations``), overlap cohort and skip queue (``skip_mode``); no
    agreement threshold (Label Studio's open-source edition has none); its annotators'
    and models' quality tracked (``track_quality``). None when the
    payload has no labeling config.

    Only these fields are read: the project object also holds its secret token.
    """
    project = webhook.project
    if project is None or not isinstance(project.get("label_config"), str):
        return None
    body: dict[str, Any] = {
        "schema": PROJECT_SCHEMA,
        "project_id": webhook.project_id,
        "label_config": project["label_config"],
        "control_weights": project.get("control_weights") or None,
        # Label Studio hands out its tasks; its Community edition has no annotator or
        # model evaluation, which is what a Label Studio team comes to Quorum for.
        "track_quality": True,
    }
    overlap = project.get("maximum_annotations")
    if isinstance(overlap, int) and not isinstance(overlap, bool) and overlap >= 1:
        body["annotations_per_task"] = overlap
    cohort = project.get("overlap_cohort_percentage")
    if isinstance(cohort, int | float) and not isinstance(cohort, bool):
        body["overlap_cohort_percentage"] = cohort
    skip_queue = project.get("skip_queue")
    if isinstance(skip_queue, str) and skip_queue in _SKIP_MODES:
        body["skip_mode"] = _SKIP_MODES[skip_queue]
    return body


def label_studio_task_event(project_id: str, task_id: str, kind: str,
                            occurred_at: str) -> dict[str, Any]:
    """A Label Studio task's ``quorum.task/v1`` import or deletion: one event id per task
    and kind, whoever sends it (the receiver, ``connect``)."""
    return task_event(project_id, task_id, kind, occurred_at=occurred_at,
                      event_id=f"{EVENT_SOURCE}:{project_id}:task:{task_id}:{kind}")


def deletion_event(project_id: str, task_id: str, annotation_id: str,
                   received_at: str) -> dict[str, Any]:
    """A Label Studio annotation's deletion: one event id per annotation (whoever sends
    it), at the revision past every save, so no later delivery of a version brings it
    back."""
    return {
        "schema": ANNOTATION_SCHEMA,
        "event_id": f"{EVENT_SOURCE}:{project_id}:{task_id}:{annotation_id}:deleted",
        "project_id": project_id,
        "task_id": task_id,
        "occurred_at": received_at,
        "kind": "deleted",
        "annotation_id": annotation_id,
        "revision": DELETED_REVISION,
    }


def _project_id(action: str, project: Mapping[str, Any] | None,
                payload: Mapping[str, Any]) -> str:
    candidates: list[object] = [project.get("id") if project is not None else None]
    annotation = payload.get("annotation")
    if isinstance(annotation, dict):
        candidates.append(annotation.get("project"))
    for candidate in candidates:
        if isinstance(candidate, int) and not isinstance(candidate, bool):
            return str(candidate)
        if isinstance(candidate, str) and candidate:
            return candidate
    raise InvalidEvent(
        f"the {action} payload names no project: add ?project=<Quorum project id> to the "
        "webhook's URL"
    )


def _objects(payload: Mapping[str, Any], key: str, action: str) -> list[Mapping[str, Any]]:
    """``payload[key]``: one object or a list of them (``ANNOTATIONS_CREATED`` sends a list
    under ``annotation``)."""
    value = payload.get(key)
    items: Sequence[object] = ()
    if isinstance(value, dict):
        items = [value]
    elif isinstance(value, list):
        items = value
    if not items or not all(isinstance(item, dict) for item in items):
        raise InvalidEvent(f"the {action} payload must carry {key!r} as an object or a "
                           f"list of objects, got {kind_of(value)}")
    return [item for item in items if isinstance(item, dict)]


def _id_of(item: Mapping[str, Any], key: str) -> str:
    value = item.get("id")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value:
        return value
    raise InvalidEvent(f"an entry of {key!r} has no id: {kind_of(value)}")
