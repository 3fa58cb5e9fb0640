"""``quorum label-studio reassign``: one project's reassign requests carried out in Label
Studio as they come (:mod:`streams.label_studio_overlap` says what to ask of it).

It reads ``<prefix>.assignments`` in a consumer group of its own and commits a fetch only
once Label Studio has done everything it asked, retrying with backoff while Label Studio
cannot be reached or refuses. So a crash, a restart or an outage of Label Studio loses
no request: they are read again, and those already carried out change nothing
(:func:`streams.label_studio_overlap.still_needed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from streams import topics
from streams.errors import QuorumError
from streams.label_studio_api import LabelStudio
from streams.label_studio_overlap import (
    OverlapRaise,
    labeled_meanwhile,
    overlap_raise,
    still_needed,
)
from streams.settings import Settings

log = logging.getLogger(__name__)

RAISED, DONE, DELETED = "raised", "done", "deleted"
_MAX_DELAY_S = 60.0


def carry_out(studio: LabelStudio, change: OverlapRaise) -> str:
    """Raise the task's overlap in Label Studio if it still needs it: ``raised``,
    ``done`` (it has the annotations already, or is open for them), ``deleted``.

    The task is read again after the raise: an annotation that landed in between is
    caught there (:func:`streams.label_studio_overlap.labeled_meanwhile`)."""
    task = studio.task(change.task_id)
    if task is None:
        return DELETED
    if not still_needed(change, task):
        return DONE
    studio.raise_overlap(change.task_id, change.overlap)
    after = studio.task(change.task_id)
    if after is not None and labeled_meanwhile(change, after):
        studio.mark_labeled(change.task_id)
        return DONE
    return RAISED


def consumer_group(settings: Settings, project_id: str) -> str:
    """The follower's own consumer group: its position is independent of the workers'."""
    return f"{settings.consumer_group}-label-studio-{project_id}"


async def follow_reassignments(
    settings: Settings,
    project_id: str,
    carry: Callable[[OverlapRaise], str],
    *,
    stopping: asyncio.Event,
    on_outcome: Callable[[OverlapRaise, str], None],
    on_retry: Callable[[Exception, float], None],
) -> None:
    """Carry out ``project_id``'s reassign requests with ``carry`` (a blocking call, run
    in a thread) until ``stopping`` is set; each outcome goes to ``on_outcome``, each
    failed attempt to ``on_retry`` with the seconds until the next."""
    consumer = AIOKafkaConsumer(
        settings.topic(topics.ASSIGNMENTS),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=consumer_group(settings, project_id),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        while not stopping.is_set():
            fetched = await consumer.getmany(timeout_ms=500)
            for records in fetched.values():
                for record in records:
                    change = _change(record.value, project_id)
                    if change is None:
                        continue
                    outcome = await _until_done(carry, change, stopping, on_retry)
                    if outcome is None:
                        return  # stopping: this fetch is not committed, and is read again
                    on_outcome(change, outcome)
            if fetched:
                try:
                    await consumer.commit()
                except KafkaError as exc:
                    # A rebalance while Label Studio was waited for: the requests are read
                    # again, and change nothing the second time.
                    log.warning("committing the reassign position failed (%s); the requests "
                                "since the last commit will be read again", exc)
    finally:
        await consumer.stop()


def _change(raw: bytes | None, project_id: str) -> OverlapRaise | None:
    """The request a message carries for the project, if any (the topic also carries the
    label stream's assignments and other projects' events)."""
    if raw is None:
        return None
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return overlap_raise(event, project_id) if isinstance(event, dict) else None


async def _until_done(carry: Callable[[OverlapRaise], str], change: OverlapRaise,
                      stopping: asyncio.Event,
                      on_retry: Callable[[Exception, float], None]) -> str | None:
    """``carry(change)``, again with backoff while it fails; ``None`` if stopped first."""
    delay = 1.0
    while not stopping.is_set():
        try:
            return await asyncio.to_thread(carry, change)
        except QuorumError as exc:
            on_retry(exc, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=delay)
            delay = min(delay * 2, _MAX_DELAY_S)
    return None
