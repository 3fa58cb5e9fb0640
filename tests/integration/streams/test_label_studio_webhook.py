"""Label Studio's webhooks, posted to a running worker, score as worked out by hand.

The payloads are real ones captured from Label Studio 1.23.2 (three annotators, an update,
two deletions); they go over HTTP to ``POST /label-studio/webhook`` of a real worker,
which sends them through real Kafka into the state in real Redis.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from streams import topics
from streams.cli import app
from streams.label_studio_webhook import WEBHOOK_PATH
from streams.models.outputs import DEAD_LETTER, TASK_QUALITY
from streams.models.project import ProjectConfig, project_config_from_dict
from streams.operations import tasks_below
from streams.worker_process import WorkerProcess
from tests.unit.agreement.test_label_studio import EXPECTED_FINAL

from .pipeline import Deployment, by_schema

pytestmark = pytest.mark.integration

CAPTURE = (Path(__file__).resolve().parents[2] / "fixtures" / "label-studio"
           / "webhooks-label-studio-1.23.2-three-annotators.jsonl")
PROJECT = "ls-sentiment"
TOKEN = "hook-secret"


async def _post_all(session: aiohttp.ClientSession, url: str,
                    bodies: list[bytes]) -> list[dict[str, Any]]:
    answers = []
    for body in bodies:
        async with session.post(url, data=body,
                                headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 200, await response.text()
            answers.append(await response.json())
    return answers


async def _config(deployment: Deployment) -> ProjectConfig:
    stored = await deployment.redis.hget(deployment.keys.project_configs(), PROJECT)
    assert stored is not None
    return project_config_from_dict(orjson.loads(stored))


async def _agreements(deployment: Deployment) -> dict[int, float]:
    rows = await tasks_below(deployment.settings, 2.0, project_id=PROJECT, limit=1000)
    return {int(row.task_id): row.agreement for row in rows}


async def test_webhooks_stream_into_the_hand_checked_scores(
    deployment: Deployment, start_worker: Callable[..., WorkerProcess], tmp_path: Path
) -> None:
    settings = deployment.settings.model_copy(update={"webhook_token": SecretStr(TOKEN)})
    worker = start_worker(settings)
    await worker.wait_owning(settings.partitions)
    await worker.wait_owning(settings.partitions, workflow=True)
    bodies = CAPTURE.read_bytes().splitlines()
    url = f"{worker.web_url}{WEBHOOK_PATH}?project={PROJECT}"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=bodies[1],
                                headers={"Authorization": "Bearer wrong"}) as response:
            assert response.status == 401
            assert "QUORUM_WEBHOOK_TOKEN" in (await response.json())["error"]
        answers = await _post_all(session, url, bodies)

        # TASKS_CREATED first: the project does not distribute, so it is only acknowledged.
        assert answers[0]["ignored"] is not None and answers[0]["task_events"] == 0
        # The first payload configured the project from its Label Studio settings, once.
        assert [a["configured"] for a in answers].count(True) == 1 and answers[0]["configured"]
        config = await _config(deployment)
        assert config.annotations_per_task == 3 and set(config.scoring.tags) == {"sentiment"}
        assert sum(a["annotation_events"] for a in answers) == 28 + 1 + 2
        assert all(a["refused"] == [] for a in answers)

        await deployment.wait_applied()
        assert await _agreements(deployment) == pytest.approx(
            {task: score for task, score in EXPECTED_FINAL.items()})
        outputs = await deployment.read_outputs((topics.TASK_QUALITY,), at_least=31)
        assert len(by_schema(outputs, TASK_QUALITY)) == 31  # one per event applied
        states = await deployment.task_states()

        # Label Studio's settings change (another choice, overlap 2): the configuration
        # set from them follows, until one is set by hand.
        project = orjson.loads(bodies[1])["project"]
        project.update(maximum_annotations=2, label_config=project["label_config"].replace(
            '<Choice value="neu"/>', '<Choice value="neu"/><Choice value="mixed"/>'))
        [followed] = await _post_all(session, url, [orjson.dumps(
            {"action": "PROJECT_UPDATED", "project": project})])
        assert followed["configured"] and followed["ignored"] is not None
        assert (await _config(deployment)).annotations_per_task == 2
        by_hand = dataclasses.replace(await _config(deployment), annotations_per_task=3)
        await deployment.configure(by_hand)
        project.update(maximum_annotations=4)
        [left] = await _post_all(session, url, [orjson.dumps(
            {"action": "PROJECT_UPDATED", "project": project})])
        assert not left["configured"]
        assert await _config(deployment) == by_hand

        # Delivered again, the whole capture changes nothing and sends no quality event.
        again = await _post_all(session, url, bodies)
        assert all(a["refused"] == [] for a in again)
        await deployment.wait_applied()
        assert await deployment.task_states() == states
        outputs = await deployment.read_outputs((topics.TASK_QUALITY,), at_least=31)
        assert len(by_schema(outputs, TASK_QUALITY)) == 31

        # A task deleted in Label Studio leaves the project's figures: every annotation
        # the stream holds for it is deleted (Label Studio sends no annotation deletions).
        project = orjson.loads(bodies[-1])["project"]
        [gone] = await _post_all(session, url, [orjson.dumps(
            {"action": "TASKS_DELETED", "project": project, "tasks": [{"id": 22}]})])
        assert gone["annotation_events"] == 3 and gone["task_events"] == 0
        await deployment.wait_applied()
        expected = {task: score for task, score in EXPECTED_FINAL.items() if task != 22}
        assert await _agreements(deployment) == pytest.approx(expected)

        # An annotation streamed from an export can be deleted by webhook: send-export
        # keeps its task as the receiver does.
        export = [{"id": 40, "data": {"text": "fine"}, "annotations": [
            {"id": 500, "completed_by": 2, "updated_at": "2026-11-28T08:00:00Z",
             "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                         "value": {"choices": ["pos"]}}]}]}]
        path = tmp_path / "export.json"
        path.write_bytes(orjson.dumps(export))
        env = {"QUORUM_TOPIC_PREFIX": settings.topic_prefix,
               "QUORUM_REDIS_URL": settings.redis_url,
               "QUORUM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
        result = await asyncio.to_thread(
            CliRunner().invoke, app, ["send-export", str(path), "--project", PROJECT], env=env)
        assert result.exit_code == 0, result.output
        await deployment.wait_applied()
        assert (await _agreements(deployment))[40] == 1.0
        [deleted] = await _post_all(session, url, [orjson.dumps(
            {"action": "ANNOTATIONS_DELETED", "project": project, "annotations": [{"id": 500}]})])
        assert deleted["annotation_events"] == 1 and deleted["refused"] == []
        await deployment.wait_applied()
        assert 40 not in await _agreements(deployment)

        # A delete of an annotation this receiver never saw: acknowledged, refused with
        # the reason in the dead-letter topic, and the project's secret token not kept.
        unknown = orjson.loads(bodies[-1])
        unknown["annotations"] = [{"id": 999}]
        unknown["project"]["token"] = "the-project-secret"
        [answer] = await _post_all(session, url, [orjson.dumps(unknown)])
        assert answer["annotation_events"] == 0 and len(answer["refused"]) == 1
        async with session.post(url, data=b"{not json",
                                headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 400
            assert "not a Label Studio webhook payload" in (await response.json())["error"]

    letters = by_schema(await deployment.read_outputs((topics.DEAD_LETTER,), at_least=2),
                        DEAD_LETTER)
    reasons = sorted(letter["reason"] for letter in letters)
    assert len(reasons) == 2
    assert reasons[0].startswith("annotation 999 of project ls-sentiment was deleted")
    assert reasons[1].startswith("not a Label Studio webhook payload: unexpected")
    assert all(letter["topic"] == WEBHOOK_PATH for letter in letters)
    assert not any("the-project-secret" in letter["original"] for letter in letters)
    assert await _agreements(deployment) == pytest.approx(expected)
    log = worker.log()
    assert ("Label Studio webhook ANNOTATIONS_DELETED of project ls-sentiment: "
            "1 annotation events, 0 task events") in log
    assert "Traceback" not in log
