"""The workflow agent's read methods: reports of owned projects, NotOwner elsewhere,
None for a project the owned partition has no state of. No Kafka, no Redis: reads touch
only the in-memory state."""

from __future__ import annotations

from typing import Any, cast

import pytest

from streams.agents.workflow import NotOwner, WorkflowAgent, _Owned
from streams.settings import Settings
from streams.state.store import StateStore
from streams.state.workflow_store import WorkflowStore
from streams.workflow import WorkflowPartition
from streams.workflow_reports import annotators_report, models_report

from ..test_workflow_reports import three_annotators, two_versions, workflow


def agent_owning(project: str, state: Any) -> WorkflowAgent:
    # Reads never touch Redis or Kafka: no store, config store or producer.
    agent = WorkflowAgent(Settings(), store=cast(WorkflowStore, None),
                          configs=cast(StateStore, None), producer=None)
    partition = WorkflowPartition({project: state})
    agent._owned[agent.partition_of(project)] = _Owned("token", partition, None, 0, 0)
    return agent


async def test_reports_of_an_owned_project() -> None:
    state = workflow(three_annotators(), two_versions())
    agent = agent_owning("p1", state)
    assert await agent.annotators_report("p1") == annotators_report("p1", state)
    assert await agent.models_report("p1") == models_report("p1", state)


async def test_a_project_on_an_owned_partition_without_state_is_none() -> None:
    agent = agent_owning("p1", workflow())
    others = [p for p in (f"x{i}" for i in range(100))
              if agent.partition_of(p) == agent.partition_of("p1")]
    assert await agent.annotators_report(others[0]) is None
    assert await agent.models_report(others[0]) is None


async def test_a_project_on_another_partition_is_not_owned() -> None:
    agent = agent_owning("p1", workflow())
    elsewhere = next(p for p in (f"x{i}" for i in range(100))
                     if agent.partition_of(p) != agent.partition_of("p1"))
    with pytest.raises(NotOwner):
        await agent.annotators_report(elsewhere)
    with pytest.raises(NotOwner):
        await agent.models_report(elsewhere)
