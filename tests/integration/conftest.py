"""Shared fixtures for tests that need the real Kafka and Redis started by `make up`.

These tests never skip when a service is missing: a silently skipped integration suite looks
green while testing nothing, so a missing service fails every test with the command to run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from streams.infra import kafka_answers, redis_answers
from streams.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The settings the services were started with (``QUORUM_*`` variables apply)."""
    return Settings()


@pytest.fixture(scope="session", autouse=True)
def services_up(settings: Settings) -> None:
    """Fail (never skip) every integration test when Kafka or Redis does not answer."""
    down = [
        f"{where} ({name})"
        for name, where, answers in (
            ("Kafka", settings.kafka_bootstrap, kafka_answers(settings)),
            ("Redis", settings.redis_url, redis_answers(settings)),
        )
        if not answers
    ]
    if down:
        pytest.fail(
            f"Kafka/Redis not reachable at {', '.join(down)}: run `make up` (or `quorum infra up`)",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def redis_client(settings: Settings) -> Iterator[redis.Redis]:
    """A sync client on the test Redis, decoding replies to ``str``; closed at session end."""
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        yield client
    finally:
        client.close()
