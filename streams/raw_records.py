"""The annotations consumer's records as aiokafka decodes them, without a ConsumerRecord each.

For every fetched message aiokafka builds a ``ConsumerRecord``: a dataclass of eleven
fields (topic, partition, sizes, a tuple of the headers...) made from the record its batch
decoder already yields, which has the offset, the key, the value, the timestamp and the
headers. The core reads only the offset and the value (:class:`streams.batch.Fetched`),
and that dataclass cost about 0.65 us per event of the worker's 20 or so (a fetch of
300,000 events: 2.4-2.8 us per event with it, 1.8-1.9 without; bench/README.md, session
26).

A consumer asks for the decoder's records by passing :data:`RAW_RECORDS` as its value
deserializer; every other consumer in the process (faust's, the CLI's) keeps its
``ConsumerRecord``. This hooks a private method of aiokafka's fetcher, like
:mod:`streams.fetch_hold`. Should aiokafka no longer have it, nothing is hooked and
:data:`RAW_RECORDS` deserializes as the identity: the consumer gets ``ConsumerRecord``
objects again, which have the same ``offset`` and ``value``.
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka.consumer import fetcher

log = logging.getLogger(__name__)


class _RawRecords:
    """The value deserializer that marks a consumer whose records are handed over raw."""

    __slots__ = ()

    def __call__(self, value: bytes | None) -> bytes | None:
        return value

    def __repr__(self) -> str:
        return "RAW_RECORDS"


RAW_RECORDS = _RawRecords()


def _install() -> bool:
    records = getattr(fetcher, "PartitionRecords", None)
    original = getattr(records, "_consumer_record", None)
    if records is None or original is None:
        log.warning("aiokafka's fetcher has no PartitionRecords._consumer_record: the "
                    "annotations consumer gets ConsumerRecord objects (a little slower)")
        return False
    if getattr(original, "_quorum_raw", False):
        return True  # this module imported again (a reload): hooked already

    def consumer_record(self: Any, tp: Any, record: Any) -> Any:
        if self._value_deserializer is RAW_RECORDS:
            return record
        return original(self, tp, record)

    consumer_record._quorum_raw = True  # type: ignore[attr-defined]
    records._consumer_record = consumer_record
    return True


HOOKED: bool = _install()
