"""TaskRecord: idempotent apply by revision, tombstones, and the stored JSON document."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from assignment.consensus import Decision, DecisionState
from streams.state.task import COUNTED, DELETED, PREDICTION, SKIPPED, TaskRecord

from ..events import annotation_event, choice


def event(annotation_id: str, revision: int, kind: str = "created", **fields: Any) -> Any:
    return annotation_event(annotation_id=annotation_id, revision=revision, kind=kind, **fields)


def record_of(*events: Any) -> TaskRecord:
    record = TaskRecord()
    for item in events:
        record.apply(item)
    return record


def test_create_counts() -> None:
    record = TaskRecord()
    assert record.apply(event("a1", 1, completed_by=10))
    assert record.agreement.ids == ["a1"]
    assert record.agreement.score == 1.0
    assert record.annotators == ["10"]
    assert record.entries["a1"].status == COUNTED


def test_duplicate_revision_changes_nothing() -> None:
    record = record_of(event("a1", 2, completed_by=10))
    before = record.to_json()
    assert not record.apply(event("a1", 2, completed_by=10))
    # Even with another content: the same revision is the same annotation state.
    assert not record.apply(event("a1", 2, kind="updated", completed_by=10, result=choice("neg")))
    assert record.to_json() == before


def test_stale_revision_is_ignored() -> None:
    record = record_of(event("a1", 1, completed_by=10), event("a2", 1, completed_by=11))
    assert record.apply(event("a2", 3, kind="updated", completed_by=11, result=choice("neg")))
    assert record.agreement.score == 0.0
    before = record.to_json()
    assert not record.apply(event("a2", 2, kind="updated", completed_by=11, result=choice("pos")))
    assert not record.apply(event("a2", 1, kind="deleted", completed_by=None, result=None))
    assert record.to_json() == before


def test_update_of_unseen_annotation_counts_as_creation() -> None:
    record = TaskRecord()
    assert record.apply(event("a1", 4, kind="updated", completed_by=10))
    assert record.agreement.ids == ["a1"]
    assert record.annotators == ["10"]


def test_update_changes_the_agreement() -> None:
    record = record_of(event("a1", 1, completed_by=10), event("a2", 1, completed_by=11))
    assert record.agreement.score == 1.0
    record.apply(event("a2", 2, kind="updated", completed_by=11, result=choice("neg")))
    assert record.agreement.score == 0.0


def test_delete_leaves_a_tombstone() -> None:
    record = record_of(event("a1", 1, completed_by=10), event("a2", 1, completed_by=11))
    assert record.apply(event("a2", 5, kind="deleted", completed_by=None, result=None))
    assert record.agreement.ids == ["a1"]
    assert record.annotators == ["10"]
    assert record.entries["a2"].status == DELETED
    assert record.entries["a2"].revision == 5
    # A create delivered late, below the delete's revision, stays deleted.
    assert not record.apply(event("a2", 4, completed_by=11))
    assert record.agreement.ids == ["a1"]
    # A newer revision brings it back.
    assert record.apply(event("a2", 6, completed_by=11, result=choice("neg")))
    assert record.agreement.ids == ["a1", "a2"]
    assert record.agreement.score == 0.0


def test_stored_records_tell_held_annotations_from_deleted_ones() -> None:
    record = record_of(event("a1", 1, completed_by=10), event("a2", 1, completed_by=11),
                       event("a3", 1, completed_by=12))
    record.apply(event("a2", 5, kind="deleted", completed_by=None, result=None))
    raw = record.to_json()
    assert sorted(TaskRecord.held_annotations(raw)) == ["a1", "a3"]
    assert TaskRecord.stored_entries(raw)["a2"] == (5, DELETED)


def test_stored_records_give_each_annotations_newest_revision_deleted_ones_included() -> None:
    record = record_of(event("a1", 1, completed_by=10), event("a1", 4, kind="updated",
                                                              completed_by=10),
                       event("a2", 2, completed_by=11))
    record.apply(event("a2", 7, kind="deleted", completed_by=None, result=None))
    record.apply(event("a1", 3, kind="updated", completed_by=10))  # older: ignored
    assert TaskRecord.stored_entries(record.to_json()) == {"a1": (4, COUNTED),
                                                           "a2": (7, DELETED)}


def test_delete_of_unseen_annotation_is_a_tombstone() -> None:
    record = TaskRecord()
    assert record.apply(event("a1", 3, kind="deleted", completed_by=None, result=None))
    assert not record.apply(event("a1", 1, completed_by=10))
    assert record.agreement.ids == []
    assert record.annotators_seen == []


def test_skip_leaves_agreement_but_keeps_the_annotator_seen() -> None:
    record = record_of(event("a1", 1, completed_by=10), event("a2", 1, completed_by=11))
    assert record.apply(event("a2", 2, kind="skipped", completed_by=11, result=None))
    assert record.agreement.ids == ["a1"]
    assert record.annotators == ["10"]
    assert record.annotators_seen == ["10", "11"]
    assert record.entries["a2"].status == SKIPPED


def test_deleted_annotators_stay_seen() -> None:
    record = record_of(
        event("a1", 1, completed_by=10),
        event("a1", 2, kind="deleted", completed_by=None, result=None),
    )
    assert record.annotators == []
    assert record.annotators_seen == ["10"]


def test_prediction_is_never_counted() -> None:
    record = record_of(event("a1", 1, completed_by=10))
    assert record.apply(event("m1", 1, completed_by=None, model_version="v2", result=choice("neg")))
    assert record.agreement.ids == ["a1"]
    assert record.agreement.score == 1.0
    assert record.annotators == ["10"]
    assert record.annotators_seen == ["10"]
    assert record.predictions == {"m1": choice("neg")}
    assert record.entries["m1"].status == PREDICTION
    assert record.entries["m1"].author == "v2"


def test_deleted_prediction_is_not_an_annotator() -> None:
    # exclude_annotators is built from annotators_seen: a model version is nobody to
    # keep off the task.
    record = record_of(
        event("m1", 1, completed_by=None, model_version="v2"),
        event("m1", 2, kind="deleted", completed_by=None, result=None),
    )
    assert record.predictions == {}
    assert record.entries["m1"].status == DELETED
    assert record.annotators_seen == []


def test_annotators_are_distinct_and_sorted() -> None:
    record = record_of(
        event("a1", 1, completed_by=12),
        event("a2", 1, completed_by=10),
        event("a3", 1, completed_by=12, result=choice("neg")),
    )
    assert len(record.agreement) == 3
    assert record.annotators == ["10", "12"]


def full_record() -> TaskRecord:
    record = record_of(
        event("a1", 1, completed_by=10),
        event("a2", 1, completed_by=11, result=choice("neg")),
        event("a3", 2, completed_by=12, result=[*choice("pos"), *choice("x", "topics")]),
        event("a2", 2, kind="skipped", completed_by=11, result=None),
        event("a4", 1, completed_by=13),
        event("a4", 3, kind="deleted", completed_by=None, result=None),
        event("m1", 1, completed_by=None, model_version="v2"),
    )
    record.decision = DecisionState(Decision.REASSIGN, 3)
    return record


@pytest.mark.parametrize(
    "decision",
    [
        None,
        DecisionState(Decision.COLLECTING),
        DecisionState(Decision.REASSIGN, 3),
        DecisionState(Decision.COMPLETED),
        DecisionState(Decision.REVIEW),
    ],
)
def test_json_roundtrip(decision: DecisionState | None) -> None:
    record = full_record()
    record.decision = decision
    loaded = TaskRecord.from_json(record.to_json())
    assert loaded.to_json() == record.to_json()
    assert loaded.decision == decision
    assert loaded.entries == record.entries
    assert loaded.predictions == record.predictions
    assert loaded.agreement.score == record.agreement.score
    assert loaded.agreement.pair_scores == record.agreement.pair_scores
    assert loaded.annotators == record.annotators
    assert loaded.annotators_seen == record.annotators_seen


def test_loaded_record_applies_like_the_original() -> None:
    record = full_record()
    loaded = TaskRecord.from_json(record.to_json().decode())
    follow_up = [
        event("a1", 1, completed_by=10),  # duplicate
        event("a4", 2, completed_by=13),  # below the tombstone
        event("a1", 2, kind="updated", completed_by=10, result=choice("neg")),
    ]
    assert [record.apply(e) for e in follow_up] == [loaded.apply(e) for e in follow_up]
    assert loaded.to_json() == record.to_json()


def test_from_json_none_is_empty_with_weights() -> None:
    record = TaskRecord.from_json(None, {"topics": 0.0})
    assert record.entries == {}
    assert record.decision is None
    assert record.agreement.score is None
    assert record.agreement.weights == {"topics": 0.0}


def test_weights_apply_to_a_loaded_record() -> None:
    record = record_of(
        event("a1", 1, completed_by=10, result=[*choice("pos"), *choice("x", "topics")]),
    )
    loaded = TaskRecord.from_json(record.to_json(), {"topics": 0.0})
    loaded.apply(event("a2", 1, completed_by=11, result=[*choice("pos"), *choice("y", "topics")]))
    assert loaded.agreement.score == 1.0


@pytest.mark.parametrize("version", [None, 0, 2, "1"])
def test_version_mismatch_asks_for_a_rebuild(version: object) -> None:
    doc = orjson.loads(full_record().to_json())
    if version is None:
        del doc["v"]
    else:
        doc["v"] = version
    with pytest.raises(ValueError, match="rebuild"):
        TaskRecord.from_json(orjson.dumps(doc))


# Ground truth: one per task, scored against as annotators submit ---------------------


def _with_scoring(include_ground_truth: bool) -> TaskRecord:
    from agreement import ScoringConfig

    return TaskRecord.from_json(
        None, scoring=ScoringConfig(include_ground_truth=include_ground_truth)
    )


def test_ground_truth_scores_the_others_as_they_submit() -> None:
    record = _with_scoring(include_ground_truth=True)
    record.apply(event("gt", 1, completed_by=1, result=choice("pos"), ground_truth=True))
    record.apply(event("a", 1, completed_by=2, result=choice("pos")))
    record.apply(event("b", 1, completed_by=3, result=choice("neg")))
    assert record.ground_truth == ("gt", choice("pos"))
    assert record.ground_truth_agreement("a") == 1.0
    assert record.ground_truth_agreement("b") == 0.0
    assert record.ground_truth_agreement("gt") is None  # not against itself
    # Counted as a normal annotation when the project includes ground truth.
    assert record.agreement.ids == ["a", "b", "gt"]
    loaded = TaskRecord.from_json(record.to_json())
    assert loaded.ground_truth == record.ground_truth


def test_ground_truth_left_out_of_the_agreement_and_replaced() -> None:
    record = _with_scoring(include_ground_truth=False)
    record.apply(event("gt", 1, completed_by=1, result=choice("pos"), ground_truth=True))
    record.apply(event("a", 1, completed_by=2, result=choice("neg")))
    assert record.agreement.ids == ["a"]
    assert record.annotators == ["1", "2"]  # it still counts toward the overlap
    assert record.ground_truth_agreement("a") == 0.0
    # Marking another replaces it; the one replaced counts in the agreement again.
    record.apply(event("a", 2, completed_by=2, result=choice("neg"), ground_truth=True))
    assert record.ground_truth == ("a", choice("neg"))
    assert record.agreement.ids == ["gt"]
    assert record.ground_truth_agreement("gt") == 0.0


def test_ground_truth_unmarked_by_an_update_or_a_delete() -> None:
    record = _with_scoring(include_ground_truth=False)
    record.apply(event("gt", 1, completed_by=1, result=choice("pos"), ground_truth=True))
    record.apply(event("gt", 2, kind="updated", completed_by=1, result=choice("neu")))
    assert record.ground_truth is None
    assert record.agreement.ids == ["gt"]
    record.apply(event("b", 1, completed_by=2, result=choice("neu"), ground_truth=True))
    record.apply(event("b", 2, kind="deleted"))
    assert record.ground_truth is None
    assert record.ground_truth_agreement("gt") is None


def test_records_written_before_ground_truth_still_load() -> None:
    record = record_of(event("a1", 1, completed_by=10))
    doc = orjson.loads(record.to_json())
    del doc["ground_truth"]
    assert TaskRecord.from_json(orjson.dumps(doc)).ground_truth is None


def test_the_stored_status_is_the_last_decision() -> None:
    record = record_of(event("a1", 1, completed_by=10))
    assert TaskRecord.stored_status(record.to_json()) == "collecting"  # nothing decided
    record.decision = DecisionState(Decision.REASSIGN, 3)
    assert TaskRecord.stored_status(record.to_json()) == "reassign"
    record.decision = DecisionState(Decision.COMPLETED)
    assert TaskRecord.stored_status(record.to_json()) == "completed"
