"""Exponential backoff for the waits between attempts at something that may come back:
Redis, Kafka, Label Studio. One shape everywhere, so that every retry loop doubles its
wait up to the same kind of cap and can be cut short by a stop."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.settings import Settings


class Backoff:
    """The waits of one retry loop: ``first`` seconds, doubled after each wait, never more
    than ``cap``. :attr:`delay` is the next wait (for the message that announces it)."""

    __slots__ = ("cap", "delay")

    def __init__(self, first: float, cap: float) -> None:
        if not 0 < first <= cap:
            raise ValueError(f"backoff needs 0 < first <= cap, got {first!r} and {cap!r}")
        self.delay = first
        self.cap = cap

    async def wait(self, stopping: asyncio.Event | None = None) -> None:
        """Sleep the next delay (returning early once ``stopping`` is set), then double it."""
        delay, self.delay = self.delay, min(self.delay * 2, self.cap)
        if stopping is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=delay)


# Redis or Kafka down: the first retry comes quickly (most outages here are a restart).
FIRST_INFRA_DELAY_S = 0.1


def infra_backoff(settings: Settings) -> Backoff:
    """The waits of a retry loop on Redis or Kafka: from 0.1 s up to the settings'
    ``retry_max_delay_s``."""
    return Backoff(FIRST_INFRA_DELAY_S, settings.retry_max_delay_s)
