"""The facts of a deletion, as the processing core writes them for a distributed project:
whose seat it frees (the annotation's author from the task record, whatever the delete
event says), and ``collecting`` when the consensus went back to collecting, so that the
distribution reopens a task it had closed.

Project: overlap 2, threshold 0.7, one additional annotator; Choices by exact match,
pairwise (two equal labels agree 1.0, two different 0.0).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.batch import BatchOutcome, InputRecord, TaskRef, apply_batch, parse_batch
from streams.models.invalid import InvalidEvent
from streams.models.project import ProjectConfig
from streams.models.review import review_event
from streams.models.workflow import fact_body, parse_workflow_event

from .events import OCCURRED_AT, annotation_bytes, choice

PARTITION = 4
TOPIC = "quorum.annotations"
MAX_BYTES = 4096
DISTRIBUTED = ProjectConfig("1", annotations_per_task=2, agreement_threshold=0.7,
                            max_additional_annotators=1, distribute=True)


def vote(annotation: str, annotator: str, label: str = "pos") -> bytes:
    return annotation_bytes(annotation_id=annotation, completed_by=annotator, task_id="2",
                            result=choice(label), event_id=f"ev-{annotation}")


def delete(annotation: str, completed_by: str | None = None) -> bytes:
    """A delete as Label Studio's webhook reports it: no author unless given."""
    return annotation_bytes(annotation_id=annotation, completed_by=completed_by,
                            kind="deleted", revision=9, task_id="2", result=None,
                            event_id=f"del-{annotation}")


def predict(annotation: str, label: str = "pos") -> bytes:
    return annotation_bytes(annotation_id=annotation, completed_by=None, model_version="m1",
                            task_id="2", result=choice(label), event_id=f"ev-{annotation}")


def verdict(annotation: str, action: str) -> bytes:
    return orjson.dumps(review_event("1", "2", annotation, "boss", action, revision=1,
                                     event_id=f"rv-{annotation}", occurred_at=OCCURRED_AT))


def run(values: list[bytes]) -> BatchOutcome:
    records = [InputRecord(100 + i, value) for i, value in enumerate(values)]
    batch = parse_batch(PARTITION, TOPIC, records, max_bytes=MAX_BYTES)
    assert not batch.refused, batch.refused
    stored: dict[TaskRef, bytes | None] = dict.fromkeys(batch.task_refs)
    return apply_batch(batch, stored, {"1": DISTRIBUTED}, after_offset=None)


def facts(outcome: BatchOutcome, offset: int | None = None) -> list[dict[str, Any]]:
    """The workflow facts (of the input at ``offset``, if given), in order."""
    return [o.body for o in outcome.outputs if o.topic == "workflow"
            and (offset is None or o.body["event_id"].split(":")[1] == str(offset))]


def last_facts(outcome: BatchOutcome) -> list[tuple[str, str | None]]:
    """(kind, annotator) of the facts of the batch's last input."""
    last = max(int(f["event_id"].split(":")[1]) for f in facts(outcome))
    return [(f["kind"], f.get("annotator")) for f in facts(outcome, last)]


def status(outcome: BatchOutcome) -> str:
    quality = [o.body for o in outcome.outputs if o.topic == "task-quality"]
    return str(quality[-1]["status"])


# Back to collecting -----------------------------------------------------------------------


def test_deleting_from_a_completed_task_says_the_consensus_is_collecting_again() -> None:
    outcome = run([vote("a1", "u1"), vote("a2", "u2"), delete("a2")])
    assert [f["kind"] for f in facts(outcome, 101)][-1] == "completed"
    assert status(outcome) == "collecting"
    # The deletion's own fact first, the new decision last: every other fact keeps its id.
    assert last_facts(outcome) == [("deleted", "u2"), ("collecting", None)]
    ids = [f["event_id"] for f in facts(outcome, 102)]
    assert ids == ["4:102:1", "4:102:2"]  # rank 0 is the task-quality event
    collecting = parse_workflow_event(orjson.dumps(facts(outcome, 102)[-1]))
    assert (collecting.kind, collecting.task_id, collecting.annotator) == ("collecting", "2", None)


def test_deleting_from_a_task_sent_to_review_asks_for_the_freed_seat_again() -> None:
    # Three disagreeing annotators spend the budget (2 + 1): review. One deleted, the
    # two left still disagree and the budget has room: one more annotator.
    outcome = run([vote("a1", "u1", "pos"), vote("a2", "u2", "neg"), vote("a3", "u3", "neu"),
                   delete("a3")])
    assert [f["kind"] for f in facts(outcome, 102)][-1] == "review"
    assert last_facts(outcome) == [("deleted", "u3"), ("reassign", None)]
    assert facts(outcome, 103)[-1]["annotators"] == 2


def test_a_deletion_that_leaves_the_task_complete_reopens_nothing() -> None:
    # u3's annotation came in after the task completed (a reservation ended by it).
    outcome = run([vote("a1", "u1"), vote("a2", "u2"), vote("a3", "u3"), delete("a3")])
    assert status(outcome) == "completed"
    assert last_facts(outcome) == [("deleted", "u3")]


def test_after_a_verdict_the_task_stays_with_the_reviewer() -> None:
    outcome = run([vote("a1", "u1", "pos"), vote("a2", "u2", "neg"), vote("a3", "u3", "neu"),
                   verdict("a1", "accept"), delete("a3")])
    assert status(outcome) == "review"
    assert last_facts(outcome) == [("deleted", "u3")]


def test_only_a_change_back_to_collecting_is_a_fact() -> None:
    # Still collecting before the deletion: no decision changed, no fact of it.
    assert last_facts(run([vote("a1", "u1"), delete("a1")])) == [("deleted", "u1")]


# Whose seat -------------------------------------------------------------------------------


@pytest.mark.parametrize("says", [None, "u2", "someone-else"])
def test_the_freed_seat_is_the_authors_whatever_the_delete_event_says(says: str | None) -> None:
    outcome = run([vote("a1", "u1"), vote("a2", "u2"), delete("a2", completed_by=says)])
    assert last_facts(outcome)[0] == ("deleted", "u2")
    parsed = parse_workflow_event(orjson.dumps(facts(outcome, 102)[0]))
    assert parsed.annotator == "u2"
    assert parsed.quality is not None and parsed.quality.annotation_id == "a2"


def test_a_deleted_prediction_or_unknown_annotation_frees_no_seat() -> None:
    outcome = run([vote("a1", "u1"), predict("p1"), delete("p1"), delete("never-seen", "u9")])
    for offset in (102, 103):
        deleted = facts(outcome, offset)[0]
        assert deleted["kind"] == "deleted" and "annotator" not in deleted
        assert parse_workflow_event(orjson.dumps(deleted)).annotator is None


def test_an_author_with_another_counted_annotation_keeps_the_seat() -> None:
    # u1 annotated the task twice (Label Studio allows it); one annotation still counts.
    outcome = run([vote("a1", "u1"), vote("a1b", "u1"), vote("a2", "u2"), delete("a1b")])
    assert last_facts(outcome) == [("deleted", None)]
    outcome = run([vote("a1", "u1"), vote("a1b", "u1"), vote("a2", "u2"), delete("a1b"),
                   delete("a1")])
    # The second deletion leaves u1 nothing counted: their seat goes, and with one
    # annotator left the consensus is collecting again.
    assert last_facts(outcome) == [("deleted", "u1"), ("collecting", None)]


def test_a_replayed_batch_writes_the_same_facts() -> None:
    values = [vote("a1", "u1"), vote("a2", "u2"), delete("a2"), vote("a3", "u3")]
    first, again = run(values), run(values)
    assert facts(first) == facts(again)
    assert len({f["event_id"] for f in facts(first)}) == len(facts(first))
    assert [f["kind"] for f in facts(first, 103)][-1] == "completed"  # u3 completes it


# Read by the workflow agent ---------------------------------------------------------------


def test_a_deleted_facts_annotator_is_optional_and_checked() -> None:
    base: dict[str, Any] = {"event_id": "3:7:2", "project_id": "p", "kind": "deleted",
                            "occurred_at": "2026-11-28T06:00:00+00:00", "task_id": "t",
                            "quality": {"annotation_id": "a"}}
    assert parse_workflow_event(orjson.dumps(fact_body(**base, annotator="u1"))).annotator \
        == "u1"
    assert parse_workflow_event(orjson.dumps(fact_body(**base))).annotator is None
    body = {**fact_body(**base), "annotator": ["u1"]}
    with pytest.raises(InvalidEvent, match="'annotator' must be a string or an integer"):
        parse_workflow_event(orjson.dumps(body))


def test_a_collecting_fact_needs_its_task() -> None:
    body = fact_body(event_id="3:7:2", project_id="p", occurred_at="2026-11-28T06:00:00+00:00",
                     kind="collecting", task_id="t")
    del body["task_id"]
    with pytest.raises(InvalidEvent, match="'collecting' event needs task_id"):
        parse_workflow_event(orjson.dumps(body))
