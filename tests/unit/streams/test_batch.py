"""The processing core: decisions and their events, ids, dead letters, replays, batch splits."""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agreement import ScoringConfig, TagScoring
from streams.batch import (
    BatchOutcome,
    InputRecord,
    TaskRef,
    apply_batch,
    decode_outputs,
    encode_outputs,
    parse_batch,
)
from streams.models.outputs import (
    DEAD_LETTER,
    REASSIGN_REQUESTED,
    REVIEW_REQUESTED,
    TASK_COMPLETED,
    TASK_QUALITY,
    output,
)
from streams.models.project import ProjectConfig

from .events import annotation_bytes, choice

PARTITION = 7
TOPIC = "quorum.annotations"
MAX_BYTES = 4096
FIRST_OFFSET = 100
# Three annotators per task; below 0.7 one more may be asked, then the task goes to review.
CONFIG = ProjectConfig(
    "1", annotations_per_task=3, agreement_threshold=0.7, max_additional_annotators=1
)
CONFIGS = {"1": CONFIG}
KEY = "1:2"  # project 1, task 2


def vote(
    annotator: int, label: str = "pos", *, revision: int = 1, kind: str = "created", **fields: Any
) -> bytes:
    """Annotator ``annotator``'s annotation ``a<annotator>`` of task 2 in project 1."""
    fields.setdefault("annotation_id", f"a{annotator}")
    fields.setdefault("event_id", f"ev-{annotator}-{revision}-{kind}")
    return annotation_bytes(
        completed_by=annotator, revision=revision, kind=kind, result=choice(label), **fields
    )


def delete(annotator: int, *, revision: int = 2) -> bytes:
    return annotation_bytes(
        annotation_id=f"a{annotator}",
        revision=revision,
        kind="deleted",
        completed_by=None,
        result=None,
        event_id=f"del-{annotator}",
    )


def records_of(values: Sequence[bytes | None], first: int = FIRST_OFFSET) -> list[InputRecord]:
    return [InputRecord(first + i, value) for i, value in enumerate(values)]


def run(
    records: Sequence[InputRecord],
    stored: dict[TaskRef, bytes] | None = None,
    configs: dict[str, ProjectConfig] | None = None,
    *,
    after_offset: int | None = None,
) -> BatchOutcome:
    batch = parse_batch(PARTITION, TOPIC, records, max_bytes=MAX_BYTES)
    stored = stored or {}
    return apply_batch(
        batch,
        {ref: stored.get(ref) for ref in batch.task_refs},
        CONFIGS if configs is None else configs,
        after_offset=after_offset,
    )


def bodies(outcome: BatchOutcome, schema: str | None = None) -> list[dict[str, Any]]:
    return [o.body for o in outcome.outputs if schema is None or o.body["schema"] == schema]


def schemas(outcome: BatchOutcome) -> list[str]:
    return [o.body["schema"] for o in outcome.outputs]


def store_of(outcome: BatchOutcome) -> dict[TaskRef, bytes]:
    return {ref: record.to_json() for ref, record in outcome.records.items()}


# Decisions ---------------------------------------------------------------------------


def test_collecting_until_the_overlap() -> None:
    outcome = run(records_of([vote(1), vote(2)]))
    assert schemas(outcome) == [TASK_QUALITY, TASK_QUALITY]
    first, second = bodies(outcome)
    assert first["status"] == second["status"] == "collecting"
    assert first["annotations"] == 1
    assert second["annotators"] == ["1", "2"]
    assert second["overlap"] == 3
    assert second["threshold"] == 0.7
    assert outcome.applied == 2
    assert outcome.ignored == 0


def test_below_threshold_with_budget_reassigns_once() -> None:
    skip = annotation_bytes(annotation_id="a5", completed_by=5, kind="skipped", result=None)
    outcome = run(records_of([skip, vote(1), vote(2), vote(3, "neg")]))
    assert schemas(outcome) == [TASK_QUALITY] * 4 + [REASSIGN_REQUESTED]
    quality = bodies(outcome)[3]
    assert quality["status"] == "reassign"
    assert quality["agreement"] == pytest.approx(1 / 3)
    reassign = outcome.outputs[-1]
    assert reassign.topic == "assignments"
    assert reassign.key == KEY
    assert reassign.body == {
        "schema": REASSIGN_REQUESTED,
        "event_id": f"{PARTITION}:103:1",
        "project_id": "1",
        "task_id": "2",
        "occurred_at": quality["occurred_at"],
        "source_event_id": "ev-3-1-created",
        "agreement": quality["agreement"],
        "threshold": 0.7,
        "annotators": ["1", "2", "3"],
        "additional_annotators": 1,
        "exclude_annotators": ["1", "2", "3", "5"],  # the skipper too
        "budget_left": 1,
    }


def test_budget_exhausted_goes_to_review_once() -> None:
    outcome = run(records_of([vote(1), vote(2), vote(3, "neg"), vote(4, "neg"), vote(6)]))
    assert schemas(outcome) == [
        TASK_QUALITY,
        TASK_QUALITY,
        TASK_QUALITY,
        REASSIGN_REQUESTED,
        TASK_QUALITY,
        REVIEW_REQUESTED,
        TASK_QUALITY,  # a fifth annotator, still below: already in review, no new event
    ]
    review = outcome.outputs[5]
    assert review.topic == "review-requests"
    assert review.key == KEY
    assert review.body["event_id"] == f"{PARTITION}:103:1"
    assert review.body["reason"] == "low_agreement_budget_exhausted"
    assert review.body["annotators"] == ["1", "2", "3", "4"]
    assert review.body["agreement"] == pytest.approx(2 / 6)
    assert bodies(outcome)[-1]["status"] == "review"


def test_skips_count_toward_the_overlap_when_the_project_counts_them_as_done() -> None:
    counting = ProjectConfig("1", annotations_per_task=3, agreement_threshold=0.7,
                             max_additional_annotators=1, skip_mode="count_as_done")
    skip = annotation_bytes(annotation_id="a5", completed_by=5, kind="skipped", result=None)
    outcome = run(records_of([vote(1), skip, vote(2)]), configs={"1": counting})
    assert [b["status"] for b in bodies(outcome, TASK_QUALITY)] == [
        "collecting", "collecting", "completed"]  # 2 annotations + 1 skip = the overlap
    assert bodies(outcome, TASK_COMPLETED)[0]["annotators"] == ["1", "2"]
    # Below the threshold, the skip has used one seat of the budget too.
    outcome = run(records_of([vote(1), skip, vote(2, "neg")]), configs={"1": counting})
    reassign = bodies(outcome, REASSIGN_REQUESTED)
    assert reassign[0]["budget_left"] == 1  # 3 + 1 seats, 2 annotators and 1 skipper
    # Someone who skipped and then annotated holds one seat, not two.
    again = annotation_bytes(annotation_id="a6", completed_by=5, result=choice("pos"),
                             event_id="ev-5-again")
    outcome = run(records_of([vote(1), skip, again]), configs={"1": counting})
    assert [b["status"] for b in bodies(outcome, TASK_QUALITY)][-1] == "collecting"
    # With the default skip mode a skip holds no seat.
    outcome = run(records_of([vote(1), skip, vote(2)]))
    assert [b["status"] for b in bodies(outcome, TASK_QUALITY)][-1] == "collecting"


def test_at_or_above_threshold_completes() -> None:
    outcome = run(records_of([vote(1), vote(2), vote(3)]))
    assert schemas(outcome) == [TASK_QUALITY] * 3 + [TASK_COMPLETED]
    completed = outcome.outputs[-1]
    assert completed.topic == "task-completed"
    assert completed.body["agreement"] == 1.0
    assert completed.body["event_id"] == f"{PARTITION}:102:1"
    assert bodies(outcome)[2]["status"] == "completed"


def test_exactly_at_threshold_completes() -> None:
    config = ProjectConfig("1", annotations_per_task=3, agreement_threshold=1 / 3)
    outcome = run(records_of([vote(1), vote(2), vote(3, "neg")]), configs={"1": config})
    assert bodies(outcome)[2]["agreement"] == 1 / 3
    assert schemas(outcome)[-1] == TASK_COMPLETED


def test_update_emits_the_new_agreement() -> None:
    done = run(records_of([vote(1), vote(2), vote(3)]))
    outcome = run(
        records_of(
            [
                vote(3, "neg", revision=2, kind="updated"),
                vote(3, "pos", revision=3, kind="updated"),
            ],
            first=103,
        ),
        store_of(done),
        after_offset=102,
    )
    assert schemas(outcome) == [TASK_QUALITY, REASSIGN_REQUESTED, TASK_QUALITY, TASK_COMPLETED]
    lowered, _, raised, _ = bodies(outcome)
    assert lowered["kind"] == "updated"
    assert lowered["annotation_id"] == "a3"
    assert lowered["agreement"] == pytest.approx(1 / 3)
    assert lowered["status"] == "reassign"
    assert raised["agreement"] == 1.0
    assert raised["status"] == "completed"


def test_delete_lowers_the_count_back_to_collecting() -> None:
    outcome = run(records_of([vote(1), vote(2), vote(3), delete(3)]))
    assert schemas(outcome) == [TASK_QUALITY] * 3 + [TASK_COMPLETED, TASK_QUALITY]
    after = bodies(outcome)[-1]
    assert after["kind"] == "deleted"
    assert after["annotations"] == 2
    assert after["annotators"] == ["1", "2"]
    assert after["status"] == "collecting"
    # Back at the overlap, the task completes again.
    again = run(records_of([vote(4)], first=104), store_of(outcome), after_offset=103)
    assert schemas(again) == [TASK_QUALITY, TASK_COMPLETED]


def test_predictions_do_not_count_towards_the_overlap() -> None:
    prediction = annotation_bytes(
        annotation_id="m1", completed_by=None, model_version="v2", result=choice("neg")
    )
    outcome = run(records_of([vote(1), vote(2), prediction]))
    assert schemas(outcome) == [TASK_QUALITY] * 3
    last = bodies(outcome)[-1]
    assert last["annotations"] == 2
    assert last["agreement"] == 1.0
    assert last["status"] == "collecting"


def test_unconfigured_project_uses_defaults() -> None:
    outcome = run(records_of([vote(1, project_id=9)]), configs={})
    assert schemas(outcome) == [TASK_QUALITY, TASK_COMPLETED]
    quality = bodies(outcome)[0]
    assert quality["overlap"] == 1
    assert quality["threshold"] == 0.0
    assert quality["status"] == "completed"
    assert outcome.outputs[1].key == "9:2"


def test_each_project_gets_its_configuration() -> None:
    outcome = run(records_of([vote(1), vote(1, project_id=9)]))
    assert [b["overlap"] for b in bodies(outcome, TASK_QUALITY)] == [3, 1]
    assert set(outcome.records) == {("1", "2"), ("9", "2")}


def test_control_weights_apply() -> None:
    scoring = ScoringConfig(tags={"topics": TagScoring(weight=0.0)})
    config = ProjectConfig("1", annotations_per_task=2, scoring=scoring)
    first = annotation_bytes(
        annotation_id="a1", completed_by=1, result=[*choice("pos"), *choice("x", "topics")]
    )
    second = annotation_bytes(
        annotation_id="a2", completed_by=2, result=[*choice("pos"), *choice("y", "topics")]
    )
    weighted = run(records_of([first, second]), configs={"1": config})
    assert bodies(weighted)[-1]["agreement"] == 1.0
    unweighted = run(records_of([first, second]), configs={})
    assert bodies(unweighted)[-1]["agreement"] == 0.5


# Ids, dead letters, duplicates and replays ----------------------------------------------

ID = re.compile(r"^(\d+):(\d+):(\d+)$")


def test_event_ids_are_partition_offset_rank_and_deterministic() -> None:
    records = records_of([vote(1), b"not json", vote(2), vote(3)])
    outcome = run(records)
    ids = [o.body["event_id"] for o in outcome.outputs]
    assert ids == ["7:100:0", "7:101:0", "7:102:0", "7:103:0", "7:103:1"]
    assert len(set(ids)) == len(ids)
    for eid in ids:
        assert ID.match(eid)
    again = run(records)
    assert encode_outputs(again.outputs) == encode_outputs(outcome.outputs)


def test_occurred_at_comes_from_the_input() -> None:
    outcome = run(records_of([vote(1, occurred_at="2020-02-02T02:02:02+00:00")]))
    assert bodies(outcome)[0]["occurred_at"] == "2020-02-02T02:02:02+00:00"


def test_dead_letters_interleave_in_offset_order() -> None:
    records = records_of([vote(1), b"garbage", None, vote(2), b"[1]", vote(3)])
    outcome = run(records)
    assert schemas(outcome) == [
        TASK_QUALITY,
        DEAD_LETTER,
        DEAD_LETTER,
        TASK_QUALITY,
        DEAD_LETTER,
        TASK_QUALITY,
        TASK_COMPLETED,
    ]
    garbage, empty, array = (o for o in outcome.outputs if o.topic == "dead-letter")
    assert garbage.key == f"{PARTITION}:101"
    assert garbage.body["event_id"] == f"{PARTITION}:101:0"
    assert garbage.body["topic"] == TOPIC
    assert garbage.body["partition"] == PARTITION
    assert garbage.body["offset"] == 101
    assert garbage.body["original"] == "garbage"
    assert "not valid json" in garbage.body["reason"].lower()
    assert "empty message" in empty.body["reason"]
    assert empty.body["original"] == ""
    assert "object" in array.body["reason"]
    assert outcome.applied == 3


def test_oversize_message_is_a_dead_letter() -> None:
    big = vote(1, event_id="x" * MAX_BYTES)
    outcome = run(records_of([big]))
    (letter,) = outcome.outputs
    assert letter.body["schema"] == DEAD_LETTER
    assert str(len(big)) in letter.body["reason"]
    assert outcome.records == {}


def test_bad_annotation_id_is_a_dead_letter_not_an_error() -> None:
    outcome = run(records_of([vote(1, annotation_id="a|1"), vote(2)]))
    assert schemas(outcome) == [DEAD_LETTER, TASK_QUALITY]


def test_duplicate_at_a_new_offset_is_ignored() -> None:
    outcome = run(records_of([vote(1), vote(1), vote(2)]))
    assert [o.body["event_id"] for o in outcome.outputs] == ["7:100:0", "7:102:0"]
    assert (outcome.applied, outcome.ignored) == (2, 1)


def test_duplicate_in_a_later_batch_is_ignored() -> None:
    first = run(records_of([vote(1)]))
    again = run(records_of([vote(1)], first=101), store_of(first), after_offset=100)
    assert again.outputs == []
    assert (again.applied, again.ignored) == (0, 1)
    assert store_of(again) == store_of(first)


def test_stale_update_is_ignored() -> None:
    outcome = run(records_of([vote(1, revision=3), vote(1, "neg", revision=2, kind="updated")]))
    assert len(outcome.outputs) == 1
    assert (outcome.applied, outcome.ignored) == (1, 1)


def test_after_offset_skips_replayed_records_and_dead_letters() -> None:
    records = records_of([vote(1), b"garbage", vote(2), b"garbage", vote(3)])
    whole = run(records)
    first = run(records[:3])
    replay = run(records, store_of(first), after_offset=102)
    assert [o.body["event_id"] for o in replay.outputs] == ["7:103:0", "7:104:0", "7:104:1"]
    assert (replay.applied, replay.ignored) == (1, 0)
    assert first.outputs + replay.outputs == whole.outputs
    assert store_of(replay) == store_of(whole)


def test_after_offset_beyond_the_batch_changes_nothing() -> None:
    first = run(records_of([vote(1), vote(2)]))
    replay = run(records_of([vote(1), b"garbage", vote(2)]), store_of(first), after_offset=500)
    assert replay.outputs == []
    assert (replay.applied, replay.ignored) == (0, 0)
    assert store_of(replay) == {}


def test_stored_bytes_are_not_changed() -> None:
    stored = store_of(run(records_of([vote(1), vote(2)])))
    snapshot = dict(stored)
    run(records_of([vote(3, "neg")], first=102), stored, after_offset=101)
    assert stored == snapshot


# parse_batch and the outbox encoding -------------------------------------------------


def test_parse_batch() -> None:
    records = [
        InputRecord(5, vote(1, task_id=8)),
        InputRecord(6, None),
        InputRecord(7, vote(2, project_id=4, task_id=8)),
        InputRecord(8, vote(3, task_id=8)),
        InputRecord(9, b"{"),
    ]
    batch = parse_batch(PARTITION, TOPIC, records, max_bytes=MAX_BYTES)
    assert batch.partition == PARTITION
    assert batch.topic == TOPIC
    assert batch.last_offset == 9
    assert [offset for offset, _ in batch.events] == [5, 7, 8]
    assert [(offset, raw) for offset, raw, _ in batch.refused] == [(6, b""), (9, b"{")]
    assert batch.task_refs == [("1", "8"), ("4", "8")]
    assert batch.project_ids == ["1", "4"]


def test_parse_empty_batch() -> None:
    batch = parse_batch(PARTITION, TOPIC, [], max_bytes=MAX_BYTES)
    assert (batch.last_offset, batch.events, batch.refused, batch.task_refs) == (-1, [], [], [])
    outcome = apply_batch(batch, {}, {}, after_offset=None)
    assert (outcome.outputs, outcome.records) == ([], {})


def test_outbox_encoding_roundtrip() -> None:
    made: list[tuple[str, str, dict[str, object]]] = [
        ("task-quality", "projét:tâche:7", {"schema": TASK_QUALITY, "x": "a\nb"}),
        ("dead-letter", "7:101", {"original": "积极\r\n{}", "n": 1.5}),
        ("assignments", "::", {}),
    ]
    events = [output(topic, key, body) for topic, key, body in made]
    encoded = encode_outputs(events)
    decoded = decode_outputs(encoded.entry)
    assert decoded == encoded.messages
    assert [(topic, key) for topic, key, _ in decoded] == [
        (e.topic, e.key.encode()) for e in events
    ]
    # The bodies as they were made, and published as stored: orjson's encoding of them.
    assert [orjson.loads(body) for _, _, body in decoded] == [body for _, _, body in made]
    assert [e.body for e in events] == [body for _, _, body in made]
    assert [body for _, _, body in decoded] == [orjson.dumps(body) for _, _, body in made]


def test_outbox_encoding_of_no_events() -> None:
    assert decode_outputs(encode_outputs([]).entry) == []


def test_outbox_encoding_of_a_real_batch() -> None:
    outcome = run(records_of([vote(1), b"\xff\n\x00", vote(2), vote(3)]))
    decoded = decode_outputs(encode_outputs(outcome.outputs).entry)
    assert [(t, k, orjson.loads(b)) for t, k, b in decoded] == [
        (o.topic, o.key.encode(), o.body) for o in outcome.outputs
    ]


# The key property: batch boundaries and replays never change state or outputs -----------

PROJECTS = ["1", "1", "1", "9"]  # 1 is configured (and drawn most), 9 gets the defaults
TASKS = ["t1", "t:2"]
ANNOTATIONS = ["a1", "a2", "a3", "a4", "a5"]
LABELS = ["pos", "neg"]
INVALID = [
    None,
    b"garbage",
    b"[]",
    b"\xff\xfe",
    annotation_bytes(revision="1"),
    vote(1, annotation_id="a|1"),
    vote(1, event_id="x" * MAX_BYTES),
]


@st.composite
def valid_event(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["created", "created", "updated", "deleted", "skipped"]))
    annotation_id = draw(st.sampled_from(ANNOTATIONS))
    fields: dict[str, Any] = {
        "project_id": draw(st.sampled_from(PROJECTS)),
        "task_id": draw(st.sampled_from(TASKS)),
        "annotation_id": annotation_id,
        "revision": draw(st.integers(0, 4)),
        "kind": kind,
        "event_id": draw(st.sampled_from(["e1", "e2", "e3"])),
        "occurred_at": draw(st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-02"])),
        "completed_by": None,
        "result": None,
    }
    if kind != "deleted":
        if draw(st.integers(0, 9)) == 0:
            fields["model_version"] = "v1"
        else:
            # Mostly one annotator per annotation, sometimes someone else's.
            fields["completed_by"] = draw(st.sampled_from([annotation_id[1:], "1", "2"]))
    if kind in ("created", "updated"):
        labels = draw(st.lists(st.sampled_from(LABELS), max_size=2))
        fields["result"] = [item for label in labels for item in choice(label, f"tag-{label}")]
        if draw(st.booleans()):
            fields["result"] += choice(draw(st.sampled_from(LABELS)))
    return annotation_bytes(**fields)


# An op is a message, or ("again", n): a redelivery of the n-th earlier message.
ops = st.lists(
    st.one_of(
        valid_event(),
        valid_event(),
        valid_event(),
        valid_event(),
        st.sampled_from(INVALID),
        st.tuples(st.just("again"), st.integers(0, 100)),
    ),
    min_size=8,
    max_size=50,
)

# Overlap 2 rather than 3, so that random sequences reach reassign and review often.
PROPERTY_CONFIGS = {
    "1": ProjectConfig(
        "1", annotations_per_task=2, agreement_threshold=0.7, max_additional_annotators=1
    )
}


def messages_of(drawn: list[Any]) -> list[bytes | None]:
    messages: list[bytes | None] = []
    for op in drawn:
        if isinstance(op, tuple):
            messages.append(messages[op[1] % len(messages)] if messages else b"again")
        else:
            messages.append(op)
    return messages


def process(
    records: list[InputRecord], batches: list[tuple[int, int]], *, retry_first: bool = False
) -> tuple[dict[TaskRef, bytes], list[bytes], int, int]:
    """Run batches ``records[start:end]`` as the agent does: load, apply, store, publish.

    Returns the stored documents, the published outputs (outbox encoding, one per event),
    and the applied and ignored counts. ``retry_first`` applies each batch once and drops
    the result first, as after a failed write.
    """
    store: dict[TaskRef, bytes] = {}
    published: list[bytes] = []
    applied_offset: int | None = None
    applied = ignored = 0
    for start, end in batches:
        batch = parse_batch(PARTITION, TOPIC, records[start:end], max_bytes=MAX_BYTES)
        loaded = {ref: store.get(ref) for ref in batch.task_refs}
        if retry_first:
            apply_batch(batch, loaded, PROPERTY_CONFIGS, after_offset=applied_offset)
        outcome = apply_batch(batch, loaded, PROPERTY_CONFIGS, after_offset=applied_offset)
        for ref, record in outcome.records.items():
            store[ref] = record.to_json()
        published += [encode_outputs([event]).entry for event in outcome.outputs]
        applied += outcome.applied
        ignored += outcome.ignored
        if applied_offset is None or batch.last_offset > applied_offset:
            applied_offset = batch.last_offset
    return store, published, applied, ignored


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=ops,
    gaps=st.lists(st.integers(1, 3), min_size=50, max_size=50),
    cuts=st.lists(st.integers(1, 49), max_size=8),
    backs=st.lists(st.integers(0, 12), min_size=9, max_size=9),
    retry_first=st.booleans(),
)
def test_batches_and_replays_never_change_state_or_outputs(
    drawn: list[Any], gaps: list[int], cuts: list[int], backs: list[int], retry_first: bool
) -> None:
    messages = messages_of(drawn)
    offsets = [FIRST_OFFSET + sum(gaps[:i]) for i in range(len(messages))]
    records = [InputRecord(o, m) for o, m in zip(offsets, messages, strict=True)]
    n = len(records)

    whole = process(records, [(0, n)])

    bounds = [0, *sorted({c for c in cuts if c < n}), n]
    segments = list(pairwise(bounds))
    split = process(records, segments, retry_first=retry_first)
    assert split == whole

    # Crash replay: each fetch may start again from an earlier offset (the committed
    # consumer position lags the applied one); after_offset makes that a no-op.
    replayed = [
        (max(0, start - back), end) for (start, end), back in zip(segments, backs, strict=False)
    ]
    assert process(records, replayed) == whole


def test_task_quality_scores_each_submission_against_ground_truth() -> None:
    truth = annotation_bytes(annotation_id="gt", completed_by=9, ground_truth=True,
                             result=choice("pos"), event_id="e-gt")
    agree = annotation_bytes(annotation_id="a1", completed_by=1, result=choice("pos"),
                             event_id="e-a1")
    disagree = annotation_bytes(annotation_id="a2", completed_by=2, result=choice("neg"),
                                event_id="e-a2")
    outcome = run(records_of([agree, truth, disagree]))
    quality = bodies(outcome, TASK_QUALITY)
    # Before any ground truth: null; the ground truth itself: null; then scored.
    assert [q["ground_truth_agreement"] for q in quality] == [None, None, 0.0]
    again = run(records_of([truth, agree]))
    assert [q["ground_truth_agreement"] for q in bodies(again, TASK_QUALITY)] == [None, 1.0]


def test_a_task_whose_only_annotation_is_an_excluded_ground_truth_keeps_collecting() -> None:
    """Found in review: with ``include_ground_truth: false`` a task whose one annotation
    is its ground truth has no agreement score; deciding on it raised out of the batch
    (a crash of the agent, not a dead letter). It is still collecting."""
    from agreement import ScoringConfig
    from streams.batch import InputRecord, apply_batch, parse_batch
    from streams.models.project import ProjectConfig

    from .events import annotation_bytes

    config = ProjectConfig("1", annotations_per_task=1,
                           scoring=ScoringConfig(include_ground_truth=False))
    batch = parse_batch(0, "t", [InputRecord(5, annotation_bytes(ground_truth=True))],
                        max_bytes=1 << 20)
    outcome = apply_batch(batch, {}, {"1": config}, after_offset=None)
    quality = outcome.outputs[0].body
    assert (quality["agreement"], quality["status"]) == (None, "collecting")
    assert len(outcome.outputs) == 1  # no decision
