"""TaskIndex: which tasks a partition holds in Redis, as its owner knows."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.state.task_index import _MERGE_AT, IndexBuild, TaskIndex

ids = st.text(max_size=8)
refs = st.tuples(ids, ids)


def test_an_empty_partition_holds_nothing() -> None:
    index = TaskIndex([])
    assert len(index) == 0
    assert not index.may_hold(("p1", "t1"))


def test_scanned_and_added_tasks_are_held() -> None:
    index = TaskIndex([("p1", "t1"), ("p1", "t2")])
    index.add([("p2", "t1")])
    assert index.may_hold(("p1", "t1"))
    assert index.may_hold(("p1", "t2"))
    assert index.may_hold(("p2", "t1"))
    assert not index.may_hold(("p2", "t2"))
    assert not index.may_hold(("p1", "t3"))
    assert len(index) == 3


def test_a_task_scanned_twice_counts_once() -> None:
    # HSCAN may return a field more than once (a hash rehashed during the scan).
    index = TaskIndex([("p", "a"), ("p", "a"), ("p", "b")])
    assert len(index) == 2
    assert index.may_hold(("p", "a"))


def test_the_ends_of_the_sorted_hashes_are_searched() -> None:
    known = [("p", str(i)) for i in range(100)]
    index = TaskIndex(known)
    by_hash = sorted(known, key=hash)
    assert index.may_hold(by_hash[0])
    assert index.may_hold(by_hash[-1])


def test_len_is_an_upper_bound_until_the_added_tasks_are_merged() -> None:
    """A task written again counts twice until the next merge: the size limit errs on
    the side of dropping the index."""
    index = TaskIndex([("p", "a")])
    index.add([("p", "a"), ("p", "b"), ("p", "b")])
    assert len(index) == 3
    index.add(("p", f"c{i}") for i in range(_MERGE_AT))  # the merge
    assert len(index) == 2 + _MERGE_AT


def test_added_tasks_merged_into_the_sorted_ones_stay_held() -> None:
    """Past a few thousand added tasks they move into the sorted array: still held,
    counted once, and the array still sorted for the search."""
    scanned = [("p", f"s{i}") for i in range(5000)]
    index = TaskIndex(scanned)
    added = [("p", f"a{i}") for i in range(20_000)]
    for first in range(0, len(added), 700):
        index.add(added[first:first + 700] + scanned[:10])
    assert 25_000 <= len(index) <= 25_010  # the scanned ones added since the last merge
    assert all(index.may_hold(ref) for ref in scanned + added)
    assert not index.may_hold(("p", "a20000"))
    assert not index.may_hold(("p", "s5000"))


@given(scanned=st.sets(refs), added=st.sets(refs), asked=st.lists(refs))
def test_never_says_a_held_task_is_absent(
    scanned: set[tuple[str, str]], added: set[tuple[str, str]], asked: list[tuple[str, str]]
) -> None:
    """The one answer that must be right: a task Redis holds is never "not held". A
    task it does not hold is "not held" too, unless two refs share a 64-bit hash."""
    index = TaskIndex(scanned)
    index.add(added)
    held = scanned | added
    for ref in [*held, *asked]:
        if ref in held:
            assert index.may_hold(ref)
        elif all(hash(ref) != hash(other) for other in held):
            assert not index.may_hold(ref)


def test_holds_any_is_false_only_when_none_is_held() -> None:
    index = TaskIndex([("p", "a")])
    index.add([("p", "b")])
    assert not index.holds_any([])
    assert not index.holds_any([("p", "c"), ("p", "d")])
    assert index.holds_any([("p", "c"), ("p", "a")])  # scanned
    assert index.holds_any([("p", "b"), ("p", "c")])  # added
    assert not TaskIndex([]).holds_any([("p", "a")])


async def test_a_build_holds_the_scanned_tasks_and_those_written_during_the_scan() -> None:
    scan: asyncio.Future[TaskIndex | None] = asyncio.get_running_loop().create_future()
    build = IndexBuild(scan)
    build.add([("p1", "new")])  # written while the scan runs: the scan may miss it
    await asyncio.sleep(0)
    assert not build.done()
    scan.set_result(TaskIndex([("p1", "old")]))
    await asyncio.sleep(0)
    assert build.done()
    index = build.take()
    assert index is not None
    assert index.may_hold(("p1", "old"))
    assert index.may_hold(("p1", "new"))
    assert not index.may_hold(("p1", "other"))


async def test_a_build_of_a_partition_too_big_to_index_gives_none() -> None:
    scan: asyncio.Future[TaskIndex | None] = asyncio.get_running_loop().create_future()
    build = IndexBuild(scan)
    build.add([("p1", "new")])
    scan.set_result(None)
    await asyncio.sleep(0)
    assert build.take() is None


async def test_a_failed_scan_is_raised_when_taken() -> None:
    async def failing() -> TaskIndex | None:
        raise ConnectionError("Redis went away")

    build = IndexBuild(failing())
    build.add([("p1", "new")])
    await asyncio.sleep(0)
    assert build.done()
    with pytest.raises(ConnectionError, match="Redis went away"):
        build.take()
    # The next scan may miss a write still in flight: the owner carries these over.
    assert build.added == [("p1", "new")]


async def test_a_cancelled_build_stops_its_scan() -> None:
    started = asyncio.Event()

    async def endless() -> TaskIndex | None:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    build = IndexBuild(endless())
    await started.wait()
    build.cancel()
    await asyncio.sleep(0)
    assert build.done()
