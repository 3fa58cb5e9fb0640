"""The owner's copy of the task records it wrote: decoded, so a batch need not read them.

A partition has one writer at a time (fenced by its owner token), so what the owner last
wrote is what Redis holds, as long as nothing else changed the partition meanwhile. Each
partition's records are kept with the applied offset they belong to; the agent compares
that offset with the one it reads from Redis whenever a batch reads its state, and a
partition whose offset moved under it (a Redis that lost its last second of writes,
``quorum rebuild``, another owner in between) is forgotten and read again. The atomic
write's compare-and-set on the same offset is the second guard, and the only one for a
batch that reads nothing (:class:`streams.state.task_index.TaskIndex`).

Measured at 10,000 live events/s (bench/README.md, session 5): decoding the stored
documents was the largest single cost of a batch after scoring, about a tenth of the
worker's time, and a task's annotations usually arrive minutes apart, across batches.

Bounded per worker, least recently used out first. Records are mutated in place by the
processing core, so a batch whose write does not land must drop its partition
(:meth:`TaskCache.forget`) before anything reads the cache again.

A completed task's record is not kept: it leaves with the batch that completed it. A
task is rarely annotated again once its decision is "completed", and a busy worker
otherwise freed its record seconds later, when the least recently used went, from
memory long gone from the processor's caches. On a 600,000-event backlog the worker ran
15-25% faster without that (bench/README.md, session 20). A later event of a completed
task (an update, a deletion, a review) reads its record from Redis, in the batch's one
read.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

from assignment.consensus import Decision
from streams.state.task import TaskRecord

TaskRef = tuple[str, str]

_COMPLETED = Decision.COMPLETED  # a global: this is read once per record kept


class TaskCache:
    """Decoded task records by partition, each partition valid at one applied offset."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"task cache capacity must be >= 0, not {capacity}")
        self.capacity = capacity
        # partition -> task -> record, least recently used first. OrderedDict, not dict:
        # a dict emptied from the front keeps its holes, and finding its first entry
        # walks them (measured: 2.5% of the worker's time).
        self._records: dict[int, OrderedDict[TaskRef, TaskRecord]] = {}
        self._offsets: dict[int, str] = {}  # partition -> applied offset of its records
        self._size = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return self._size

    def offset(self, partition: int) -> str | None:
        """The applied offset the partition's records belong to; None if none are kept."""
        return self._offsets.get(partition)

    def holds(self, partition: int, offset_raw: str) -> bool:
        """Whether the partition's records belong to ``offset_raw``, the applied offset
        Redis holds now (``''`` for none)."""
        return self._offsets.get(partition) == offset_raw

    def valid_at(self, partition: int, offset_raw: str) -> bool:
        """Keep the partition's records only if they belong to ``offset_raw``; False if
        they did not (the partition is forgotten)."""
        if self.holds(partition, offset_raw):
            return True
        self.forget(partition)
        return False

    def take(self, partition: int, refs: Iterable[TaskRef]) -> tuple[
        dict[TaskRef, TaskRecord], list[TaskRef]
    ]:
        """The cached records of ``refs`` and the refs that must be read from Redis.

        A hit becomes the most recently used.
        """
        records = self._records.get(partition)
        if not records:
            missing = list(refs)
            self.misses += len(missing)
            return {}, missing
        hits: dict[TaskRef, TaskRecord] = {}
        missing = []
        get = records.get
        for ref in refs:
            record = get(ref)
            if record is None:
                missing.append(ref)
            else:
                records.move_to_end(ref)  # most recently used
                hits[ref] = record
        self.hits += len(hits)
        self.misses += len(missing)
        return hits, missing

    def keep(self, partition: int, records: Mapping[TaskRef, TaskRecord], offset_raw: str) -> None:
        """Remember a batch's records, which Redis holds once its write at ``offset_raw``
        (the batch's last offset) is applied; the partition's older records stay.
        Completed tasks' records are not kept, and leave if they were (see the module
        docstring)."""
        if self.capacity == 0:
            return
        held = self._records.get(partition)
        if held is None:
            held = self._records[partition] = OrderedDict()
        before = len(held)
        for ref, record in records.items():
            decision = record.decision
            if decision is not None and decision.decision is _COMPLETED:
                held.pop(ref, None)
                continue
            held[ref] = record
            held.move_to_end(ref)
        self._size += len(held) - before
        self._offsets[partition] = offset_raw
        self._evict()

    def forget(self, partition: int) -> None:
        """Drop a partition's records: its state in Redis is no longer known to match."""
        dropped = self._records.pop(partition, None)
        if dropped:
            self._size -= len(dropped)
        self._offsets.pop(partition, None)

    def _evict(self) -> None:
        """Least recently used first, from the partition holding the most."""
        while self._size > self.capacity:
            partition = max(self._records, key=lambda p: len(self._records[p]))
            held = self._records[partition]
            excess = min(len(held), self._size - self.capacity)
            for _ in range(excess):
                held.popitem(last=False)
            self._size -= excess
