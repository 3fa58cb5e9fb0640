"""The projects agent: the compacted configuration topic into Redis, where batches read it.

Low volume, so a plain faust agent, with two differences: a message is acked by hand,
once it is applied, and an infrastructure error (Redis or Kafka cannot be reached) is
retried with backoff while the topic waits. faust acks a message whose agent raised and
never delivers it again, and it commits the offset, so a configuration that met a Redis
restart would be lost until someone published it again. The topic is the source of
truth; Redis holds the latest configuration per project for the annotations agent's
one-round-trip reads. A null value (tombstone) removes a project's configuration: its
tasks get the defaults.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiokafka.errors import KafkaError

from streams.agents.annotations import INFRA_ERRORS
from streams.backoff import infra_backoff
from streams.models.invalid import InvalidEvent
from streams.models.outputs import dead_letter_body
from streams.models.project import parse_project_config
from streams.settings import Settings
from streams.state.store import StateStore

log = logging.getLogger(__name__)

# Sends a refused message's dead-letter body and returns once Kafka has it.
DeadLetter = Callable[[dict[str, Any]], Awaitable[None]]


async def apply_project_event(
    store: StateStore, *, key: bytes | None, value: bytes | None, topic: str, partition: int,
    offset: int,
) -> dict[str, Any] | None:
    """Store or delete one configuration; return a dead-letter body if it is refused."""
    if value is None:
        if key:
            await store.delete_project_config(key.decode())
            log.info("project %s: configuration removed, defaults apply", key.decode())
        return None
    try:
        config = parse_project_config(value)
    except InvalidEvent as exc:
        return dead_letter_body(
            reason=str(exc), topic=topic, partition=partition, offset=offset, original=value,
            eid=f"{topic}:{partition}:{offset}:0",
        )
    await store.set_project_config(orjson.dumps(config.to_dict()), config.project_id)
    log.info("project %s: configuration applied: %s", config.project_id, config.to_dict())
    return None


async def apply_until_done(
    store: StateStore, settings: Settings, dead_letter: DeadLetter, *, key: bytes | None,
    value: bytes | None, topic: str, partition: int, offset: int,
) -> None:
    """Apply one message of the projects topic, a refused one to the dead-letter topic;
    again with backoff while Redis or Kafka cannot be reached, so that it may be acked on
    return.

    Both steps are safe to repeat: storing a configuration overwrites it, and a dead
    letter sent twice carries the same event id. Cancellation (the worker stopping) ends
    the wait at once; the message is then not acked and is read again at the next start.
    """
    backoff = infra_backoff(settings)
    while True:
        try:
            refused = await apply_project_event(
                store, key=key, value=value, topic=topic, partition=partition, offset=offset
            )
            if refused is not None:
                log.warning("refused a project configuration: %s", refused["reason"])
                await dead_letter(refused)
            return
        except INFRA_ERRORS as exc:
            log.warning("%s:%d:%d: applying the project configuration failed: %s: %s; %s",
                        topic, partition, offset, type(exc).__name__, exc,
                        _retry_hint(settings, exc, backoff.delay))
            await backoff.wait()


def _retry_hint(settings: Settings, exc: BaseException, delay: float) -> str:
    """What the operator should check while the message waits (no password in it)."""
    if isinstance(exc, KafkaError):
        service = f"Kafka at {settings.kafka_bootstrap}"
    else:
        url = urlsplit(settings.redis_url)
        service = f"Redis at {url.hostname}:{url.port or 6379}"
    return (f"retrying with backoff in {delay:.1f} s: check that {service} answers "
            "(`quorum infra status` for the local one); the topic waits, nothing is dropped")
