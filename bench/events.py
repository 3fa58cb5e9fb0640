"""Realistic ``quorum.annotation/v1`` input for the benchmarks, reproducible from a seed.

Label Studio style: integer project, task, annotation and user ids; a Choices result;
three annotators per task who agree with the task's "true" label 80% of the time.
A task's three annotations are spread over a window of ``window_tasks`` tasks, as when
many annotators work on a project at once, not back to back.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

LABELS = ("pos", "neg", "neu")
ANNOTATORS_PER_TASK = 3
PROJECTS = 8
ANNOTATORS_PER_PROJECT = 25


@dataclass(frozen=True, slots=True)
class Event:
    """One input event: its message key, its body (``occurred_at`` set when encoded)."""

    event_id: str
    key: bytes
    body: dict[str, Any]

    def encode(self, occurred_at: str | None = None) -> bytes:
        body = self.body if occurred_at is None else {**self.body, "occurred_at": occurred_at}
        return orjson.dumps(body)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def generate(count: int, *, seed: int = 1, run: str = "bench", window_tasks: int = 500,
             first_task: int = 1) -> Iterator[Event]:
    """``count`` created events (a multiple of 3 gives whole tasks), deterministic per seed."""
    rng = random.Random(seed)
    occurred_at = "2026-11-28T09:00:00+00:00"
    made = 0
    task = first_task
    annotation = first_task * ANNOTATORS_PER_TASK
    while made < count:
        window: list[Event] = []
        for _ in range(window_tasks):
            project = 1000 + task % PROJECTS
            truth = rng.choice(LABELS)
            users = rng.sample(range(1, ANNOTATORS_PER_PROJECT + 1), ANNOTATORS_PER_TASK)
            for user in users:
                label = truth if rng.random() < 0.8 else rng.choice(LABELS)
                annotation += 1
                event_id = f"{run}-ev-{annotation}"
                body = {
                    "schema": "quorum.annotation/v1",
                    "event_id": event_id,
                    "project_id": project,
                    "task_id": task,
                    "occurred_at": occurred_at,
                    "kind": "created",
                    "annotation_id": annotation,
                    "revision": 1,
                    "completed_by": project * 100 + user,
                    "result": [
                        {"from_name": "sentiment", "to_name": "text", "type": "choices",
                         "value": {"choices": [label]}}
                    ],
                }
                window.append(Event(event_id, f"{project}:{task}".encode(), body))
            task += 1
        rng.shuffle(window)
        yield from window[: count - made]
        made += min(len(window), count - made)
