"""Telling a fact's copies from new facts: republished outboxes and a rebuild's replay."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.fact_positions import FactPositions, Position


def _take_all(seen: FactPositions, positions: list[Position]) -> list[Position]:
    return [p for p in positions if seen.take(p)]


def test_facts_in_order_make_one_run_and_a_republished_outbox_is_copies() -> None:
    seen = FactPositions()
    assert _take_all(seen, [(1, 0), (1, 1), (4, 0), (7, 2)]) == [(1, 0), (1, 1), (4, 0), (7, 2)]
    assert seen.runs == [((1, 0), (7, 2))]
    # After a crash the next owner publishes its outbox again: everything a copy, and the
    # facts past what was published before are new.
    assert _take_all(seen, [(4, 0), (5, 0), (7, 2), (9, 0)]) == [(9, 0)]
    assert seen.runs == [((1, 0), (9, 0))]


def test_a_rebuild_replays_the_facts_the_earlier_run_did_not_emit() -> None:
    """The project's quality was tracked from offset 50: the earlier run emitted facts
    from there. After a rebuild the replay emits them all: those below 50 are new."""
    earlier = [(offset, 0) for offset in range(50, 61)]
    replay = [(offset, 0) for offset in range(0, 66)]
    seen = FactPositions()
    assert _take_all(seen, earlier) == earlier
    assert _take_all(seen, replay) == [(offset, 0) for offset in [*range(0, 50),
                                                                  *range(61, 66)]]
    assert seen.runs == [((0, 0), (65, 0))]  # merged once the replay reached the old run
    # Replayed once more (a second rebuild): nothing new.
    assert _take_all(seen, replay) == []


def test_state_round_trips_and_the_old_layout_reads_as_everything_up_to_it() -> None:
    seen = FactPositions()
    _take_all(seen, [(50, 0), (52, 1), (3, 0)])
    assert seen.runs == [((3, 0), (3, 0)), ((50, 0), (52, 1))]
    again = FactPositions.from_state(seen.to_state())
    assert (again.runs, again.last) == (seen.runs, seen.last)
    legacy = FactPositions.from_state([10, 1])  # a snapshot of the newest position only
    assert not legacy.take((0, 0)) and not legacy.take((10, 1)) and legacy.take((10, 2))


def _with_republished_stretch(ordered: list[int], data: st.DataObject) -> list[int]:
    """A run's facts in order, a stretch of them delivered again (a republished outbox)."""
    if not ordered:
        return ordered
    cut = data.draw(st.integers(0, len(ordered) - 1))
    return ordered[:cut + 1] + ordered[data.draw(st.integers(0, cut)):]


@given(st.lists(st.lists(st.integers(0, 40), max_size=25), min_size=1, max_size=4),
       st.data())
def test_no_fact_is_applied_twice(runs: list[list[int]], data: st.DataObject) -> None:
    """Runs of the annotations agent, each emitting some positions in order (with holes:
    a project's facts stopped and started again), then a rebuild that emits every one."""
    seen = FactPositions()
    applied: list[Position] = []
    for emitted in [*runs, list(range(41))]:
        ordered = _with_republished_stretch(sorted(set(emitted)), data)
        applied += _take_all(seen, [(offset, 0) for offset in ordered])
    assert len(applied) == len(set(applied))
    assert len(seen.runs) == 1


@given(st.integers(0, 40), st.integers(0, 40), st.lists(st.integers(0, 40), max_size=3),
       st.data())
def test_a_rebuild_applies_every_fact_once(first: int, stop: int, rebuilds: list[int],
                                           data: st.DataObject) -> None:
    """The first run emitted facts from offset ``first`` (quality tracked from there) to
    ``stop``; every rebuild replays from offset 0 with the project's settings now in force
    (tracked throughout), up to where it got; the last one to the end. Every position
    is applied exactly once in all."""
    seen = FactPositions()
    applied: list[Position] = []
    spans = [(min(first, stop), max(first, stop)), *((0, end) for end in rebuilds), (0, 40)]
    for a, b in spans:
        ordered = _with_republished_stretch(list(range(a, b + 1)), data)
        applied += _take_all(seen, [(offset, 0) for offset in ordered])
    assert sorted(applied) == [(offset, 0) for offset in range(41)]
