"""The worker's garbage collector policy: no collections while streaming, full ones when idle.

The hot path makes many short-lived objects, all freed by reference counting; Python's
cyclic collector only finds garbage that reference counting cannot (cycles), and each of
its collections walks every tracked object of the generations it collects. Measured:

- With Python's defaults the collector took about 8 of 32 us per event of the processing
  core (``bench/core.py``).
- The annotations agent keeps decoded task records between batches
  (:class:`streams.state.task_cache.TaskCache`), about 20 tracked objects each, and they
  survive young collections. At 10,000 events/s (bench/README.md, session 5) a young
  collection walked them every 0.6 s (8-16 ms each), a middle one every 12 s, and a full
  one with 50,000 records takes 0.36 s; each stalled the worker's one event loop while
  events queued behind it (the latency's p99).
- A backlog is read in fetches of thousands of events, and one cycle then allocates
  millions of objects: with young collections every 50,000 allocations (session 5),
  7.9% of the worker's samples were in the collector (py-spy, session 6), walking the
  fetch's own live objects again and again. With automatic collections off, the agent
  took 40-45 instead of 50-53 us of CPU per event (``bench.profile_agent``, alternated).

So the automatic collector is off in the worker, and :class:`FullCollections` freezes
(``gc.freeze``, constant time) whatever survives an agent cycle. Reference counting frees
everything but cycles (a few per second were found here): a full collection of
everything runs when the agent has been idle a while, and at the latest every
``max_interval_s``.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def tune_garbage_collector() -> None:
    """Move startup objects (modules, clients) out of the collector's way for good and
    leave every collection to :class:`FullCollections`: automatic ones are off. Every
    agent calls it when it starts; in a process where they are already off, it does
    nothing."""
    if not gc.isenabled():
        return
    gc.collect()
    gc.freeze()
    gc.disable()
    log.info("automatic garbage collection off: full collections run when the agents are "
             "idle, and at the latest every 10 minutes")


def collect_everything() -> int:
    """A full collection of every object, frozen ones included: unreachable found."""
    gc.unfreeze()
    return gc.collect()


class FullCollections:
    """Freezes what survives each cycle and decides when everything is collected: after
    ``idle_s`` without work (at most once per ``min_interval_s``), and after
    ``max_interval_s`` whatever the load (a pause of up to half a second on a busy
    worker holding a full task cache). One per worker process, ticked by each of its
    agents: idle means that none of them worked."""

    def __init__(
        self,
        *,
        idle_s: float = 2.0,
        min_interval_s: float = 60.0,
        max_interval_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[], int] = collect_everything,
        freeze: Callable[[], None] = gc.freeze,
    ) -> None:
        self.idle_s = idle_s
        self.min_interval_s = min_interval_s
        self.max_interval_s = max_interval_s
        self._clock = clock
        self._collect = collect
        self._freeze = freeze
        now = clock()
        self._last_collection = now
        self._last_work = now
        self.collections = 0

    def tick(self, *, worked: bool) -> bool:
        """Called once per agent cycle: collects everything if it is time, then freezes
        what is left. True if it collected."""
        now = self._clock()
        if worked:
            self._last_work = now
        since = now - self._last_collection
        idle = now - self._last_work >= self.idle_s
        if since < self.max_interval_s and not (idle and since >= self.min_interval_s):
            self._freeze()
            return False
        started = time.perf_counter()
        found = self._collect()
        self._freeze()
        self._last_collection = self._clock()
        self.collections += 1
        log.info("full garbage collection (%s): %d unreachable objects, %.0f ms",
                 "idle" if idle else "due", found, 1000 * (time.perf_counter() - started))
        return True
