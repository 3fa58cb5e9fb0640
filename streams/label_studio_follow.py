"""A topic followed on Label Studio's behalf: what ``quorum label-studio reassign`` and
``quorum label-studio scores`` share.

A consumer group of the follower's own reads the topic; each fetch's items for the
project (``pick`` of each message that is a JSON object, then ``coalesce``) are handed
to ``carry`` (a blocking call to Label Studio, run in a thread) one by one, again with
backoff while Label Studio cannot be reached or refuses, and the fetch is committed only
once all of them were carried out.
So a crash, a restart or an outage of Label Studio loses nothing: the items are read
again, and ``carry`` must make a second time change nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from streams.errors import QuorumError
from streams.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
_MAX_DELAY_S = 60.0


async def follow_topic(
    settings: Settings,
    topic: str,
    group: str,
    pick: Callable[[Mapping[str, Any]], T | None],
    carry: Callable[[T], str],
    *,
    stopping: asyncio.Event,
    on_outcome: Callable[[T, str], None],
    on_retry: Callable[[Exception, float], None],
    coalesce: Callable[[list[T]], list[T]] | None = None,
) -> None:
    """Carry out what ``topic`` (a short name) asks of Label Studio until ``stopping`` is
    set. ``pick`` keeps a message's item (``None``: not this follower's; messages that
    are not JSON objects are nobody's); ``coalesce``
    may drop items of a fetch that a later one makes moot; each outcome of ``carry`` goes
    to ``on_outcome``, each failed attempt to ``on_retry`` with the seconds until the
    next."""
    consumer = AIOKafkaConsumer(
        settings.topic(topic),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        while not stopping.is_set():
            fetched = await consumer.getmany(timeout_ms=500)
            events = [event for records in fetched.values() for record in records
                      if (event := _json_object(record.value)) is not None]
            items = [item for event in events if (item := pick(event)) is not None]
            for item in coalesce(items) if coalesce is not None else items:
                outcome = await _until_done(carry, item, stopping, on_retry)
                if outcome is None:
                    return  # stopping: this fetch is not committed, and is read again
                on_outcome(item, outcome)
            if fetched:
                try:
                    await consumer.commit()
                except KafkaError as exc:
                    # A rebalance while Label Studio was waited for: the items are read
                    # again, and change nothing the second time.
                    log.warning("committing the follower's position on %s failed (%s); "
                                "what came since the last commit will be read again",
                                topic, exc)
    finally:
        await consumer.stop()


def _json_object(raw: bytes | None) -> dict[str, Any] | None:
    """A message's value as a JSON object; ``None`` for a tombstone or anything else."""
    if raw is None:
        return None
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return event if isinstance(event, dict) else None


async def _until_done(carry: Callable[[T], str], item: T, stopping: asyncio.Event,
                      on_retry: Callable[[Exception, float], None]) -> str | None:
    """``carry(item)``, again with backoff while it fails; ``None`` if stopped first."""
    delay = 1.0
    while not stopping.is_set():
        try:
            return await asyncio.to_thread(carry, item)
        except QuorumError as exc:
            on_retry(exc, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=delay)
            delay = min(delay * 2, _MAX_DELAY_S)
    return None
