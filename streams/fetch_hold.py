"""The annotations consumer's fetch hold: on while events flow, off while little or nothing comes.

While events flow, the broker holds each fetch up to ``fetch_hold_ms`` to fill it: fewer,
fuller cycles. While nothing comes, the same hold had the consumer ask the broker again
every few ms, about 200 fetches a second: 0.1 cores of an idle worker and as much of
the broker (``bench.idle``; bench/README.md, session 17), and a labeling operation's
worker is idle most of the time. So after a fetch timeout with nothing, a fetch waits at
the broker for the first event instead (answered as soon as one is there, or after
``fetch_idle_wait_ms``), and the hold is back with the first fetch that carries events.

A labeling operation's events come from people: a few to a few dozen a second, with gaps
longer than the hold but shorter than a fetch timeout. Held, each such gap cost a held
fetch every few ms; so while events come ``sparse_gap_ms`` or more apart (moving
averages of the fetches' gaps and events), fetches wait for a first event too. At such
a rate a cycle per event costs less than the empty fetches between them (bench/README.md,
session 18), and an event is fetched as soon as it is there. Faster streams are held as
before.

aiokafka reads the two figures from its fetcher each time it builds a fetch request, but
offers no way to change them: this sets the fetcher's attributes. If an aiokafka release
renames them, the hold stays on as configured and the worker says so once.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

# The fetch of a held cycle returns once this much is there (or after the hold).
FILL_BYTES = 1024 * 1024

# Never held, and no idle wait set: an empty fetch still waits this long at the broker,
# as aiokafka's default does, rather than coming back at once again and again.
_UNHELD_WAIT_MS = 500

# Weight of the newest gap in the moving average: a few gaps decide, not one (events
# from people come at random, and one long gap in a fast stream should not switch).
_GAP_WEIGHT = 0.25
# A gap counts as at most this many times ``sparse_gap_ms`` per event it brought: after
# an hour of nothing, a burst is held again after a few fetches, not thirty.
_GAP_CAP = 2.0

_MIN_BYTES = "_fetch_min_bytes"
_MAX_WAIT_MS = "_fetch_max_wait_ms"


def flowing_options(hold_ms: int, idle_wait_ms: int) -> dict[str, int]:
    """The consumer's fetch options to start with: the hold, or none (``hold_ms`` 0)."""
    if hold_ms:
        return {"fetch_min_bytes": FILL_BYTES, "fetch_max_wait_ms": hold_ms}
    return {"fetch_min_bytes": 1, "fetch_max_wait_ms": idle_wait_ms or _UNHELD_WAIT_MS}


class FetchHold:
    """Switches a started consumer's fetches between the hold and waiting for a first
    event. Cheap to call every cycle: it touches the fetcher only when the mode changes."""

    def __init__(self, consumer: Any, hold_ms: int, idle_wait_ms: int,
                 sparse_gap_ms: int = 0) -> None:
        self.idle = False  # nothing has come since the last fetch timeout
        self.sparse = False  # the last events came sparsely
        self.switches = 0  # idle spells, for the logs
        self.sparse_switches = 0  # into waiting while events come sparsely, for the logs
        self._fetcher: Any = None
        self._sparse_gap_s = sparse_gap_ms / 1000
        self._last_events: float | None = None  # when a fetch last carried events
        self._gap_s = 0.0  # the moving averages of the gaps between such fetches,
        self._count = 1.0  # and of the events they carried
        if not hold_ms or not idle_wait_ms:
            return  # nothing to switch: never held, or held while idle too
        fetcher = getattr(consumer, "_fetcher", None)
        if fetcher is None or not all(hasattr(fetcher, a) for a in (_MIN_BYTES, _MAX_WAIT_MS)):
            log.warning("this aiokafka's fetcher has no %s/%s: fetches stay held while idle "
                        "and between sparse events (about 0.1 cores of the worker and the "
                        "broker)", _MIN_BYTES, _MAX_WAIT_MS)
            return
        self._fetcher = fetcher
        self._hold_ms = hold_ms
        self._idle_wait_ms = idle_wait_ms

    @property
    def active(self) -> bool:
        """Whether it switches at all (a hold to switch off, and a fetcher to do it on)."""
        return self._fetcher is not None

    @property
    def waiting(self) -> bool:
        """Whether fetches wait for a first event (idle or sparse) rather than hold."""
        return self.idle or self.sparse

    def nothing_came(self) -> None:
        """A whole fetch timeout passed without an event: wait for the first one."""
        if self._fetcher is None or self.idle:
            return
        was = self.waiting
        self.idle = True
        self.switches += 1
        self._follow(was)

    def events_came(self, now: float, count: int) -> None:
        """A fetch carried ``count`` events (``now``: monotonic seconds): hold the next
        ones again to fill them, unless events have come sparsely of late."""
        if self._fetcher is None:
            return
        was = self.waiting
        sparse = self._sparse(now, count)
        if sparse and not self.sparse:
            self.sparse_switches += 1
        self.idle, self.sparse = False, sparse
        self._follow(was)

    def _sparse(self, now: float, count: int) -> bool:
        """Whether events have come ``sparse_gap_ms`` or more apart, in moving averages
        of the gaps between fetches with events and of the events they carried."""
        last, self._last_events = self._last_events, now
        if last is None or not self._sparse_gap_s:
            return False
        # Per event, not per fetch: a busy worker's fetches come a long cycle apart, and
        # carry that cycle's events.
        gap = min(now - last, _GAP_CAP * self._sparse_gap_s * count)
        self._gap_s += _GAP_WEIGHT * (gap - self._gap_s)
        self._count += _GAP_WEIGHT * (count - self._count)
        return self._gap_s >= self._sparse_gap_s * self._count

    def _follow(self, was_waiting: bool) -> None:
        """Set the fetcher's figures if the mode changed."""
        if self.waiting != was_waiting:
            if self.waiting:
                self._set(1, self._idle_wait_ms)
            else:
                self._set(FILL_BYTES, self._hold_ms)

    def _set(self, min_bytes: int, max_wait_ms: int) -> None:
        setattr(self._fetcher, _MIN_BYTES, min_bytes)
        setattr(self._fetcher, _MAX_WAIT_MS, max_wait_ms)
