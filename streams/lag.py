"""How far the workers are behind their input: ``quorum lag``.

Each input partition's last applied offset is in Redis, written in the same atomic script
as the state it produced, so what is applied is known exactly; Kafka's committed offsets
(committed about once a second, for the usual consumer-group tools) trail it. A
partition's lag is the input messages Kafka holds past the last applied one. Its outbox
holds applied batches until a later write confirms that Kafka has their outputs (an
entry is trimmed by the next write after Kafka acknowledged it), so one or two stay
while a worker runs or after it stops, and they grow while Kafka refuses outputs (a new
owner publishes them again, with the same ids). Pure: the caller reads Kafka and Redis.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ANNOTATIONS = "annotations"  # the annotations agent's input
WORKFLOW = "workflow"  # the workflow agent's input


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """One input partition: Kafka's offsets against what Redis says is applied."""

    stream: str  # ANNOTATIONS or WORKFLOW
    partition: int
    start: int  # the first offset Kafka still holds
    end: int  # the offset the next message will get
    applied: int | None  # the last applied offset; None: nothing yet
    outbox: int  # applied batches kept until a later write confirms their publication

    @property
    def lag(self) -> int:
        """Messages held by Kafka that no worker applied yet (those that retention
        removed before anyone applied them are not counted: they are gone)."""
        first_unapplied = 0 if self.applied is None else self.applied + 1
        return max(0, self.end - max(self.start, first_unapplied))


def applied_offset(raw: bytes | str | None) -> int | None:
    """A stored applied offset (``None`` or empty: nothing applied yet)."""
    if raw is None or raw in (b"", ""):
        return None
    return int(raw)


def total_lag(rows: Iterable[PartitionLag], stream: str) -> int:
    """The lag of every partition of one stream."""
    return sum(row.lag for row in rows if row.stream == stream)


def over(rows: Sequence[PartitionLag], max_lag: int) -> list[str]:
    """What says a stream is more than ``max_lag`` messages behind, one line per stream."""
    lines = []
    for stream in (ANNOTATIONS, WORKFLOW):
        behind = total_lag(rows, stream)
        if behind > max_lag:
            worst = max((r for r in rows if r.stream == stream), key=lambda r: r.lag)
            lines.append(f"the {stream} input is {behind:,} messages behind (more than "
                         f"{max_lag:,}; partition {worst.partition}: {worst.lag:,})")
    return lines
