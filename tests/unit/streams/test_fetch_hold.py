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
    assert hold.active and not hold.idle and not hold.waiting

    hold.events_came(0.0, 100)  # flowing already: nothing changes
    assert _figures(consumer) == (FILL_BYTES, 5)

    hold.nothing_came()
    assert hold.idle and hold.waiting and _figures(consumer) == (1, 700)
    hold.nothing_came()  # still idle: counted once
    assert hold.switches == 1

    hold.events_came(10.0, 1)
    assert not hold.idle and not hold.waiting and _figures(consumer) == (FILL_BYTES, 5)
    hold.nothing_came()
    assert hold.switches == 2


def _stream(hold: FetchHold, start: float, fetches: int, gap_s: float, count: int) -> float:
    """``fetches`` fetches of ``count`` events each, ``gap_s`` apart; the last one's time."""
    now = start
    for _ in range(fetches):
        now += gap_s
        hold.events_came(now, count)
    return now


def test_sparse_events_are_fetched_as_they_come_and_a_faster_stream_is_held_again() -> None:
    consumer = _consumer()
    hold = FetchHold(consumer, hold_ms=5, idle_wait_ms=700, sparse_gap_ms=20)
    now = _stream(hold, 0.0, 3, 0.004, 1)  # 250 events/s: held
    assert not hold.waiting and _figures(consumer) == (FILL_BYTES, 5)

    now = _stream(hold, now, 10, 0.050, 1)  # 20 events/s, as people label
    assert hold.waiting and _figures(consumer) == (1, 700)
    assert hold.sparse_switches == 1 and not hold.idle and hold.switches == 0

    hold.nothing_came()  # a lull: an idle spell, counted, though fetches wait already
    assert hold.idle and hold.waiting and hold.switches == 1
    now = _stream(hold, now + 0.1, 10, 0.050, 1)
    assert hold.waiting and not hold.idle and hold.sparse_switches == 1

    now = _stream(hold, now, 10, 0.004, 1)  # 250 events/s again
    assert not hold.waiting and _figures(consumer) == (FILL_BYTES, 5)
    _stream(hold, now, 10, 0.050, 1)
    assert hold.waiting and hold.sparse_switches == 2


def test_sparse_events_after_an_idle_spell_are_counted_as_sparse() -> None:
    """Fetches wait already when sparse events follow a lull: they keep waiting, and the
    log still says the events came sparsely."""
    consumer = _consumer()
    hold = FetchHold(consumer, hold_ms=5, idle_wait_ms=700, sparse_gap_ms=20)
    now = _stream(hold, 0.0, 3, 0.045, 1)  # not sparse yet, as far as it can tell
    assert not hold.waiting and not hold.sparse
    hold.nothing_came()
    _stream(hold, now + 0.005, 10, 0.045, 1)
    assert hold.waiting and hold.sparse and not hold.idle and _figures(consumer) == (1, 700)
    assert hold.switches == 1 and hold.sparse_switches == 1


def test_a_busy_workers_long_cycles_are_not_sparse() -> None:
    """Fetches 60 ms apart that carry 900 events each: 15,000 events/s, held."""
    consumer = _consumer()
    hold = FetchHold(consumer, hold_ms=5, idle_wait_ms=700, sparse_gap_ms=20)
    _stream(hold, 0.0, 50, 0.060, 900)
    assert not hold.waiting and hold.sparse_switches == 0
    assert _figures(consumer) == (FILL_BYTES, 5)


def test_one_long_gap_in_a_fast_stream_does_not_switch() -> None:
    consumer = _consumer()
    hold = FetchHold(consumer, hold_ms=5, idle_wait_ms=700, sparse_gap_ms=20)
    now = _stream(hold, 0.0, 20, 0.002, 5)
    hold.events_came(now + 0.045, 5)  # under a fetch timeout: no idle spell either
    assert not hold.waiting and hold.sparse_switches == 0


def test_a_burst_after_a_long_idle_spell_is_held_within_a_few_fetches() -> None:
    consumer = _consumer()
    hold = FetchHold(consumer, hold_ms=5, idle_wait_ms=700, sparse_gap_ms=20)
    now = _stream(hold, 0.0, 10, 0.200, 1)  # 5 events/s
    hold.nothing_came()
    hold.events_came(now + 3600.0, 1)  # an hour later
    assert hold.waiting  # sparse, as far as it can tell
    _stream(hold, now + 3600.0, 4, 0.002, 20)  # then 10,000 events/s
    assert not hold.waiting and _figures(consumer) == (FILL_BYTES, 5)


def test_without_a_sparse_gap_events_always_bring_the_hold_back() -> None:
    consumer = _consumer()
    hold = FetchHold(consumer, hold_ms=5, idle_wait_ms=700, sparse_gap_ms=0)
    _stream(hold, 0.0, 10, 0.045, 1)
    assert not hold.waiting and hold.sparse_switches == 0
    hold.nothing_came()
    hold.events_came(100.0, 1)
    assert not hold.waiting and _figures(consumer) == (FILL_BYTES, 5)


@pytest.mark.parametrize(("hold_ms", "idle_wait_ms"), [(0, 500), (5, 0)])
def test_nothing_to_switch_without_a_hold_or_with_the_hold_kept_while_idle(
    hold_ms: int, idle_wait_ms: int
) -> None:
    consumer = _consumer(hold_ms)
    hold = FetchHold(consumer, hold_ms=hold_ms, idle_wait_ms=idle_wait_ms)
    hold.nothing_came()
    assert not hold.active and not hold.waiting and hold.switches == 0
    assert _figures(consumer) == (FILL_BYTES, hold_ms)


def test_an_aiokafka_without_the_fetcher_figures_keeps_the_hold_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = SimpleNamespace(_fetcher=SimpleNamespace(min_bytes=FILL_BYTES))
    with caplog.at_level(logging.WARNING, logger="streams.fetch_hold"):
        hold = FetchHold(consumer, hold_ms=5, idle_wait_ms=500)
    hold.nothing_came()
    assert not hold.active and not hold.waiting
    assert consumer._fetcher.min_bytes == FILL_BYTES
    assert "fetches stay held while idle" in caplog.text
