"""Push assignment end to end on the real Kafka and Redis: a push-mode project's tasks
are reserved for its annotators as they join and as they submit, announced on the
assignments topic, spread evenly, and the label stream answers with the pushed task."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from streams import topics
from streams.models.project import ProjectConfig
from streams.models.workflow import annotator_event, task_event
from streams.settings import Settings
from streams.worker_process import WorkerProcess

from .pipeline import Deployment, annotation, next_task
from .test_honeypots import _wait_workflow_applied
from .test_workflow import _produce_workflow

PROJECT = "push1"
TASKS = [f"t{i}" for i in range(10)]
ANNOTATORS = ("u0", "u1", "u2", "u3")
OVERLAP = 2  # 20 seats: 5 tasks per annotator


async def _assigned(deployment: Deployment, at_least: int) -> list[dict[str, Any]]:
    """The distinct ``assigned`` events so far, once there are at least ``at_least``."""
    events = await deployment.read_outputs((topics.ASSIGNMENTS,), at_least=at_least,
                                           settle_s=1.0)
    unique = {e["event_id"]: e for e in events
              if e["schema"] == "quorum.assignment/v1" and e["kind"] == "assigned"}
    return list(unique.values())


def _holding(assigned: list[dict[str, Any]], submitted: set[tuple[str, str]]
             ) -> dict[str, str]:
    """Annotator -> the task pushed to them and not submitted yet (push_depth 1)."""
    held = [(e["annotator"], e["task_id"]) for e in assigned]
    return {a: t for a, t in held if (a, t) not in submitted}


async def _settled(deployment: Deployment, completed: int) -> None:
    """Wait until the annotations sent so far reached the workflow and were applied:
    their tasks' completions (published with their facts), then the workflow offsets."""
    await deployment.wait_applied()
    await deployment.read_outputs((topics.TASK_COMPLETED,), at_least=completed, settle_s=0.2)
    await _wait_workflow_applied(deployment)


async def test_push_mode_spreads_tasks_evenly_and_the_label_stream_returns_them(
    deployment: Deployment,
    start_owning_worker: Callable[[Settings], Awaitable[WorkerProcess]],
) -> None:
    settings = deployment.settings
    worker = await start_owning_worker(settings)
    await deployment.configure(ProjectConfig(
        PROJECT, annotations_per_task=OVERLAP, distribute=True, assignment_mode="push",
        push_depth=1))
    await _produce_workflow(settings, [task_event(PROJECT, t, "imported") for t in TASKS])
    await _produce_workflow(settings, [annotator_event(PROJECT, a, "joined")
                                       for a in ANNOTATORS])

    # Each annotator is pushed one task as they join (push_depth 1), and holds it.
    assigned = await _assigned(deployment, len(ANNOTATORS))
    assert len(assigned) == len(ANNOTATORS)
    assert sorted(e["annotator"] for e in assigned) == sorted(ANNOTATORS)
    assert {e["queue"] for e in assigned} == {"pushed"}
    holding = _holding(assigned, set())
    async with aiohttp.ClientSession() as session:
        for annotator, task in holding.items():
            answer = await next_task(session, worker, PROJECT, annotator)
            assert (answer["task_id"], answer["queue"]) == (task, "reserved")

    # Each submission frees its annotator: the next task is pushed to them, round after
    # round, until every seat is taken.
    seats = OVERLAP * len(TASKS)
    submitted: set[tuple[str, str]] = set()
    while True:
        assert len(holding) == len(ANNOTATORS), holding
        await deployment.send([annotation(task, f"{task}-{annotator}", annotator, "pos",
                                          project=PROJECT)
                               for annotator, task in sorted(holding.items())])
        submitted.update(holding.items())
        if len(assigned) == seats:
            break
        assigned = await _assigned(deployment, len(assigned) + len(ANNOTATORS))
        loads = Counter(e["annotator"] for e in assigned)
        assert max(loads.values()) - min(loads.values()) <= 1, loads
        holding = _holding(assigned, submitted)

    # Once the last submissions went through the workflow, nothing more was pushed.
    await _settled(deployment, completed=len(TASKS))
    assigned = await _assigned(deployment, seats)
    assert len(assigned) == seats  # nothing past the last seat
    assert Counter(e["annotator"] for e in assigned) == dict.fromkeys(ANNOTATORS, 5)
    per_task: defaultdict[str, list[str]] = defaultdict(list)
    for event in assigned:
        per_task[event["task_id"]].append(event["annotator"])
    # Never the same annotator twice on one task, never more than the overlap.
    assert all(len(set(people)) == len(people) == OVERLAP for people in per_task.values())
    assert sorted(per_task) == sorted(TASKS)
    async with aiohttp.ClientSession() as session:
        for annotator in ANNOTATORS:
            assert (await next_task(session, worker, PROJECT, annotator))["task_id"] is None


async def test_push_mode_gives_a_scarce_task_to_the_least_loaded_first(
    deployment: Deployment,
    start_owning_worker: Callable[[Settings], Awaitable[WorkerProcess]],
) -> None:
    settings = deployment.settings
    await start_owning_worker(settings)
    await deployment.configure(ProjectConfig(
        PROJECT, annotations_per_task=1, distribute=True, assignment_mode="push"))
    await _produce_workflow(settings, [annotator_event(PROJECT, a, "joined")
                                       for a in ANNOTATORS])
    # Earlier work, labeled outside the label stream: loads u0 3, u1 2, u2 0, u3 0.
    history = [("x0", "u0"), ("x1", "u0"), ("x2", "u0"), ("x3", "u1"), ("x4", "u1")]
    await deployment.send([annotation(task, f"{task}-{who}", who, "pos", project=PROJECT)
                           for task, who in history])
    await _settled(deployment, completed=len(history))
    assert await _assigned(deployment, 0) == []  # those tasks are full: nothing to push

    # Four tasks, imported one by one: each goes to the least loaded with room.
    await _produce_workflow(settings, [task_event(PROJECT, t, "imported") for t in TASKS[:4]])
    assigned = await _assigned(deployment, 4)
    by_task = {e["task_id"]: e["annotator"] for e in assigned}
    assert len(assigned) == 4 and len(by_task) == 4
    assert {by_task["t0"], by_task["t1"]} == {"u2", "u3"}  # load 0 first, tie by hash
    assert (by_task["t2"], by_task["t3"]) == ("u1", "u0")  # then 2 before 3
