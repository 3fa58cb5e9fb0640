"""Task agreement over real Label Studio 1.23.2 webhook payloads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from agreement import TaskAgreement, recompute

# Real webhook payloads captured from Label Studio 1.23.2 (project tokens redacted).
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "label-studio"
THREE_ANNOTATORS = FIXTURES / "webhooks-label-studio-1.23.2-three-annotators.jsonl"

# Worked out by reading the capture (one Choices tag "sentiment": pos/neg/neu):
# - task 16: annotations 6, 7, 8 chose pos, pos, neg (pairs 1, 0, 0: 1/3), then
#   ANNOTATION_UPDATED turns 8 into pos: 1.0.
# - task 17: 9, 10, 11 chose pos, neg, neu (0.0); ANNOTATIONS_DELETED drops 11: pos vs neg, 0.0.
# - task 19: 14 neg, 15 neu (0.0); 15 is deleted, leaving one annotation: 1.0.
# - tasks 22 (pos, pos, neg) 1/3; 23 (pos, neg, neu) and 25 (neg, neu) 0.0; 15 and 21
#   (pos x3), 18 and 24 (neg x2), 20 and 26 (one annotation each) 1.0.
EXPECTED_FINAL = {
    15: 1.0,
    16: 1.0,
    17: 0.0,
    18: 1.0,
    19: 1.0,
    20: 1.0,
    21: 1.0,
    22: 1 / 3,
    23: 0.0,
    24: 1.0,
    25: 0.0,
    26: 1.0,
}


def _events() -> list[dict[str, Any]]:
    if not THREE_ANNOTATORS.exists():
        pytest.fail(f"fixture {THREE_ANNOTATORS} is missing from the checkout")
    return [orjson.loads(line) for line in THREE_ANNOTATORS.read_bytes().splitlines() if line]


def test_replay_matches_hand_checked_scores() -> None:
    tasks: dict[int, TaskAgreement] = {}
    task_of: dict[str, int] = {}
    scores_seen: dict[int, list[float | None]] = {}
    for event in _events():
        action = event["action"]
        if action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
            annotation = event["annotation"]
            annotation_id = str(annotation["id"])
            task_id = annotation["task"]
            task_of[annotation_id] = task_id
            task = tasks.setdefault(task_id, TaskAgreement())
            task.upsert(annotation_id, annotation["result"])
        elif action == "ANNOTATIONS_DELETED":
            # A delete payload names annotations only, so find each one's task.
            for deleted in event["annotations"]:
                annotation_id = str(deleted["id"])
                task_id = task_of[annotation_id]
                task = tasks[task_id]
                assert task.remove(annotation_id)
        else:
            continue
        score = task.score
        assert score is not None
        assert 0.0 <= score <= 1.0
        scores_seen.setdefault(task_id, []).append(score)

    assert {task_id: task.score for task_id, task in tasks.items()} == pytest.approx(EXPECTED_FINAL)
    # Task 16 before the update: pos, pos, neg.
    assert scores_seen[16] == pytest.approx([1.0, 1.0, 1 / 3, 1.0])
    for task in tasks.values():
        state = task.to_state()
        assert task.score == recompute(state["results"])
