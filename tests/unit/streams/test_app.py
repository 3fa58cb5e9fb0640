"""The workflow APIs' HTTP answers (streams.app) for each state of the worker: starting,
not owning the project, without the project, with it."""

from __future__ import annotations

from typing import Any, cast

from assignment import Assignment, Queue
from streams.agents.workflow import NotOwner, WorkflowAgent
from streams.app import label_stream_answer, report_answer


class View:
    """What faust's View.json does, kept: the body and the status."""

    def json(self, body: Any, status: int = 200) -> tuple[int, Any]:
        return status, body


async def answer(agents: list[Any], outcome: Any) -> tuple[int, Any]:
    async def report(agent: Any, project: str) -> Any:
        assert (agent, project) == (agents[0], "p1")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result: tuple[int, Any] = await report_answer(View(), agents, "p1", report)
    return result


async def test_the_report_is_answered_as_is() -> None:
    assert await answer(["agent"], {"project_id": "p1"}) == (200, {"project_id": "p1"})


async def test_a_starting_worker_answers_503() -> None:
    status, body = await answer([], {"project_id": "p1"})
    assert status == 503 and "retry" in body["error"]


async def test_a_project_of_another_worker_answers_409() -> None:
    status, body = await answer(["agent"], NotOwner("p1"))
    assert status == 409 and "another worker" in body["error"]


async def test_a_project_without_state_answers_404_with_what_to_check() -> None:
    status, body = await answer(["agent"], None)
    assert status == 404
    assert "'p1'" in body["error"] and "--distribute" in body["error"]


class Agent:
    """A workflow agent whose label stream gives ``outcome`` (or raises it)."""

    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome

    async def next_task(self, project: str, annotator: str) -> Any:
        assert (project, annotator) == ("p1", "alice")
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def stream_agent(outcome: Any) -> WorkflowAgent:
    """An :class:`Agent` where label_stream_answer takes workflow agents (it calls only
    ``next_task``)."""
    return cast(WorkflowAgent, Agent(outcome))


async def test_the_label_stream_answers_the_reserved_task() -> None:
    assigned = Assignment("t7", "alice", 1795870000.0, Queue.SEQUENCE)
    assert await label_stream_answer(View(), [stream_agent(assigned)], "p1", "alice") == (200, {
        "project_id": "p1", "annotator": "alice", "task_id": "t7", "queue": "sequence",
        "expires_at": 1795870000.0})
    assert await label_stream_answer(View(), [stream_agent("paused")], "p1", "alice") == (
        200, {"project_id": "p1", "annotator": "alice", "task_id": None, "reason": "paused"})


async def test_the_label_stream_answers_409_and_503_like_the_reports() -> None:
    status, body = await label_stream_answer(View(), [stream_agent(NotOwner("p1"))], "p1",
                                             "alice")
    assert status == 409 and "another worker" in body["error"]
    status, body = await label_stream_answer(View(), [], "p1", "alice")
    assert status == 503 and "retry" in body["error"]
