"""Which task records a partition holds in Redis, as far as its owner knows.

A batch reads from Redis only the records its owner's cache does not hold, and in a live
stream those are nearly all tasks seen for the first time, which Redis does not hold
either. Knowing that spares the read, and with it a round trip on every cycle's critical
path (bench/README.md, session 14). The owner learns what the partition holds when it
takes the partition (every field, scanned) and adds what it writes; nothing else writes a
partition's records while its owner holds the fencing token.

A false "may hold" costs a read and nothing else; a false "does not hold" would score a
task as new over the annotations Redis has. Hence: tasks are kept as the 64-bit hashes of
their refs (a collision only ever answers "may hold"; a ref's hash comes from its ids'
cached string hashes, so the hot path builds no field name for it), and the index is
rebuilt whenever the owner resumes a partition from Redis' state
(:meth:`AnnotationsAgent._recover`).

The scan runs in the background (:class:`IndexBuild`): a partition taken over resumes at
once, its fetches reading from Redis as they did before there was an index, and the
index takes over once the scan is done (four partitions of 400,000 tasks each took 3.6 s
here, side by side; a partition of two million tasks used to wait 8 s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterable

import numpy as np

TaskRef = tuple[str, str]

# Tasks added since the last merge into the sorted array. A set costs about 60 bytes a
# task, the array 8; merging costs a copy of the array (a few ms for a million tasks).
_MERGE_AT = 8192


class TaskIndex:
    """The tasks ``(project id, task id)`` whose records one partition holds in Redis."""

    __slots__ = ("_added", "_sorted")

    def __init__(self, refs: Iterable[TaskRef]) -> None:
        # Sorted, for a binary search: a partition of a million tasks is 8 MB, not the
        # 60 MB or more that a set of them would take.
        self._sorted = np.unique(np.fromiter((hash(r) for r in refs), dtype=np.int64))
        self._added: set[int] = set()

    def __len__(self) -> int:
        """Tasks held, a task written again since the last merge counting twice: an
        upper bound, for the size limit."""
        return len(self._sorted) + len(self._added)

    def add(self, refs: Iterable[TaskRef]) -> None:
        """Tasks the owner is writing (some of them may be held already)."""
        added = self._added
        added.update(hash(ref) for ref in refs)
        if len(added) >= _MERGE_AT:
            self._merge()

    def may_hold(self, ref: TaskRef) -> bool:
        """False only if Redis does not hold the task."""
        return self.holds_any([ref])

    def holds_any(self, refs: Iterable[TaskRef]) -> bool:
        """False only if Redis holds none of the tasks: one search for all of them (a
        search per task cost about 2 us, as much as a fetch's whole read saved)."""
        hashes = [hash(ref) for ref in refs]
        if not hashes:
            return False
        if not self._added.isdisjoint(hashes):
            return True
        return bool(self._in_sorted(np.array(hashes, dtype=np.int64)).any())

    def _in_sorted(self, probe: np.ndarray) -> np.ndarray:
        """Which of the hashes ``probe`` the sorted array holds."""
        known = self._sorted
        if not len(known):
            return np.zeros(len(probe), dtype=bool)
        at = np.minimum(np.searchsorted(known, probe), len(known) - 1)
        return known[at] == probe

    def _merge(self) -> None:
        """Move the added hashes into the sorted array, each once."""
        added = np.fromiter(self._added, dtype=np.int64, count=len(self._added))
        added = np.sort(added[~self._in_sorted(added)])
        self._sorted = np.insert(self._sorted, np.searchsorted(self._sorted, added), added)
        self._added.clear()


class IndexBuild:
    """A partition's index while its scan runs in the background.

    The scan returns every task held for the whole of it (Redis' SCAN guarantee), and may
    miss one written meanwhile: the owner adds what it writes from the moment the build
    starts (:meth:`add`), and those are added to the scanned index when it is taken
    (:meth:`take`). Only the owner writes the partition's tasks, so nothing else is
    missed.
    """

    __slots__ = ("_added", "_scan", "began")

    def __init__(self, scan: Awaitable[TaskIndex | None]) -> None:
        self.began = time.monotonic()
        self._added: list[TaskRef] = []
        self._scan: asyncio.Future[TaskIndex | None] = asyncio.ensure_future(scan)

    def add(self, refs: Iterable[TaskRef]) -> None:
        """Tasks the owner is writing while the scan runs."""
        self._added.extend(refs)

    @property
    def added(self) -> list[TaskRef]:
        """The tasks added so far (not yet taken)."""
        return list(self._added)

    def done(self) -> bool:
        return self._scan.done()

    def take(self) -> TaskIndex | None:
        """The finished index, with the tasks written meanwhile; None if the partition
        holds more tasks than the limit. Raises what the scan raised (Redis down: the
        owner starts another build)."""
        index = self._scan.result()
        if index is not None:
            index.add(self._added)
        self._added = []
        return index

    def cancel(self) -> None:
        """Stop the scan (the partition was given up or is resumed afresh)."""
        if self._scan.done():
            if not self._scan.cancelled():
                self._scan.exception()  # a failure no one will take is not an error to log
        else:
            self._scan.cancel()
