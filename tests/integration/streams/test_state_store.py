"""The annotations agent's Redis I/O, on a real Redis."""

from __future__ import annotations

import orjson
import pytest

from streams.models.annotation import AnnotationEvent, parse_annotation
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

    assert await write == [ApplyStatus.APPLIED]
    stored = await deployment.redis.hget(
        deployment.keys.tasks(0), deployment.keys.task_field("p1", "t1")
    )
    assert stored == before
    assert await store.applied_offset(0) == 0
