"""Task distribution end to end on the real Kafka and Redis: tasks and annotators on the
workflow topic, annotators pulling from the label stream over HTTP, their annotations
scored, low agreement reassigned up to the budget, a worker SIGKILLed halfway."""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import pytest

from streams import topics
from streams.kafka import plain_producer
from streams.models.outputs import ASSIGNMENT
from streams.models.project import ProjectConfig
from streams.models.workflow import annotator_event, task_event
from streams.operations import key_lines, send_lines
from streams.roles import WorkerAgents
from streams.settings import Settings
from streams.worker_process import WorkerProcess

from .pipeline import Deployment, annotation

PROJECT = "wf1"
TASKS = 60
OVERLAP, THRESHOLD, MAX_ADDITIONAL = 3, 0.7, 2
# Two poor annotators among eight: disagreement sends tasks past their overlap.
ACCURACY = {f"u{i}": acc for i, acc in enumerate((0.95, 0.9, 0.9, 0.85, 0.85, 0.8, 0.4, 0.35))}
LABELS = ("pos", "neg", "neu")


async def _produce_workflow(settings: Settings, bodies: list[dict[str, Any]]) -> None:
    producer = plain_producer(settings)
    await producer.start()
    try:
        topic = settings.topic(topics.WORKFLOW)
        futures = [await producer.send(topic, value=orjson.dumps(b),
                                       key=str(b["project_id"]).encode()) for b in bodies]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _next_task(session: aiohttp.ClientSession, worker: WorkerProcess, annotator: str
                     ) -> str | None:
    url = f"{worker.web_url}/projects/{PROJECT}/annotators/{annotator}/next-task"
    for _ in range(100):  # 503/409 while the worker starts or takes its partitions
        async with session.post(url) as response:
            if response.status == 200:
                answer = await response.json()
                assert answer["annotator"] == annotator
                return answer["task_id"]
            assert response.status in (409, 503), await response.text()
        await asyncio.sleep(0.2)
    raise AssertionError(f"the label stream at {url} did not answer")


async def _label(deployment: Deployment, worker: WorkerProcess, rng: random.Random,
                 truth: dict[str, str], done: set[str], rounds: int) -> int:
    """Annotators pull and label in turns for ``rounds`` rounds (or until all tasks are
    decided); the annotations sent."""
    sent = 0
    counter: defaultdict[str, int] = defaultdict(int)
    async with aiohttp.ClientSession() as session:
        for _ in range(rounds):
            batch = []
            for annotator, accuracy in ACCURACY.items():
                task = await _next_task(session, worker, annotator)
                if task is None:
                    continue
                label = truth[task] if rng.random() < accuracy else rng.choice(LABELS)
                counter[annotator] += 1
                event = annotation(task, f"{task}-{annotator}", annotator, label,
                                   project=PROJECT)
                batch.append(event)
            if batch:
                await deployment.send(batch)
                sent += len(batch)
            else:
                # Nothing offered: the last annotations' facts are still on their way.
                await asyncio.sleep(0.3)
            decided = await _decided(deployment)
            done.clear()
            done.update(decided)
            if len(done) == TASKS:
                break
    return sent


async def _open_project(deployment: Deployment, truth: dict[str, str]) -> None:
    """Configure the distributed project; import its tasks and let its annotators join."""
    settings = deployment.settings
    await deployment.configure(ProjectConfig(
        PROJECT, annotations_per_task=OVERLAP, agreement_threshold=THRESHOLD,
        max_additional_annotators=MAX_ADDITIONAL, distribute=True))
    await _produce_workflow(settings, [task_event(PROJECT, t, "imported") for t in truth])
    await _produce_workflow(settings, [annotator_event(PROJECT, a, "joined") for a in ACCURACY])


async def _label_until_decided(deployment: Deployment, worker: WorkerProcess,
                               rng: random.Random, truth: dict[str, str], done: set[str],
                               timeout_s: float = 240) -> int:
    """Label (:func:`_label`) until every task is decided; the annotations sent."""
    sent = 0
    deadline = time.monotonic() + timeout_s
    while len(done) < TASKS and time.monotonic() < deadline:
        sent += await _label(deployment, worker, rng, truth, done, rounds=20)
    assert len(done) == TASKS, f"{TASKS - len(done)} tasks never decided"
    return sent


async def _decided(deployment: Deployment) -> set[str]:
    events = await deployment.read_outputs((topics.TASK_COMPLETED, topics.REVIEW_REQUESTS),
                                           settle_s=0.05, timeout_s=10)
    return {e["task_id"] for e in events}


async def test_distribution_end_to_end_with_a_crash(
    deployment: Deployment, start_worker: Callable[[Settings], WorkerProcess]
) -> None:
    settings = deployment.settings.model_copy(update={"workflow_snapshot_every": 50})
    deployment.settings = settings
    started = datetime.now(UTC)
    rng = random.Random(4)
    truth = {f"t{i}": rng.choice(LABELS) for i in range(TASKS)}
    worker = start_worker(settings)
    await worker.wait_owning(settings.partitions)
    await worker.wait_owning(settings.partitions, workflow=True)
    await _open_project(deployment, truth)

    done: set[str] = set()
    sent = await _label(deployment, worker, rng, truth, done, rounds=12)
    assert 0 < len(done) < TASKS, "the crash must land mid-operation"
    worker.kill()
    worker = start_worker(settings)
    await worker.wait_owning(settings.partitions, workflow=True)
    sent += await _label_until_decided(deployment, worker, rng, truth, done)

    outputs = await deployment.read_outputs(
        (topics.ASSIGNMENTS, topics.TASK_COMPLETED, topics.REVIEW_REQUESTS, topics.TASK_QUALITY,
         topics.DEAD_LETTER), settle_s=2)
    unique = {e["event_id"]: e for e in outputs}
    assert not [e for e in unique.values() if e["schema"] == "quorum.dead-letter/v1"]
    assigned = [e for e in unique.values()
                if e["schema"] == "quorum.assignment/v1" and e["kind"] == "assigned"]
    # Never the same annotator twice on one task, never more than the budget.
    # Stamped when the label stream reserved them (a request's op ends with a flag).
    now = datetime.now(UTC)
    assert all(started <= datetime.fromisoformat(e["occurred_at"]) <= now for e in assigned)
    pairs = [(e["task_id"], e["annotator"]) for e in assigned]
    assert len(pairs) == len(set(pairs)), "an annotator was assigned a task twice"
    per_task = defaultdict(set)
    for task, annotator in pairs:
        per_task[task].add(annotator)
    assert max(len(a) for a in per_task.values()) <= OVERLAP + MAX_ADDITIONAL
    # Every annotation came from an assignment, and every task met the completion rule.
    quality = [e for e in unique.values() if e["schema"] == "quorum.task-quality/v1"]
    assert len(quality) == sent
    assert all(a in per_task[q["task_id"]] for q in quality for a in q["annotators"])
    for event in unique.values():
        if event["schema"] == "quorum.task-completed/v1":
            assert event["agreement"] >= THRESHOLD or \
                len(event["annotators"]) == OVERLAP + MAX_ADDITIONAL
            assert len(event["annotators"]) >= OVERLAP
        elif event["schema"] == "quorum.review-requested/v1":
            assert event["agreement"] < THRESHOLD
            assert len(event["annotators"]) == OVERLAP + MAX_ADDITIONAL
    # Low agreement got more annotators: some task went past its overlap.
    assert any(len(a) > OVERLAP for a in per_task.values())
    # Published outputs leave the outbox with the next write: it does not grow.
    keys = deployment.keys
    left = [await deployment.redis.llen(keys.workflow_outbox(p))
            for p in range(settings.partitions)]
    assert sum(left) <= 2 * settings.partitions, f"outbox entries never trimmed: {left}"


async def test_split_workers_run_the_distribution_end_to_end(
    deployment: Deployment, start_worker: Callable[..., WorkerProcess]
) -> None:
    """`quorum worker --agents annotations` and `--agents workflow` side by side: the
    annotations scored by one reach the label stream of the other, and every task is
    decided; only the workflow worker serves HTTP."""
    settings = deployment.settings
    rng = random.Random(7)
    truth = {f"t{i}": rng.choice(LABELS) for i in range(TASKS)}
    hot = start_worker(settings, WorkerAgents.ANNOTATIONS)
    flow = start_worker(settings, WorkerAgents.WORKFLOW)
    await hot.wait_owning(settings.partitions)
    await flow.wait_owning(settings.partitions, workflow=True)
    await _open_project(deployment, truth)

    done: set[str] = set()
    sent = await _label_until_decided(deployment, flow, rng, truth, done)
    quality = await deployment.read_outputs((topics.TASK_QUALITY,), settle_s=1)
    assert len({e["event_id"] for e in quality}) == sent

    # Each process ran only its own agent, and said so.
    assert "owning workflow partitions" not in hot.log()
    assert "owning partitions [" not in flow.log()
    assert "runs the projects agent, the annotations agent (--agents annotations)" in hot.log()
    assert "the workflow agent and its HTTP API (--agents workflow)" in flow.log()
    # The collection policy is the process's, whichever agents it runs.
    assert "automatic garbage collection off" in flow.log()
    assert "automatic garbage collection off" in hot.log()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"{hot.web_url}/")


async def test_bad_workflow_input_is_dead_lettered_and_the_rest_flows(
    deployment: Deployment, start_worker: Callable[[Settings], WorkerProcess]
) -> None:
    settings = deployment.settings
    worker = start_worker(settings)
    await worker.wait_owning(settings.partitions, workflow=True)
    await deployment.configure(ProjectConfig(PROJECT, annotations_per_task=1, distribute=True))
    forged = {"schema": "quorum.workflow-fact/v1", "event_id": "not-a-fact-id",
              "project_id": PROJECT, "occurred_at": "2026-11-28T06:00:00+00:00",
              "kind": "completed", "task_id": "t0"}
    producer = plain_producer(settings)
    await producer.start()
    try:
        topic = settings.topic(topics.WORKFLOW)
        for value in (b"{not json", orjson.dumps({"schema": "quorum.task/v1"}),
                      orjson.dumps(forged)):
            await producer.send_and_wait(topic, value=value, key=PROJECT.encode())
    finally:
        await producer.stop()
    await _produce_workflow(settings, [task_event(PROJECT, "t0", "imported"),
                                       annotator_event(PROJECT, "u0", "joined")])
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + 30
        task = None
        while task is None and time.monotonic() < deadline:
            task = await _next_task(session, worker, "u0")
            await asyncio.sleep(0.2)
    assert task == "t0"
    dead = [e for e in await deployment.read_outputs((topics.DEAD_LETTER,), at_least=3)
            if e["topic"] == settings.topic(topics.WORKFLOW)]
    reasons = sorted(e["reason"] for e in dead)
    assert len(reasons) == 3
    assert any("not valid JSON" in r for r in reasons)
    assert any("missing field" in r or "kind" in r for r in reasons)
    assert any("<partition>:<offset>:<rank>" in r for r in reasons)


async def test_quorum_send_keys_workflow_events_by_project(
    deployment: Deployment, start_worker: Callable[[Settings], WorkerProcess]
) -> None:
    """`quorum send --topic workflow`: keyed by task, as annotations are, most task
    events would land off their project's partition and be dead-lettered."""
    settings = deployment.settings
    worker = start_worker(settings)
    await worker.wait_owning(settings.partitions, workflow=True)
    await deployment.configure(ProjectConfig(PROJECT, annotations_per_task=1, distribute=True))
    tasks = [f"s{i}" for i in range(8)]
    lines = [orjson.dumps(task_event(PROJECT, t, "imported")) for t in tasks]
    lines.append(orjson.dumps(annotator_event(PROJECT, "u0", "joined")))
    assert await send_lines(settings, topics.WORKFLOW,
                            key_lines(topics.WORKFLOW, lines)) == len(lines)
    served: set[str] = set()
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + 60
        while len(served) < len(tasks) and time.monotonic() < deadline:
            task = await _next_task(session, worker, "u0")
            if task is None or task in served:  # held until the annotation is applied
                await asyncio.sleep(0.2)
                continue
            served.add(task)
            await deployment.send([annotation(task, f"a-{task}", "u0", "pos",
                                              project=PROJECT)])
    assert served == set(tasks)
    dead = [e for e in await deployment.read_outputs((topics.DEAD_LETTER,), at_least=0)
            if e["topic"] == settings.topic(topics.WORKFLOW)]
    assert dead == []


async def test_outputs_kafka_refused_are_published_again_not_lost(
    deployment: Deployment, start_owning_worker: Callable[[Settings], Any]
) -> None:
    """A label-stream reservation whose assignment event Kafka refuses (the topic takes no
    message that large for a while) stays in the outbox until it is published: later
    reservations' writes must not trim it."""
    settings = deployment.settings
    worker = await start_owning_worker(settings)
    await _open_project(deployment, {f"t{i}": "pos" for i in range(TASKS)})
    annotators = list(ACCURACY)
    served: dict[str, str | None] = {}
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + 30
        while served.get(annotators[0]) is None and time.monotonic() < deadline:
            served[annotators[0]] = await _next_task(session, worker, annotators[0])
        served[annotators[1]] = await _next_task(session, worker, annotators[1])
        await deployment.limit_message_bytes(topics.ASSIGNMENTS, 64)  # no event fits
        served[annotators[2]] = await _next_task(session, worker, annotators[2])
        deadline = time.monotonic() + 30
        while not re.search(r"publishing (outputs )?failed", worker.log()):
            assert time.monotonic() < deadline, "the refused publication was not noticed"
            await asyncio.sleep(0.2)
        await deployment.limit_message_bytes(topics.ASSIGNMENTS, None)
        for annotator in annotators[3:]:
            served[annotator] = await _next_task(session, worker, annotator)
    assert all(task is not None for task in served.values()), served
    events = await deployment.read_outputs((topics.ASSIGNMENTS,), at_least=len(served))
    assigned = {(e["annotator"], e["task_id"]) for e in events
                if e["schema"] == ASSIGNMENT and e["kind"] == "assigned"}
    assert set(served.items()) <= assigned


async def test_model_versions_are_scored_and_a_worse_one_is_reported(
    deployment: Deployment, start_worker: Callable[[Settings], WorkerProcess]
) -> None:
    """Predictions of two model versions against three agreeing annotators per task:
    v2 is wrong on half the tasks, so it regresses from v1 by far more than the margin."""
    settings = deployment.settings
    worker = start_worker(settings)
    await worker.wait_owning(settings.partitions)
    await worker.wait_owning(settings.partitions, workflow=True)
    from assignment.model_settings import ModelEvaluationSettings

    await deployment.configure(ProjectConfig(
        PROJECT, annotations_per_task=3, distribute=True,
        model_evaluation=ModelEvaluationSettings(min_scored_tasks=5, regression_margin=0.1)))
    events: list[dict[str, Any]] = []
    for i in range(12):
        task, label = f"m{i}", LABELS[i % 3]
        events += [annotation(task, f"{task}-{u}", u, label, project=PROJECT)
                   for u in ("u0", "u1", "u2")]
        for version, wrong in (("v1", False), ("v2", i % 2 == 0)):
            guess = LABELS[(i + 1) % 3] if wrong else label
            prediction = annotation(task, f"{task}-{version}", "x", guess, project=PROJECT)
            del prediction["completed_by"]
            prediction["model_version"] = version
            events.append(prediction)
    await deployment.send(events)
    outputs = await deployment.read_outputs((topics.MODEL_QUALITY,), at_least=1, settle_s=3)
    latest: dict[str, dict[str, Any]] = {}
    for event in outputs:
        if event["schema"] == "quorum.model-quality/v1":
            latest[event["model_version"]] = event
    assert latest["v1"]["annotators_agreement"] == 1.0
    assert latest["v2"]["annotators_agreement"] == 0.5
    regressed = [e for e in outputs if e["schema"] == "quorum.model-regressed/v1"]
    assert [(e["model_version"], e["previous_version"]) for e in regressed][:1] == \
        [("v2", "v1")]

    # A wider margin, applied with the workflow agent's next batch: the alert is closed.
    await deployment.configure(ProjectConfig(
        PROJECT, annotations_per_task=3, distribute=True,
        model_evaluation=ModelEvaluationSettings(min_scored_tasks=5, regression_margin=0.6)))
    await deployment.send([annotation("m12", f"m12-{u}", u, LABELS[0], project=PROJECT)
                           for u in ("u0", "u1", "u2")])
    outputs = await deployment.read_outputs((topics.MODEL_QUALITY,), at_least=1, settle_s=3)
    recovered = [e for e in outputs if e["schema"] == "quorum.model-recovered/v1"]
    # One per regression that was open (a metric each), with the figures now.
    assert sorted((e["model_version"], e["previous_version"], e["metric"], e["reason"],
                   e["margin"]) for e in recovered) == sorted(
        ("v2", "v1", e["metric"], "within_margin", 0.6) for e in regressed)
    assert {e["agreement"] for e in recovered} == {0.5}
