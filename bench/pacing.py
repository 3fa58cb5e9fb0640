"""Produce benchmark events at a fixed rate the way a high-volume producer does: in
batches, not one ``send`` per event.

One ``producer.send`` per event costs this Python process about 40 us, so at 10,000
events/s the load generator alone took most of a core of the 2 it shares with the
worker, the broker and Redis, and its own lateness showed up as latency. Here the events
due are grouped every ``tick`` seconds into one batch per partition (Kafka's default
partitioner, murmur2 of the key, as any producer would choose) and handed over with
``send_batch``. Each event's send time is the moment it was *due* (``start + i / rate``),
not the moment its batch left, so the wait for the tick counts as latency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from bench.events import Event

TICK_S = 0.005  # as the standard producer's linger (`plain_producer`)


Prepared = tuple[list[int], list[bytes]]
"""Each event's partition and encoded value."""


async def prepare(producer: AIOKafkaProducer, topic: str, events: Sequence[Event],
                  encode: Callable[[Event], bytes] = Event.encode) -> Prepared:
    """What :func:`paced_batches` computes before its clock runs, for a caller that must
    not spend it while something else is being timed."""
    partitions = sorted(await producer.partitions_for(topic))
    partitioner = DefaultPartitioner()
    # aiokafka's murmur2 is pure Python (tens of us per key): chosen before the clock runs.
    # Serialized before the clock runs too: the probe's CPU is the worker's competition.
    return ([partitioner(event.key, partitions, partitions) for event in events],
            [encode(event) for event in events])


async def paced_batches(
    producer: AIOKafkaProducer,
    topic: str,
    events: Sequence[Event],
    rate: float,
    *,
    encode: Callable[[Event], bytes] = Event.encode,
    on_due: Callable[[Event, float, float], None] | None = None,
    on_batch: Callable[[list[Event], asyncio.Future[Any]], None] | None = None,
    tick: float = TICK_S,
    prepared: Prepared | None = None,
    stop: asyncio.Event | None = None,
) -> dict[str, Any]:
    """Send ``events`` at ``rate``/s; ``on_due(event, perf time, wall time)`` when due,
    ``on_batch(events, future)`` once a batch is handed over (the future gives its
    ``RecordMetadata``: with ``LogAppendTime``, when the broker appended it).

    ``prepared``: the result of :func:`prepare` for these events; ``stop``: end early
    once it is set. Returns the events sent, the achieved rate and how far the loop fell
    behind (events due but not yet sent at a tick, at most).
    """
    partition_of, values = prepared or await prepare(producer, topic, events, encode)
    futures: list[asyncio.Future[Any]] = []
    sent = 0
    behind_max = 0
    perf0, wall0 = time.perf_counter(), time.time()
    while sent < len(events) and not (stop is not None and stop.is_set()):
        due = min(len(events), int((time.perf_counter() - perf0) * rate) + 1)
        behind_max = max(behind_max, due - sent)
        batches: dict[int, tuple[Any, list[Event]]] = {}
        for i in range(sent, due):
            event = events[i]
            if on_due is not None:
                offset = i / rate
                on_due(event, perf0 + offset, wall0 + offset)
            partition = partition_of[i]
            value = values[i]
            batch = batches.get(partition)
            if batch is None or batch[0].append(key=event.key, value=value,
                                                 timestamp=None) is None:
                if batch is not None:  # full: send it, start the next one
                    futures.append(await _send(producer, topic, partition, batch, on_batch))
                batch = batches[partition] = (producer.create_batch(), [])
                if batch[0].append(key=event.key, value=value, timestamp=None) is None:
                    raise ValueError("a benchmark event does not fit a fresh batch")
            batch[1].append(event)
        sent = due
        for partition, batch in batches.items():
            futures.append(await _send(producer, topic, partition, batch, on_batch))
        delay = perf0 + sent / rate - time.perf_counter()
        await asyncio.sleep(max(delay, tick) if delay > 0 else 0)
    elapsed = time.perf_counter() - perf0
    await asyncio.gather(*futures)
    return {"sent": sent, "send_seconds": elapsed, "achieved_rate": sent / elapsed,
            "max_backlog_in_producer_loop": behind_max}


async def _send(
    producer: AIOKafkaProducer, topic: str, partition: int, batch: tuple[Any, list[Event]],
    on_batch: Callable[[list[Event], asyncio.Future[Any]], None] | None,
) -> asyncio.Future[Any]:
    builder, events = batch
    builder.close()
    future: asyncio.Future[Any] = await producer.send_batch(builder, topic, partition=partition)
    if on_batch is not None:
        on_batch(events, future)
    return future
