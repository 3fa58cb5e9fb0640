"""The overlap cohort in the processing core: a task outside it is decided after one
annotation, whether Quorum's rule or the labeling tool put it there."""

from __future__ import annotations

from typing import Any

from assignment.distribution_policy import in_overlap_cohort
from streams.batch import BatchOutcome, InputRecord, TaskRef, apply_batch, parse_batch
from streams.models.outputs import REASSIGN_REQUESTED, TASK_COMPLETED, TASK_QUALITY
from streams.models.project import ProjectConfig
from streams.state.task import TaskRecord

from .events import annotation_bytes, choice

PARTITION = 3
TOPIC = "quorum.annotations"
MAX_BYTES = 4096
COHORT = ProjectConfig("1", annotations_per_task=3, agreement_threshold=0.7,
                       max_additional_annotators=1, overlap_cohort_percentage=50)

# Task ids on each side of Quorum's cohort rule for 50%, found by the rule itself.
INSIDE = next(str(t) for t in range(1000) if in_overlap_cohort(str(t), 50))
OUTSIDE = next(str(t) for t in range(1000) if not in_overlap_cohort(str(t), 50))


def vote(task: str, annotator: int, label: str = "pos", **fields: Any) -> bytes:
    return annotation_bytes(task_id=task, annotation_id=f"{task}-a{annotator}",
                            event_id=f"ev-{task}-{annotator}", completed_by=annotator,
                            result=choice(label), **fields)


def run(values: list[bytes], config: ProjectConfig = COHORT, first: int = 10,
        stored: dict[TaskRef, bytes] | None = None) -> BatchOutcome:
    records = [InputRecord(first + i, value) for i, value in enumerate(values)]
    batch = parse_batch(PARTITION, TOPIC, records, max_bytes=MAX_BYTES)
    stored = stored or {}
    return apply_batch(batch, {ref: stored.get(ref) for ref in batch.task_refs},
                       {"1": config}, after_offset=None)


def statuses(outcome: BatchOutcome) -> list[tuple[str, str]]:
    return [(o.body["task_id"], o.body["status"]) for o in outcome.outputs
            if o.body["schema"] == TASK_QUALITY]


def completed(outcome: BatchOutcome) -> list[str]:
    return [o.body["task_id"] for o in outcome.outputs if o.body["schema"] == TASK_COMPLETED]


def test_the_cohort_rule_splits_tasks_about_as_asked() -> None:
    inside = sum(in_overlap_cohort(str(t), 30) for t in range(10_000))
    assert 2_800 < inside < 3_200
    assert all(in_overlap_cohort(str(t), 100) for t in range(100))
    assert not any(in_overlap_cohort(str(t), 0) for t in range(100))


def test_the_consensus_and_the_distribution_follow_the_same_rule() -> None:
    policy = COHORT.distribution_policy
    for task in (INSIDE, OUTSIDE, "task-000211", "x"):
        wanted = 3 if COHORT.in_overlap_cohort(task) else 1
        assert policy.task_overlap(task) == wanted


def test_a_task_outside_the_cohort_completes_after_one_annotation() -> None:
    outcome = run([vote(OUTSIDE, 1), vote(INSIDE, 1), vote(INSIDE, 2)])
    assert statuses(outcome) == [(OUTSIDE, "completed"), (INSIDE, "collecting"),
                                 (INSIDE, "collecting")]
    assert completed(outcome) == [OUTSIDE]
    outside_quality = outcome.outputs[0].body
    assert outside_quality["overlap"] == 1
    assert outcome.outputs[2].body["overlap"] == 3


def test_a_task_in_the_cohort_still_waits_for_the_overlap() -> None:
    outcome = run([vote(INSIDE, 1), vote(INSIDE, 2), vote(INSIDE, 3)])
    assert statuses(outcome)[-1] == (INSIDE, "completed")
    assert completed(outcome) == [INSIDE]


def test_every_task_wants_the_overlap_without_a_cohort() -> None:
    full = ProjectConfig("1", annotations_per_task=3, agreement_threshold=0.7)
    assert full.outside_cohort_policy is None
    outcome = run([vote(OUTSIDE, 1)], config=full)
    assert statuses(outcome) == [(OUTSIDE, "collecting")]


def test_an_outside_task_keeps_the_projects_budget_for_low_agreement() -> None:
    # One annotation wanted plus the one additional annotator: a second annotation that
    # disagrees spends the budget, and the task goes to review.
    outcome = run([vote(OUTSIDE, 1), vote(OUTSIDE, 2, "neg")])
    assert statuses(outcome) == [(OUTSIDE, "completed"), (OUTSIDE, "review")]
    two = ProjectConfig("1", annotations_per_task=3, agreement_threshold=0.7,
                        max_additional_annotators=2, overlap_cohort_percentage=50)
    outcome = run([vote(OUTSIDE, 1), vote(OUTSIDE, 2, "neg")], config=two)
    assert statuses(outcome) == [(OUTSIDE, "completed"), (OUTSIDE, "reassign")]
    reassign = [o.body for o in outcome.outputs if o.body["schema"] == REASSIGN_REQUESTED]
    assert reassign[0]["budget_left"] == 1


def test_the_tools_overlap_overrides_the_rule_and_is_kept() -> None:
    # Label Studio picks its cohort itself: overlap 1 puts a task outside, whatever the
    # hash says, and more than 1 puts it inside.
    outcome = run([vote(INSIDE, 1, task_overlap=1), vote(OUTSIDE, 1, task_overlap=3)])
    assert statuses(outcome) == [(INSIDE, "completed"), (OUTSIDE, "collecting")]
    record = outcome.records[("1", INSIDE)]
    assert record.tool_overlap == 1
    stored = {ref: r.to_json() for ref, r in outcome.records.items()}
    assert TaskRecord.from_json(stored[("1", INSIDE)]).tool_overlap == 1
    # A later event that does not say (a deletion, an export) keeps the tool's word.
    later = run([vote(OUTSIDE, 2)], first=20, stored=stored)
    assert statuses(later) == [(OUTSIDE, "collecting")]


def test_a_record_without_the_tools_overlap_stores_no_field() -> None:
    outcome = run([vote(INSIDE, 1)])
    assert b"tool_overlap" not in outcome.records[("1", INSIDE)].to_json()
