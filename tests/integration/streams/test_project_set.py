"""`quorum project set` on the real Kafka and Redis: it changes the settings given and
keeps the rest of the configuration in force, those no option sets too; `--reset` starts
from the defaults; the configuration in force is read from the projects topic, also one
no worker has applied yet."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from typer.testing import CliRunner, Result

from streams import topics
from streams.cli import app
from streams.kafka import plain_producer
from streams.models.project import PROJECT_SCHEMA, ProjectConfig, project_config_from_dict
from streams.operations import latest_project_config
from streams.settings import Settings
from streams.worker_process import WorkerProcess

from .pipeline import Deployment

pytestmark = pytest.mark.integration

PROJECT = "p1"

# Settings in the parts `project set` has no option for: the review and evaluation
# settings, a scoring object with per-tag metrics and parameters, model evaluation.
CONFIGURED = project_config_from_dict({
    "schema": PROJECT_SCHEMA, "project_id": PROJECT, "annotations_per_task": 3,
    "agreement_threshold": 0.7, "max_additional_annotators": 2,
    "scoring": {"methodology": "consensus", "consensus_threshold": 0.6,
                "include_predictions": True,
                "tags": {"sentiment": {"metric": "choices_exact", "weight": 2.0},
                         "length": {"metric": "numeric_tolerance",
                                    "params": {"tolerance": 2}}}},
    "overlap_cohort_percentage": 50, "reject_mode": "remove",
    "evaluation": {"enabled": True, "onboarding_tasks": 2, "minimum_score": 0.8},
    "reliability": False, "model_evaluation": {"bucket_seconds": 3600},
    "review": {"criteria": "all_reviewed"},
})


@pytest.fixture
async def listed(deployment: Deployment) -> Deployment:
    """The deployment once Kafka lists its projects topic: one created a moment ago may
    not be listed yet, and `project set` refuses a deployment that has none."""
    admin = AIOKafkaAdminClient(bootstrap_servers=deployment.settings.kafka_bootstrap)
    await admin.start()
    try:
        for _ in range(100):
            if deployment.settings.topic(topics.PROJECTS) in await admin.list_topics():
                return deployment
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    raise AssertionError("Kafka did not list the projects topic within 10 s")


def _cli(settings: Settings, *args: str) -> Result:
    """`quorum ARGS` against the deployment."""
    env = {"QUORUM_TOPIC_PREFIX": settings.topic_prefix, "QUORUM_REDIS_URL": settings.redis_url,
           "QUORUM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
    return CliRunner().invoke(app, list(args), env=env)


def _project_set(settings: Settings, *args: str) -> Result:
    result = _cli(settings, "project", "set", PROJECT, *args)
    assert result.exit_code == 0, result.output
    return result


async def _applied(deployment: Deployment) -> ProjectConfig:
    """The configuration the worker applied to Redis."""
    stored = await deployment.redis.hget(deployment.keys.project_configs(), PROJECT)
    assert stored is not None
    return project_config_from_dict(orjson.loads(stored))


async def _send_raw(settings: Settings, key: str, value: bytes | None) -> None:
    producer = plain_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topic(topics.PROJECTS), value=value,
                                     key=key.encode())
    finally:
        await producer.stop()


async def _with_configured_worker(
    deployment: Deployment, start_worker: Callable[..., WorkerProcess],
) -> tuple[Deployment, Settings]:
    """A worker owning every partition, and the project configured as CONFIGURED."""
    settings = deployment.settings
    worker = start_worker(settings)
    await worker.wait_owning(settings.partitions)
    await deployment.configure(CONFIGURED)
    return deployment, settings


async def test_a_threshold_change_keeps_the_rest_and_a_reset_does_not(
    listed: Deployment, start_worker: Callable[..., WorkerProcess],
) -> None:
    deployment, settings = await _with_configured_worker(listed, start_worker)

    changed = await asyncio.to_thread(_project_set, settings, "--threshold", "0.8")
    assert "changed:\n  agreement_threshold: 0.7 -> 0.8\n" in changed.output
    assert "applied by a worker" in " ".join(changed.output.split())
    assert await _applied(deployment) == replace(CONFIGURED, agreement_threshold=0.8)

    again = await asyncio.to_thread(_project_set, settings, "--threshold", "0.8")
    assert "nothing to change, nothing sent" in " ".join(again.output.split())

    tracked = await asyncio.to_thread(_project_set, settings, "--track-quality")
    assert "changed:\n  track_quality: false -> true\n" in tracked.output
    assert await _applied(deployment) == replace(CONFIGURED, agreement_threshold=0.8,
                                                 track_quality=True)

    reset = await asyncio.to_thread(_project_set, settings, "--reset", "--threshold", "0.8")
    for change in ("reject_mode: remove -> requeue_to_annotator",
                   "review.criteria: all_reviewed -> one_accepted",
                   "evaluation.enabled: true -> false",
                   "scoring.methodology: consensus -> pairwise",
                   "scoring.tags.sentiment: {", "overlap_cohort_percentage: 50.0 -> 100.0"):
        assert f"\n  {change}" in reset.output
    assert "agreement_threshold" not in reset.output.split("changed:")[1]
    assert await _applied(deployment) == ProjectConfig(PROJECT, agreement_threshold=0.8)


async def test_settings_sent_before_a_worker_runs_are_kept(listed: Deployment) -> None:
    deployment = listed
    settings = deployment.settings
    await asyncio.to_thread(_project_set, settings, "--overlap", "3", "--no-wait")
    second = await asyncio.to_thread(_project_set, settings, "--threshold", "0.8", "--no-wait")
    assert "changed:\n  agreement_threshold: 0.0 -> 0.8\n" in second.output
    assert await latest_project_config(settings, PROJECT) == ProjectConfig(
        PROJECT, annotations_per_task=3, agreement_threshold=0.8)
    # No worker ran: Redis has nothing, the topic has both.
    assert await deployment.redis.hget(deployment.keys.project_configs(), PROJECT) is None


async def test_the_topic_is_read_as_the_projects_agent_applies_it(listed: Deployment) -> None:
    settings = listed.settings
    assert await latest_project_config(settings, PROJECT) is None
    await _send_raw(settings, PROJECT, orjson.dumps(CONFIGURED.to_dict()))
    await _send_raw(settings, PROJECT, b'{"schema": "quorum.project/v1"}')  # refused
    await _send_raw(settings, "p2", orjson.dumps(ProjectConfig("p2").to_dict()))
    assert await latest_project_config(settings, PROJECT) == CONFIGURED

    await _send_raw(settings, PROJECT, None)  # a tombstone: the defaults apply again
    assert await latest_project_config(settings, PROJECT) is None
    fresh = await asyncio.to_thread(_project_set, settings, "--threshold", "0.8", "--no-wait")
    assert "it had no configuration" in fresh.output
    assert await latest_project_config(settings, PROJECT) == ProjectConfig(
        PROJECT, agreement_threshold=0.8)


async def test_project_remove_sends_the_tombstone_the_worker_applies(
    listed: Deployment, start_worker: Callable[..., WorkerProcess],
) -> None:
    deployment, settings = await _with_configured_worker(listed, start_worker)

    asked = await asyncio.to_thread(_cli, settings, "project", "remove", PROJECT)
    assert asked.exit_code == 1
    assert "run again with --yes" in " ".join(asked.output.split())
    assert await latest_project_config(settings, PROJECT) == CONFIGURED

    removed = await asyncio.to_thread(_cli, settings, "project", "remove", PROJECT, "--yes")
    assert removed.exit_code == 0, removed.output
    assert await latest_project_config(settings, PROJECT) is None
    for _ in range(100):  # the projects agent deletes what Redis held
        if await deployment.redis.hget(deployment.keys.project_configs(), PROJECT) is None:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the worker kept the removed configuration")

    again = await asyncio.to_thread(_cli, settings, "project", "remove", PROJECT, "--yes")
    assert again.exit_code == 1
    assert "has no configuration to remove" in " ".join(again.output.split())


async def test_send_refuses_projects_lines_without_a_project_id_and_sends_nothing(
    listed: Deployment, tmp_path
) -> None:
    settings = listed.settings
    lines = tmp_path / "projects.jsonl"
    lines.write_text(orjson.dumps(ProjectConfig("p2").to_dict()).decode() + "\nnull\n")
    refused = await asyncio.to_thread(_cli, settings, "send", str(lines), "--topic", "projects")
    assert refused.exit_code == 1
    text = " ".join(refused.output.split())
    assert "nothing sent" in text and "line 2: null" in text and "project remove" in text
    assert await latest_project_config(settings, "p2") is None


async def test_workflow_events_of_a_project_that_does_not_distribute_say_so(
    listed: Deployment,
) -> None:
    settings = listed.settings
    await _send_raw(settings, PROJECT, orjson.dumps(CONFIGURED.to_dict()))
    joined = await asyncio.to_thread(_cli, settings, "annotators", "join", PROJECT, "zed")
    assert joined.exit_code == 0, joined.output
    text = " ".join(joined.output.split())
    assert "sent 1 'joined' events" in text
    assert f"project {PROJECT} does not distribute its tasks" in text

    await _send_raw(settings, PROJECT, orjson.dumps(replace(CONFIGURED, distribute=True)
                                                    .to_dict()))
    again = await asyncio.to_thread(_cli, settings, "tasks", "import", PROJECT, "t1")
    assert again.exit_code == 0, again.output
    assert "does not distribute" not in again.output
