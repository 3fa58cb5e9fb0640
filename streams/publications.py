"""Outbox publications in flight, per partition, until a write trims them from the outbox.

Both batch agents write their outputs to a partition's outbox in Redis with the state,
then hand them to Kafka without waiting. A later write of the partition trims the outbox
entries whose publication, and every one before it, Kafka acknowledged (``acknowledged``),
in the same atomic step as its own changes.

A publication that failed stops that count: its entry, and every later one, stay in the
outbox, and the partition is marked ``failed``. The agent then publishes the partition's
whole outbox again from Redis (its recovery) and ``forget``s what was in flight. Entries
published twice that way are duplicates with the same event ids; an entry trimmed
without being published would be an output lost.
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from typing import Any

OnFailure = Callable[[int, BaseException], None]


class Publications:
    """Each partition's publications, oldest first (one per outbox entry)."""

    def __init__(self, on_failure: OnFailure) -> None:
        self._pending: dict[int, deque[asyncio.Future[Any]]] = defaultdict(deque)
        # Partitions with a failed publication: their outbox must be published again.
        self.failed: set[int] = set()
        self._on_failure = on_failure

    def add(self, partition: int, futures: Iterable[asyncio.Future[Any]]) -> None:
        """Track one outbox entry's publication: the futures of its messages' sends."""
        publication = asyncio.gather(*futures)
        publication.add_done_callback(functools.partial(self._done, partition))
        self._pending[partition].append(publication)

    def acknowledged(self, partition: int) -> int:
        """How many of the partition's oldest entries are published, all before them too."""
        count = 0
        for publication in self._pending.get(partition, ()):
            if not publication.done() or publication.cancelled() or publication.exception():
                break
            count += 1
        return count

    def trimmed(self, partition: int, count: int) -> None:
        """A write trimmed the ``count`` oldest entries (``acknowledged`` before it)."""
        pending = self._pending[partition]
        for _ in range(count):
            pending.popleft()

    def forget(self, partition: int) -> None:
        """The partition's outbox is published again whole, or the partition is gone."""
        self._pending.pop(partition, None)
        self.failed.discard(partition)

    def in_flight(self, partitions: Iterable[int]) -> list[asyncio.Future[Any]]:
        return [f for p in partitions for f in self._pending.get(p, ())]

    async def drain(self, partitions: Iterable[int], timeout_s: float = 30.0) -> None:
        """Wait (bounded) for the partitions' publications in flight."""
        pending = self.in_flight(partitions)
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)

    def _done(self, partition: int, publication: asyncio.Future[Any]) -> None:
        if not publication.cancelled() and publication.exception() is None:
            return
        if publication in self._pending.get(partition, ()):
            self.failed.add(partition)
            exc = None if publication.cancelled() else publication.exception()
            self._on_failure(partition, exc or asyncio.CancelledError())
