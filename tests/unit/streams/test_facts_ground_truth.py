"""The ``ground-truth`` fact the processing core writes for a distributed project when a
task's ground truth moves (marked, replaced, changed, unmarked): the mark before and after,
and every other counted annotation's agreement with the ground truth now, so that the
annotators' ground-truth scores follow at once rather than at their next submission.

Project: overlap 3, distributed; Choices by exact match (equal labels 1.0, else 0.0).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.batch import BatchOutcome, InputRecord, TaskRef, apply_batch, parse_batch
from streams.models.invalid import InvalidEvent
from streams.models.project import ProjectConfig
from streams.models.workflow import parse_workflow_event

from .events import annotation_bytes, choice

PROJECT = ProjectConfig("1", annotations_per_task=3, distribute=True)


def vote(annotation: str, annotator: str, label: str, *, truth: bool = False,
         revision: int = 1, kind: str = "created") -> bytes:
    return annotation_bytes(annotation_id=annotation, completed_by=annotator, task_id="2",
                            result=choice(label) if kind != "deleted" else None,
                            ground_truth=truth, revision=revision, kind=kind,
                            event_id=f"ev-{annotation}-{revision}")


def run(values: list[bytes], config: ProjectConfig = PROJECT) -> BatchOutcome:
    records = [InputRecord(100 + i, value) for i, value in enumerate(values)]
    batch = parse_batch(0, "quorum.annotations", records, max_bytes=4096)
    assert not batch.refused, batch.refused
    stored: dict[TaskRef, bytes | None] = dict.fromkeys(batch.task_refs)
    return apply_batch(batch, stored, {"1": config}, after_offset=None)


def truth_facts(outcome: BatchOutcome) -> list[tuple[int, dict[str, Any]]]:
    """(input offset, body) of each ground-truth fact."""
    return [(int(o.body["event_id"].split(":")[1]), o.body) for o in outcome.outputs
            if o.topic == "workflow" and o.body["kind"] == "ground-truth"]


def moved(body: dict[str, Any]) -> tuple[bool, bool, dict[str, float | None]]:
    return body["marked"], body["was_marked"], body["ground_truth_scores"]


BEFORE = [vote("a1", "u1", "pos"), vote("a2", "u2", "neg")]


def test_marking_a_ground_truth_scores_the_annotations_already_there() -> None:
    outcome = run([*BEFORE, vote("gt", "lead", "pos", truth=True)])
    [(offset, body)] = truth_facts(outcome)
    assert offset == 102
    assert moved(body) == (True, False, {"a1": 1.0, "a2": 0.0})
    # The workflow topic's parser takes it as written.
    event = parse_workflow_event(orjson.dumps(body))
    assert (event.marked, event.was_marked) == (True, False)
    assert event.ground_truth_scores == {"a1": 1.0, "a2": 0.0}


def test_replacing_changing_and_unmarking_the_ground_truth_rescore_the_others() -> None:
    outcome = run([
        *BEFORE, vote("gt", "lead", "pos", truth=True),
        vote("a2", "u2", "neg", truth=True, revision=2),   # replaces gt: a2 is the truth
        vote("a2", "u2", "pos", truth=True, revision=3),   # the truth changes its label
        vote("a2", "u2", "pos", kind="deleted", revision=4),  # and is deleted: unmarked
    ])
    assert [(offset, moved(body)) for offset, body in truth_facts(outcome)] == [
        (102, (True, False, {"a1": 1.0, "a2": 0.0})),
        (103, (True, True, {"a1": 0.0, "gt": 0.0})),
        (104, (True, True, {"a1": 1.0, "gt": 1.0})),
        (105, (False, True, {"a1": None, "gt": None})),
    ]


def test_an_annotation_of_a_ground_truth_task_sends_no_ground_truth_fact() -> None:
    outcome = run([*BEFORE, vote("gt", "lead", "pos", truth=True), vote("a3", "u3", "neg")])
    assert [offset for offset, _ in truth_facts(outcome)] == [102]
    submitted = [o.body for o in outcome.outputs
                 if o.topic == "workflow" and o.body["kind"] == "submitted"]
    assert submitted[-1]["annotation_id"] == "a3"
    assert submitted[-1]["ground_truth_score"] == 0.0  # scored as it arrives, as before


def test_a_project_that_does_not_distribute_gets_no_facts() -> None:
    config = ProjectConfig("1", annotations_per_task=3)
    outcome = run([*BEFORE, vote("gt", "lead", "pos", truth=True)], config)
    assert not [o for o in outcome.outputs if o.topic == "workflow"]


def _fact(**fields: Any) -> bytes:
    return orjson.dumps({"schema": "quorum.workflow-fact/v1", "event_id": "0:5:1",
                         "project_id": "1", "occurred_at": "2026-11-29T05:00:00+00:00",
                         "kind": "ground-truth", "task_id": "2", **fields})


def test_a_fact_from_before_the_scores_still_parses() -> None:
    event = parse_workflow_event(_fact(marked=False))
    assert (event.marked, event.was_marked, event.ground_truth_scores) == (False, None, None)


@pytest.mark.parametrize(("fields", "reason"), [
    ({"marked": True, "was_marked": "yes"}, "'was_marked' of a ground-truth fact"),
    ({"marked": True, "ground_truth_scores": {"a1": 1.5}}, "'ground_truth_scores' must map"),
    ({"marked": True, "ground_truth_scores": ["a1"]}, "'ground_truth_scores' must map"),
    ({"marked": True, "ground_truth_scores": {"a1": True}}, "'ground_truth_scores' must map"),
])
def test_bad_ground_truth_fields_are_refused_with_the_reason(
        fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        parse_workflow_event(_fact(**fields))
