"""The pure parts of `streams.operations`: how `quorum send` keys each input topic."""

from __future__ import annotations

import asyncio

import pytest

from streams import topics
from streams.errors import QuorumError
from streams.operations import input_key, message_key, send_lines
from streams.settings import Settings


def test_annotations_are_keyed_by_task() -> None:
    event: dict[str, object] = {"project_id": 7, "task_id": 19}
    assert input_key(topics.ANNOTATIONS, event) == message_key(event) == b"7:19"


@pytest.mark.parametrize("topic", [topics.WORKFLOW, topics.PROJECTS])
def test_workflow_and_project_events_are_keyed_by_project(topic: str) -> None:
    assert input_key(topic, {"project_id": 7, "task_id": 19}) == b"7"
    assert input_key(topic, {"project_id": "p1", "annotator": "u"}) == b"p1"


@pytest.mark.parametrize("project", [None, True, ["p"]])
def test_an_event_without_a_project_id_gets_no_key(project: object) -> None:
    assert input_key(topics.WORKFLOW, {"project_id": project}) is None
    assert input_key(topics.PROJECTS, {}) is None


def test_only_input_topics_are_sent_to() -> None:
    with pytest.raises(QuorumError, match="not an input topic"):
        asyncio.run(send_lines(Settings(), topics.TASK_QUALITY, [b"{}"]))
