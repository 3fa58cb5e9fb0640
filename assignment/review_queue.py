"""Tasks awaiting review, lowest agreement first.

Label Studio Enterprise lets reviewers "order tasks by agreement, to review annotations
with more uncertainty among annotators first" (docs: guide/quality.md, "Choose what to
review"). Quorum keeps that order live as scores change, one event at a time.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Collection, Iterator, Mapping
from typing import Any

STATE_VERSION = 1


class ReviewQueue:
    """A min-queue of tasks keyed by agreement score; ties go to the smaller task id.

    ``add`` (which also updates a score) and ``remove`` cost O(log n) amortized, ``peek``
    O(log n) amortized. Held as a dict of current scores plus a binary heap whose entries
    go stale when a task is removed or rescored: a stale entry is dropped when it reaches
    the top, and the heap is rebuilt once stale entries outnumber live ones, so memory
    stays O(n) however many updates arrive.

    State layout (``to_state``), version 1::

        {"version": 1, "scores": {"<task>": score, ...}}
    """

    __slots__ = ("_heap", "_scores")

    def __init__(self) -> None:
        self._scores: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._scores)

    def __contains__(self, task: object) -> bool:
        return task in self._scores

    def score(self, task: str) -> float | None:
        """The task's score in the queue; ``None`` if it is not queued."""
        return self._scores.get(task)

    def add(self, task: str, score: float) -> None:
        """Queue a task with its agreement in [0, 1], or move it to a new score."""
        if type(task) is not str:
            raise ValueError(f"task ids must be str, got {task!r}")
        if not 0.0 <= score <= 1.0:  # NaN fails too
            raise ValueError(f"task {task!r}: agreement {score!r} is not in [0, 1]")
        score = float(score)
        if self._scores.get(task) == score:
            return
        self._scores[task] = score
        heapq.heappush(self._heap, (score, task))
        self._compact()

    def remove(self, task: str) -> bool:
        """Take a task out of the queue; False if it was not queued."""
        if self._scores.pop(task, None) is None:
            return False
        self._compact()
        return True

    def peek(self, exclude: Collection[str] = ()) -> str | None:
        """The queued task with the lowest score, skipping ``exclude``; ``None`` if none.

        ``exclude`` (tasks a reviewer holds or may not review) costs O(log n) per
        excluded task that ranks ahead of the answer.
        """
        heap = self._heap
        scores = self._scores
        while heap and scores.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        if not heap or not exclude or heap[0][1] not in exclude:
            return heap[0][1] if heap else None
        # Pop the excluded head entries aside, then put them back.
        aside: list[tuple[float, str]] = []
        found: str | None = None
        while heap:
            entry = heapq.heappop(heap)
            if scores.get(entry[1]) != entry[0]:
                continue
            aside.append(entry)
            if entry[1] not in exclude:
                found = entry[1]
                break
        for entry in aside:
            heapq.heappush(heap, entry)
        return found

    def pop(self) -> str | None:
        """Remove and return the task with the lowest score; ``None`` if empty."""
        task = self.peek()
        if task is not None:
            self.remove(task)
        return task

    def __iter__(self) -> Iterator[str]:
        """Queued tasks in review order (a sorted snapshot, O(n log n))."""
        return iter(task for _, task in sorted((s, t) for t, s in self._scores.items()))

    def _compact(self) -> None:
        # Rebuild from the live scores when stale entries dominate: O(n) now and then
        # keeps every operation O(log n) amortized and the heap at most ~2n entries.
        if len(self._heap) > 2 * len(self._scores) + 32:
            self._heap = [(score, task) for task, score in self._scores.items()]
            heapq.heapify(self._heap)

    def to_state(self) -> dict[str, Any]:
        """JSON-able state (layout in the class docstring)."""
        return {"version": STATE_VERSION, "scores": dict(sorted(self._scores.items()))}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ReviewQueue:
        """Rebuild from :meth:`to_state` output."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(
                f"review queue state version {state.get('version')!r} is not "
                f"{STATE_VERSION}; rebuild it from the review events"
            )
        queue = cls()
        for task, score in state["scores"].items():
            if not (isinstance(score, int | float) and math.isfinite(score)):
                raise ValueError(f"review queue state: task {task!r} has score {score!r}")
            queue.add(task, float(score))
        return queue
