"""TaskCache: per-partition LRU of decoded task records, valid at one applied offset."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from assignment.consensus import Decision, DecisionState
from streams.state.task import TaskRecord
from streams.state.task_cache import TaskCache, TaskRef


def ref(task: str, project: str = "1") -> TaskRef:
    return (project, task)


def records(*tasks: str) -> dict[TaskRef, TaskRecord]:
    """A fresh record per task: the tests compare them by identity."""
    return {ref(task): TaskRecord() for task in tasks}


def completed() -> TaskRecord:
    return TaskRecord(decision=DecisionState(Decision.COMPLETED))


def held(cache: TaskCache, partition: int, *tasks: str) -> set[str]:
    """Which of ``tasks`` the cache holds for ``partition`` (taking them: they become
    the most recently used, and the counters move)."""
    hits, _ = cache.take(partition, [ref(task) for task in tasks])
    return {task for _, task in hits}


# Construction ------------------------------------------------------------------------


def test_negative_capacity_is_refused() -> None:
    with pytest.raises(ValueError, match="-1"):
        TaskCache(-1)


def test_a_new_cache_is_empty() -> None:
    cache = TaskCache(10)
    assert len(cache) == 0
    assert (cache.hits, cache.misses) == (0, 0)
    assert not cache.holds(0, "")
    assert not cache.holds(0, "5")


# take and keep -------------------------------------------------------------------------


def test_take_of_an_unknown_partition_misses_everything_in_order() -> None:
    cache = TaskCache(10)
    refs = [ref("b"), ref("a"), ref("c")]
    hits, missing = cache.take(3, refs)
    assert hits == {}
    assert missing == refs
    assert (cache.hits, cache.misses) == (0, 3)


def test_keep_then_take_returns_the_same_objects() -> None:
    cache = TaskCache(10)
    kept = records("a", "b")
    cache.keep(0, kept, "100")
    assert len(cache) == 2
    hits, missing = cache.take(0, [ref("a"), ref("b")])
    assert missing == []
    assert set(hits) == set(kept)
    for key, record in hits.items():
        assert record is kept[key]


def test_take_splits_hits_and_misses_and_counts_them() -> None:
    cache = TaskCache(10)
    kept = records("a", "c")
    cache.keep(0, kept, "100")
    hits, missing = cache.take(0, [ref("a"), ref("b"), ref("c"), ref("d")])
    assert set(hits) == {ref("a"), ref("c")}
    assert hits[ref("a")] is kept[ref("a")]
    assert hits[ref("c")] is kept[ref("c")]
    assert missing == [ref("b"), ref("d")]
    assert (cache.hits, cache.misses) == (2, 2)
    cache.take(0, [ref("a")])
    cache.take(1, [ref("a")])  # another partition
    assert (cache.hits, cache.misses) == (3, 3)
    assert len(cache) == 2  # take removes nothing


def test_partitions_are_apart() -> None:
    cache = TaskCache(10)
    first, second = records("a"), records("a")
    cache.keep(0, first, "1")
    cache.keep(1, second, "7")
    assert cache.take(0, [ref("a")])[0][ref("a")] is first[ref("a")]
    assert cache.take(1, [ref("a")])[0][ref("a")] is second[ref("a")]
    assert len(cache) == 2
    cache.forget(0)
    assert cache.take(0, [ref("a")]) == ({}, [ref("a")])
    assert cache.take(1, [ref("a")])[0][ref("a")] is second[ref("a")]
    assert len(cache) == 1


def test_keep_replaces_a_record_and_keeps_the_older_ones() -> None:
    cache = TaskCache(10)
    cache.keep(0, records("a", "b"), "1")
    newer = records("b", "c")
    cache.keep(0, newer, "2")
    assert len(cache) == 3
    hits, missing = cache.take(0, [ref("a"), ref("b"), ref("c")])
    assert missing == []
    assert hits[ref("b")] is newer[ref("b")]
    assert hits[ref("c")] is newer[ref("c")]
    # The partition's records all belong to the latest offset now.
    assert cache.holds(0, "2")
    assert not cache.holds(0, "1")


def test_keep_of_no_records_sets_the_offset() -> None:
    cache = TaskCache(10)
    cache.keep(0, {}, "9")
    assert len(cache) == 0
    assert cache.holds(0, "9")


# Completed tasks ----------------------------------------------------------------------


def test_the_completed_share_is_a_tenth_by_default_and_checked() -> None:
    assert TaskCache(20_000).completed_capacity == 2_000
    assert TaskCache(9).completed_capacity == 0
    assert TaskCache(10, completed_capacity=10).completed_capacity == 10
    with pytest.raises(ValueError, match="11"):
        TaskCache(10, completed_capacity=11)
    with pytest.raises(ValueError, match="-1"):
        TaskCache(10, completed_capacity=-1)


def test_a_completed_task_is_held_apart_and_found() -> None:
    cache = TaskCache(10, completed_capacity=2)
    kept = records("a", "c")
    kept[ref("b")] = done = completed()
    cache.keep(0, kept, "1")
    assert len(cache) == 3
    hits, missing = cache.take(0, [ref("a"), ref("b"), ref("c"), ref("d")])
    assert hits[ref("b")] is done
    assert missing == [ref("d")]
    assert (cache.hits, cache.misses) == (3, 1)
    assert held(cache, 1, "b") == set()  # per partition, like the others


def test_completed_tasks_leave_first_in_first_out() -> None:
    cache = TaskCache(10, completed_capacity=2)
    cache.keep(0, {ref("done0"): completed(), ref("done1"): completed()}, "1")
    cache.take(0, [ref("done0")])  # a hit does not move a completed task
    cache.keep(1, {ref("done2"): completed()}, "1")
    assert len(cache) == 2
    assert held(cache, 0, "done0", "done1") == {"done1"}
    assert held(cache, 1, "done2") == {"done2"}


def test_completed_again_goes_to_the_end_of_the_queue() -> None:
    cache = TaskCache(10, completed_capacity=2)
    cache.keep(0, {ref("x"): completed(), ref("y"): completed()}, "1")
    cache.keep(0, {ref("x"): completed()}, "2")  # x had another event, still completed
    cache.keep(0, {ref("z"): completed()}, "3")
    assert held(cache, 0, "x", "y", "z") == {"x", "z"}


def test_a_task_moves_between_the_others_and_the_completed() -> None:
    cache = TaskCache(10, completed_capacity=2)
    cache.keep(0, records("a", "b"), "1")
    cache.keep(0, {ref("a"): completed()}, "2")
    assert len(cache) == 2
    reopened = TaskRecord(decision=DecisionState(Decision.COLLECTING))  # e.g. a deletion
    cache.keep(0, {ref("a"): reopened}, "3")
    assert len(cache) == 2
    # Back among the others: the completed queue's limit no longer applies to it.
    cache.keep(0, {ref("d1"): completed(), ref("d2"): completed(), ref("d3"): completed()}, "4")
    assert cache.take(0, [ref("a")])[0][ref("a")] is reopened
    assert held(cache, 0, "a", "b", "d1", "d2", "d3") == {"a", "b", "d2", "d3"}


def test_completed_tasks_take_no_room_from_the_others() -> None:
    cache = TaskCache(4, completed_capacity=1)
    cache.keep(0, records("a", "b", "c"), "1")
    cache.keep(0, {ref(f"done{i}"): completed() for i in range(5)}, "2")
    assert len(cache) == 4
    assert held(cache, 0, "a", "b", "c", "done3", "done4") == {"a", "b", "c", "done4"}


def test_without_a_completed_share_completed_tasks_are_not_kept() -> None:
    cache = TaskCache(5, completed_capacity=0)
    cache.keep(0, records("a"), "1")
    cache.keep(0, {ref("a"): completed(), ref("b"): completed()}, "2")
    assert len(cache) == 0
    assert held(cache, 0, "a", "b") == set()


@pytest.mark.parametrize("decision", [Decision.COLLECTING, Decision.REASSIGN, Decision.REVIEW])
def test_a_task_not_completed_stays_with_the_others(decision: Decision) -> None:
    """Reassigned tasks wait for another annotation, and tasks in review for a review."""
    cache = TaskCache(10, completed_capacity=0)
    cache.keep(0, {ref("a"): TaskRecord(decision=DecisionState(decision, 3))}, "1")
    assert held(cache, 0, "a") == {"a"}


def test_forget_drops_the_partitions_completed_tasks_only() -> None:
    cache = TaskCache(10, completed_capacity=4)
    cache.keep(0, {ref("x"): completed()}, "1")
    cache.keep(1, {ref("y"): completed()}, "1")
    cache.forget(0)
    assert len(cache) == 1
    assert held(cache, 0, "x") == set()
    assert held(cache, 1, "y") == {"y"}


# Offsets ------------------------------------------------------------------------------


def test_offset_is_the_last_keeps_until_forgotten() -> None:
    cache = TaskCache(1)
    assert cache.offset(0) is None
    cache.keep(0, records("a"), "7")
    cache.keep(0, records("b", "c"), "9")  # evicts, the offset stays
    assert cache.offset(0) == "9"
    assert cache.offset(1) is None
    cache.forget(0)
    assert cache.offset(0) is None
    assert TaskCache(0).offset(0) is None  # a cache that keeps nothing knows no offset


def test_holds_only_the_offset_of_the_last_keep() -> None:
    cache = TaskCache(10)
    cache.keep(0, records("a"), "100")
    assert cache.holds(0, "100")
    assert not cache.holds(0, "101")
    assert not cache.holds(0, "")
    assert not cache.holds(1, "100")  # another partition


def test_valid_at_the_same_offset_keeps_the_records() -> None:
    cache = TaskCache(10)
    kept = records("a", "b")
    cache.keep(0, kept, "100")
    assert cache.valid_at(0, "100")
    assert len(cache) == 2
    assert cache.holds(0, "100")
    assert cache.take(0, [ref("a")])[0][ref("a")] is kept[ref("a")]


@pytest.mark.parametrize("now", ["101", "99", "", "0100"])
def test_valid_at_another_offset_forgets_the_partition(now: str) -> None:
    cache = TaskCache(10)
    cache.keep(0, records("a", "b"), "100")
    other = records("a")
    cache.keep(1, other, "100")
    assert not cache.valid_at(0, now)
    assert len(cache) == 1
    assert not cache.holds(0, "100")
    assert not cache.holds(0, now)  # nothing held: no offset either
    assert cache.take(0, [ref("a"), ref("b")]) == ({}, [ref("a"), ref("b")])
    # The other partition is untouched.
    assert cache.holds(1, "100")
    assert cache.take(1, [ref("a")])[0][ref("a")] is other[ref("a")]


def test_empty_offset_means_none_applied() -> None:
    cache = TaskCache(10)
    # A partition never kept is not known to match even a Redis without an offset.
    assert not cache.holds(0, "")
    assert not cache.valid_at(0, "")
    assert len(cache) == 0
    # Records kept at '' (as a caller may, before any offset) hold at '' only.
    cache.keep(0, records("a"), "")
    assert cache.holds(0, "")
    assert cache.valid_at(0, "")
    assert len(cache) == 1
    assert not cache.valid_at(0, "5")
    assert len(cache) == 0
    assert not cache.holds(0, "")


def test_forget_drops_the_partition_and_its_offset() -> None:
    cache = TaskCache(10)
    cache.keep(0, records("a", "b"), "1")
    cache.keep(1, records("c"), "2")
    cache.forget(0)
    assert len(cache) == 1
    assert not cache.holds(0, "1")
    assert cache.holds(1, "2")
    assert held(cache, 0, "a", "b") == set()
    cache.forget(0)  # again: nothing to do
    cache.forget(42)  # never kept
    assert len(cache) == 1


# Capacity and eviction ---------------------------------------------------------------


def test_capacity_zero_keeps_nothing() -> None:
    cache = TaskCache(0)
    cache.keep(0, records("a", "b"), "1")
    assert len(cache) == 0
    assert not cache.holds(0, "1")
    assert cache.take(0, [ref("a")]) == ({}, [ref("a")])
    assert (cache.hits, cache.misses) == (0, 1)


def test_the_least_recently_kept_goes_first() -> None:
    cache = TaskCache(3)
    cache.keep(0, records("a", "b", "c"), "1")
    cache.keep(0, records("d"), "2")
    assert len(cache) == 3
    assert held(cache, 0, "a", "b", "c", "d") == {"b", "c", "d"}


def test_a_record_taken_recently_survives() -> None:
    cache = TaskCache(3)
    cache.keep(0, records("a", "b", "c"), "1")
    cache.take(0, [ref("a")])  # a is now the most recently used; b the least
    cache.keep(0, records("d"), "2")
    assert len(cache) == 3
    assert held(cache, 0, "a", "b", "c", "d") == {"a", "c", "d"}


def test_a_record_kept_again_is_the_most_recently_used() -> None:
    cache = TaskCache(3)
    cache.keep(0, records("a", "b", "c"), "1")
    cache.keep(0, records("a"), "2")  # a again, a new object: now the newest
    cache.keep(0, records("d", "e"), "3")
    assert len(cache) == 3
    assert held(cache, 0, "a", "b", "c", "d", "e") == {"a", "d", "e"}


def test_eviction_in_use_order_over_several_steps() -> None:
    cache = TaskCache(2)
    cache.keep(0, records("a", "b"), "1")
    cache.take(0, [ref("a")])  # order: b, a
    cache.keep(0, records("c"), "2")  # b out; order: a, c
    cache.take(0, [ref("a")])  # order: c, a
    cache.keep(0, records("d"), "3")  # c out; order: a, d
    assert len(cache) == 2
    assert held(cache, 0, "a", "b", "c", "d") == {"a", "d"}


def test_a_batch_larger_than_the_capacity_keeps_its_last_records() -> None:
    cache = TaskCache(2)
    cache.keep(0, records("a", "b", "c", "d", "e"), "1")
    assert len(cache) == 2
    assert held(cache, 0, "a", "b", "c", "d", "e") == {"d", "e"}


def test_eviction_takes_from_the_partition_holding_the_most() -> None:
    cache = TaskCache(4)
    cache.keep(1, records("x"), "1")  # the oldest record of all
    cache.keep(0, records("a", "b", "c"), "1")
    cache.keep(1, records("y"), "2")  # 5 records: partition 0 holds the most
    assert len(cache) == 4
    # Not the globally least recently used (x): partition 0's least recently used.
    assert held(cache, 1, "x", "y") == {"x", "y"}
    assert held(cache, 0, "a", "b", "c") == {"b", "c"}


def test_eviction_takes_the_excess_at_once_then_moves_on() -> None:
    """The largest partition gives all it can of the excess, even the one just kept;
    only what it cannot give comes from the next largest."""
    cache = TaskCache(3)
    cache.keep(0, records("a", "b"), "1")
    cache.keep(1, records("x", "y", "z"), "1")
    cache.keep(2, records("p", "q", "r", "s"), "1")  # 9 records, 6 too many
    # Partition 2 (4 records) goes whole; then partitions 0 and 1 hold 2 and 3 of the
    # remaining 5: partition 1 loses its two least recently used.
    assert len(cache) == 3
    assert held(cache, 2, "p", "q", "r", "s") == set()
    assert held(cache, 1, "x", "y", "z") == {"z"}
    assert held(cache, 0, "a", "b") == {"a", "b"}
    # An emptied partition keeps its offset: its records are gone, not stale.
    assert cache.holds(2, "1")


def test_len_never_exceeds_the_capacity() -> None:
    cache = TaskCache(5)
    for step in range(20):
        partition = step % 3
        cache.keep(partition, records(*(f"t{step}-{i}" for i in range(step % 4 + 1))), str(step))
        assert len(cache) <= 5
    assert len(cache) == 5


# Against a reference model -------------------------------------------------------------

PARTITIONS = (0, 1, 2)
TASKS = tuple(ref(f"t{i}") for i in range(6))
OFFSETS = ("", "1", "2", "3")


class ReferenceCache:
    """The cache's behaviour, written the slow way: each partition a list, least recently
    used first. Eviction takes the whole excess from the partition holding the most (the
    first kept of equals), then from the next largest if that was not enough: not one
    record at a time, so a partition kept last can lose all its records to an older one.
    Completed tasks' records are held apart, ``completed`` of them at most, the oldest
    completed leaving first; the others share the rest of the capacity.
    """

    def __init__(self, capacity: int, completed: int) -> None:
        self.capacity = capacity
        self.completed_capacity = completed
        self.completed: list[tuple[int, TaskRef]] = []  # oldest first
        # Partitions in the order they were first kept (since last forgotten): the order
        # in which a tie between the largest partitions is decided.
        self.order: dict[int, list[TaskRef]] = {}
        self.values: dict[tuple[int, TaskRef], TaskRecord] = {}
        self.offsets: dict[int, str] = {}
        self.hits = 0
        self.misses = 0

    def others(self) -> int:
        return sum(len(refs) for refs in self.order.values())

    def __len__(self) -> int:
        return self.others() + len(self.completed)

    def keep(self, partition: int, kept: dict[TaskRef, TaskRecord], offset: str) -> None:
        if self.capacity == 0:
            return
        refs = self.order.setdefault(partition, [])
        for key, record in kept.items():
            if key in refs:
                refs.remove(key)
            if (partition, key) in self.completed:
                self.completed.remove((partition, key))
            self.values[(partition, key)] = record
            if record.decision is not None and record.decision.decision is Decision.COMPLETED:
                self.completed.append((partition, key))
            else:
                refs.append(key)
        self.offsets[partition] = offset
        while len(self.completed) > self.completed_capacity:
            del self.values[self.completed.pop(0)]
        room = self.capacity - self.completed_capacity
        while self.others() > room:
            # The whole excess at once, as far as the largest partition holds it.
            largest = max(self.order, key=lambda p: len(self.order[p]))
            refs = self.order[largest]
            excess = self.others() - room
            for victim in refs[:excess]:
                del self.values[(largest, victim)]
            del refs[:excess]

    def take(self, partition: int, refs: list[TaskRef]) -> tuple[set[TaskRef], list[TaskRef]]:
        held_refs = self.order.get(partition, [])
        hits = {key for key in refs if key in held_refs or (partition, key) in self.completed}
        for key in refs:
            if key in held_refs:
                held_refs.remove(key)
                held_refs.append(key)
        missing = [key for key in refs if key not in hits]
        self.hits += len(hits)
        self.misses += len(missing)
        return hits, missing

    def forget(self, partition: int) -> None:
        for key in self.order.pop(partition, []):
            del self.values[(partition, key)]
        for entry in [entry for entry in self.completed if entry[0] == partition]:
            self.completed.remove(entry)
            del self.values[entry]
        self.offsets.pop(partition, None)


class TaskCacheMachine(RuleBasedStateMachine):
    @initialize(capacity=st.integers(0, 8), data=st.data())
    def start(self, capacity: int, data: st.DataObject) -> None:
        completed = data.draw(st.integers(0, capacity), label="completed capacity")
        self.cache = TaskCache(capacity, completed_capacity=completed)
        self.model = ReferenceCache(capacity, completed)

    @rule(
        partition=st.sampled_from(PARTITIONS),
        refs=st.lists(st.sampled_from(TASKS), unique=True, max_size=5),
        offset=st.sampled_from(OFFSETS),
        done=st.sets(st.sampled_from(TASKS)),
    )
    def keep(self, partition: int, refs: list[TaskRef], offset: str, done: set[TaskRef]) -> None:
        kept = {key: completed() if key in done else TaskRecord() for key in refs}
        self.cache.keep(partition, kept, offset)
        self.model.keep(partition, kept, offset)

    @rule(
        partition=st.sampled_from(PARTITIONS),
        refs=st.lists(st.sampled_from(TASKS), unique=True, max_size=6),
    )
    def take(self, partition: int, refs: list[TaskRef]) -> None:
        hits, missing = self.cache.take(partition, refs)
        expected_hits, expected_missing = self.model.take(partition, refs)
        assert set(hits) == expected_hits
        assert missing == expected_missing
        for key, record in hits.items():
            # The very object last kept for this task in this partition.
            assert record is self.model.values[(partition, key)]

    @rule(partition=st.sampled_from(PARTITIONS))
    def forget(self, partition: int) -> None:
        self.cache.forget(partition)
        self.model.forget(partition)

    @rule(partition=st.sampled_from(PARTITIONS), offset=st.sampled_from(OFFSETS))
    def valid_at(self, partition: int, offset: str) -> None:
        valid = self.model.offsets.get(partition) == offset
        assert self.cache.valid_at(partition, offset) is valid
        if not valid:
            self.model.forget(partition)

    @invariant()
    def agrees_with_the_model(self) -> None:
        if not hasattr(self, "cache"):
            return
        assert len(self.cache) == len(self.model)
        assert len(self.cache) <= self.cache.capacity
        assert (self.cache.hits, self.cache.misses) == (self.model.hits, self.model.misses)
        for partition in PARTITIONS:
            for offset in OFFSETS:
                expected = self.model.offsets.get(partition) == offset
                assert self.cache.holds(partition, offset) is expected


TaskCacheMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None
)
TestTaskCacheMachine = TaskCacheMachine.TestCase
