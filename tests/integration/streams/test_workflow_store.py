"""The workflow state store on the real Redis: fencing, offsets, journal, snapshot, outbox."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from streams.operations import delete_state
from streams.settings import Settings
from streams.state.keys import Keys
from streams.state.store import ApplyStatus
from streams.state.workflow_store import WorkflowState, WorkflowStore

pytestmark = pytest.mark.integration

P = 3  # the workflow partition under test
EMPTY = WorkflowState(snapshot={}, snapshot_offset=None, snapshot_requests=0, journal=[],
                      offset=None, offset_raw=None, requests=0, outbox=[])


@pytest.fixture
async def deployed(settings: Settings) -> AsyncIterator[Settings]:
    """Settings with a key prefix of their own; every key under it is deleted afterwards."""
    name = f"t{uuid.uuid4().hex[:10]}"
    deployed = settings.model_copy(update={"topic_prefix": name, "redis_prefix": name})
    yield deployed
    await delete_state(deployed)


@pytest.fixture
async def store(deployed: Settings) -> AsyncIterator[WorkflowStore]:
    """A store on the test Redis under the deployment's own prefix."""
    redis = Redis.from_url(deployed.redis_url)
    try:
        yield WorkflowStore(redis, Keys(deployed.key_prefix))
    finally:
        await redis.aclose()


async def _batch(store: WorkflowStore, token: str, offset: int, entry: bytes | None,
                 outbox: list[bytes] | None = None, acked: int = 0) -> ApplyStatus:
    """Apply a batch on top of whatever offset is stored."""
    loaded = await store.load(P)
    return await store.apply(P, token, expected_offset_raw=loaded.offset_raw, new_offset=offset,
                             journal_entry=entry, outbox_entries=outbox or [], acked=acked)


async def test_claim_outdates_the_previous_token(store: WorkflowStore) -> None:
    first, second = await store.claim(P), await store.claim(P)
    assert int(second) == int(first) + 1
    assert await store.claim(P + 1) == "1"  # one counter per partition


Write = Callable[[WorkflowStore, str, WorkflowState], Awaitable[ApplyStatus]]


async def _apply(store: WorkflowStore, token: str, state: WorkflowState) -> ApplyStatus:
    return await store.apply(P, token, expected_offset_raw=state.offset_raw, new_offset=9,
                             journal_entry=b"j-late", outbox_entries=[b"o-late"], acked=1)


async def _record(store: WorkflowStore, token: str, state: WorkflowState) -> ApplyStatus:
    status, number = await store.record_request(
        P, token, journal_entry=b"r-late", outbox_entries=[b"o-late"], acked=1)
    assert number == (0 if status is ApplyStatus.FENCED else state.requests + 1)
    return status


async def _snapshot(store: WorkflowStore, token: str, state: WorkflowState) -> ApplyStatus:
    return await store.write_snapshot(P, token, states={"p1": b"s-late"}, offset=state.offset,
                                      requests=state.requests, journal_entries=1)


async def _trim(store: WorkflowStore, token: str, state: WorkflowState) -> ApplyStatus:
    trimmed = await store.trim_outbox(P, token, 1)
    return ApplyStatus.APPLIED if trimmed else ApplyStatus.FENCED


@pytest.mark.parametrize("write", [_apply, _record, _snapshot, _trim],
                         ids=["apply", "record_request", "write_snapshot", "trim_outbox"])
async def test_a_former_owner_changes_nothing(store: WorkflowStore, write: Write) -> None:
    old = await store.claim(P)
    assert await _batch(store, old, 0, b"j0", [b"o0", b"o1"]) is ApplyStatus.APPLIED
    assert (await store.record_request(P, old, journal_entry=b"r1", outbox_entries=[b"o2"],
                                       acked=0))[0] is ApplyStatus.APPLIED
    new = await store.claim(P)
    before = await store.load(P)

    assert await write(store, old, before) is ApplyStatus.FENCED
    assert await store.load(P) == before
    # The same write by the new owner does change the state: the check above is not vacuous.
    assert await write(store, new, before) is ApplyStatus.APPLIED
    assert await store.load(P) != before


async def test_apply_refuses_a_moved_offset(store: WorkflowStore) -> None:
    token = await store.claim(P)
    write: dict[str, Any] = dict(journal_entry=b"j", outbox_entries=[b"o"], acked=0)
    assert await store.apply(P, token, expected_offset_raw=b"0", new_offset=4,
                             **write) is ApplyStatus.CONFLICT  # nothing applied yet
    assert await store.apply(P, token, expected_offset_raw=None, new_offset=4,
                             **write) is ApplyStatus.APPLIED
    before = await store.load(P)
    for stale in (None, b"3", b"5"):
        assert await store.apply(P, token, expected_offset_raw=stale, new_offset=7,
                                 **write) is ApplyStatus.CONFLICT
    # Fenced before the offset is even looked at.
    assert await store.apply(P, "0", expected_offset_raw=b"3", new_offset=7,
                             **write) is ApplyStatus.FENCED
    assert await store.load(P) == before
    assert await store.apply(P, token, expected_offset_raw=b"4", new_offset=7,
                             **write) is ApplyStatus.APPLIED
    loaded = await store.load(P)
    assert (loaded.offset, loaded.offset_raw, loaded.journal) == (7, b"7", [b"j", b"j"])


async def test_acked_entries_leave_the_outbox(store: WorkflowStore) -> None:
    token = await store.claim(P)
    await _batch(store, token, 0, b"j0", [b"a", b"b", b"c"])
    await _batch(store, token, 1, b"j1", [b"d"], acked=2)
    assert await store.outbox(P) == [b"c", b"d"]
    await store.record_request(P, token, journal_entry=b"r1", outbox_entries=[b"e"], acked=1)
    assert await store.outbox(P) == [b"d", b"e"]
    assert await store.trim_outbox(P, token, 1)
    assert (await store.load(P)).outbox == [b"e"]


async def test_a_batch_without_ops_moves_only_the_offset(store: WorkflowStore) -> None:
    token = await store.claim(P)
    await _batch(store, token, 0, b"j0")
    await _batch(store, token, 5, None)
    loaded = await store.load(P)
    assert (loaded.offset, loaded.journal, loaded.outbox) == (5, [b"j0"], [])


async def test_the_journal_keeps_batches_and_requests_in_order(store: WorkflowStore) -> None:
    token = await store.claim(P)
    await _batch(store, token, 10, b"batch-10")
    await store.record_request(P, token, journal_entry=b"req-1", outbox_entries=[], acked=0)
    await store.record_request(P, token, journal_entry=b"req-2", outbox_entries=[], acked=0)
    await _batch(store, token, 11, b"batch-11")
    await store.record_request(P, token, journal_entry=b"req-3", outbox_entries=[], acked=0)
    loaded = await store.load(P)
    assert loaded.journal == [b"batch-10", b"req-1", b"req-2", b"batch-11", b"req-3"]
    assert (loaded.offset, loaded.requests) == (11, 3)


async def test_requests_are_numbered_from_one(store: WorkflowStore) -> None:
    old = await store.claim(P)
    numbers = [
        await store.record_request(P, old, journal_entry=f"r{i}".encode(),
                                   outbox_entries=[f"o{i}".encode()], acked=0)
        for i in range(3)
    ]
    assert numbers == [(ApplyStatus.APPLIED, 1), (ApplyStatus.APPLIED, 2),
                       (ApplyStatus.APPLIED, 3)]
    new = await store.claim(P)
    assert await store.record_request(P, old, journal_entry=b"x", outbox_entries=[],
                                      acked=0) == (ApplyStatus.FENCED, 0)
    assert await store.record_request(P, new, journal_entry=b"r3", outbox_entries=[],
                                      acked=0) == (ApplyStatus.APPLIED, 4)
    loaded = await store.load(P)
    assert (loaded.requests, loaded.offset) == (4, None)
    assert loaded.journal == [b"r0", b"r1", b"r2", b"r3"]
    assert loaded.outbox == [b"o0", b"o1", b"o2"]


async def test_a_snapshot_takes_the_oldest_journal_entries(store: WorkflowStore) -> None:
    token = await store.claim(P)
    await _batch(store, token, 0, b"j0")
    await _batch(store, token, 1, b"j1")
    await store.record_request(P, token, journal_entry=b"r1", outbox_entries=[], acked=0)
    # The snapshot reflects j0 and j1; r1 came in while it was being made.
    assert await store.write_snapshot(P, token, states={"p1": b"s1", "p2": b"s2"}, offset=1,
                                      requests=0, journal_entries=2) is ApplyStatus.APPLIED
    loaded = await store.load(P)
    assert loaded.snapshot == {"p1": b"s1", "p2": b"s2"}
    assert (loaded.snapshot_offset, loaded.snapshot_requests) == (1, 0)
    assert loaded.journal == [b"r1"]
    assert (loaded.offset, loaded.requests) == (1, 1)  # a snapshot moves no counter

    await store.record_request(P, token, journal_entry=b"r2", outbox_entries=[], acked=0)
    assert await store.write_snapshot(P, token, states={"p1": b"s1-new"}, offset=1, requests=2,
                                      journal_entries=2) is ApplyStatus.APPLIED
    loaded = await store.load(P)
    assert loaded.snapshot == {"p1": b"s1-new", "p2": b"s2"}  # p2 untouched
    assert (loaded.snapshot_offset, loaded.snapshot_requests, loaded.journal) == (1, 2, [])

    assert await store.write_snapshot(P, token, states={}, offset=1, requests=2,
                                      journal_entries=0, removed=["p2"]) is ApplyStatus.APPLIED
    assert (await store.load(P)).snapshot == {"p1": b"s1-new"}


async def test_a_snapshot_beyond_the_journal_is_refused(store: WorkflowStore) -> None:
    token = await store.claim(P)
    await _batch(store, token, 0, b"j0")
    before = await store.load(P)
    assert await store.write_snapshot(P, token, states={"p1": b"s"}, offset=0, requests=0,
                                      journal_entries=2) is ApplyStatus.CONFLICT
    assert await store.load(P) == before


async def test_project_ids_cannot_take_the_reserved_fields(store: WorkflowStore) -> None:
    token = await store.claim(P)
    states = {"_offset": b"a", "_requests": b"b", "__x": b"c", "plain": b"d"}
    assert await store.write_snapshot(P, token, states=states, offset=5, requests=2,
                                      journal_entries=0) is ApplyStatus.APPLIED
    loaded = await store.load(P)
    assert loaded.snapshot == states
    assert (loaded.snapshot_offset, loaded.snapshot_requests) == (5, 2)
    assert await store.write_snapshot(P, token, states={}, offset=None, requests=2,
                                      journal_entries=0, removed=["_offset"]) is ApplyStatus.APPLIED
    loaded = await store.load(P)
    assert loaded.snapshot == {"_requests": b"b", "__x": b"c", "plain": b"d"}
    assert loaded.snapshot_offset is None


async def test_an_empty_partition_loads_empty(store: WorkflowStore) -> None:
    assert await store.load(P) == EMPTY
    await store.claim(P)  # owning a partition writes nothing else
    assert await store.load(P) == EMPTY


async def test_ten_megabyte_values_round_trip(store: WorkflowStore) -> None:
    # A 100,000-task project's state is about this size; arbitrary bytes, newlines included.
    state = os.urandom(10 * 1024 * 1024)
    entry = os.urandom(10 * 1024 * 1024) + b"\n\x00"
    token = await store.claim(P)
    assert await _batch(store, token, 0, entry, [state]) is ApplyStatus.APPLIED
    assert await store.write_snapshot(P, token, states={"big": state, "small": b"s"}, offset=0,
                                      requests=0, journal_entries=0) is ApplyStatus.APPLIED
    loaded = await store.load(P)
    assert loaded.snapshot == {"big": state, "small": b"s"}
    assert loaded.journal == [entry]
    assert loaded.outbox == [state]


async def test_large_writes_cross_the_script_chunks(store: WorkflowStore) -> None:
    # The scripts unpack arguments 500 (pairs) at a time: every count here crosses a chunk.
    token = await store.claim(P)
    outputs = [f"o{i}".encode() for i in range(1234)]
    await _batch(store, token, 0, b"j0", outputs)
    await store.record_request(P, token, journal_entry=b"r1", outbox_entries=outputs, acked=0)
    states = {f"p{i}": f"s{i}".encode() for i in range(1234)}
    await store.write_snapshot(P, token, states=states, offset=0, requests=1, journal_entries=1)
    assert (await store.load(P)).snapshot == states
    removed = [f"p{i}" for i in range(1001)]
    await store.write_snapshot(P, token, states={}, offset=0, requests=1, journal_entries=1,
                               removed=removed)
    loaded = await store.load(P)
    assert loaded.snapshot == {f"p{i}": f"s{i}".encode() for i in range(1001, 1234)}
    assert loaded.outbox == outputs + outputs
    assert loaded.journal == []


async def test_a_partition_lives_in_one_slot(store: WorkflowStore) -> None:
    token = await store.claim(P)
    await _batch(store, token, 0, b"j0", [b"o"])
    await store.record_request(P, token, journal_entry=b"r1", outbox_entries=[], acked=0)
    await store.write_snapshot(P, token, states={"p1": b"s"}, offset=0, requests=1,
                               journal_entries=0)
    await store.claim(P + 1)
    names = [k async for k in store.redis.scan_iter(match=f"{store.keys.prefix}:*", count=1000)]
    mine = sorted(k.decode() for k in names if b"{w3}" in k)
    prefix = f"{store.keys.prefix}:{{w3}}:"
    assert mine == [prefix + s for s in
                    ("journal", "offset", "outbox", "owner", "requests", "snapshot")]
    assert len({key_slot(k.encode()) for k in mine}) == 1
    assert len(names) == len(mine) + 1  # and partition 4's owner: nothing else


async def test_scripts_lost_by_redis_are_loaded_again(store: WorkflowStore) -> None:
    # What a restarted Redis looks like to the client: every known script hash is unknown.
    for script in (store._apply, store._request, store._snapshot, store._trim):
        script.sha = "0" * 40
    token = await store.claim(P)
    assert await _batch(store, token, 0, b"j0", [b"o"]) is ApplyStatus.APPLIED
    assert await store.record_request(P, token, journal_entry=b"r1", outbox_entries=[],
                                      acked=0) == (ApplyStatus.APPLIED, 1)
    assert await store.write_snapshot(P, token, states={"p1": b"s"}, offset=0, requests=1,
                                      journal_entries=2) is ApplyStatus.APPLIED
    assert await store.trim_outbox(P, token, 1)
    loaded = await store.load(P)
    assert (loaded.snapshot, loaded.journal, loaded.outbox) == ({"p1": b"s"}, [], [])


async def test_delete_state_removes_the_workflow_keys(
    store: WorkflowStore, deployed: Settings
) -> None:
    token = await store.claim(P)
    await _batch(store, token, 0, b"j0", [b"o"])
    await store.write_snapshot(P, token, states={"p1": b"s"}, offset=0, requests=0,
                               journal_entries=1)
    assert await delete_state(deployed) == 4  # owner, offset, outbox, snapshot
    assert [k async for k in store.redis.scan_iter(match=f"{store.keys.prefix}:*")] == []


async def test_wrong_counts_are_refused_before_redis(store: WorkflowStore) -> None:
    with pytest.raises(ValueError, match="acked must be >= 0"):
        await store.apply(P, "1", expected_offset_raw=None, new_offset=0, journal_entry=b"j",
                          outbox_entries=[], acked=-1)
    with pytest.raises(ValueError, match="both stored and removed"):
        await store.write_snapshot(P, "1", states={"p1": b"s"}, offset=None, requests=0,
                                   journal_entries=0, removed=["p1"])
    assert await store.load(P) == EMPTY
