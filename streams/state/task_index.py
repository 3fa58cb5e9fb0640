"""Which task records a partition holds in Redis, as far as its owner knows.

A batch reads from Redis only the records its owner's cache does not hold, and in a live
stream those are nearly all tasks seen for the first time, which Redis does not hold
either. Knowing that spares the read, and with it a round trip on every cycle's critical
path (bench/README.md, session 14). The owner learns what the partition holds when it
takes the partition (every field, scanned) and adds what it writes; nothing else writes a
partition's records while its owner holds the fencing token.

A false "may hold" costs a read and nothing else; a false "does not hold" would score a
task as new over the annotations Redis has. Hence: fields are kept as 64-bit hashes (a
collision only ever answers "may hold"), and the index is rebuilt whenever the owner
resumes a partition from Redis' state (:meth:`AnnotationsAgent._recover`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# Fields added since the last merge into the sorted array. A set costs about 60 bytes a
# field, the array 8; merging costs a copy of the array (a few ms for a million tasks).
_MERGE_AT = 8192


class TaskIndex:
    """The task fields (``Keys.task_field``) one partition's hash holds in Redis."""

    __slots__ = ("_added", "_sorted")

    def __init__(self, fields: Iterable[str]) -> None:
        # Sorted, for a binary search: a partition of a million tasks is 8 MB, not the
        # 60 MB or more that a set of them would take.
        self._sorted = np.unique(np.fromiter((hash(f) for f in fields), dtype=np.int64))
        self._added: set[int] = set()

    def __len__(self) -> int:
        return len(self._sorted) + len(self._added)

    def add(self, fields: Iterable[str]) -> None:
        """Fields the owner is writing."""
        added = self._added
        for field in fields:
            h = hash(field)
            if h not in added and not self._in_sorted(h):
                added.add(h)
        if len(added) >= _MERGE_AT:
            self._merge()

    def may_hold(self, field: str) -> bool:
        """False only if Redis does not hold the field."""
        h = hash(field)
        return h in self._added or self._in_sorted(h)

    def _in_sorted(self, h: int) -> bool:
        known = self._sorted
        i = int(np.searchsorted(known, h))
        return i < len(known) and int(known[i]) == h

    def _merge(self) -> None:
        """Move the added hashes into the sorted array (none of them is in it already)."""
        added = np.fromiter(self._added, dtype=np.int64, count=len(self._added))
        added.sort()
        self._sorted = np.insert(self._sorted, np.searchsorted(self._sorted, added), added)
        self._added.clear()
