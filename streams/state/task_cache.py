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

Completed tasks' records are kept apart, in a short first-in first-out queue (a tenth
of the capacity). A completed task's next events, if any, come soon: the labeling
tool's own overlap when it asks for more annotations than the project's, an update, a
review. Kept with the others, a busy worker freed each such record seconds later, when
it was the least recently used, from memory long gone from the processor's caches. On a
600,000-event backlog the worker ran 15-25% faster with the queue (bench/README.md,
session 20). A completed task's event after its record left reads it from Redis, in the
batch's one read.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

from assignment.consensus import Decision
from streams.state.task import TaskRecord

TaskRef = tuple[str, str]

_COMPLETED = Decision.COMPLETED  # a global: this is read once per record kept
_NOTHING_HELD: OrderedDict[TaskRef, TaskRecord] = OrderedDict()  # never written to


class TaskCache:
    """Decoded task records by partition, each partition valid at one applied offset.

    ``completed_capacity`` (default: a tenth of ``capacity``) of the capacity holds
    completed tasks' records, first in first out; the rest the others, least recently
    used out first.
    """

    def __init__(self, capacity: int, completed_capacity: int | None = None) -> None:
        if capacity < 0:
            raise ValueError(f"task cache capacity must be >= 0, not {capacity}")
        if completed_capacity is None:
            completed_capacity = capacity // 10
        if not 0 <= completed_capacity <= capacity:
            raise ValueError(f"completed tasks' share of the task cache must be between 0 "
                             f"and its capacity {capacity}, not {completed_capacity}")
        self.capacity = capacity
        self.completed_capacity = completed_capacity
        # partition -> task -> record, least recently used first. OrderedDict, not dict:
        # a dict emptied from the front keeps its holes, and finding its first entry
        # walks them (measured: 2.5% of the worker's time).
        self._records: dict[int, OrderedDict[TaskRef, TaskRecord]] = {}
        # Completed tasks' records, all partitions, oldest completed first.
        self._completed: OrderedDict[tuple[int, TaskRef], TaskRecord] = OrderedDict()
        self._offsets: dict[int, str] = {}  # partition -> applied offset of its records
        self._size = 0  # records in self._records
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return self._size + len(self._completed)

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

        A hit becomes the most recently used (a completed task's keeps its place: the
        batch's :meth:`keep` places it by its decision then).
        """
        records = self._records.get(partition)
        completed = self._completed
        if not records and not completed:
            missing = list(refs)
            self.misses += len(missing)
            return {}, missing
        hits: dict[TaskRef, TaskRecord] = {}
        missing = []
        held = records if records is not None else _NOTHING_HELD
        get = held.get
        for ref in refs:
            record = get(ref)
            if record is not None:
                held.move_to_end(ref)  # most recently used
            elif completed:
                record = completed.get((partition, ref))
            if record is None:
                missing.append(ref)
            else:
                hits[ref] = record
        self.hits += len(hits)
        self.misses += len(missing)
        return hits, missing

    def keep(self, partition: int, records: Mapping[TaskRef, TaskRecord], offset_raw: str) -> None:
        """Remember a batch's records, which Redis holds once its write at ``offset_raw``
        (the batch's last offset) is applied; the partition's older records stay.
        Completed tasks' records join the completed queue's end, the others the
        partition's most recently used (see the module docstring)."""
        if self.capacity == 0:
            return
        held = self._records.get(partition)
        if held is None:
            held = self._records[partition] = OrderedDict()
        completed = self._completed
        before = len(held)
        for ref, record in records.items():
            decision = record.decision
            if decision is not None and decision.decision is _COMPLETED:
                held.pop(ref, None)
                key = (partition, ref)
                completed[key] = record
                completed.move_to_end(key)
                continue
            if completed:
                completed.pop((partition, ref), None)
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
        completed = self._completed
        for key in [key for key in completed if key[0] == partition]:
            del completed[key]
        self._offsets.pop(partition, None)

    def _evict(self) -> None:
        """Completed tasks' beyond their share, oldest first; then the others beyond the
        rest of the capacity, least recently used first, from the partition holding the
        most."""
        completed = self._completed
        while len(completed) > self.completed_capacity:
            completed.popitem(last=False)
        others = self.capacity - self.completed_capacity
        while self._size > others:
            partition = max(self._records, key=lambda p: len(self._records[p]))
            held = self._records[partition]
            excess = min(len(held), self._size - others)
            for _ in range(excess):
                held.popitem(last=False)
            self._size -= excess
