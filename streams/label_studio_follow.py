"""A topic followed on Label Studio's behalf: what ``quorum label-studio reassign`` and
``quorum label-studio scores`` share.

A :class:`Follower` says which topic, what a message asks of Label Studio (``pick``)
and which asks a later one makes moot (``coalesce``). :func:`follow` reads the topic in
a consumer group of the follower's own; each fetch's items for the project are handed to
``carry`` (a blocking call to Label Studio, run in a thread) one by one, again with
backoff while Label Studio cannot be reached or refuses (:func:`carry_all`), and the
fetch is committed only once all of them were carried out. So a crash, a restart or an
outage of Label Studio loses nothing: the items are read again, and ``carry`` must make
a second time change nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from streams.backoff import Backoff
from streams.errors import QuorumError
from streams.models.invalid import InvalidEvent, decode_object
from streams.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
# Label Studio away or refusing: a second, doubled up to a minute.
_FIRST_DELAY_S = 1.0
_MAX_DELAY_S = 60.0


@dataclass(frozen=True, slots=True)
class Follower(Generic[T]):
    """What a follower reads: ``topic`` (a short name), ``pick(event, project_id)`` the
    item a JSON message asks of Label Studio for the project (``None``: not this
    follower's), ``coalesce`` the items of a fetch that remain once later ones are taken
    into account, and the suffix of its consumer group's name."""

    topic: str
    pick: Callable[[Mapping[str, Any], str], T | None]
    group_suffix: str = ""
    coalesce: Callable[[list[T]], list[T]] | None = None

    def group(self, settings: Settings, project_id: str) -> str:
        """The follower's own consumer group: its position is independent of the
        workers' and of the other followers'."""
        return f"{settings.consumer_group}-label-studio-{project_id}{self.group_suffix}"


async def follow(
    settings: Settings,
    follower: Follower[T],
    project_id: str,
    carry: Callable[[T], str],
    *,
    stopping: asyncio.Event,
    on_outcome: Callable[[T, str], None],
    on_retry: Callable[[Exception, float], None],
) -> None:
    """Carry out what ``follower``'s topic asks of Label Studio for ``project_id`` until
    ``stopping`` is set; each outcome of ``carry`` goes to ``on_outcome``, each failed
    attempt to ``on_retry`` with the seconds until the next."""
    consumer = AIOKafkaConsumer(
        settings.topic(follower.topic),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=follower.group(settings, project_id),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        while not stopping.is_set():
            fetched = await consumer.getmany(timeout_ms=500)
            items = [item for records in fetched.values() for record in records
                     if (event := _json_object(record.value)) is not None
                     and (item := follower.pick(event, project_id)) is not None]
            if follower.coalesce is not None:
                items = follower.coalesce(items)
            if not await carry_all(items, carry, stopping=stopping, on_outcome=on_outcome,
                                   on_retry=on_retry):
                return  # stopping: this fetch is not committed, and is read again
            if fetched:
                try:
                    await consumer.commit()
                except KafkaError as exc:
                    # A rebalance while Label Studio was waited for: the items are read
                    # again, and change nothing the second time.
                    log.warning("committing the follower's position on %s failed (%s); "
                                "what came since the last commit will be read again",
                                follower.topic, exc)
    finally:
        await consumer.stop()


async def carry_all(items: Iterable[T], carry: Callable[[T], str], *,
                    stopping: asyncio.Event, on_outcome: Callable[[T, str], None],
                    on_retry: Callable[[Exception, float], None]) -> bool:
    """``carry`` each item in turn (in a thread), again with backoff while it fails
    (:class:`QuorumError`: Label Studio refused or is away); False if ``stopping`` was
    set before all of them were carried out."""
    for item in items:
        backoff = Backoff(_FIRST_DELAY_S, _MAX_DELAY_S)
        while True:
            if stopping.is_set():
                return False
            try:
                outcome = await asyncio.to_thread(carry, item)
                break
            except QuorumError as exc:
                on_retry(exc, backoff.delay)
                await backoff.wait(stopping)
        on_outcome(item, outcome)
    return True


def _json_object(raw: bytes | None) -> dict[str, Any] | None:
    """A message's value as a JSON object; ``None`` for a tombstone or anything else."""
    if raw is None:
        return None
    try:
        return decode_object(raw)
    except InvalidEvent:
        return None
