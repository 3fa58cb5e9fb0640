"""The annotations consumer's raw records: aiokafka's fetcher hands the batch decoder's
records to a consumer marked with RAW_RECORDS, and ConsumerRecords to every other one.

Pure: the record batches are built in memory with aiokafka's own builder; the consumer
against real Kafka is in tests/integration/streams."""

from __future__ import annotations

from typing import Any

from aiokafka import TopicPartition
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import ConsumerRecord

from streams.batch import parse_batch
from streams.raw_records import HOOKED, RAW_RECORDS
from tests.unit.streams.events import annotation_bytes

TP = TopicPartition("quorum.annotations", 2)


def _records(values: list[bytes | None], *, base: int = 40) -> MemoryRecords:
    builder = DefaultRecordBatchBuilder(
        2, 0, 0, producer_id=-1, producer_epoch=-1, base_sequence=0, batch_size=1 << 20
    )
    for i, value in enumerate(values):
        builder.append(i, 1_700_000_000_000 + i, b"key", value, [])
    buffer = bytearray(builder.build())
    # The broker stamps a batch's base offset: the 8 bytes at its start.
    buffer[0:8] = base.to_bytes(8, "big")
    return MemoryRecords(bytes(buffer))


def _fetched(values: list[bytes | None], deserializer: Any) -> list[Any]:
    # The name aiokafka's Fetcher builds them with, looked up as it does.
    partition = fetcher.PartitionRecords(
        TP, _records(values), [], 40, None, deserializer, False, "read_uncommitted"
    )
    return list(partition)


def test_the_hook_is_in_place_on_this_aiokafka() -> None:
    # If this fails, aiokafka changed its fetcher: the agent still works (with
    # ConsumerRecords), but streams/raw_records.py should follow the new code.
    assert HOOKED


def test_a_marked_consumer_gets_the_decoder_records_with_offsets_and_values() -> None:
    fetched = _fetched([b'{"a": 1}', None, b"x"], RAW_RECORDS)
    assert not any(isinstance(r, ConsumerRecord) for r in fetched)
    assert [(r.offset, r.value) for r in fetched] == [(40, b'{"a": 1}'), (41, None), (42, b"x")]
    assert [r.key for r in fetched] == [b"key"] * 3


def test_other_consumers_keep_their_consumer_records() -> None:
    fetched = _fetched([b"one", b"two"], None)
    assert all(isinstance(r, ConsumerRecord) for r in fetched)
    assert [(r.topic, r.partition, r.offset, r.value) for r in fetched] == [
        (TP.topic, 2, 40, b"one"), (TP.topic, 2, 41, b"two")
    ]
    # A deserializer of their own still runs.
    decoded = _fetched([b"one"], lambda v: v.decode())
    assert decoded[0].value == "one"


def test_as_a_deserializer_it_changes_nothing() -> None:
    assert RAW_RECORDS(b"v") == b"v"
    assert RAW_RECORDS(None) is None


def test_the_core_parses_raw_records_as_it_parses_consumer_records() -> None:
    values: list[bytes | None] = [annotation_bytes(), None, b"not json"]
    raw = parse_batch(2, TP.topic, _fetched(values, RAW_RECORDS), max_bytes=1 << 20)
    plain = parse_batch(2, TP.topic, _fetched(values, None), max_bytes=1 << 20)
    assert (raw.first_offset, raw.last_offset) == (plain.first_offset, plain.last_offset) == (
        40, 42
    )
    assert raw.events == plain.events
    assert [offset for offset, _ in raw.events] == [40]
    assert raw.refused == plain.refused
    assert [offset for offset, _, _ in raw.refused] == [41, 42]
    assert raw.original(42) == b"not json"
