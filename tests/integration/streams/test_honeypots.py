"""Ground-truth honeypots and evaluation pausing end to end on the real Kafka and Redis:
ground-truth tasks are served to every annotator outside the overlap (onboarding first,
then a share of their tasks), each submission is scored against the ground truth, and
an annotator below the minimum after the minimum number of them is paused and gets no
more tasks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, TopicPartition

from assignment import EvaluationSettings, ground_truth_due
from streams import topics
from streams.models.project import ProjectConfig
from streams.models.workflow import annotator_event, task_event
from streams.settings import Settings
from streams.worker_process import WorkerProcess

from .pipeline import Deployment, annotation, next_task
from .test_workflow import _produce_workflow

PROJECT = "hp"
GROUND_TRUTH = [f"g{i}" for i in range(6)]
TASKS = [f"t{i}" for i in range(40)]


async def _wait_workflow_applied(deployment: Deployment, timeout_s: float = 30) -> None:
    settings = deployment.settings
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    try:
        topic = settings.topic(topics.WORKFLOW)
        tps = [TopicPartition(topic, p) for p in range(settings.partitions)]
        ends = {tp.partition: end for tp, end in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        offsets = [await deployment.redis.get(deployment.keys.workflow_offset(p))
                   for p in range(settings.partitions)]
        if all((int(o) + 1 if o else 0) >= ends[p] for p, o in enumerate(offsets)):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the workflow agent did not apply up to {ends} in {timeout_s} s")


async def test_honeypots_and_pausing(
    deployment: Deployment,
    start_owning_worker: Callable[[Settings], Awaitable[WorkerProcess]],
) -> None:
    settings = deployment.settings
    worker = await start_owning_worker(settings)
    evaluation = EvaluationSettings(enabled=True, onboarding_tasks=2, continuous_share=0.25,
                                    pause_on_failure=True, minimum_score=0.8, minimum_tasks=3)
    await deployment.configure(ProjectConfig(
        PROJECT, annotations_per_task=1, distribute=True, evaluation=evaluation))
    await _produce_workflow(settings, [task_event(PROJECT, t, "imported")
                                       for t in [*GROUND_TRUTH, *TASKS]])
    await _produce_workflow(settings, [annotator_event(PROJECT, a, "joined")
                                       for a in ("good", "bad")])
    # The expert's ground truth: "pos" on every ground-truth task.
    await deployment.send(_expert_truth(GROUND_TRUTH, PROJECT))

    # Everything so far applied: the annotations, then the facts they caused.
    await deployment.wait_applied()
    await _wait_workflow_applied(deployment)

    served: dict[str, list[tuple[str, str]]] = {"good": [], "bad": []}
    async with aiohttp.ClientSession() as session:
        done: dict[str, set[str]] = {"good": set(), "bad": set()}
        idle = 0
        while idle < 10:
            progressed = False
            for who in ("good", "bad"):
                answer = await next_task(session, worker, PROJECT, who)
                task = answer["task_id"]
                if task is None or task in done[who]:
                    continue
                served[who].append((task, answer["queue"]))
                done[who].add(task)
                label = "pos" if who == "good" or task.startswith("t") else "neg"
                await deployment.send([annotation(task, f"{task}-{who}", who, label,
                                                  project=PROJECT)])
                progressed = True
            idle = 0 if progressed else idle + 1
            await asyncio.sleep(0.15)  # the submission's fact reaches the distribution
        final_bad = await next_task(session, worker, PROJECT, "bad")

    # Onboarding: each annotator's first two tasks are honeypots; both annotators got the
    # same ground-truth tasks although the overlap is 1.
    for who in ("good", "bad"):
        assert [queue for _, queue in served[who][:2]] == ["ground_truth"] * 2, served[who]
    assert {t for t, q in served["good"] if q == "ground_truth"} & \
        {t for t, q in served["bad"] if q == "ground_truth"}
    # Continuous evaluation: every offer to the good annotator followed the rule: a
    # honeypot exactly when one was due (and one was left that they had not done).
    for k, (_, queue) in enumerate(served["good"]):
        honeypots = sum(q == "ground_truth" for _, q in served["good"][:k])
        due = ground_truth_due(evaluation, honeypots, k) and honeypots < len(GROUND_TRUTH)
        assert (queue == "ground_truth") == due, (k, served["good"])
    assert sum(q == "ground_truth" for _, q in served["good"]) == len(GROUND_TRUTH)
    # The one who fails the ground truth is paused after three of them, and gets nothing.
    outputs = await deployment.read_outputs((topics.ANNOTATOR_QUALITY,), at_least=1)
    paused = [e for e in outputs if e["schema"] == "quorum.annotator-paused/v1"]
    assert [e["annotator"] for e in paused] == ["bad"]
    assert paused[0]["ground_truth_tasks"] == 3
    assert sum(q == "ground_truth" for _, q in served["bad"]) == 3
    assert final_bad["task_id"] is None and final_bad["reason"] == "paused"
    assert not [e for e in outputs if e["schema"] == "quorum.annotator-paused/v1"
                and e["annotator"] == "good"]


async def test_a_ground_truth_marked_after_the_annotations_scores_them(
    deployment: Deployment,
    start_owning_worker: Callable[[Settings], Awaitable[WorkerProcess]],
) -> None:
    """The expert marks the ground truth once the annotators are done: their annotations
    are scored at once, and the one who disagrees is paused without submitting again."""
    settings = deployment.settings
    await start_owning_worker(settings)
    project = "late-truth"
    evaluation = EvaluationSettings(enabled=True, pause_on_failure=True, minimum_score=0.8,
                                    minimum_tasks=3)
    await deployment.configure(ProjectConfig(
        project, annotations_per_task=2, distribute=True, evaluation=evaluation))
    tasks = ["g0", "g1", "g2"]
    await _produce_workflow(settings, [task_event(project, t, "imported") for t in tasks])
    await _produce_workflow(settings, [annotator_event(project, a, "joined")
                                       for a in ("good", "bad")])
    await deployment.send([annotation(task, f"{task}-{who}", who, label, project=project)
                           for task in tasks for who, label in (("good", "pos"), ("bad", "neg"))])
    await deployment.wait_applied()
    await _wait_workflow_applied(deployment)

    await deployment.send(_expert_truth(tasks, project))
    await deployment.wait_applied()
    await _wait_workflow_applied(deployment)

    outputs = await deployment.read_outputs((topics.ANNOTATOR_QUALITY,), at_least=1)
    paused = [e for e in outputs if e["schema"] == "quorum.annotator-paused/v1"]
    assert [(e["annotator"], e["ground_truth_tasks"], e["ground_truth_score"])
            for e in paused] == [("bad", 3, 0.0)]
    latest = {e["annotator"]: e for e in outputs
              if e["schema"] == "quorum.annotator-quality/v1"}
    assert (latest["good"]["ground_truth_score"], latest["good"]["ground_truth_tasks"]) == (1.0, 3)


def _expert_truth(tasks: list[str], project: str) -> list[dict[str, Any]]:
    """The expert's annotation "pos" on each task, marked as its ground truth."""
    truth = []
    for task in tasks:
        event = annotation(task, f"{task}-expert", "expert", "pos", project=project)
        event["ground_truth"] = True
        truth.append(event)
    return truth
