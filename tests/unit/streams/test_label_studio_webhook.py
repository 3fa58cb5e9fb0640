"""Label Studio's webhook payloads (real captures) become the events a stream scores right."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.batch import apply_batch, parse_batch
from streams.label_studio_webhook import (
    DELETED_REVISION,
    Translation,
    Webhook,
    project_config_body,
    read_webhook,
    translate,
)
from streams.models.annotation import AnnotationKind, parse_annotation
from streams.models.invalid import InvalidEvent
from streams.models.project import project_config_from_dict
from tests.unit.agreement.test_label_studio import EXPECTED_FINAL

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "label-studio"
THREE_ANNOTATORS = FIXTURES / "webhooks-label-studio-1.23.2-three-annotators.jsonl"
PROBE = FIXTURES / "webhooks-label-studio-1.23.2.jsonl"
RECEIVED_AT = "2026-11-28T07:00:00+00:00"


def _payloads(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]


class _Receiver:
    """What the receiver does around the pure functions, with a dict for its Redis hash."""

    def __init__(self, distribute: bool = False) -> None:
        self.task_of: dict[str, str] = {}
        self.distribute = distribute

    def take(self, payload: object, project_id: str | None = None,
             annotations_of: dict[str, list[str]] | None = None) -> Translation:
        webhook = read_webhook(payload, project_id=project_id)
        out = translate(webhook, task_of={a: self.task_of.get(a) for a in webhook.deleted},
                        distribute=self.distribute, received_at=RECEIVED_AT,
                        annotations_of=annotations_of)
        self.task_of.update(out.remember)
        return out


class _Record:
    def __init__(self, offset: int, value: bytes) -> None:
        self.offset, self.value = offset, value


def _scores(events: list[dict[str, Any]], config_body: dict[str, Any]) -> dict[int, float | None]:
    """Every task's agreement after the events went through the stream's core in order."""
    records = [_Record(i, orjson.dumps(e)) for i, e in enumerate(events)]
    batch = parse_batch(0, "annotations", records, max_bytes=1 << 20)
    assert not batch.refused
    config = project_config_from_dict(config_body)
    outcome = apply_batch(batch, {}, {config.project_id: config}, after_offset=None)
    return {int(task): record.agreement.score for (_, task), record in outcome.records.items()}


def test_the_three_annotator_capture_scores_as_worked_out_by_hand() -> None:
    receiver = _Receiver()
    payloads = _payloads(THREE_ANNOTATORS)
    events = [e for p in payloads for e in receiver.take(p).annotation_events]
    assert len(events) == 28 + 1 + 2  # created, updated, deleted
    for event in events:
        parse_annotation(orjson.dumps(event), max_bytes=1 << 20)
    body = project_config_body(read_webhook(payloads[1]))
    assert body is not None
    assert _scores(events, body) == pytest.approx(EXPECTED_FINAL)


def test_an_update_is_a_newer_revision_and_a_delete_the_newest() -> None:
    receiver = _Receiver()
    created, updated, deleted = (receiver.take(p).annotation_events[0]
                                 for p in _payloads(PROBE))
    assert (created["kind"], updated["kind"], deleted["kind"]) == ("created", "updated", "deleted")
    assert created["project_id"] == "1" and created["task_id"] == "2"
    assert created["completed_by"] == "1" and created["annotation_id"] == "2"
    assert created["revision"] < updated["revision"] < deleted["revision"] == DELETED_REVISION
    # updated_at, to the microsecond: 2026-11-28T06:24:24.003328Z
    assert created["revision"] % 1_000_000 == 3328
    assert created["occurred_at"] == "2026-11-28T06:24:24.003328+00:00"
    assert deleted["task_id"] == "2" and deleted["occurred_at"] == RECEIVED_AT
    assert updated["result"][0]["value"] == {"choices": ["neg"]}


def test_a_payload_delivered_twice_makes_the_same_events() -> None:
    payload = _payloads(PROBE)[0]
    first = _Receiver().take(payload).annotation_events
    second = _Receiver().take(copy.deepcopy(payload)).annotation_events
    assert first == second
    receiver = _Receiver()
    receiver.take(payload)
    delete = _payloads(PROBE)[2]
    # A delete delivered again is the same event again (a duplicate to the stream).
    assert receiver.take(delete).annotation_events == receiver.take(delete).annotation_events


def test_a_delete_of_an_annotation_never_seen_is_refused_with_the_reason() -> None:
    delete = _payloads(PROBE)[2]
    out = _Receiver().take(delete)
    assert out.annotation_events == []
    assert len(out.refused) == 1
    assert "annotation 2 of project 1" in out.refused[0]
    assert "its task is unknown" in out.refused[0]


def test_the_url_project_overrides_label_studio_s_id() -> None:
    out = _Receiver().take(_payloads(PROBE)[0], project_id="sentiment-v2")
    assert [e["project_id"] for e in out.annotation_events] == ["sentiment-v2"]
    assert out.remember == {"2": "2"}


def test_bulk_created_annotations_each_make_an_event() -> None:
    payload = _payloads(THREE_ANNOTATORS)[1]
    second = copy.deepcopy(payload["annotation"])
    second.update(id=99, completed_by=7, was_cancelled=True)
    bulk = {**payload, "action": "ANNOTATIONS_CREATED",
            "annotation": [payload["annotation"], second]}
    out = _Receiver().take(bulk)
    assert [(e["annotation_id"], e["kind"]) for e in out.annotation_events] == [
        ("3", "created"), ("99", "skipped")]
    parsed = parse_annotation(orjson.dumps(out.annotation_events[1]), max_bytes=1 << 20)
    assert parsed.kind is AnnotationKind.SKIPPED


def test_an_annotation_without_a_task_or_an_annotator_is_refused_alone() -> None:
    payload = _payloads(THREE_ANNOTATORS)[1]
    good = payload["annotation"]
    no_task = {**good, "id": 40, "task": None}
    no_annotator = {**good, "id": 41, "completed_by": None}
    out = _Receiver().take({**payload, "action": "ANNOTATIONS_CREATED",
                            "annotation": [no_task, good, no_annotator]})
    assert [e["annotation_id"] for e in out.annotation_events] == ["3"]
    assert len(out.refused) == 2
    assert "annotation 40 names no task" in out.refused[0]
    assert "annotation 41: no 'completed_by'" in out.refused[1]


def test_tasks_are_imported_only_for_a_distributing_project() -> None:
    created = _payloads(THREE_ANNOTATORS)[0]
    assert created["action"] == "TASKS_CREATED"
    ignored = _Receiver().take(created)
    assert ignored.task_events == [] and ignored.ignored is not None
    assert "--distribute" in ignored.ignored
    out = _Receiver(distribute=True).take(created)
    assert [(e["kind"], e["task_id"]) for e in out.task_events] == [
        ("imported", str(t)) for t in range(15, 27)]
    assert all(e["project_id"] == "3" for e in out.task_events)
    deleted = _Receiver(distribute=True).take(
        {"action": "TASKS_DELETED", "project": created["project"], "tasks": [{"id": 15}]})
    assert [(e["kind"], e["task_id"]) for e in deleted.task_events] == [("deleted", "15")]


def test_a_deleted_task_loses_every_annotation_the_stream_holds() -> None:
    project = _payloads(THREE_ANNOTATORS)[0]["project"]
    payload = {"action": "TASKS_DELETED", "project": project,
               "tasks": [{"id": 15}, {"id": 16}, {"id": 99}]}
    out = _Receiver().take(payload, annotations_of={"15": ["3", "4"], "16": ["6"]})
    assert [(e["task_id"], e["annotation_id"], e["kind"], e["revision"])
            for e in out.annotation_events] == [
        ("15", "3", "deleted", DELETED_REVISION), ("15", "4", "deleted", DELETED_REVISION),
        ("16", "6", "deleted", DELETED_REVISION)]
    assert out.task_events == [] and out.ignored is None  # not distributing: no task events
    for event in out.annotation_events:
        parse_annotation(orjson.dumps(event), max_bytes=1 << 20)
    nothing = _Receiver().take(payload, annotations_of={})
    assert nothing.annotation_events == [] and nothing.ignored is not None


def test_other_actions_are_acknowledged_and_ignored() -> None:
    project = _payloads(PROBE)[0]["project"]
    out = _Receiver().take({"action": "PROJECT_UPDATED", "project": project})
    assert out.ignored == "Quorum does not use PROJECT_UPDATED webhooks"
    assert out.annotation_events == out.task_events == out.refused == []


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([1, 2], "a JSON object, got a list"),
        ({"annotation": {}}, "missing field 'action'"),
        ({"action": "ANNOTATION_CREATED", "project": {"id": 1}}, "'annotation' as an object"),
        ({"action": "ANNOTATION_CREATED", "annotation": {"id": 1, "task": 2}},
         "add ?project=<Quorum project id>"),
        ({"action": "ANNOTATIONS_DELETED", "project": {"id": 1}, "annotations": [{}]},
         "has no id"),
        ({"action": "TASKS_CREATED", "project": 5, "tasks": []}, "'project' must be an object"),
    ],
)
def test_malformed_payloads_say_what_is_wrong(payload: object, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message.replace("?", r"\?")):
        read_webhook(payload)


def test_a_project_is_configured_from_its_label_studio_settings_without_its_token() -> None:
    payload = _payloads(THREE_ANNOTATORS)[1]
    body = project_config_body(read_webhook(payload))
    assert body is not None
    assert "token" not in orjson.dumps(body).decode()
    config = project_config_from_dict(body)
    assert config.project_id == "3"
    assert config.annotations_per_task == payload["project"]["maximum_annotations"] == 3
    assert config.agreement_threshold == 0.0
    assert set(config.scoring.tags) == {"sentiment"}
    assert config.track_quality and not config.distribute  # Label Studio hands out tasks
    without = Webhook("ANNOTATION_CREATED", "3", {"id": 3, "title": "no config"})
    assert project_config_body(without) is None


def test_an_annotation_event_carries_the_tasks_overlap_from_the_payload() -> None:
    payload = _payloads(PROBE)[0]
    assert payload["task"]["overlap"] == 3
    event = _Receiver().take(payload).annotation_events[0]
    assert event["task_overlap"] == 3
    outside = copy.deepcopy(payload)
    outside["task"]["overlap"] = 1  # Label Studio's overlap of a task outside the cohort
    assert _Receiver().take(outside).annotation_events[0]["task_overlap"] == 1
    assert parse_annotation(orjson.dumps(event), max_bytes=1 << 20).task_overlap == 3


def test_a_payload_without_a_usable_task_overlap_sends_none() -> None:
    payload = copy.deepcopy(_payloads(PROBE)[0])
    payload["task"]["overlap"] = "three"
    assert "task_overlap" not in _Receiver().take(payload).annotation_events[0]
    del payload["task"]
    assert "task_overlap" not in _Receiver().take(payload).annotation_events[0]


@pytest.mark.parametrize(("skip_queue", "skip_mode"), [
    ("REQUEUE_FOR_OTHERS", "requeue_for_others"),
    ("REQUEUE_FOR_ME", "requeue_for_me"),
    ("IGNORE_SKIPPED", "count_as_done"),
])
def test_label_studios_skip_queue_becomes_the_skip_mode(skip_queue: str, skip_mode: str) -> None:
    payload = copy.deepcopy(_payloads(PROBE)[0])
    payload["project"]["skip_queue"] = skip_queue
    body = project_config_body(read_webhook(payload))
    assert body is not None
    assert project_config_from_dict(body).skip_mode == skip_mode


def test_an_unknown_skip_queue_keeps_the_default() -> None:
    payload = copy.deepcopy(_payloads(PROBE)[0])
    payload["project"]["skip_queue"] = "SOMETHING_NEW"
    body = project_config_body(read_webhook(payload))
    assert body is not None and "skip_mode" not in body
