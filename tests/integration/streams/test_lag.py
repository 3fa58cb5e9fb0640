"""`quorum lag` on the real Kafka and Redis: the input waiting before a worker runs, none
once it has applied everything, and the dead letters."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner, Result

from streams.cli import app
from streams.lag import ANNOTATIONS, WORKFLOW, total_lag
from streams.operations import input_lag
from streams.settings import Settings

from .pipeline import Deployment, annotation

pytestmark = pytest.mark.integration


def _lag(settings: Settings, *args: str) -> Result:
    env = {"QUORUM_TOPIC_PREFIX": settings.topic_prefix, "QUORUM_REDIS_URL": settings.redis_url,
           "QUORUM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
    return CliRunner().invoke(app, ["lag", *args], env=env)


async def test_lag_counts_what_no_worker_applied_yet(deployment: Deployment,
                                                     start_worker: Any) -> None:
    settings = deployment.settings
    events = [annotation(f"t{i}", f"a{i}", "u1", "pos") for i in range(30)]
    await deployment.send([*events, b"not json"])
    rows, dead_letters = await input_lag(settings)
    assert total_lag(rows, ANNOTATIONS) == 31 and total_lag(rows, WORKFLOW) == 0
    assert dead_letters == 0
    assert sorted(r.partition for r in rows if r.stream == ANNOTATIONS) == \
        list(range(settings.partitions))

    behind = await asyncio.to_thread(_lag, settings, "--max-lag", "30", "--json")
    assert behind.exit_code == 1
    assert "the annotations input is 31 messages behind (more than 30" in behind.output

    worker = start_worker(settings)
    await worker.wait_owning(settings.partitions)
    await deployment.wait_applied()
    rows, dead_letters = await input_lag(settings)
    assert total_lag(rows, ANNOTATIONS) == 0 and dead_letters == 1
    assert all(r.applied == r.end - 1 for r in rows if r.stream == ANNOTATIONS and r.end)

    caught_up = await asyncio.to_thread(_lag, settings, "--max-lag", "0", "--json")
    assert caught_up.exit_code == 0, caught_up.output
    report = orjson.loads(caught_up.stdout)
    assert report["lag"] == {"annotations": 0, "workflow": 0}
    assert report["dead_letters"] == 1


async def test_a_prefix_without_topics_is_named(settings: Settings) -> None:
    missing = settings.model_copy(update={"topic_prefix": "no-such-deployment"})
    result = await asyncio.to_thread(_lag, missing)
    assert result.exit_code == 1
    assert "Kafka has no topic no-such-deployment.annotations" in result.output
