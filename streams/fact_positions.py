"""Which facts of one project the workflow agent applied from one annotations partition.

A fact's id is the position ``(offset, rank)`` in the annotations topic of the input that
caused it, so a republished outbox (after a crash) and a replay repeat positions. Within
one run of the annotations agent, a partition's facts reach the workflow topic in order;
so what was applied is kept as a few disjoint *runs* of positions: from a run's first
fact to its last, every fact that run emitted was applied. A fact inside a run is a copy.

Why runs and not the newest position alone: after ``quorum rebuild`` the annotations
agent replays the partition from offset 0 and emits its facts again, behind the facts of
the earlier run, which the workflow agent replays first. Where the earlier run emitted no
facts (the project's quality was tracked only from some offset on), the replayed ones are
new, and a newest-position rule would take them for copies. A fact below the newest
position and outside every run starts a new run; one above it extends the run of the
newest position up to it (none of that run's facts lay between).

Kept small: a run is two positions, and runs only start on a rebuild or a gap of that
kind. A project whose facts stopped and started again (``track_quality`` turned off,
then on) has one run across the gap, which a rebuild does not fill.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

Position = tuple[int, int]  # (offset, rank) in one annotations partition


class FactPositions:
    """The runs of positions applied from one annotations partition, and the newest
    position of the current run (applied, or a copy the run reached)."""

    __slots__ = ("last", "runs")

    def __init__(self, runs: list[tuple[Position, Position]] | None = None,
                 last: Position | None = None) -> None:
        self.runs: list[tuple[Position, Position]] = runs or []  # sorted, disjoint
        self.last = last

    def take(self, position: Position) -> bool:
        """Record the fact at ``position``; whether it is new (to apply) rather than a
        copy of one applied before."""
        runs = self.runs
        i = bisect_right(runs, (position, (1 << 62, 0))) - 1  # the run starting at or before
        copy = i >= 0 and position <= runs[i][1]
        last = self.last
        if last is not None and last < position:
            # In order since the last fact: this run emitted nothing in between, so the
            # run holding the last one reaches this one, over any run it passes.
            j = bisect_right(runs, (last, (1 << 62, 0))) - 1
            end = runs[i][1] if copy else position
            runs[j:i + 1] = [(runs[j][0], max(end, position))]
            self.last = position
        elif not copy:
            runs.insert(i + 1, (position, position))  # a new run (a rebuild's replay)
            self.last = position
        # A copy at or below the last one (a republished outbox) changes nothing.
        return not copy

    def to_state(self) -> dict[str, Any]:
        return {"runs": [[*lo, *hi] for lo, hi in self.runs],
                "last": None if self.last is None else list(self.last)}

    @classmethod
    def from_state(cls, state: Any) -> FactPositions:
        if isinstance(state, list):
            # Written before runs: the newest position applied, everything up to it seen.
            newest = (int(state[0]), int(state[1]))
            return cls([((-1, -1), newest)], newest)
        last = state["last"]
        return cls([((a, b), (c, d)) for a, b, c, d in state["runs"]],
                   None if last is None else (last[0], last[1]))
