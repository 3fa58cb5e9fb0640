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
``ConsumerRecord``, at no cost per record. This relies on private parts of aiokafka's
fetcher (the ``PartitionRecords`` name and its ``_consumer_record`` method), like
:mod:`streams.fetch_hold`. Should aiokafka no longer have them, nothing is hooked and
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


def _as_is(tp: Any, record: Any) -> Any:
    return record


def _install() -> bool:
    """Rebind the fetcher's ``PartitionRecords`` (the name it builds each partition's
    fetched records with) to a subclass that, for a marked consumer, hands the records
    over as they are. Other consumers pay nothing per record, the bare benchmark loop
    included: their records go through aiokafka's own method."""
    original = getattr(fetcher, "PartitionRecords", None)
    if original is None or not hasattr(original, "_consumer_record"):
        log.warning("aiokafka's fetcher has no PartitionRecords._consumer_record: the "
                    "annotations consumer gets ConsumerRecord objects (a little slower)")
        return False
    if getattr(original, "_quorum_raw", False):
        return True  # this module imported again (a reload): hooked already

    class PartitionRecords(original):  # type: ignore[misc, valid-type]
        _quorum_raw = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # getattr: should aiokafka rename the attribute, every consumer keeps working
            # (with ConsumerRecords) instead of failing here. Once per partition fetch.
            if getattr(self, "_value_deserializer", None) is RAW_RECORDS:
                # Looked up on the instance for every record (_unpack_records).
                self._consumer_record = _as_is

    fetcher.PartitionRecords = PartitionRecords
    return True


HOOKED: bool = _install()
