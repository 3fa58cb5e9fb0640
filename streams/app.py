"""The faust application: worker lifecycle, the projects agent and the annotations service."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

import faust
import orjson
from mode import Service
from redis.asyncio import Redis

from streams import topics
from streams.agents.annotations import AnnotationsAgent, make_producer
from streams.agents.projects import apply_project_event
from streams.settings import Settings
from streams.state.keys import Keys
from streams.state.store import StateStore

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> faust.App:
    """Build the app for one deployment; ``quorum worker`` runs it."""
    app_id = f"{settings.topic_prefix}-worker"
    (settings.data_dir / "worker").mkdir(parents=True, exist_ok=True)  # faust makes one level
    # faust formats the datadir with str.format, so braces in a path must be doubled.
    datadir = str(settings.data_dir / "worker" / app_id).replace("{", "{{").replace("}", "}}")
    app = faust.App(
        app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        # faust keeps a small folder per app id; under .data/ (git-ignored) rather than
        # the working directory, where every test deployment would leave one.
        datadir=datadir,
        web_enabled=False,
        topic_partitions=settings.partitions,
        consumer_auto_offset_reset="earliest",
        producer_max_request_size=16 * 1024 * 1024,
    )
    projects_topic = app.topic(
        settings.topic(topics.PROJECTS), key_serializer="raw", value_serializer="raw"
    )
    dead_letter_topic = app.topic(
        settings.topic(topics.DEAD_LETTER), key_serializer="raw", value_serializer="raw"
    )

    @app.agent(projects_topic)
    async def projects(stream: Any) -> None:
        redis = Redis.from_url(settings.redis_url)
        store = StateStore(redis, Keys(settings.key_prefix))
        try:
            async for event in stream.events():
                message = event.message
                refused = await apply_project_event(
                    store, key=message.key, value=message.value, topic=message.topic,
                    partition=message.partition, offset=message.offset,
                )
                if refused is not None:
                    log.warning("refused a project configuration: %s", refused["reason"])
                    await dead_letter_topic.send(
                        key=refused["event_id"].encode(), value=orjson.dumps(refused)
                    )
        finally:
            await redis.aclose()

    @app.service
    class AnnotationsService(Service):
        """Runs the annotations agent for as long as the worker runs."""

        agent: AnnotationsAgent | None = None

        async def on_start(self) -> None:
            loop = asyncio.get_running_loop()
            log.info("annotations agent on %s.%s", type(loop).__module__, type(loop).__name__)
            self._redis = Redis.from_url(settings.redis_url)
            self._producer = make_producer(settings)
            await self._producer.start()
            self.agent = AnnotationsAgent(
                settings, StateStore(self._redis, Keys(settings.key_prefix)), self._producer
            )
            self._halt = asyncio.Event()
            self._runner = asyncio.ensure_future(self.agent.run(self._halt))
            self._runner.add_done_callback(_stop_worker_if_crashed)

        async def on_stop(self) -> None:
            self._halt.set()
            try:
                await asyncio.wait_for(self._runner, timeout=30)
            except Exception as exc:  # the worker stops anyway; say why it was not clean
                log.warning("annotations agent did not stop cleanly: %r", exc)
            await self._producer.stop()
            await self._redis.aclose()

    return app


def _stop_worker_if_crashed(runner: asyncio.Future[None]) -> None:
    """A worker without its hot path must not look alive: stop it, loudly, for a restart."""
    if runner.cancelled() or runner.exception() is None:
        return
    log.critical("the annotations agent crashed; stopping the worker", exc_info=runner.exception())
    os.kill(os.getpid(), signal.SIGTERM)
