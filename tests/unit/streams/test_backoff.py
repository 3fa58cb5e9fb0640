"""The retry loops' waits: doubled each time up to a cap, cut short by a stop."""

from __future__ import annotations

import asyncio

import pytest

from streams.backoff import FIRST_INFRA_DELAY_S, Backoff, infra_backoff
from streams.settings import Settings


def test_each_wait_doubles_the_next_up_to_the_cap() -> None:
    async def delays() -> list[float]:
        stopped = asyncio.Event()
        stopped.set()  # every wait returns at once: only the delays are looked at
        backoff = Backoff(0.5, 3.0)
        seen = []
        for _ in range(5):
            seen.append(backoff.delay)
            await backoff.wait(stopped)
        return seen

    assert asyncio.run(delays()) == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_stop_ends_a_long_wait() -> None:
    async def stopped_meanwhile() -> None:
        stopping = asyncio.Event()
        backoff = Backoff(3600.0, 3600.0)
        waiting = asyncio.create_task(backoff.wait(stopping))
        await asyncio.sleep(0)
        stopping.set()
        # Bounded so that a broken stop fails the test instead of hanging it.
        await asyncio.wait_for(waiting, timeout=30)

    asyncio.run(stopped_meanwhile())


def test_the_infrastructure_retries_start_small_and_stop_at_the_settings_cap() -> None:
    backoff = infra_backoff(Settings(retry_max_delay_s=4.0))
    assert (backoff.delay, backoff.cap) == (FIRST_INFRA_DELAY_S, 4.0)


@pytest.mark.parametrize(("first", "cap"), [(0.0, 1.0), (2.0, 1.0), (-1.0, 1.0)])
def test_nonsense_delays_are_refused(first: float, cap: float) -> None:
    with pytest.raises(ValueError, match="0 < first <= cap"):
        Backoff(first, cap)
