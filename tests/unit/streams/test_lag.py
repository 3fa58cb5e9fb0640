"""`quorum lag`: each input partition's lag from Kafka's offsets and the applied offset."""

from __future__ import annotations

import pytest

from streams.lag import ANNOTATIONS, WORKFLOW, PartitionLag, applied_offset, over, total_lag


def row(partition: int, end: int, applied: int | None, *, start: int = 0,
        stream: str = ANNOTATIONS) -> PartitionLag:
    return PartitionLag(stream, partition, start, end, applied, outbox=0)


@pytest.mark.parametrize(("start", "end", "applied", "lag"), [
    (0, 0, None, 0),        # an empty partition
    (0, 10, None, 10),      # nothing applied yet: everything Kafka holds
    (0, 10, 3, 6),          # offsets 4..9 wait
    (0, 10, 9, 0),          # caught up: the last offset is end - 1
    (8, 10, 3, 2),          # retention removed 4..7 before they were applied: 8 and 9 wait
    (8, 10, None, 2),
])
def test_the_lag_is_what_kafka_holds_past_the_last_applied_offset(
        start: int, end: int, applied: int | None, lag: int) -> None:
    assert row(0, end, applied, start=start).lag == lag


def test_stored_offsets_are_read_as_redis_gives_them() -> None:
    assert applied_offset(None) is None
    assert applied_offset(b"") is None and applied_offset("") is None
    assert applied_offset(b"41") == 41 and applied_offset("0") == 0


def test_a_stream_over_the_limit_is_named_with_its_worst_partition() -> None:
    rows = [row(0, 100, 49), row(1, 100, 89), row(0, 5, None, stream=WORKFLOW)]
    assert total_lag(rows, ANNOTATIONS) == 60 and total_lag(rows, WORKFLOW) == 5
    assert over(rows, 60) == []
    assert over(rows, 4) == [
        "the annotations input is 60 messages behind (more than 4; partition 0: 50)",
        "the workflow input is 5 messages behind (more than 4; partition 0: 5)",
    ]
