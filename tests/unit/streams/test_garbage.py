"""The worker's garbage collector policy: full collections when idle, or when overdue."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from streams.garbage import (
    FullCollections,
    collect_everything,
    tune_garbage_collector,
)

IDLE_S = 2.0
MIN_S = 60.0
MAX_S = 600.0


class FakeClock:
    """Time that moves only when told."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingCollect:
    """Stands for ``gc.collect``: counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> int:
        self.calls += 1
        return 7


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def collect() -> CountingCollect:
    return CountingCollect()


class Freezes:
    """Stands for ``gc.freeze``: records the calls, in order with the collections."""

    def __init__(self, collect: CountingCollect) -> None:
        self.collect = collect
        self.calls: list[int] = []  # collections made before each freeze

    def __call__(self) -> None:
        self.calls.append(self.collect.calls)


@pytest.fixture
def freeze(collect: CountingCollect) -> Freezes:
    return Freezes(collect)


@pytest.fixture
def full(clock: FakeClock, collect: CountingCollect, freeze: Freezes) -> FullCollections:
    return FullCollections(
        idle_s=IDLE_S, min_interval_s=MIN_S, max_interval_s=MAX_S, clock=clock, collect=collect,
        freeze=freeze,
    )


def test_every_tick_freezes_what_survived_collected_or_not(
    full: FullCollections, clock: FakeClock, freeze: Freezes
) -> None:
    """Frozen objects are never walked by the collector: whatever survives a cycle is
    frozen, after the collection when there is one (so the garbage is gone first)."""
    assert not full.tick(worked=True)
    clock.advance(MAX_S)
    assert full.tick(worked=True)
    assert not full.tick(worked=True)
    assert freeze.calls == [0, 1, 1]


def busy_until(full: FullCollections, clock: FakeClock, seconds: float, step: float = 0.5) -> int:
    """Tick with work every ``step`` seconds for ``seconds``; how many ticks collected."""
    collected = 0
    end = clock.now + seconds
    while clock.now + step <= end + 1e-9:
        clock.advance(step)
        collected += full.tick(worked=True)
    return collected


def test_no_collection_while_busy_before_the_max_interval(
    full: FullCollections, clock: FakeClock, collect: CountingCollect
) -> None:
    assert busy_until(full, clock, MAX_S - 1) == 0
    assert collect.calls == 0
    assert full.collections == 0


def test_one_collection_at_the_max_interval_even_while_busy(
    full: FullCollections, clock: FakeClock, collect: CountingCollect
) -> None:
    clock.advance(MAX_S - 0.5)
    assert not full.tick(worked=True)
    clock.advance(0.5)
    assert full.tick(worked=True)
    assert collect.calls == 1
    assert full.collections == 1
    # Once: still busy, the next one is a whole max interval later.
    clock.advance(0.5)
    assert not full.tick(worked=True)
    assert collect.calls == 1


def test_busy_for_long_collects_once_per_max_interval(
    full: FullCollections, clock: FakeClock, collect: CountingCollect
) -> None:
    assert busy_until(full, clock, 3 * MAX_S + 1) == 3
    assert collect.calls == full.collections == 3


def test_idle_after_the_min_interval_collects(
    full: FullCollections, clock: FakeClock, collect: CountingCollect
) -> None:
    busy_until(full, clock, MIN_S)  # busy: nothing yet
    assert collect.calls == 0
    clock.advance(IDLE_S - 0.5)
    assert not full.tick(worked=False)  # not idle for long enough
    clock.advance(0.5)
    assert full.tick(worked=False)  # idle for IDLE_S, MIN_S since the start
    assert collect.calls == full.collections == 1


def test_idle_before_the_min_interval_does_not_collect(
    full: FullCollections, clock: FakeClock, collect: CountingCollect
) -> None:
    for _ in range(int(MIN_S) - 1):
        clock.advance(1.0)
        assert not full.tick(worked=False)  # idle from the start, but too soon
    clock.advance(1.0)
    assert full.tick(worked=False)  # MIN_S since the start, idle all along
    assert collect.calls == 1


def test_work_in_the_tick_itself_is_not_idle(
    full: FullCollections, clock: FakeClock, collect: CountingCollect
) -> None:
    clock.advance(MIN_S + IDLE_S)
    assert not full.tick(worked=True)  # the cycle had work: not idle now
    clock.advance(IDLE_S - 0.5)
    assert not full.tick(worked=False)
    clock.advance(0.5)
    assert full.tick(worked=False)
    assert collect.calls == 1


def test_after_a_collection_the_intervals_restart(
    full: FullCollections, clock: FakeClock, collect: CountingCollect
) -> None:
    clock.advance(MIN_S)
    assert full.tick(worked=False)  # idle: collected at t0 + MIN_S
    # Still idle, but the min interval counts from the collection now.
    clock.advance(MIN_S - 1)
    assert not full.tick(worked=False)
    clock.advance(1)
    assert full.tick(worked=False)
    assert collect.calls == 2
    # And so does the max interval: busy from here, the next is MAX_S after the last.
    assert busy_until(full, clock, MAX_S - 1) == 0
    clock.advance(1)
    assert full.tick(worked=True)
    assert collect.calls == full.collections == 3


def test_the_collection_time_is_read_after_collecting(clock: FakeClock) -> None:
    """A collection that takes a while starts the next interval when it ends."""

    def slow_collect() -> int:
        clock.advance(5.0)
        return 0

    full = FullCollections(idle_s=IDLE_S, min_interval_s=MIN_S, max_interval_s=MAX_S,
                           clock=clock, collect=slow_collect, freeze=lambda: None)
    clock.advance(MAX_S)
    assert full.tick(worked=True)
    clock.advance(MAX_S - 1)  # MAX_S + 4 since the collection started
    assert not full.tick(worked=True)
    clock.advance(1)
    assert full.tick(worked=True)
    assert full.collections == 2


def test_collections_counts_only_collections(
    full: FullCollections, clock: FakeClock, collect: CountingCollect
) -> None:
    assert full.collections == 0
    results = []
    for _ in range(3):
        clock.advance(MIN_S)
        results.append(full.tick(worked=False))
        clock.advance(1)
        results.append(full.tick(worked=False))
    assert results == [True, False] * 3
    assert full.collections == collect.calls == 3


def test_defaults_use_the_real_clock_and_collector(restored_gc: None) -> None:
    full = FullCollections()
    assert (full.idle_s, full.min_interval_s, full.max_interval_s) == (2.0, 60.0, 600.0)
    assert not full.tick(worked=True)  # just made: not due
    assert full.collections == 0
    assert gc.get_freeze_count() > 0  # the real gc.freeze ran


def test_collect_everything_reclaims_frozen_cycles(restored_gc: None) -> None:
    """What a freeze kept from the collector is found by the full collection."""

    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    gc.collect()
    a, b = Node(), Node()
    a.other, b.other = b, a
    gc.freeze()
    del a, b
    assert gc.collect() == 0  # frozen: not walked
    assert collect_everything() >= 2
    assert gc.get_freeze_count() == 0


# tune_garbage_collector ----------------------------------------------------------------


@pytest.fixture
def restored_gc() -> Iterator[None]:
    """Give the collector back as it was: on or off, and nothing left frozen."""
    enabled = gc.isenabled()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()


@pytest.mark.usefixtures("restored_gc")
def test_tune_turns_automatic_collections_off() -> None:
    gc.enable()
    tune_garbage_collector()
    assert not gc.isenabled()


@pytest.mark.usefixtures("restored_gc")
def test_tune_is_done_once_per_process() -> None:
    gc.enable()
    tune_garbage_collector()
    frozen = gc.get_freeze_count()
    junk = [[i] for i in range(1000)]  # new objects a second tune would freeze
    tune_garbage_collector()  # the worker's second agent starting
    assert gc.get_freeze_count() == frozen
    del junk


@pytest.mark.usefixtures("restored_gc")
def test_with_collections_off_only_a_full_collection_reclaims_cycles() -> None:
    tune_garbage_collector()
    node = _Cycle()
    node.me = node
    alive = weakref.ref(node)
    del node
    # Far more allocations than any automatic threshold: nothing collects them now.
    keep = [[i] for i in range(200_000)]
    assert alive() is not None
    del keep
    assert collect_everything() >= 1
    assert alive() is None


class _Cycle:
    me: object = None


@pytest.mark.usefixtures("restored_gc")
def test_tune_freezes_what_exists_at_startup() -> None:
    gc.enable()
    tune_garbage_collector()
    assert gc.get_freeze_count() > 0
