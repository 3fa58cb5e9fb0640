"""What `quorum label-studio reassign` asks of Label Studio for Quorum's reassign requests."""

from __future__ import annotations

from typing import Any

import pytest

from streams.label_studio_overlap import (
    OverlapRaise,
    labeled_meanwhile,
    overlap_raise,
    still_needed,
)


def request(task: Any = "19", project: str = "ls-4", **fields: Any) -> dict[str, Any]:
    body = {"schema": "quorum.reassign-requested/v1", "event_id": "0:7:1",
            "project_id": project, "task_id": task, "agreement": 0.0, "threshold": 0.7,
            "annotators": ["2", "3"], "additional_annotators": 1,
            "exclude_annotators": ["2", "3"], "budget_left": 1}
    body.update(fields)
    return body


def test_a_reassign_request_raises_the_overlap_by_the_annotators_asked_for() -> None:
    assert overlap_raise(request(), "ls-4") == OverlapRaise(19, 3, 0.0)
    assert overlap_raise(request(additional_annotators=2), "ls-4") == OverlapRaise(19, 4, 0.0)
    assert overlap_raise(request(task=20, agreement=None), "ls-4") == OverlapRaise(20, 3, None)


@pytest.mark.parametrize("event", [
    request(project="other"),                                   # another project's
    request(schema="quorum.assignment/v1"),                     # the label stream's
    request(schema="quorum.review-requested/v1"),
    request(task="t-19"),                                       # not a Label Studio task id
    request(annotators=None),
])
def test_anything_else_asks_nothing(event: dict[str, Any]) -> None:
    assert overlap_raise(event, "ls-4") is None


RAISE = OverlapRaise(19, 3, 0.0)


@pytest.mark.parametrize(("task", "needed"), [
    ({"overlap": 2, "is_labeled": True, "total_annotations": 2}, True),   # done for Label Studio
    ({"overlap": 3, "is_labeled": True, "total_annotations": 2}, True),   # overlap set alone
    ({"overlap": 3, "is_labeled": False, "total_annotations": 2}, False),  # open already
    ({"overlap": 3, "is_labeled": True, "total_annotations": 3}, False),  # the annotator came
    ({"overlap": 2, "is_labeled": True, "total_annotations": 4}, False),
    ({"overlap": 2, "is_labeled": True}, False),                           # not a task
])
def test_a_raise_is_carried_out_only_while_the_task_needs_it(
        task: dict[str, Any], needed: bool) -> None:
    assert still_needed(RAISE, task) is needed


@pytest.mark.parametrize(("task", "undo"), [
    ({"overlap": 3, "is_labeled": False, "total_annotations": 2}, False),  # raised, waiting
    ({"overlap": 3, "is_labeled": False, "total_annotations": 3}, True),   # one landed between
    ({"overlap": 3, "is_labeled": True, "total_annotations": 3}, False),   # Label Studio recounted
    ({"overlap": 3, "is_labeled": False}, False),
])
def test_an_annotation_that_landed_during_the_raise_is_caught(
        task: dict[str, Any], undo: bool) -> None:
    assert labeled_meanwhile(RAISE, task) is undo
