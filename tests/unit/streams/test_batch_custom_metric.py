"""A project's custom metric that fails on an event: the event is a dead letter, the task
and the batch go on as if it had not come."""

from __future__ import annotations

from agreement import ScoringConfig
from streams.batch import BatchOutcome, InputRecord, TaskRef, apply_batch, parse_batch
from streams.models.outputs import DEAD_LETTER, TASK_COMPLETED, TASK_QUALITY
from streams.models.project import ProjectConfig

from .events import annotation_bytes, choice

PARTITION = 1
TOPIC = "quorum.annotations"
FAILING = ProjectConfig(
    "1", annotations_per_task=2, agreement_threshold=0.5,
    scoring=ScoringConfig(custom_metric="tests.unit.agreement.custom_metric:fails_on_neutral"),
)
NOT_A_NUMBER = ProjectConfig(
    "1", annotations_per_task=2,
    scoring=ScoringConfig(custom_metric="tests.unit.agreement.custom_metric:not_a_number"),
)


def vote(task: int, annotator: int, label: str) -> bytes:
    return annotation_bytes(task_id=task, annotation_id=f"{task}-{annotator}",
                            event_id=f"ev-{task}-{annotator}", completed_by=annotator,
                            result=choice(label))


def run(values: list[bytes], config: ProjectConfig,
        stored: dict[TaskRef, bytes] | None = None) -> BatchOutcome:
    records = [InputRecord(10 + i, value) for i, value in enumerate(values)]
    batch = parse_batch(PARTITION, TOPIC, records, max_bytes=1 << 16)
    stored = stored or {}
    return apply_batch(batch, {ref: stored.get(ref) for ref in batch.task_refs},
                       {"1": config}, after_offset=None)


def test_a_failing_metric_dead_letters_the_event_and_leaves_the_task_as_before() -> None:
    events = [vote(2, 1, "pos"), vote(2, 2, "neu"), vote(3, 1, "pos"), vote(2, 3, "pos")]
    outcome = run(events, FAILING)
    letters = [o.body for o in outcome.outputs if o.body["schema"] == DEAD_LETTER]
    assert len(letters) == 1
    letter = letters[0]
    assert letter["offset"] == 11
    assert "fails_on_neutral" in letter["reason"] and "KeyError" in letter["reason"]
    assert "resend it once the metric is fixed" in letter["reason"]
    assert letter["original"] == events[1].decode()  # the bytes as they came
    assert outcome.dead_letters == 1
    assert outcome.applied == 3
    # Every other event went on: task 2 completed with annotators 1 and 3, exactly as
    # if the failing annotation had never come.
    without = run([vote(2, 1, "pos"), vote(3, 1, "pos"), vote(2, 3, "pos")], FAILING)
    assert outcome.records[("1", "2")].to_json() == without.records[("1", "2")].to_json()
    kinds = [(o.body["schema"], o.body.get("task_id")) for o in outcome.outputs]
    assert kinds == [(TASK_QUALITY, "2"), (DEAD_LETTER, "2"), (TASK_QUALITY, "3"),
                     (TASK_QUALITY, "2"), (TASK_COMPLETED, "2")]
    assert [o.body["event_id"] for o in outcome.outputs] == [
        "1:10:0", "1:11:0", "1:12:0", "1:13:0", "1:13:1"]


def test_a_failing_first_annotation_stores_no_task() -> None:
    # The metric runs on pairs: with a stored annotation to pair with, the new one fails.
    first = run([vote(4, 1, "neu")], FAILING)
    stored = {ref: r.to_json() for ref, r in first.records.items()}
    outcome = run([vote(4, 2, "pos")], FAILING, stored=stored)
    assert [o.body["schema"] for o in outcome.outputs] == [DEAD_LETTER]
    assert outcome.records[("1", "4")].to_json() == stored[("1", "4")]


def test_a_metric_that_returns_no_number_is_a_dead_letter_too() -> None:
    outcome = run([vote(5, 1, "pos"), vote(5, 2, "pos")], NOT_A_NUMBER)
    letters = [o.body for o in outcome.outputs if o.body["schema"] == DEAD_LETTER]
    assert len(letters) == 1 and "returned 'high'" in letters[0]["reason"]

