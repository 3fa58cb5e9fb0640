"""Which annotations a Label Studio export says were deleted while no webhook got through."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.label_studio_sync import (
    deleted_annotations,
    deletion_events,
    export_snapshot,
    label_stream_events,
    missing_annotations,
    newer_than_stream,
    not_deleted_yet,
    tasks_to_read,
    unlisted_tasks,
)
from streams.label_studio_webhook import (
    DELETED_REVISION,
    Webhook,
    deletion_event,
    translate,
)
from streams.models.annotation import AnnotationKind, parse_annotation
from streams.models.workflow import parse_workflow_event
from streams.state.task import COUNTED, DELETED

DELETED_AT = "2026-11-29T03:00:00+00:00"


def _task(task_id: int, *annotation_ids: int) -> dict[str, Any]:
    return {"id": task_id, "data": {"text": "t"}, "predictions": [],
            "annotations": [{"id": a, "completed_by": 1, "result": []} for a in annotation_ids]}


# What the receiver and send-export kept: annotation -> task, before the export was taken.
KNOWN = {"11": "1", "12": "1", "21": "2", "31": "3", "32": "3", "41": "4"}
# Meanwhile: annotation 12 was deleted, task 3 was deleted, task 4 moved to another
# project, annotation 13 was made (the webhook delivered it after the known ones were read).
EXPORT = [_task(1, 11, 13), _task(2, 21), _task(5)]


def test_the_snapshot_lists_every_task_and_annotation() -> None:
    snapshot = export_snapshot(EXPORT)
    assert snapshot.tasks == {"1", "2", "5"}
    assert snapshot.annotations == {"11", "13", "21"}


def test_a_snapshot_of_something_else_says_what_to_export() -> None:
    with pytest.raises(ValueError, match="export the project as JSON"):
        export_snapshot({"tasks": []})


def test_annotations_the_export_no_longer_holds_are_missing() -> None:
    snapshot = export_snapshot(EXPORT)
    missing = missing_annotations(KNOWN, snapshot)
    assert missing == {"12": "1", "31": "3", "32": "3", "41": "4"}
    # Label Studio is asked only about the tasks the export leaves out.
    assert unlisted_tasks(missing, snapshot) == ["3", "4"]


def test_only_deleted_tasks_and_tasks_still_listed_lose_annotations() -> None:
    snapshot = export_snapshot(EXPORT)
    missing = missing_annotations(KNOWN, snapshot)
    # Task 3 is gone from Label Studio; task 4 is another project's: left alone.
    assert deleted_annotations(missing, snapshot, {"3"}) == {"12": "1", "31": "3", "32": "3"}
    assert deleted_annotations(missing, snapshot, set()) == {"12": "1"}


def test_what_the_stream_already_deleted_is_neither_asked_about_nor_sent() -> None:
    snapshot = export_snapshot(EXPORT)
    missing = not_deleted_yet(missing_annotations(KNOWN, snapshot), {"31", "32", "12"})
    assert missing == {"41": "4"}
    assert unlisted_tasks(missing, snapshot) == ["4"]


def test_deletions_are_the_receivers_own() -> None:
    deleted = {"32": "3", "12": "1", "abc": "7"}
    events = deletion_events("p", deleted, deleted_at=DELETED_AT)
    # Numeric ids in numeric order, then the others.
    assert [e["annotation_id"] for e in events] == ["12", "32", "abc"]
    assert events[0] == deletion_event("p", "1", "12", DELETED_AT)
    for event in events:
        parsed = parse_annotation(orjson.dumps(event), max_bytes=1 << 20)
        assert parsed.kind is AnnotationKind.DELETED
        assert parsed.revision == DELETED_REVISION


def test_nothing_known_nothing_missing() -> None:
    snapshot = export_snapshot(EXPORT)
    assert missing_annotations({}, snapshot) == {}
    assert missing_annotations({"11": "1", "21": "2"}, snapshot) == {}


def test_the_label_stream_gets_every_listed_task_and_loses_the_unlisted_ones() -> None:
    # The label stream got tasks 1-4 from Label Studio; task 3 was deleted and task 4
    # moved to another project: neither is this project's to offer any more.
    imports, deletions = label_stream_events("p", {"1", "2", "3", "4"},
                                             export_snapshot(EXPORT), occurred_at=DELETED_AT)
    assert [(e["kind"], e["task_id"]) for e in imports] == [
        ("imported", "1"), ("imported", "2"), ("imported", "5")]
    assert [(e["kind"], e["task_id"]) for e in deletions] == [("deleted", "3"), ("deleted", "4")]
    for event in imports + deletions:
        parse_workflow_event(orjson.dumps(event))
    # The receiver's own events for the same tasks: a late webhook is a duplicate.
    webhook = Webhook("TASKS_DELETED", "p", None, tasks=["3"])
    same = translate(webhook, task_of={}, distribute=True, received_at=DELETED_AT).task_events
    assert [e["event_id"] for e in same] == [deletions[0]["event_id"]]


def test_a_first_connect_imports_the_whole_project() -> None:
    imports, deletions = label_stream_events("p", set(), export_snapshot(EXPORT),
                                             occurred_at=DELETED_AT)
    assert [e["task_id"] for e in imports] == ["1", "2", "5"] and deletions == []


def test_only_what_the_stream_would_apply_is_sent_again() -> None:
    def at(annotation: str, revision: int) -> dict[str, Any]:
        return {"annotation_id": annotation, "revision": revision}

    # The stream holds 11 at 5, 12 at 5, 13 deleted at 9 (a deletion's revision).
    held = {"11": (5, COUNTED), "12": (5, COUNTED), "13": (9, DELETED)}
    events = [at("11", 5), at("12", 6), at("13", 8), at("14", 1), at("11", 4)]
    # 11 as it is and an older 11, and 13 older than its deletion, the core would ignore.
    assert newer_than_stream(events, held) == [at("12", 6), at("14", 1)]
    assert newer_than_stream(events, {}) == events


def test_a_connect_reads_the_export_tasks_and_those_of_missing_annotations_once() -> None:
    # Tasks 1, 2, 5 of the export; 3 and 4 hold known annotations the export lost.
    assert tasks_to_read(KNOWN, export_snapshot(EXPORT)) == ["1", "2", "3", "4", "5"]
    assert tasks_to_read({}, export_snapshot(EXPORT)) == ["1", "2", "5"]


def test_a_prediction_deleted_in_label_studio_is_missing_under_its_stream_id() -> None:
    """Predictions come only from exports; one that `connect` sent (and so remembered,
    as ``prediction-<id>``) and that the next export no longer holds was deleted."""
    with_prediction = [{**_task(1, 11), "predictions": [{"id": 11, "model_version": "m1",
                                                          "result": []}]}]
    snapshot = export_snapshot(with_prediction)
    assert snapshot.annotations == {"11", "prediction-11"}  # the same number, apart
    known = {"11": "1", "prediction-11": "1"}
    assert missing_annotations(known, snapshot) == {}
    assert missing_annotations(known, export_snapshot([_task(1, 11)])) == {"prediction-11": "1"}
