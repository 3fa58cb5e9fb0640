"""apply_batch on records the agent kept decoded (streams.state.task_cache) in place of the
stored documents: the same outputs and state as reading them from Redis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from agreement import Methodology, ScoringConfig, TagScoring
from streams.batch import BatchOutcome, InputRecord, TaskRef, apply_batch, parse_batch
from streams.models.outputs import TASK_QUALITY
from streams.models.project import ProjectConfig
from streams.state.task import TaskRecord

from .events import annotation_bytes, choice

PARTITION = 3
TOPIC = "quorum.annotations"
MAX_BYTES = 4096
CONFIG = ProjectConfig(
    "1", annotations_per_task=3, agreement_threshold=0.7, max_additional_annotators=1
)
CONFIGS = {"1": CONFIG}


def vote(
    task: int,
    annotator: int,
    label: str = "pos",
    topic: str = "x",
    *,
    revision: int = 1,
    project: int = 1,
) -> bytes:
    """Annotator ``annotator``'s annotation of ``task``: a sentiment and a topic."""
    kind = "created" if revision == 1 else "updated"
    return annotation_bytes(
        project_id=project,
        task_id=task,
        annotation_id=f"t{task}-a{annotator}",
        event_id=f"ev-{project}-{task}-{annotator}-{revision}",
        completed_by=annotator,
        revision=revision,
        kind=kind,
        result=[*choice(label), *choice(topic, "topics")],
    )


def delete(task: int, annotator: int, *, revision: int = 2, project: int = 1) -> bytes:
    return annotation_bytes(
        project_id=project,
        task_id=task,
        annotation_id=f"t{task}-a{annotator}",
        event_id=f"del-{project}-{task}-{annotator}",
        revision=revision,
        kind="deleted",
        completed_by=None,
        result=None,
    )


def apply(
    values: Sequence[bytes],
    stored: Mapping[TaskRef, TaskRecord | bytes],
    configs: Mapping[str, ProjectConfig],
    *,
    first: int,
) -> BatchOutcome:
    """One batch of ``values`` at offsets ``first``..., on top of ``stored``."""
    records = [InputRecord(first + i, value) for i, value in enumerate(values)]
    batch = parse_batch(PARTITION, TOPIC, records, max_bytes=MAX_BYTES)
    return apply_batch(
        batch,
        {ref: stored.get(ref) for ref in batch.task_refs},
        configs,
        after_offset=first - 1,
    )


def outputs(outcome: BatchOutcome) -> list[tuple[str, str, dict[str, Any]]]:
    return [(o.topic, o.key, o.body) for o in outcome.outputs]


def documents(outcome: BatchOutcome) -> dict[TaskRef, bytes]:
    return {ref: record.to_json() for ref, record in outcome.records.items()}


# Batch 1: task 2 collecting, task 4 complete, task 5 reassigned, task 6 one vote.
FIRST = [
    vote(2, 1), vote(4, 1), vote(2, 2, "neg"), vote(4, 2), vote(5, 1), vote(4, 3),
    vote(5, 2, "neg"), vote(6, 1), vote(5, 3, "neu"),
]
# Batch 2: creates (task 2's third, task 5's fourth and a new task 7), an update (task 6),
# deletes (task 4's and task 5's), and a duplicate (task 2's first vote again).
SECOND = [
    vote(2, 3, "neg"), vote(6, 1, "neg", revision=2), delete(4, 3), vote(7, 1),
    vote(2, 1), vote(5, 4), delete(5, 1), vote(6, 2, "neg"),
]
FIRST_OFFSET = 100
SECOND_OFFSET = FIRST_OFFSET + len(FIRST)


def test_cached_records_give_what_the_stored_documents_give() -> None:
    before = apply(FIRST, {}, CONFIGS, first=FIRST_OFFSET)
    stored = documents(before)  # what Redis holds after batch 1, read before batch 2
    cached = dict(before.records)
    assert len(cached) == 4

    from_redis = apply(SECOND, stored, CONFIGS, first=SECOND_OFFSET)
    from_cache = apply(SECOND, cached, CONFIGS, first=SECOND_OFFSET)

    assert outputs(from_cache) == outputs(from_redis)
    assert documents(from_cache) == documents(from_redis)
    assert (from_cache.applied, from_cache.ignored) == (from_redis.applied, from_redis.ignored)
    assert (from_cache.applied, from_cache.ignored) == (7, 1)
    # The batch did exercise the decisions: every task scored, and more than collecting.
    quality = [body for _, _, body in outputs(from_cache) if body["schema"] == TASK_QUALITY]
    assert {body["task_id"] for body in quality} == {"2", "4", "5", "6", "7"}
    assert len(outputs(from_cache)) > len(quality)


def test_a_mix_of_cached_and_stored_records_gives_the_same() -> None:
    before = apply(FIRST, {}, CONFIGS, first=FIRST_OFFSET)
    stored = documents(before)
    mixed: dict[TaskRef, TaskRecord | bytes] = dict(stored)
    mixed[("1", "2")] = before.records[("1", "2")]
    mixed[("1", "5")] = before.records[("1", "5")]

    from_redis = apply(SECOND, stored, CONFIGS, first=SECOND_OFFSET)
    from_mix = apply(SECOND, mixed, CONFIGS, first=SECOND_OFFSET)
    assert outputs(from_mix) == outputs(from_redis)
    assert documents(from_mix) == documents(from_redis)


def test_a_cached_record_is_changed_in_place_and_returned() -> None:
    before = apply(FIRST, {}, CONFIGS, first=FIRST_OFFSET)
    cached = dict(before.records)
    document = cached[("1", "2")].to_json()

    after = apply(SECOND, cached, CONFIGS, first=SECOND_OFFSET)
    for ref, record in cached.items():
        assert after.records[ref] is record
    # A task first seen in batch 2 gets a new record.
    assert ("1", "7") not in cached
    assert ("1", "7") in after.records
    # Changed in place: the object holds batch 2's state.
    assert cached[("1", "2")].to_json() != document
    assert len(cached[("1", "2")].agreement) == 3


def test_a_cached_record_untouched_by_the_batch_is_not_in_the_outcome() -> None:
    before = apply(FIRST, {}, CONFIGS, first=FIRST_OFFSET)
    cached = dict(before.records)
    untouched = cached[("1", "4")].to_json()
    after = apply([vote(2, 3)], cached, CONFIGS, first=SECOND_OFFSET)
    assert set(after.records) == {("1", "2")}
    assert cached[("1", "4")].to_json() == untouched


# The project's scoring changed since the record was decoded ---------------------------

NEW_SCORINGS = {
    "consensus": ScoringConfig(methodology=Methodology.CONSENSUS),
    "topic weight 0": ScoringConfig(tags={"topics": TagScoring(weight=0.0)}),
    "sentiment weight 3": ScoringConfig(tags={"sentiment": TagScoring(weight=3.0)}),
}


@pytest.mark.parametrize("scoring", NEW_SCORINGS.values(), ids=NEW_SCORINGS.keys())
def test_a_changed_scoring_decodes_the_record_again(scoring: ScoringConfig) -> None:
    before = apply(FIRST, {}, CONFIGS, first=FIRST_OFFSET)
    stored = documents(before)
    cached = dict(before.records)
    assert all(record.agreement.scoring == CONFIG.scoring for record in cached.values())
    assert scoring != CONFIG.scoring
    changed = {"1": ProjectConfig(
        "1", annotations_per_task=3, agreement_threshold=0.7, max_additional_annotators=1,
        scoring=scoring,
    )}

    from_redis = apply(SECOND, stored, changed, first=SECOND_OFFSET)
    from_cache = apply(SECOND, cached, changed, first=SECOND_OFFSET)
    assert outputs(from_cache) == outputs(from_redis)
    assert documents(from_cache) == documents(from_redis)

    for ref, record in from_cache.records.items():
        assert record.agreement.scoring is scoring
        if ref in cached:
            assert record is not cached[ref]
    # The stale objects are left as they were (as batch 1 made them).
    assert {ref: record.to_json() for ref, record in cached.items()} == stored

    # And the new scoring did change the outputs: the cache did not keep the old one.
    unchanged = apply(SECOND, documents(before), CONFIGS, first=SECOND_OFFSET)
    assert outputs(unchanged) != outputs(from_cache)


def test_a_record_without_scoring_takes_the_projects() -> None:
    """A record made without a scoring config (``TaskRecord()``) is scored as the
    project says, like its stored document would be."""
    record = TaskRecord()
    document = record.to_json()
    scoring = ScoringConfig(methodology=Methodology.CONSENSUS)
    configs = {"1": ProjectConfig("1", scoring=scoring)}
    votes = [vote(2, 1), vote(2, 2), vote(2, 3, "neg")]
    from_cache = apply(votes, {("1", "2"): record}, configs, first=10)
    from_redis = apply(votes, {("1", "2"): document}, configs, first=10)
    assert outputs(from_cache) == outputs(from_redis)
    assert documents(from_cache) == documents(from_redis)
    assert from_cache.records[("1", "2")] is not record
    assert from_cache.records[("1", "2")].agreement.scoring is scoring


def test_an_equal_scoring_keeps_the_cached_record() -> None:
    """Another project config object with an equal scoring (the project topic sent the
    same scoring again): the record needs no decoding."""
    before = apply(FIRST, {}, CONFIGS, first=FIRST_OFFSET)
    cached = dict(before.records)
    again = {"1": ProjectConfig("1", annotations_per_task=3, agreement_threshold=0.7,
                                max_additional_annotators=1, scoring=ScoringConfig())}
    assert again["1"].scoring is not CONFIG.scoring
    after = apply(SECOND, cached, again, first=SECOND_OFFSET)
    for ref, record in cached.items():
        assert after.records[ref] is record


# Projects without configuration -------------------------------------------------------


def test_an_unconfigured_project_keeps_one_default_config() -> None:
    refs = [("77", "2"), ("77", "3")]
    before = apply([vote(2, 1, project=77), vote(3, 1, project=77)], {}, {}, first=10)
    scoring = before.records[refs[0]].agreement.scoring
    assert scoring is not None
    assert before.records[refs[1]].agreement.scoring is scoring

    cached = dict(before.records)
    # A task of batch 1 from the cache, and a new one (task 4) decoded from nothing.
    after = apply([vote(2, 2, project=77), vote(4, 1, project=77)], cached, {}, first=12)
    assert after.records[("77", "2")] is cached[("77", "2")]  # not decoded again
    assert after.records[("77", "2")].agreement.scoring is scoring
    assert after.records[("77", "4")].agreement.scoring is scoring

    # A third batch, from the stored documents this time: the same config object still.
    third = apply([vote(3, 2, project=77)], documents(before), {}, first=14)
    assert third.records[("77", "3")].agreement.scoring is scoring


def test_unconfigured_projects_each_have_their_own_default_config() -> None:
    outcome = apply([vote(2, 1, project=78), vote(2, 1, project=79)], {}, {}, first=10)
    first = outcome.records[("78", "2")].agreement.scoring
    second = outcome.records[("79", "2")].agreement.scoring
    assert first == second  # both the defaults
    # One default config per project; the cached records of either keep theirs.
    again = apply([vote(3, 1, project=78), vote(3, 1, project=79)], {}, {}, first=12)
    assert again.records[("78", "3")].agreement.scoring is first
    assert again.records[("79", "3")].agreement.scoring is second
