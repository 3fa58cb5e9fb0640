"""Reviews in the processing core: parsed on the annotations topic, applied in offset order
with the annotations, their task-quality, decision and workflow-fact outputs, dead letters."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.batch import BatchOutcome, InputRecord, TaskRef, apply_batch, parse_batch
from streams.models.outputs import DEAD_LETTER, TASK_QUALITY
from streams.models.project import ProjectConfig
from streams.models.review import review_event
from streams.models.workflow import FACT_SCHEMA, parse_workflow_event

from .events import OCCURRED_AT, annotation_bytes, choice

PARTITION = 3
TOPIC = "quorum.annotations"
MAX_BYTES = 4096
CONFIG = ProjectConfig(
    "1", annotations_per_task=3, agreement_threshold=0.7, max_additional_annotators=1
)
DISTRIBUTED = ProjectConfig(
    "1", annotations_per_task=3, agreement_threshold=0.7, max_additional_annotators=1,
    distribute=True,
)


def vote(annotator: int, label: str = "pos", *, revision: int = 1, task: str = "2") -> bytes:
    """Annotator ``annotator``'s annotation ``a<annotator>`` of task 2 in project 1."""
    return annotation_bytes(annotation_id=f"a{annotator}", completed_by=annotator,
                            revision=revision, task_id=task, result=choice(label),
                            event_id=f"ev-{annotator}-{revision}")


def verdict(annotator: int, action: str, /, *, revision: int = 1, label: str | None = None,
            requeue: bool | None = None, task: str = "2", **fields: Any) -> bytes:
    """A review of annotation ``a<annotator>`` by reviewer ``boss``."""
    body = review_event("1", task, f"a{annotator}", "boss", action, revision=revision,
                        result=None if label is None else choice(label), requeue=requeue,
                        event_id=f"rv-{annotator}-{revision}", occurred_at=OCCURRED_AT)
    body.update(fields)
    return orjson.dumps(body)


def records_of(values: Sequence[bytes | None], first: int = 100) -> list[InputRecord]:
    return [InputRecord(first + i, value) for i, value in enumerate(values)]


def run(records: list[InputRecord], stored: dict[TaskRef, bytes] | None = None,
        config: ProjectConfig = CONFIG, *, after_offset: int | None = None) -> BatchOutcome:
    batch = parse_batch(PARTITION, TOPIC, records, max_bytes=MAX_BYTES)
    stored = stored or {}
    return apply_batch(batch, {ref: stored.get(ref) for ref in batch.task_refs},
                       {"1": config}, after_offset=after_offset)


def schemas(outcome: BatchOutcome) -> list[str]:
    return [o.body["schema"] for o in outcome.outputs]


def quality(outcome: BatchOutcome) -> list[dict[str, Any]]:
    return [o.body for o in outcome.outputs if o.body["schema"] == TASK_QUALITY]


def store_of(outcome: BatchOutcome) -> dict[TaskRef, bytes]:
    return {ref: record.to_json() for ref, record in outcome.records.items()}


# parse_batch ------------------------------------------------------------------------------


def test_reviews_are_parsed_apart_from_annotations() -> None:
    records = records_of([vote(1), verdict(1, "accept", task="8"), b"{", vote(2)])
    batch = parse_batch(PARTITION, TOPIC, records, max_bytes=MAX_BYTES)
    assert [offset for offset, _ in batch.events] == [100, 103]
    assert [(offset, raw, r.annotation_id) for offset, raw, r in batch.reviews] == [
        (101, records[1].value, "a1")]
    assert [offset for offset, _, _ in batch.refused] == [102]
    assert batch.size == 4
    assert batch.task_refs == [("1", "2"), ("1", "8")]
    assert batch.project_ids == ["1"]
    assert [offset for offset, _ in batch.in_offset_order()] == [100, 101, 103]


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        # A review breaking its schema: the review's reason, not an annotation's.
        (verdict(1, "accept", action="approve"), ["'action'", "accept, reject, fix_and_accept"]),
        (verdict(1, "fix_and_accept"), ["missing field 'result'", "fix_and_accept"]),
        (verdict(1, "reject", revision=0), ["'revision'", ">= 1"]),
        # Neither schema: say which two the topic carries.
        (orjson.dumps({"schema": "quorum.task/v1"}),
         ["unknown schema 'quorum.task/v1'", "quorum.annotation/v1", "quorum.review/v1"]),
        # A broken annotation keeps the annotation's reason.
        (annotation_bytes(revision="1"), ["'revision'", "an integer"]),
        (b"[1]", ["JSON object"]),
        (verdict(1, "accept", comment="x" * MAX_BYTES), ["bytes, above the 4096-byte limit"]),
    ],
)
def test_a_refused_message_gets_the_reason_of_its_own_schema(raw: bytes, words: list[str]) -> None:
    batch = parse_batch(PARTITION, TOPIC, records_of([raw]), max_bytes=MAX_BYTES)
    assert (batch.events, batch.reviews) == ([], [])
    (_, _, reason), = batch.refused
    assert all(word in reason for word in words), reason


# apply_batch ------------------------------------------------------------------------------


def test_a_reject_changes_the_agreement_but_not_the_decision() -> None:
    outcome = run(records_of([vote(1), vote(2), vote(3, "neg"), verdict(3, "reject")]))
    assert schemas(outcome)[-1] == TASK_QUALITY
    reviewed = quality(outcome)[-1]
    assert reviewed["event_id"] == f"{PARTITION}:103:0"
    assert reviewed["source_event_id"] == "rv-3-1"
    assert reviewed["kind"] == "reviewed"
    assert reviewed["annotation_id"] == "a3"
    assert reviewed["agreement"] == 1.0  # a1 and a2 alone
    assert reviewed["annotations"] == 2
    assert reviewed["annotators"] == ["1", "2"]
    # The reviewer decides from now on: the consensus's last decision stands.
    assert reviewed["status"] == quality(outcome)[2]["status"] == "reassign"
    # Not even a new annotation that would complete the task moves it.
    again = run(records_of([vote(4)], first=104), store_of(outcome), after_offset=103)
    assert schemas(again) == [TASK_QUALITY]
    assert quality(again)[0]["agreement"] == 1.0


def test_without_a_review_the_same_annotations_would_decide() -> None:
    # The control for the test above: the decisions come from the consensus until then.
    outcome = run(records_of([vote(1), vote(2), vote(3, "neg"), vote(4)]))
    # Budget spent (3 + 1) below the threshold: the consensus sends it to review.
    assert [q["status"] for q in quality(outcome)] == \
        ["collecting", "collecting", "reassign", "review"]


def test_a_fix_counts_the_fixed_result_without_deciding() -> None:
    outcome = run(records_of([vote(1), vote(2), vote(3, "neg"), verdict(3, "fix_and_accept",
                                                                       label="pos")]))
    assert quality(outcome)[2]["status"] == "reassign"
    assert schemas(outcome)[-1] == TASK_QUALITY
    reviewed = quality(outcome)[-1]
    assert (reviewed["agreement"], reviewed["annotations"], reviewed["status"]) == \
        (1.0, 3, "reassign")


def test_an_accept_reports_the_unchanged_agreement() -> None:
    outcome = run(records_of([vote(1), vote(2, "neg"), verdict(2, "accept")]))
    before, reviewed = quality(outcome)[1:]
    assert reviewed["kind"] == "reviewed"
    assert reviewed["agreement"] == before["agreement"] == 0.0
    assert (outcome.applied, outcome.ignored) == (3, 0)


def test_a_duplicate_review_changes_nothing() -> None:
    first = run(records_of([vote(1), vote(2), verdict(2, "reject")]))
    # Redelivered, and a verdict at a revision already applied to the annotation.
    again = run(records_of([verdict(2, "reject"), verdict(2, "accept")], first=103),
                store_of(first), after_offset=102)
    assert again.outputs == []
    assert (again.applied, again.ignored, again.dead_letters) == (0, 2, 0)
    assert store_of(again) == store_of(first)


def test_a_review_of_an_annotation_that_does_not_count_is_a_dead_letter() -> None:
    unknown = verdict(7, "accept")
    outcome = run(records_of([vote(1), unknown, verdict(1, "accept", task="elsewhere")]))
    assert schemas(outcome) == [TASK_QUALITY, DEAD_LETTER, DEAD_LETTER]
    letter = outcome.outputs[1]
    assert letter.key == f"{PARTITION}:101"
    assert letter.body["event_id"] == f"{PARTITION}:101:0"
    assert letter.body["offset"] == 101
    assert letter.body["original"] == unknown.decode()
    assert "'a7'" in letter.body["reason"] and "unknown" in letter.body["reason"]
    assert (outcome.applied, outcome.dead_letters) == (1, 2)
    # No empty record is stored for a task nothing was applied to.
    assert set(outcome.records) == {("1", "2")}


def test_replayed_reviews_are_skipped() -> None:
    records = records_of([vote(1), vote(2), verdict(2, "reject"), verdict(9, "accept")])
    whole = run(records)
    first = run(records[:2])
    replay = run(records, store_of(first), after_offset=101)
    assert first.outputs + replay.outputs == whole.outputs
    assert store_of(replay) == store_of(whole)


# Workflow facts -----------------------------------------------------------------------------


def facts(outcome: BatchOutcome) -> list[dict[str, Any]]:
    return [o.body for o in outcome.outputs if o.topic == "workflow"]


def test_a_distributed_project_gets_a_reviewed_fact() -> None:
    messages = [vote(1), vote(2), vote(3, "neg"),
                verdict(3, "fix_and_accept", label="pos")]
    outcome = run(records_of(messages), config=DISTRIBUTED)
    reviewed = facts(outcome)[-1]
    assert reviewed == {
        "schema": FACT_SCHEMA,
        "event_id": f"{PARTITION}:103:1",  # after the task-quality event
        "project_id": "1",
        "occurred_at": OCCURRED_AT,
        "kind": "reviewed",
        "task_id": "2",
        "annotator": "3",  # the annotation's author, not the reviewer
        "annotation_id": "a3",
        "reviewer": "boss",
        "action": "fix_and_accept",
        "score": 0.0,  # neg fixed to pos
        "requeue": None,
        "agreement": 1.0,  # the task's after the fix: three pos
    }
    assert all(o.key == "1" for o in outcome.outputs if o.topic == "workflow")
    # What the workflow agent reads back.
    event = parse_workflow_event(orjson.dumps(reviewed))
    assert event.review is not None
    assert (event.annotator, event.review.action, event.review.score) == \
        ("3", "fix_and_accept", 0.0)


def test_a_reject_fact_carries_the_reviewers_requeue_choice() -> None:
    outcome = run(records_of([vote(1), vote(2), verdict(2, "reject", requeue=False),
                              verdict(1, "accept")]), config=DISTRIBUTED)
    rejected, accepted = (f for f in facts(outcome) if f["kind"] == "reviewed")
    assert (rejected["annotator"], rejected["action"], rejected["score"],
            rejected["requeue"]) == ("2", "reject", 0.0, False)
    assert (accepted["annotator"], accepted["action"], accepted["score"],
            accepted["requeue"]) == ("1", "accept", 1.0, None)


def test_no_fact_for_a_project_that_does_not_distribute() -> None:
    outcome = run(records_of([vote(1), vote(2), verdict(2, "reject")]))
    assert facts(outcome) == []


# Batch boundaries and replays never change state or outputs --------------------------------

IDS = (1, 2, 3, 4)
message = st.one_of(
    st.builds(vote, st.sampled_from(IDS), st.sampled_from(["pos", "neg"]),
              revision=st.integers(1, 3), task=st.sampled_from(["t1", "t2"])),
    st.builds(verdict, st.sampled_from(IDS), st.sampled_from(["accept", "reject"]),
              revision=st.integers(1, 3), task=st.sampled_from(["t1", "t2"])),
    st.builds(verdict, st.sampled_from(IDS), st.just("fix_and_accept"),
              revision=st.integers(1, 3), label=st.sampled_from(["pos", "neg"]),
              task=st.sampled_from(["t1", "t2"])),
)


def process(
    records: list[InputRecord], cuts: list[int], back: int = 0
) -> tuple[dict[TaskRef, bytes], list[Any]]:
    """Batches cut at ``cuts``, each fetched again from ``back`` messages earlier (as after
    a crash: the consumer position lags the applied offset)."""
    store: dict[TaskRef, bytes] = {}
    published: list[Any] = []
    applied: int | None = None
    for start, end in pairwise([0, *cuts, len(records)]):
        outcome = run(records[max(0, start - back):end], store, DISTRIBUTED,
                      after_offset=applied)
        store.update(store_of(outcome))
        published += [(o.topic, o.key, o.body) for o in outcome.outputs]
        applied = records[end - 1].offset if end > start else applied
    return store, published


@settings(max_examples=150, deadline=None)
@given(messages=st.lists(message, min_size=4, max_size=30),
       cuts=st.lists(st.integers(1, 29), max_size=5), back=st.integers(0, 4))
def test_batch_boundaries_and_replays_never_change_state_or_outputs(
    messages: list[bytes], cuts: list[int], back: int
) -> None:
    records = records_of(list(messages))
    whole = process(records, [])
    assert process(records, sorted({c for c in cuts if c < len(records)}), back) == whole
