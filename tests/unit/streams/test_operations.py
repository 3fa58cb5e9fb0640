"""The pure parts of `streams.operations`: how `quorum send` keys each input topic."""

from __future__ import annotations

import asyncio

import pytest

from streams import topics
from streams.errors import QuorumError
from streams.operations import describe_lines, input_key, key_lines, message_key, send_lines
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
        asyncio.run(send_lines(Settings(), topics.TASK_QUALITY,
                               key_lines(topics.TASK_QUALITY, [b"{}"])))


def test_key_lines_keys_each_line_once_and_names_those_without_a_key() -> None:
    lines = [b'{"project_id": "p1", "task_id": 1}', b"", b"  ", b"{broken", b"null", b"[1]",
             b'"text"', b"3", b'{"task_id": 1}']
    keyed = key_lines(topics.PROJECTS, lines)
    # Blank lines are dropped, not refused; the others are kept, in order, keyed or not.
    assert keyed.messages == [(lines[0], b"p1"), *((line, None) for line in lines[3:])]
    refused = dict(keyed.refused)
    assert sorted(refused) == [4, 5, 6, 7, 8, 9]
    assert refused[4].startswith("not JSON (")
    assert refused[5] == "null, not a JSON object"
    assert refused[6] == "a list, not a JSON object"
    assert refused[7] == "a string, not a JSON object"
    assert refused[8] == "a number, not a JSON object"
    assert refused[9] == "no project_id (a string or an integer)"
    # On the annotations topic an object always gets a key: the worker judges the rest.
    annotations = key_lines(topics.ANNOTATIONS, lines)
    assert [n for n, _ in annotations.refused] == [4, 5, 6, 7, 8]
    assert annotations.messages[0] == (lines[0], b"p1:1")
    assert annotations.messages[-1] == (lines[-1], b"None:1")


def test_describe_lines_shows_the_first_and_counts_the_rest() -> None:
    refused = [(n, "null, not a JSON object") for n in (2, 5, 9, 11)]
    assert describe_lines(refused, most=2) == (
        "line 2: null, not a JSON object; line 5: null, not a JSON object; and 2 more")
    assert describe_lines(refused[:1]) == "line 2: null, not a JSON object"


def test_send_lines_refuses_a_projects_line_without_a_key_before_connecting() -> None:
    # Nothing listens on port 9: the refusal must come before any connection.
    settings = Settings(kafka_bootstrap="127.0.0.1:9")
    with pytest.raises(QuorumError, match=r"nothing sent.*line 1: null.*project remove"):
        asyncio.run(send_lines(settings, topics.PROJECTS,
                               key_lines(topics.PROJECTS, [b"null", b'{"project_id": "p"}'])))
