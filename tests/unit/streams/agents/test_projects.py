"""The projects agent's retries: a configuration met by an unreachable Redis (or a Kafka
that refuses its dead letter) is applied once the service answers, never dropped; bad
input goes to the dead-letter topic without retries; a stopping worker ends the wait.
No Kafka, no Redis: a store and a dead-letter sender that fail on demand (the real
services: tests/integration/streams/test_projects_agent.py)."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, cast

import orjson
import pytest
from aiokafka.errors import KafkaConnectionError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streams.agents.projects import apply_until_done
from streams.models.project import ProjectConfig
from streams.settings import Settings
from streams.state.store import StateStore

CONFIG = ProjectConfig("p1", annotations_per_task=3, agreement_threshold=0.7)


class FlakyStore:
    """Stands in for StateStore: the first ``failures`` writes raise ``error``."""

    def __init__(self, failures: int | None, error: Exception | None = None) -> None:
        self.failures = failures  # None: fails for good
        self.error = error or RedisConnectionError("Error 111 connecting to 127.0.0.1:16379")
        self.configs: dict[str, bytes] = {"p0": b"{}"}

    def _attempt(self) -> None:
        if self.failures is None or self.failures > 0:
            if self.failures is not None:
                self.failures -= 1
            raise self.error

    async def set_project_config(self, config_json: bytes, project_id: str) -> None:
        self._attempt()
        self.configs[project_id] = config_json

    async def delete_project_config(self, project_id: str) -> None:
        self._attempt()
        self.configs.pop(project_id, None)


class DeadLetters:
    """Collects dead-letter bodies; the first ``failures`` sends raise a Kafka error."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, body: dict[str, Any]) -> None:
        if self.failures:
            self.failures -= 1
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 19092)]")
        self.sent.append(body)


async def apply(store: FlakyStore, value: bytes | None, *, key: bytes | None = b"p1",
                dead_letters: DeadLetters | None = None, max_delay_s: float = 0.15) -> None:
    settings = Settings(retry_max_delay_s=max_delay_s, kafka_bootstrap="127.0.0.1:19092",
                        redis_url="redis://:s3cret@127.0.0.1:16379/0")
    await apply_until_done(cast(StateStore, store), settings, dead_letters or DeadLetters(),
                           key=key, value=value, topic="q.projects", partition=2, offset=41)


def retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "retrying with backoff" in r.getMessage()]


async def test_a_configuration_is_applied_once_redis_answers_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FlakyStore(failures=3)
    with caplog.at_level(logging.WARNING):
        await apply(store, orjson.dumps(CONFIG.to_dict()))
    assert orjson.loads(store.configs["p1"]) == CONFIG.to_dict()
    messages = retries(caplog)
    assert len(messages) == 3
    # Each retry says which message waits, why, and what to check; never the password.
    assert all(m.startswith("q.projects:2:41: ") for m in messages)
    assert "ConnectionError: Error 111" in messages[0]
    assert "check that Redis at 127.0.0.1:16379 answers" in messages[0]
    assert not any("s3cret" in m for m in messages)


async def test_the_wait_doubles_up_to_the_configured_maximum(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FlakyStore(failures=3, error=RedisTimeoutError("Timeout reading from socket"))
    with caplog.at_level(logging.WARNING):
        await apply(store, orjson.dumps(CONFIG.to_dict()), max_delay_s=0.2)
    waits = [float(re.search(r"in ([0-9.]+) s", m).group(1))  # type: ignore[union-attr]
             for m in retries(caplog)]
    assert waits == [0.1, 0.2, 0.2]
    assert "p1" in store.configs


async def test_a_removal_is_retried_too() -> None:
    store = FlakyStore(failures=2)
    store.configs["p1"] = b"{}"
    await apply(store, None)
    assert "p1" not in store.configs


async def test_an_invalid_configuration_goes_to_the_dead_letter_topic_without_retries(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = FlakyStore(failures=None)  # would fail any write: none is made
    dead_letters = DeadLetters()
    with caplog.at_level(logging.WARNING):
        await apply(store, b"not json", dead_letters=dead_letters)
    assert [d["event_id"] for d in dead_letters.sent] == ["q.projects:2:41:0"]
    assert retries(caplog) == []
    assert store.configs == {"p0": b"{}"}


async def test_a_dead_letter_kafka_refuses_is_sent_again_and_names_kafka(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dead_letters = DeadLetters(failures=2)
    with caplog.at_level(logging.WARNING):
        await apply(FlakyStore(failures=0), b"not json", dead_letters=dead_letters)
    assert len(dead_letters.sent) == 1
    messages = retries(caplog)
    assert len(messages) == 2
    assert "check that Kafka at 127.0.0.1:19092 answers" in messages[0]


async def test_an_error_that_is_not_the_infrastructure_is_not_retried() -> None:
    store = FlakyStore(failures=None, error=ValueError("a bug, not an outage"))
    with pytest.raises(ValueError, match="a bug"):
        await apply(store, orjson.dumps(CONFIG.to_dict()))


async def test_a_stopping_worker_ends_the_wait_at_once(caplog: pytest.LogCaptureFixture) -> None:
    store = FlakyStore(failures=None)  # Redis never comes back
    with caplog.at_level(logging.WARNING):
        task = asyncio.ensure_future(apply(store, orjson.dumps(CONFIG.to_dict()),
                                           max_delay_s=60.0))
        while len(retries(caplog)) < 3:  # well into the backoff
            await asyncio.sleep(0.05)
        task.cancel()
        # faust cancels the actor's task when the worker stops: no wait for the backoff.
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=1.0)
    assert "p1" not in store.configs
