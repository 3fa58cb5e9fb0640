"""The label stream's index against a brute-force reading of the same tasks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assignment.label_stream import TIERS, LabelStream, Queue

ANNOTATORS = ("ann", "bob", "chloé", "李")


def brute_first(placed: dict[int, tuple[int, set[str]]], annotator: str
                ) -> tuple[int, int] | None:
    """The reference: smallest (tier, seq) the annotator is not blocked on."""
    free = [(tier, seq) for seq, (tier, blockers) in placed.items() if annotator not in blockers]
    return min(free) if free else None


def test_empty_index_offers_nothing() -> None:
    stream = LabelStream()
    assert stream.first("ann") is None
    assert len(stream) == 0


def test_tiers_first_then_sequence() -> None:
    stream = LabelStream()
    stream.place(5, 3, ())
    stream.place(9, 0, ())
    stream.place(2, 3, ())
    assert stream.first("ann") == (0, 9)
    stream.place(9, None, ())
    assert stream.first("ann") == (3, 2)
    assert stream.tier_of(9) is None
    assert stream.tier_of(5) == 3


def test_blocked_tasks_are_stepped_over() -> None:
    stream = LabelStream()
    for seq in range(1, 101):
        stream.place(seq, 3, {"ann"} if seq <= 99 else set())
    assert stream.first("ann") == (3, 100)
    assert stream.first("bob") == (3, 1)
    # Unblocking one task in the middle makes it the first again.
    stream.place(40, 3, set())
    assert stream.first("ann") == (3, 40)


def test_all_blocked_gives_none() -> None:
    stream = LabelStream()
    stream.place(1, 0, {"ann"})
    stream.place(2, 3, {"ann", "bob"})
    assert stream.first("ann") is None
    assert stream.first("bob") == (0, 1)


def test_capacity_grows_past_the_initial_size() -> None:
    stream = LabelStream(capacity=2)
    stream.place(1, 3, {"ann"})
    stream.place(3, 3, {"ann"})
    stream.place(1000, 3, set())  # doubles the trees several times
    stream.place(70_000, 2, {"bob"})
    assert stream.first("ann") == (2, 70_000)
    assert stream.first("bob") == (3, 1)
    stream.place(2, 3, set())
    assert stream.first("ann") == (2, 70_000)
    stream.place(70_000, None, ())
    assert stream.first("ann") == (3, 2)


def test_tier_names_follow_the_offer_order() -> None:
    assert TIERS == (Queue.LOW_AGREEMENT, Queue.STARTED, Queue.OVERLAP, Queue.SEQUENCE)


@pytest.mark.parametrize(("seq", "tier"), [(0, 0), (-3, 0), (1, 4), (1, -1)])
def test_bad_positions_are_refused(seq: int, tier: int) -> None:
    with pytest.raises(ValueError, match=r"sequence|tier"):
        LabelStream().place(seq, tier, ())


def test_needs_a_tier() -> None:
    with pytest.raises(ValueError, match="at least one tier"):
        LabelStream(tiers=0)


operation = st.tuples(
    st.integers(1, 300),  # seq: past the initial capacity of 16 used below
    st.one_of(st.none(), st.integers(0, len(TIERS) - 1)),
    st.frozensets(st.sampled_from(ANNOTATORS), max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(operation, max_size=120))
def test_first_matches_a_brute_force_reading(operations: list[tuple[int, int | None,
                                                                     frozenset[str]]]) -> None:
    stream = LabelStream(capacity=16)
    placed: dict[int, tuple[int, set[str]]] = {}
    for seq, tier, blockers in operations:
        stream.place(seq, tier, blockers)
        if tier is None:
            placed.pop(seq, None)
        else:
            placed[seq] = (tier, set(blockers))
        for annotator in ANNOTATORS:
            assert stream.first(annotator) == brute_first(placed, annotator)
    assert len(stream) == len(placed)
    # Emptying the index leaves nothing behind, blocked counts included.
    for seq in list(placed):
        stream.place(seq, None, ())
    assert all(stream.first(annotator) is None for annotator in ANNOTATORS)
    stream.place(7, 1, ())
    assert all(stream.first(annotator) == (1, 7) for annotator in ANNOTATORS)
