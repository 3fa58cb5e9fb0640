"""A Label Studio JSON export becomes one valid annotation event per annotation and per
prediction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.export_events import UNVERSIONED, annotation_events
from streams.models.annotation import AnnotationKind, parse_annotation

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "label-studio"


def _export() -> list[dict[str, Any]]:
    return [
        {
            "id": 7,
            "data": {"text": "x"},
            "annotations": [
                {"id": 70, "completed_by": 1, "result": [], "created_at": "2026-11-01T10:00:00Z"},
                {
                    "id": 71,
                    "completed_by": {"id": 2, "email": "b@example.com"},
                    "result": [{"from_name": "s", "to_name": "t", "type": "choices",
                                "value": {"choices": ["pos"]}}],
                    "was_cancelled": True,
                    "updated_at": "2026-11-02T10:00:00.123456Z",
                },
            ],
            "predictions": [{"id": 5, "model_version": "m1", "result": []},
                            {"id": 6, "model_version": "", "result": [],
                             "created_at": "2026-11-03T10:00:00Z"}],
        }
    ]


def test_each_annotation_is_one_valid_event() -> None:
    events = list(annotation_events(_export(), "proj"))
    parsed = [parse_annotation(orjson.dumps(e), max_bytes=1 << 20) for e in events]
    assert [(p.task_id, p.annotation_id, p.completed_by, p.model_version)
            for p in parsed] == [
        ("7", "70", "1", None),
        ("7", "71", "2", None),
        # Label Studio numbers predictions apart: prediction 70 would not be annotation 70.
        ("7", "prediction-5", None, "m1"),
        ("7", "prediction-6", None, UNVERSIONED),
    ]
    assert [p.kind for p in parsed] == [AnnotationKind.CREATED, AnnotationKind.SKIPPED,
                                        AnnotationKind.CREATED, AnnotationKind.CREATED]
    assert parsed[0].occurred_at == "2026-11-01T10:00:00+00:00"
    assert parsed[1].occurred_at == "2026-11-02T10:00:00.123456+00:00"
    assert parsed[3].revision > parsed[2].revision == 1  # the newer save, a later revision


def test_a_prediction_without_an_id_is_refused_naming_its_task() -> None:
    export = _export()
    del export[0]["predictions"][0]["id"]
    with pytest.raises(ValueError, match="task 7: a prediction has no 'id'"):
        list(annotation_events(export, "proj"))


def test_event_ids_are_stable_so_a_second_send_is_a_duplicate() -> None:
    first = [e["event_id"] for e in annotation_events(_export(), "proj")]
    second = [e["event_id"] for e in annotation_events(_export(), "proj")]
    assert first == second
    assert len(set(first)) == 4


def test_fixture_export_converts() -> None:
    export = json.loads((FIXTURES / "export-score-three-annotators.json").read_text("utf-8"))
    events = list(annotation_events(export, "p"))
    expected = sum(len(task["annotations"]) + len(task.get("predictions") or [])
                   for task in export)
    assert len(events) == expected
    for event in events:
        parse_annotation(orjson.dumps(event), max_bytes=1 << 20)


@pytest.mark.parametrize(
    ("export", "message"),
    [
        ({"tasks": []}, "list of tasks"),
        ([{"id": 1, "annotations": [{"completed_by": 1, "result": []}]}], "has no 'id'"),
        ([{"id": 1, "annotations": [{"id": 3, "result": []}]}], "no 'completed_by'"),
    ],
)
def test_refusals_say_what_is_wrong(export: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        list(annotation_events(export, "p"))


@pytest.mark.parametrize(("exported", "sent"), [
    (12.25, 12.25), (3, 3.0), (None, None), (-1.0, None), ("12", None), (True, None),
])
def test_lead_time_is_carried_over_when_usable(exported: object, sent: float | None) -> None:
    export = _export()
    export[0]["annotations"][0]["lead_time"] = exported
    event = next(iter(annotation_events(export, "proj")))
    assert parse_annotation(orjson.dumps(event), max_bytes=1 << 20).lead_time == sent


def test_the_revision_is_the_last_save_in_microseconds() -> None:
    # Label Studio has no revision counter; the webhook receiver numbers versions the
    # same way, so an export and the webhooks agree on which version is newer.
    first, second, *_predictions = annotation_events(_export(), "proj")
    assert first["revision"] == 1_793_527_200_000_000  # 2026-11-01T10:00:00Z
    assert second["revision"] == 1_793_613_600_123_456  # 2026-11-02T10:00:00.123456Z
    assert second["event_id"] == "label-studio-export:proj:7:71:1793613600123456"
    undated = [{"id": 1, "annotations": [{"id": 2, "completed_by": 1, "result": []}]}]
    assert [e["revision"] for e in annotation_events(undated, "p")] == [1]
