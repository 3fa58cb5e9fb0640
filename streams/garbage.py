"""The worker's garbage collector policy: young collections rarely, full ones when idle.

The hot path makes many short-lived objects, all freed by reference counting, and each
collection walks every tracked object of its generations. Two costs were measured:

- With Python's defaults the collector took about 8 of 32 us per event of the processing
  core (``bench/core.py``). Young collections now run every 50,000 allocations instead
  of 700, which bounds the garbage a cycle can hold to a few MB.
- The annotations agent keeps decoded task records between batches
  (:class:`streams.state.task_cache.TaskCache`), about 20 tracked objects each. A full
  collection walks them all: 0.36 s for 50,000 records on this machine, and Python
  starts one whenever a quarter more objects have survived since the last, which at
  10,000 events/s stalled the worker for most of half a second every few seconds (p99
  530-790 ms instead of about 100 ms). Full collections therefore do not start on
  their own: :class:`FullCollections` runs them when the agent has been idle a while,
  and at the latest every ``max_interval_s``, so cyclic garbage is still reclaimed.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 50_000
# Python starts a full collection after this many middle-generation ones (and only if
# enough objects survived): large enough that it never happens on its own.
_NEVER = 2**31 - 1


def tune_garbage_collector() -> None:
    """Move startup objects (modules, clients) out of the collector's way for good,
    collect the young generations rarely and leave full collections to
    :class:`FullCollections`."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, _NEVER)


class FullCollections:
    """Decides when the oldest generation is collected: after ``idle_s`` without work
    (at most once per ``min_interval_s``), and after ``max_interval_s`` whatever the
    load, a pause of up to a few hundred ms on a busy worker."""

    def __init__(
        self,
        *,
        idle_s: float = 2.0,
        min_interval_s: float = 60.0,
        max_interval_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[], int] = gc.collect,
    ) -> None:
        self.idle_s = idle_s
        self.min_interval_s = min_interval_s
        self.max_interval_s = max_interval_s
        self._clock = clock
        self._collect = collect
        now = clock()
        self._last_collection = now
        self._last_work = now
        self.collections = 0

    def tick(self, *, worked: bool) -> bool:
        """Called once per agent cycle; collects if it is time. True if it did."""
        now = self._clock()
        if worked:
            self._last_work = now
        since = now - self._last_collection
        idle = now - self._last_work >= self.idle_s
        if since < self.max_interval_s and not (idle and since >= self.min_interval_s):
            return False
        started = time.perf_counter()
        found = self._collect()
        self._last_collection = self._clock()
        self.collections += 1
        log.info("full garbage collection (%s): %d unreachable objects, %.0f ms",
                 "idle" if idle else "due", found, 1000 * (time.perf_counter() - started))
        return True
