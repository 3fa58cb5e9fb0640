"""The Label Studio webhook receiver: ``POST /label-studio/webhook`` of ``quorum worker``.

Point a Label Studio project's webhook at it (``send_payload`` on, all actions) and every
annotation saved, updated or deleted there becomes a ``quorum.annotation/v1`` event on the
annotations topic, scored like any other; :mod:`streams.label_studio_webhook` says how
each payload is read. The answer comes once Kafka has every event (acks from all
replicas): a 200 means nothing of the payload can be lost any more.

Label Studio does not retry a webhook that failed, so a receiver that could not reach
Kafka or Redis answers 503 and says so in its log: ``quorum label-studio connect`` run
again (or kept running with ``--every``) brings every annotation's newest version in
afterwards, and the deletions missed meanwhile (:mod:`streams.label_studio_sync`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streams import topics
from streams.label_studio_webhook import (
    WEBHOOK_PATH,
    Webhook,
    project_config_body,
    read_webhook,
    translate,
)
from streams.models.invalid import InvalidEvent
from streams.models.outputs import dead_letter_body
from streams.models.project import project_config_from_dict
from streams.operations import message_key, publish_project_config, task_records
from streams.settings import Settings
from streams.state.keys import Keys
from streams.state.task import TaskRecord

log = logging.getLogger(__name__)

_UNREACHABLE = (KafkaError, OSError, RedisConnectionError, RedisTimeoutError,
                asyncio.TimeoutError)
# How long the first payload of an unconfigured project waits for the configuration it
# sets to be applied, so that its annotations are scored with the project's metrics.
_CONFIGURE_WAIT_S = 10.0

Answer = tuple[int, dict[str, Any]]


class LabelStudioReceiver:
    """Turns webhook payloads into events on the input topics (one instance per worker)."""

    def __init__(self, settings: Settings, redis: Redis, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.redis = redis
        self.producer = producer
        self.keys = Keys(settings.key_prefix)
        # project -> the configuration body its last payload implied, once handled: a
        # payload whose Label Studio settings did not change costs no Redis read.
        self._followed: dict[str, bytes] = {}

    async def receive(self, body: bytes, *, project: str | None = None,
                      authorization: str | None = None) -> Answer:
        """The HTTP status and JSON answer for one posted payload."""
        token = self.settings.webhook_token
        if token is not None and not hmac.compare_digest(
            (authorization or "").encode(), f"Bearer {token.get_secret_value()}".encode()
        ):
            return 401, {"error": "this receiver needs the header 'Authorization: Bearer "
                                  "<QUORUM_WEBHOOK_TOKEN>': add it to the webhook's headers in "
                                  "Label Studio"}
        try:
            payload = orjson.loads(body)
            webhook = read_webhook(payload, project_id=project or None)
        except (orjson.JSONDecodeError, InvalidEvent) as exc:
            reason = f"not a Label Studio webhook payload: {exc}"
            try:
                await self._dead_letters([reason], _redacted_bytes(body))
            except _UNREACHABLE as infra:
                return self._unreachable(infra)
            return 400, {"error": reason}
        try:
            answer = await self._forward(webhook, payload)
        except _UNREACHABLE as exc:
            return self._unreachable(exc)
        # One line per webhook: what arrived and what it became (Label Studio's own log
        # only says whether the post failed).
        log.info("Label Studio webhook %s of project %s: %d annotation events, %d task "
                 "events%s", webhook.action, webhook.project_id, answer["annotation_events"],
                 answer["task_events"], f"; ignored: {answer['ignored']}"
                 if answer["ignored"] else "")
        return 200, answer

    async def _forward(self, webhook: Webhook, payload: dict[str, Any]) -> dict[str, Any]:
        project_id = webhook.project_id
        stored = await self.redis.hget(self.keys.project_configs(), project_id)
        configured = await self._follow_label_studio(webhook, stored)
        mapping = self.keys.label_studio_annotations(project_id)
        task_of: dict[str, str | None] = {}
        if webhook.deleted:
            tasks = await self.redis.hmget(mapping, webhook.deleted)
            task_of = {a: t.decode() if isinstance(t, bytes) else None
                       for a, t in zip(webhook.deleted, tasks, strict=True)}
        distribute = stored is not None and orjson.loads(stored).get("distribute") is True
        annotations_of: dict[str, list[str]] = {}
        if webhook.action == "TASKS_DELETED":
            annotations_of = await self._held_annotations(project_id, webhook.tasks)
        out = translate(webhook, task_of=task_of, distribute=distribute,
                        received_at=datetime.now(UTC).isoformat(),
                        annotations_of=annotations_of)
        if out.remember:
            # Kept before the events are sent: a delete posted right after finds its task.
            remember: dict[Any, Any] = out.remember  # redis-py's invariant Mapping type
            await self.redis.hset(mapping, mapping=remember)
        if out.task_events:
            # The label stream's tasks from Label Studio, for `connect` to check later.
            known = self.keys.label_studio_tasks(project_id)
            if webhook.action == "TASKS_CREATED":
                await self.redis.sadd(known, *webhook.tasks)
            else:
                await self.redis.srem(known, *webhook.tasks)
        futures = []
        for event in out.annotation_events:
            futures.append(await self.producer.send(
                self.settings.topic(topics.ANNOTATIONS), value=orjson.dumps(event),
                key=message_key(event)))
        for event in out.task_events:
            futures.append(await self.producer.send(
                self.settings.topic(topics.WORKFLOW), value=orjson.dumps(event),
                key=project_id.encode()))
        await asyncio.gather(*futures)
        if out.refused:
            log.warning("Label Studio webhook %s of project %s: refused %d: %s",
                        webhook.action, project_id, len(out.refused), out.refused[0])
            await self._dead_letters(out.refused, orjson.dumps(_redacted(payload)))
        return {
            "action": webhook.action,
            "project_id": project_id,
            "annotation_events": len(out.annotation_events),
            "task_events": len(out.task_events),
            "refused": out.refused,
            "ignored": out.ignored,
            "configured": configured,
        }

    async def _held_annotations(self, project_id: str, tasks: list[str]) -> dict[str, list[str]]:
        """The annotations the stream holds for each task, from the task records."""
        partitions = list(await self.producer.partitions_for(
            self.settings.topic(topics.ANNOTATIONS)))
        records = await task_records(self.redis, self.keys, partitions, project_id, tasks)
        return {task_id: TaskRecord.held_annotations(raw) for task_id, raw in records.items()}

    async def _follow_label_studio(self, webhook: Webhook, stored: bytes | str | None) -> bool:
        """:func:`follow_label_studio`, skipped while the project's Label Studio settings
        are those of the last payload handled."""
        body = project_config_body(webhook)
        if body is None:
            return False
        wanted = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        if self._followed.get(webhook.project_id) == wanted:
            return False
        self._followed[webhook.project_id] = wanted
        return await follow_label_studio(self.settings, self.redis, webhook.project_id, body,
                                         stored)

    async def _dead_letters(self, reasons: list[str], original: bytes) -> None:
        digest = hashlib.sha256(original).hexdigest()[:24]
        topic = self.settings.topic(topics.DEAD_LETTER)
        futures = []
        for rank, reason in enumerate(reasons):
            eid = f"{WEBHOOK_PATH}:{digest}:{rank}"
            # No Kafka position: the input came over HTTP.
            letter = dead_letter_body(reason=reason, topic=WEBHOOK_PATH, partition=-1,
                                      offset=-1, original=original, eid=eid)
            futures.append(await self.producer.send(topic, value=orjson.dumps(letter),
                                                    key=eid.encode()))
        await asyncio.gather(*futures)

    def _unreachable(self, exc: BaseException) -> Answer:
        what = f"{type(exc).__name__}: {exc}"
        log.error("a Label Studio webhook was not taken: Kafka or Redis is unreachable (%s). "
                  "Label Studio does not retry it: once they are back, `quorum label-studio "
                  "connect` brings it in (run it again, or keep it running with --every)",
                  what)
        return 503, {"error": f"Kafka or Redis is unreachable ({what}); nothing of this "
                              "payload was taken"}


async def follow_label_studio(settings: Settings, redis: Redis, project_id: str,
                              body: dict[str, Any], stored: bytes | str | None) -> bool:
    """Configure the project from its Label Studio project when it has no configuration,
    and follow Label Studio's changes (a new labeling config, another overlap) for as long
    as the configuration is still the one set from it: one set with ``quorum project
    set`` is never touched. ``body`` is the configuration the Label Studio project implies
    (:func:`project_config_body`), ``stored`` the project's stored one. Whether a
    configuration was sent.
    """
    wanted = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    marker = Keys(settings.key_prefix).label_studio_config(project_id)
    if stored is not None:
        last = await redis.get(marker)
        if last is None or last == wanted or not _same_config(stored, last):
            return False  # set by hand, or Label Studio's settings did not change
    try:
        config = project_config_from_dict(body)
    except InvalidEvent as exc:
        log.warning("project %s: its Label Studio settings make no configuration (%s); "
                    "set one with `quorum project set`", project_id, exc)
        return False
    # Written first: if sending fails, the next payload finds the project still
    # unconfigured, or configured from Label Studio, and sends it again.
    await redis.set(marker, wanted)
    applied = await publish_project_config(settings, config, wait_s=_CONFIGURE_WAIT_S)
    log.info("project %s: configuration %s from its Label Studio project (overlap %d, "
             "metrics from its labeling config)%s", project_id,
             "set" if stored is None else "updated", config.annotations_per_task,
             "" if applied else "; no worker applied it yet")
    return True


def _same_config(stored: bytes | str, body: bytes | str) -> bool:
    """Whether the projects agent's stored configuration is the one ``body`` sets."""
    try:
        return project_config_from_dict(orjson.loads(stored)) == project_config_from_dict(
            orjson.loads(body))
    except (InvalidEvent, orjson.JSONDecodeError):
        return False


def _redacted(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload without its project's secret token, to keep in a dead letter."""
    project = payload.get("project")
    if isinstance(project, dict) and "token" in project:
        return {**payload, "project": {**project, "token": "<redacted>"}}
    return payload


def _redacted_bytes(body: bytes) -> bytes:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    return orjson.dumps(_redacted(payload)) if isinstance(payload, dict) else body
