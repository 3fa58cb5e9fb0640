"""Deletions the webhooks missed, found by comparing a Label Studio export with what the
stream got from Label Studio.

Label Studio does not retry a webhook: an annotation or a task deleted while the receiver
was unreachable stays in Quorum's figures, and an export cannot bring a deletion in (it
lists what exists). ``quorum label-studio connect`` therefore reads, before it takes the
export, which annotations Quorum got from Label Studio (the receiver and ``send-export``
keep each one's task, :meth:`streams.state.keys.Keys.label_studio_annotations`). An
annotation among them that the export no longer holds was deleted (predictions, which
only exports bring, are remembered and deleted the same way):

- its task is in the export: the annotation was deleted;
- its task is not: the task was deleted, unless Label Studio still has it in another
  project (one Quorum project fed by several Label Studio projects); the caller asks
  Label Studio about these tasks (:func:`unlisted_tasks`).

A distributing project's label stream gets every task of the export, and loses the
tasks it got from Label Studio that the export no longer lists. Of the export's
annotations, only those the stream does not hold at their revision are sent
(:func:`newer_than_stream`).

The mapping is read before the export so that an annotation made meanwhile, which the
webhook delivers and the receiver remembers, is never taken for a deleted one. The
annotations the stream already holds as deleted are left out first: connecting again
sends nothing, and asks Label Studio nothing, twice.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from agreement.label_studio import read_export
from streams.export_events import prediction_annotation_id
from streams.label_studio_webhook import deletion_event, label_studio_task_event

_Event = TypeVar("_Event", bound=Mapping[str, Any])


@dataclass(frozen=True, slots=True)
class ExportSnapshot:
    """The task ids and annotation ids a Label Studio export holds (its predictions'
    as ``prediction-<id>``)."""

    tasks: frozenset[str]
    annotations: frozenset[str]


def export_snapshot(export: object) -> ExportSnapshot:
    """What ``export`` (a decoded Label Studio JSON export with every task) holds.

    Raises ``ValueError`` as :func:`agreement.label_studio.read_export` does.
    """
    tasks = read_export(export)
    # Predictions under their stream ids: one deleted in Label Studio is deleted in the
    # stream as an annotation is.
    return ExportSnapshot(
        tasks=frozenset(str(task.id) for task in tasks),
        annotations=frozenset([
            *(str(a.get("id")) for task in tasks for a in task.annotations),
            *(prediction_annotation_id(p.get("id")) for task in tasks for p in task.predictions)]),
    )


def missing_annotations(known: Mapping[str, str], snapshot: ExportSnapshot) -> dict[str, str]:
    """Annotation id -> task id of each annotation Quorum got from Label Studio
    (``known``, read before the export was taken) that the export no longer holds."""
    return {annotation: task for annotation, task in known.items()
            if annotation not in snapshot.annotations}


def not_deleted_yet(missing: Mapping[str, str], deleted_in_stream: Collection[str]
                    ) -> dict[str, str]:
    """The ``missing`` annotations but for those the stream already holds as deleted
    (an earlier connect, or the webhook, deleted them): nothing is sent, or asked, twice."""
    return {annotation: task for annotation, task in missing.items()
            if annotation not in deleted_in_stream}


def unlisted_tasks(missing: Mapping[str, str], snapshot: ExportSnapshot) -> list[str]:
    """The tasks of ``missing`` annotations that the export does not list: deleted, or
    another Label Studio project's. Only Label Studio can tell which."""
    return sorted({task for task in missing.values() if task not in snapshot.tasks},
                  key=_id_order)


def deleted_annotations(
    missing: Mapping[str, str], snapshot: ExportSnapshot, deleted_tasks: Collection[str]
) -> dict[str, str]:
    """The ``missing`` annotations that were deleted: their task is in the export, or is
    among ``deleted_tasks`` (the unlisted tasks Label Studio no longer has). Annotations
    of another project's tasks are left alone."""
    return {annotation: task for annotation, task in missing.items()
            if task in snapshot.tasks or task in deleted_tasks}


def deletion_events(project_id: str, deleted: Mapping[str, str], *,
                    deleted_at: str) -> list[dict[str, Any]]:
    """The ``quorum.annotation/v1`` deletions of ``deleted`` (annotation -> task). Their
    ids are those of the receiver's deletions, so a webhook that delivers the same
    deletion late is a duplicate the stream ignores."""
    return [
        deletion_event(project_id, task, annotation, deleted_at)
        for annotation, task in sorted(deleted.items(), key=lambda item: _id_order(item[0]))
    ]


def tasks_to_read(known: Mapping[str, str], snapshot: ExportSnapshot) -> list[str]:
    """The tasks whose stream records a connect needs, read once: the export's (what
    the stream holds of their annotations) and those of the ``known`` annotations the
    export no longer holds (which of them the stream holds as deleted already)."""
    return sorted(snapshot.tasks | set(missing_annotations(known, snapshot).values()),
                  key=_id_order)


def newer_than_stream(events: Iterable[_Event], held: Mapping[str, tuple[int, str]]
                      ) -> list[_Event]:
    """The annotation events of an export that the stream would apply: of an annotation
    it does not hold (``held``: annotation id -> the newest revision it holds and its
    status, deleted ones included), or at a newer revision. The core ignores every other
    one (a duplicate or an older version), so leaving them out changes nothing, and
    connecting again sends only what changed in Label Studio since."""
    return [event for event in events
            if event["annotation_id"] not in held
            or event["revision"] > held[event["annotation_id"]][0]]


def label_stream_events(project_id: str, known_tasks: Collection[str],
                        snapshot: ExportSnapshot, *, occurred_at: str
                        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A distributing project's label stream against a Label Studio export: the
    ``quorum.task/v1`` imports of every task the export lists (the label stream ignores
    one it has), and the deletions of the tasks it got from Label Studio (``known_tasks``,
    read before the export was taken) that the export no longer lists: deleted in Label
    Studio, or moved to another project, and in neither case to be offered for this
    one. The ids are the receiver's (``TASKS_CREATED``, ``TASKS_DELETED``)."""
    gone = [task for task in known_tasks if task not in snapshot.tasks]
    return (_task_events(project_id, "imported", snapshot.tasks, occurred_at),
            _task_events(project_id, "deleted", gone, occurred_at))


def _task_events(project_id: str, kind: str, tasks: Iterable[str],
                 occurred_at: str) -> list[dict[str, Any]]:
    return [label_studio_task_event(project_id, task, kind, occurred_at)
            for task in sorted(tasks, key=_id_order)]


def _id_order(value: str) -> tuple[int, int | str]:
    """Label Studio's integer ids in numeric order, anything else after them."""
    return (0, int(value)) if value.isdigit() else (1, value)
