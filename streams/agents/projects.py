"""The projects agent: the compacted configuration topic into Redis, where batches read it.

Low volume, so a plain faust agent. The topic is the source of truth; Redis holds the
latest configuration per project for the annotations agent's one-round-trip reads. A
null value (tombstone) removes a project's configuration: its tasks get the defaults.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from streams.models.invalid import InvalidEvent
from streams.models.outputs import dead_letter_body
from streams.models.project import parse_project_config
from streams.state.store import StateStore

log = logging.getLogger(__name__)


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
