"""The pipeline on real Kafka and real Redis: decisions, updates, deletes, duplicates, bad input."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from agreement import ScoringConfig
from streams import topics
from streams.kafka import plain_producer
from streams.models.outputs import (
    DEAD_LETTER,
    REASSIGN_REQUESTED,
    REVIEW_REQUESTED,
    TASK_COMPLETED,
    TASK_QUALITY,
)
from streams.models.project import ProjectConfig
from streams.operations import list_projects, tasks_below
from streams.settings import Settings
from streams.state.task import TaskRecord
from streams.worker_process import WorkerProcess

from .pipeline import Deployment, annotation, by_schema

pytestmark = pytest.mark.integration

CONFIG = ProjectConfig("p1", annotations_per_task=3, agreement_threshold=0.7,
                       max_additional_annotators=1)


async def _running(
    deployment: Deployment, start_worker: Callable[[Settings], WorkerProcess]
) -> WorkerProcess:
    worker = start_worker(deployment.settings)
    await worker.wait_owning(deployment.settings.partitions)
    await deployment.configure(CONFIG)
    return worker


def _last(events: list[dict], task: str) -> dict:
    quality = [e for e in by_schema(events, TASK_QUALITY) if e["task_id"] == task]
    return quality[-1]


async def _record(deployment: Deployment, task: str) -> TaskRecord:
    found = [doc for key, doc in (await deployment.task_states()).items()
             if key.endswith(f"/{deployment.keys.task_field('p1', task)}")]
    assert len(found) == 1, f"expected one stored record for {task}, found {len(found)}"
    return TaskRecord.from_json(found[0])


async def test_each_decision_rule(deployment: Deployment, start_worker) -> None:
    await _running(deployment, start_worker)
    await deployment.send([
        # agree: 3 of 3 -> completed
        annotation("agree", "a1", "u1", "pos"),
        annotation("agree", "a2", "u2", "pos"),
        annotation("agree", "a3", "u3", "pos"),
        # 2 vs 1 = 1/3 < 0.7 with budget 1 left -> reassign; a 4th who disagrees -> review
        annotation("split", "b1", "u1", "pos"),
        annotation("split", "b2", "u2", "pos"),
        annotation("split", "b3", "u3", "neg"),
        annotation("split", "b4", "u4", "neu"),
        # only 2 of 3 -> collecting, no decision
        annotation("short", "c1", "u1", "pos"),
        annotation("short", "c2", "u2", "neg"),
    ])
    await deployment.wait_applied()
    events = await deployment.read_outputs(at_least=9 + 3)

    completed = by_schema(events, TASK_COMPLETED)
    assert [(e["task_id"], e["agreement"]) for e in completed] == [("agree", 1.0)]
    reassign = by_schema(events, REASSIGN_REQUESTED)
    assert len(reassign) == 1
    assert reassign[0]["task_id"] == "split"
    assert reassign[0]["agreement"] == pytest.approx(1 / 3)
    assert reassign[0]["exclude_annotators"] == ["u1", "u2", "u3"]
    assert reassign[0]["budget_left"] == 1
    review = by_schema(events, REVIEW_REQUESTED)
    assert [(e["task_id"], e["reason"]) for e in review] == [
        ("split", "low_agreement_budget_exhausted")]
    assert _last(events, "short")["status"] == "collecting"
    assert all(e["task_id"] != "short" for e in completed + reassign + review)

    # The real Redis state says the same.
    split = await _record(deployment, "split")
    assert split.annotators == ["u1", "u2", "u3", "u4"]
    assert split.decision is not None and split.decision.decision == "review"
    # 4 annotations, pairs: (pos,pos)=1 and five disagreeing pairs -> 1/6
    assert split.agreement.score == pytest.approx(1 / 6)
    low = await tasks_below(deployment.settings, 0.7, project_id="p1")
    assert [(r.task_id, round(r.agreement, 4)) for r in low] == [
        ("short", 0.0), ("split", round(1 / 6, 4))]


async def test_tasks_outside_the_overlap_cohort_complete_after_one_annotation(
    deployment: Deployment, start_worker
) -> None:
    worker = start_worker(deployment.settings)
    await worker.wait_owning(deployment.settings.partitions)
    config = replace(CONFIG, overlap_cohort_percentage=50)
    await deployment.configure(config)
    inside = next(f"t{n}" for n in range(100) if config.in_overlap_cohort(f"t{n}"))
    outside = next(f"t{n}" for n in range(100) if not config.in_overlap_cohort(f"t{n}"))
    # Label Studio picks its own cohort: its overlap 1 puts a task outside, whatever
    # Quorum's rule says of it.
    picked = next(f"ls{n}" for n in range(100) if config.in_overlap_cohort(f"ls{n}"))
    await deployment.send([
        annotation(outside, "o1", "u1", "pos"),
        annotation(inside, "i1", "u1", "pos"),
        annotation(inside, "i2", "u2", "pos"),
        {**annotation(picked, "l1", "u1", "pos"), "task_overlap": 1},
    ])
    await deployment.wait_applied()
    events = await deployment.read_outputs(at_least=4 + 2)
    completed = sorted(e["task_id"] for e in by_schema(events, TASK_COMPLETED))
    assert completed == sorted([outside, picked])
    assert _last(events, inside)["status"] == "collecting"
    assert _last(events, inside)["overlap"] == 3
    assert _last(events, outside)["overlap"] == 1
    assert (await _record(deployment, picked)).tool_overlap == 1


async def test_update_changes_agreement_and_delete_reopens(
    deployment: Deployment, start_worker
) -> None:
    await _running(deployment, start_worker)
    await deployment.send([
        annotation("t", "a1", "u1", "pos"),
        annotation("t", "a2", "u2", "pos"),
        annotation("t", "a3", "u3", "neg"),
    ])
    await deployment.wait_applied()
    before = await deployment.read_outputs(at_least=4)
    assert _last(before, "t")["agreement"] == pytest.approx(1 / 3)

    await deployment.send([annotation("t", "a3", "u3", "pos", kind="updated", revision=2)])
    await deployment.wait_applied()
    after = await deployment.read_outputs(at_least=6)
    assert _last(after, "t")["agreement"] == 1.0
    assert [e["task_id"] for e in by_schema(after, TASK_COMPLETED)] == ["t"]

    await deployment.send([annotation("t", "a1", "u1", None, kind="deleted", revision=2)])
    await deployment.wait_applied()
    final = await deployment.read_outputs(at_least=7)
    last = _last(final, "t")
    assert (last["kind"], last["annotations"], last["status"]) == ("deleted", 2, "collecting")
    record = await _record(deployment, "t")
    assert record.agreement.ids == ["a2", "a3"]


async def test_duplicated_batch_changes_nothing(deployment: Deployment, start_worker) -> None:
    await _running(deployment, start_worker)
    batch = [annotation(f"t{i}", f"a{i}-{j}", f"u{j}", "pos" if (i + j) % 3 else "neg")
             for i in range(50) for j in range(3)]
    await deployment.send(batch)
    await deployment.wait_applied()
    first = await deployment.read_outputs(at_least=150)
    states = await deployment.task_states()

    await deployment.send(batch)  # the same events again: new offsets, same revisions
    await deployment.wait_applied()
    second = await deployment.read_outputs(at_least=len({e["event_id"] for e in first}))

    assert await deployment.task_states() == states
    ids = Counter(e["event_id"] for e in second)
    assert set(ids) == {e["event_id"] for e in first}
    assert max(ids.values()) == 1, "a duplicated input produced output again"


async def test_bad_input_goes_to_dead_letter_and_good_events_flow(
    deployment: Deployment, start_worker
) -> None:
    await _running(deployment, start_worker)
    wrong_type = annotation("t", "x1", "u1", "pos")
    wrong_type["revision"] = "one"
    missing = annotation("t", "x2", "u1", "pos")
    del missing["task_id"]
    not_a_list = annotation("t", "x3", "u1", "pos")
    not_a_list["result"] = {"choices": ["pos"]}
    huge = annotation("t", "x4", "u1", "pos")
    huge["padding"] = "x" * (10 * 1024 * 1024)
    await deployment.send([
        b"{not json",
        orjson.dumps(wrong_type),
        orjson.dumps(missing),
        orjson.dumps(not_a_list),
        orjson.dumps(huge),
        annotation("good", "g1", "u1", "pos"),
        annotation("good", "g2", "u2", "pos"),
        annotation("good", "g3", "u3", "pos"),
    ])
    await deployment.wait_applied()
    events = await deployment.read_outputs(at_least=5 + 4)

    reasons = sorted(e["reason"] for e in by_schema(events, DEAD_LETTER))
    assert len(reasons) == 5
    assert any(r.startswith("not valid JSON") for r in reasons)
    assert any("'revision' must be an integer" in r for r in reasons)
    assert any("missing field 'task_id'" in r for r in reasons)
    assert any("'result' must be a list" in r for r in reasons)
    assert any("above the 1048576-byte limit" in r for r in reasons)
    letters = by_schema(events, DEAD_LETTER)
    oversize = next(e for e in letters if "byte limit" in e["reason"])
    assert oversize["original_truncated"] and oversize["original_size"] > 10 * 1024 * 1024
    assert all(e["topic"] == deployment.settings.topic("annotations") for e in letters)
    assert [e["task_id"] for e in by_schema(events, TASK_COMPLETED)] == ["good"]


async def test_a_skip_takes_its_seat_when_the_project_counts_skips_as_done(
    deployment: Deployment, start_worker
) -> None:
    worker = start_worker(deployment.settings)
    await worker.wait_owning(deployment.settings.partitions)
    await deployment.configure(replace(CONFIG, skip_mode="count_as_done"))
    await deployment.send([
        annotation("s", "s1", "u1", "pos"),
        annotation("s", "s2", "u2", None, kind="skipped"),
        annotation("s", "s3", "u3", "pos"),
    ])
    await deployment.wait_applied()
    events = await deployment.read_outputs(at_least=3 + 1)
    completed = by_schema(events, TASK_COMPLETED)
    assert [(e["task_id"], e["annotators"]) for e in completed] == [("s", ["u1", "u3"])]


async def test_a_failing_custom_metric_is_a_dead_letter_and_the_worker_goes_on(
    deployment: Deployment, start_worker
) -> None:
    worker = start_worker(deployment.settings)
    await worker.wait_owning(deployment.settings.partitions)
    metric = "tests.unit.agreement.custom_metric:fails_on_neutral"
    await deployment.configure(replace(CONFIG, annotations_per_task=2,
                                       scoring=ScoringConfig(custom_metric=metric)))
    await deployment.send([
        annotation("m", "m1", "u1", "pos"),
        annotation("m", "m2", "u2", "neu"),  # the metric raises on it
        annotation("m", "m3", "u3", "pos"),
        annotation("n", "n1", "u1", "pos"),
        annotation("n", "n2", "u2", "pos"),
    ])
    await deployment.wait_applied()
    events = await deployment.read_outputs(at_least=4 + 1 + 2)
    letters = by_schema(events, DEAD_LETTER)
    assert len(letters) == 1
    assert "fails_on_neutral" in letters[0]["reason"]
    assert orjson.loads(letters[0]["original"])["annotation_id"] == "m2"
    completed = sorted(e["task_id"] for e in by_schema(events, TASK_COMPLETED))
    assert completed == ["m", "n"]
    assert (await _record(deployment, "m")).annotators == ["u1", "u3"]
    assert worker.process.poll() is None, f"the worker stopped:\n{worker.log()}"


async def test_unconfigured_project_uses_defaults_and_is_listed(
    deployment: Deployment, start_worker
) -> None:
    await _running(deployment, start_worker)
    await deployment.send([
        annotation("t", "a1", "u1", "pos", project="fresh"),
        annotation("t", "a2", "u1", "pos", project="fr*"),
    ])
    await deployment.wait_applied()
    events = await deployment.read_outputs(at_least=4)
    # Defaults: overlap 1, threshold 0 -> one annotation completes the task.
    assert sorted((e["project_id"], e["task_id"]) for e in by_schema(events, TASK_COMPLETED)) == [
        ("fr*", "t"), ("fresh", "t")]
    rows = {r.project_id: r.configured for r in await list_projects(deployment.settings)}
    assert rows == {"p1": True, "fresh": False, "fr*": False}
    # A project id is matched literally, even one that looks like a pattern.
    below = await tasks_below(deployment.settings, 1.01, project_id="fr*")
    assert [(r.project_id, r.task_id) for r in below] == [("fr*", "t")]


async def test_invalid_project_configuration_goes_to_dead_letter(
    deployment: Deployment, start_worker
) -> None:
    await _running(deployment, start_worker)
    producer_events = [
        (b"p2", orjson.dumps({"schema": "quorum.project/v1", "project_id": "p2",
                              "agreement_threshold": 1.5})),
        (b"p3", b"not json"),
    ]
    producer = plain_producer(deployment.settings)
    await producer.start()
    try:
        for key, value in producer_events:
            await producer.send_and_wait(deployment.settings.topic("projects"), value=value,
                                         key=key)
    finally:
        await producer.stop()
    letters = by_schema(await deployment.read_outputs(("dead-letter",), at_least=2), DEAD_LETTER)
    reasons = sorted(e["reason"] for e in letters)
    assert any("threshold must be between 0 and 1" in r for r in reasons), reasons
    assert any(r.startswith("not valid JSON") for r in reasons), reasons
    # The valid configuration of p1 is untouched, and the refused ones were not stored.
    rows = {r.project_id: r.configured for r in await list_projects(deployment.settings)}
    assert rows == {"p1": True}


async def test_committed_offsets_catch_up_for_lag_reporting(
    deployment: Deployment, start_worker
) -> None:
    """Redis says where a partition resumes; the group's committed offsets (committed in
    the background, once a second) still reach the end, so the usual lag tools read 0."""
    await _running(deployment, start_worker)
    await deployment.send([annotation(f"lag{i}", f"l{i}", "u1", "pos") for i in range(40)])
    await deployment.wait_applied()
    # One more event after the first commits: the running worker must commit it too.
    await asyncio.sleep(1.5)
    await deployment.send([annotation("lag-last", "l-last", "u2", "neg")])
    await deployment.wait_applied()
    ends = await deployment.end_offsets()
    topic = deployment.settings.topic(topics.ANNOTATIONS)
    consumer = AIOKafkaConsumer(bootstrap_servers=deployment.settings.kafka_bootstrap,
                                group_id=deployment.settings.consumer_group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + 15
        while True:
            committed = {p: await consumer.committed(TopicPartition(topic, p))
                         for p in ends}
            if all((committed[p] or 0) >= end for p, end in ends.items()):
                break
            assert time.monotonic() < deadline, f"committed {committed}, end {ends}"
            await asyncio.sleep(0.2)
    finally:
        await consumer.stop()
