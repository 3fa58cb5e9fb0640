"""The fetch hold: on while events flow, off while nothing comes (streams/fetch_hold.py)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from streams.fetch_hold import FILL_BYTES, FetchHold, flowing_options


def _consumer(hold_ms: int = 5) -> SimpleNamespace:
    """Stands for a started AIOKafkaConsumer: only its fetcher's two figures matter."""
    fetcher = SimpleNamespace(_fetch_min_bytes=FILL_BYTES, _fetch_max_wait_ms=hold_ms)
    return SimpleNamespace(_fetcher=fetcher)


def _figures(consumer: SimpleNamespace) -> tuple[int, int]:
    return consumer._fetcher._fetch_min_bytes, consumer._fetcher._fetch_max_wait_ms


def test_the_consumer_starts_holding_or_answering_at_once() -> None:
    assert flowing_options(5, 500) == {"fetch_min_bytes": FILL_BYTES, "fetch_max_wait_ms": 5}
    assert flowing_options(0, 500) == {"fetch_min_bytes": 1, "fetch_max_wait_ms": 500}
    assert flowing_options(0, 0) == {"fetch_min_bytes": 1, "fetch_max_wait_ms": 500}


def test_idle_fetches_wait_for_a_first_event_and_events_bring_the_hold_back() -> None:
    consumer = _consumer()
    hold = FetchHold(consumer, hold_ms=5, idle_wait_ms=700)
    assert hold.active and not hold.idle

    hold.events_came()  # flowing already: nothing changes
    assert _figures(consumer) == (FILL_BYTES, 5)

    hold.nothing_came()
    assert hold.idle and _figures(consumer) == (1, 700)
    hold.nothing_came()  # still idle: counted once
    assert hold.switches == 1

    hold.events_came()
    assert not hold.idle and _figures(consumer) == (FILL_BYTES, 5)
    hold.nothing_came()
    assert hold.switches == 2


@pytest.mark.parametrize(("hold_ms", "idle_wait_ms"), [(0, 500), (5, 0)])
def test_nothing_to_switch_without_a_hold_or_with_the_hold_kept_while_idle(
    hold_ms: int, idle_wait_ms: int
) -> None:
    consumer = _consumer(hold_ms)
    hold = FetchHold(consumer, hold_ms=hold_ms, idle_wait_ms=idle_wait_ms)
    hold.nothing_came()
    assert not hold.active and not hold.idle and hold.switches == 0
    assert _figures(consumer) == (FILL_BYTES, hold_ms)


def test_an_aiokafka_without_the_fetcher_figures_keeps_the_hold_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = SimpleNamespace(_fetcher=SimpleNamespace(min_bytes=FILL_BYTES))
    with caplog.at_level(logging.WARNING, logger="streams.fetch_hold"):
        hold = FetchHold(consumer, hold_ms=5, idle_wait_ms=500)
    hold.nothing_came()
    assert not hold.active and not hold.idle
    assert consumer._fetcher.min_bytes == FILL_BYTES
    assert "fetches stay held while idle" in caplog.text
