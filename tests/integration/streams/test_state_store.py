"""The annotations agent's Redis I/O, on a real Redis."""

from __future__ import annotations

import orjson
import pytest

from streams.models.annotation import AnnotationEvent, parse_annotation
from streams.models.project import ProjectConfig
from streams.state.store import ApplyStatus, BatchWrite, StateStore
from streams.state.task import TaskRecord

from .pipeline import Deployment, annotation

pytestmark = pytest.mark.integration


def _event(annotation_id: str, annotator: str, label: str) -> AnnotationEvent:
    raw = orjson.dumps(annotation("t1", annotation_id, annotator, label))
    return parse_annotation(raw, max_bytes=1 << 20)


async def test_a_write_holds_the_records_as_they_were_when_it_was_made(
    deployment: Deployment,
) -> None:
    """Records changed after a write was made (and before it ran) are stored as they
    were when it was made."""
    store = StateStore(deployment.redis, deployment.keys)
    token = await store.claim(0)
    record = TaskRecord()
    record.apply(_event("a1", "u1", "pos"))
    before = record.to_json()

    write = store.apply([BatchWrite(
        partition=0, token=token, expected_offset_raw="", new_offset=0, acked=0,
        records={("p1", "t1"): record}, outbox=[],
    )])
    record.apply(_event("a2", "u2", "neg"))  # changed before the write ran
    assert record.to_json() != before

    assert (await write).statuses == [ApplyStatus.APPLIED]
    stored = await deployment.redis.hget(
        deployment.keys.tasks(0), deployment.keys.task_field("p1", "t1")
    )
    assert stored == before
    assert await store.applied_offset(0) == 0


async def test_a_write_reads_back_the_configurations_of_its_projects(
    deployment: Deployment,
) -> None:
    store = StateStore(deployment.redis, deployment.keys)
    token = await store.claim(0)
    config = ProjectConfig("p1", annotations_per_task=2, agreement_threshold=0.5,
                           max_additional_annotators=1)
    await store.set_project_config(orjson.dumps(config.to_dict()), "p1")
    record = TaskRecord()
    record.apply(_event("a1", "u1", "pos"))

    applied = await store.apply([BatchWrite(
        partition=0, token=token, expected_offset_raw="", new_offset=0, acked=0,
        records={("p1", "t1"): record}, outbox=[],
    )], ["p1", "p2"])
    assert applied.statuses == [ApplyStatus.APPLIED]
    assert applied.configs == {"p1": config}  # p2 has none

    # Fenced: nothing is written, and the configurations are still read.
    applied = await store.apply([BatchWrite(
        partition=0, token="0", expected_offset_raw="0", new_offset=1, acked=0,
        records={("p1", "t2"): record}, outbox=[],
    )], ["p1"])
    assert applied.statuses == [ApplyStatus.FENCED]
    assert applied.configs == {"p1": config}


async def test_the_task_index_holds_every_stored_task_and_no_other(
    deployment: Deployment,
) -> None:
    """Scanned a step at a time: a partition of more tasks than one step holds."""
    store = StateStore(deployment.redis, deployment.keys)
    keys = deployment.keys
    stored = [("p:1%", f"t{i}") for i in range(12_000)]  # ':' and '%' escaped in the field
    for first in range(0, len(stored), 1000):
        await deployment.redis.hset(keys.tasks(1), mapping={
            keys.task_field(*ref): b"{}" for ref in stored[first:first + 1000]})

    index = await store.task_index(1, limit=12_000)
    assert index is not None
    assert len(index) == len(stored)
    assert all(index.may_hold(ref) for ref in stored)
    assert not index.may_hold(("p:1%", "t12000"))
    assert not index.may_hold(("p", "1%:t0"))

    empty = await store.task_index(0, limit=10)
    assert empty is not None and len(empty) == 0
    # Over the limit (or a limit of 0): no index, the agent reads what it does not cache.
    assert await store.task_index(1, limit=11_999) is None
    assert await store.task_index(0, limit=0) is None
