"""The read API on the real Kafka and Redis: three annotators' labels streamed through a
worker, then its annotator report (figures and the agreement matrix) and its model report,
checked against agreements worked out by hand; and the CLI printing them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from typer.testing import CliRunner

from streams import topics
from streams.cli import app
from streams.models.project import ProjectConfig
from streams.settings import Settings
from streams.worker_process import WorkerProcess

from .pipeline import Deployment, annotation, next_task
from .test_honeypots import _wait_workflow_applied

pytestmark = pytest.mark.integration

PROJECT = "rp1"
# Exact-match choices: a pair agrees (1) or not (0).
LABELS = {
    "t0": {"u1": "pos", "u2": "pos", "u3": "pos"},
    "t1": {"u1": "pos", "u2": "pos", "u3": "neg"},
    "t2": {"u1": "neg", "u2": "pos", "u3": "neg"},
    "t3": {"u1": "pos", "u2": "pos"},
}
# Per pair: its scores over the tasks both labeled.
#   u1/u2: t0 1, t1 1, t2 0, t3 1 -> 3/4;  u1/u3: 1, 0, 1 -> 2/3;  u2/u3: 1, 0, 0 -> 1/3
PAIRS = [("u1", "u2", 0.75, 4), ("u1", "u3", 2 / 3, 3), ("u2", "u3", 1 / 3, 3)]
# Per annotator, the mean of their pair scores: u1 (1+1+1+0+0+1+1)/7, u2 (1+1+1+0+0+0+1)/7,
# u3 (1+1+0+0+1+0)/6.
AGREEMENT = {"u1": 5 / 7, "u2": 4 / 7, "u3": 0.5}
SUBMITTED = {"u1": 4, "u2": 4, "u3": 3}
# Model v1 says "pos" everywhere. Against the annotators, per task: 1, 2/3, 1/3, 1;
# against the majority: pos, pos, neg, pos -> 1, 1, 0, 1.
MODEL = {"annotators": 0.75, "consensus": 0.75}


def events() -> list[dict[str, Any]]:
    """Every task's annotations, then its prediction (same key: applied in this order)."""
    sent = []
    for task, labels in LABELS.items():
        sent += [annotation(task, f"{task}-{u}", u, label, project=PROJECT)
                 for u, label in labels.items()]
        prediction = annotation(task, f"{task}-v1", "x", "pos", project=PROJECT)
        del prediction["completed_by"]
        prediction["model_version"] = "v1"
        sent.append(prediction)
    return sent


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with session.get(url) as response:
        return response.status, await response.json()


async def settled(session: aiohttp.ClientSession, url: str,
                  done: Callable[[dict[str, Any]], bool], timeout_s: float = 60
                  ) -> dict[str, Any]:
    """The report once ``done`` says every fact reached it (facts travel from the
    annotations agent through the workflow topic)."""
    deadline = time.monotonic() + timeout_s
    status = 0
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, body = await get(session, url)
        if status == 200 and done(body):
            return body
        # 404 until the project's first fact reaches the workflow agent.
        assert status in (200, 404, 409, 503), body
        await asyncio.sleep(0.2)
    raise AssertionError(f"{url} did not settle in {timeout_s}s: {status} {body}")


def _annotators_done(body: dict[str, Any]) -> bool:
    return sum(row["submitted"] for row in body["annotators"]) == sum(SUBMITTED.values())


def _models_done(body: dict[str, Any]) -> bool:
    return [v["predictions"] for v in body["versions"]] == [len(LABELS)]


# A project whose tasks Quorum hands out, and one that only tracks its quality (Label
# Studio's, say): the same reports.
@pytest.mark.parametrize("distribute", [True, False], ids=["distributed", "tracked"])
async def test_the_reports_match_the_streamed_labels(
    deployment: Deployment,
    start_owning_worker: Callable[[Settings], Awaitable[WorkerProcess]],
    distribute: bool,
) -> None:
    settings = deployment.settings
    worker = await start_owning_worker(settings)
    await deployment.configure(ProjectConfig(PROJECT, annotations_per_task=3,
                                             distribute=distribute,
                                             track_quality=not distribute))
    await deployment.send(events())

    base = f"{worker.web_url}/projects"
    async with aiohttp.ClientSession() as session:
        report = await settled(session, f"{base}/{PROJECT}/annotators", _annotators_done)
        models = await settled(session, f"{base}/{PROJECT}/models", _models_done)
        unknown = await get(session, f"{base}/nope/annotators")
        stream = await next_task(session, worker, PROJECT, "u1")
        nowhere = await next_task(session, worker, "nope", "u1")

    assert report["matrix"]["annotators"] == ["u1", "u2", "u3"]
    assert [(p["a"], p["b"], p["agreement"], p["tasks"]) for p in report["matrix"]["pairs"]] \
        == [(a, b, pytest.approx(mean), tasks) for a, b, mean, tasks in PAIRS]
    rows = {row["annotator"]: row for row in report["annotators"]}
    assert {a: row["submitted"] for a, row in rows.items()} == SUBMITTED
    assert {a: row["agreement"] for a, row in rows.items()} == \
        {a: pytest.approx(mean) for a, mean in AGREEMENT.items()}
    assert all(row["skipped"] == 0 and row["paused"] is False for row in rows.values())

    (v1,) = models["versions"]
    assert (v1["model_version"], v1["predictions"], v1["previous_version"]) == ("v1", 4, None)
    for metric, mean in MODEL.items():
        assert (v1[f"{metric}_agreement"], v1[f"{metric}_tasks"]) == (pytest.approx(mean), 4)
    assert (v1["ground_truth_agreement"], v1["ground_truth_tasks"]) == (None, 0)
    assert sum(bucket["predictions"] for bucket in v1["timeline"]) == 4
    assert models["regressions"] == []

    status, body = unknown
    assert status == 404 and "'nope'" in body["error"]
    # The label stream says why it has nothing: u1 never joined the distributed project.
    assert (stream["task_id"], stream["reason"]) == (
        None, "not_a_member" if distribute else "not_distributed")
    assert (nowhere["task_id"], nowhere["reason"]) == (None, "no_tasks_imported")

    # The quality events are on their topics; a project Quorum does not distribute gets no
    # assignment, release or shortfall (its tasks never entered the distribution).
    outputs = await deployment.read_outputs((topics.ANNOTATOR_QUALITY, topics.MODEL_QUALITY,
                                             topics.ASSIGNMENTS), at_least=4)
    latest = {e["annotator"]: e for e in outputs
              if e["schema"] == "quorum.annotator-quality/v1"}
    assert {a: e["submitted"] for a, e in latest.items()} == SUBMITTED
    assert [e["model_version"] for e in outputs
            if e["schema"] == "quorum.model-quality/v1"][-1:] == ["v1"]
    assignments = [e for e in outputs if e["schema"] == "quorum.assignment/v1"]
    if not distribute:
        assert assignments == []

    # The CLI prints the same figures from the same worker.
    runner = CliRunner()
    printed = runner.invoke(app, ["annotators", "report", PROJECT, "--url", worker.web_url],
                            env={"COLUMNS": "200"})
    assert printed.exit_code == 0, printed.output
    assert "0.750" in printed.output and "0.714" in printed.output  # u1/u2, u1's agreement
    printed = runner.invoke(app, ["models", "report", PROJECT, "--url", worker.web_url],
                            env={"COLUMNS": "200"})
    assert printed.exit_code == 0, printed.output
    assert "v1" in printed.output and "0.750 (4)" in printed.output


async def test_quality_tracked_later_counts_the_history_after_a_rebuild(
    deployment: Deployment,
    start_owning_worker: Callable[[Settings], Awaitable[WorkerProcess]],
) -> None:
    """A project streamed for a while before its quality was tracked: the annotator
    figures count from then on; `quorum rebuild` brings the earlier annotations in, and
    the report is then the one of a project tracked from the start (above)."""
    settings = deployment.settings
    worker = await start_owning_worker(settings)
    await deployment.configure(ProjectConfig(PROJECT, annotations_per_task=3))
    sent = events()
    half = len(sent) // 2  # t0 and t1, with their predictions
    await deployment.send(sent[:half])
    await deployment.wait_applied()
    await deployment.configure(ProjectConfig(PROJECT, annotations_per_task=3,
                                             track_quality=True))
    await deployment.send(sent[half:])
    await deployment.wait_applied()

    url = f"{worker.web_url}/projects/{PROJECT}/annotators"
    later = {"u1": 2, "u2": 2, "u3": 1}  # what t2 and t3 hold
    async with aiohttp.ClientSession() as session:
        before = await settled(session, url, lambda body: sum(
            row["submitted"] for row in body["annotators"]) == sum(later.values()))
    assert {row["annotator"]: row["submitted"] for row in before["annotators"]} == later

    worker.stop()
    env = {"QUORUM_TOPIC_PREFIX": settings.topic_prefix, "QUORUM_REDIS_URL": settings.redis_url,
           "QUORUM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
    rebuilt = await asyncio.to_thread(CliRunner().invoke, app, ["rebuild", "--yes"], env=env)
    assert rebuilt.exit_code == 0, rebuilt.output
    worker = await start_owning_worker(settings)
    await deployment.wait_applied()
    await _wait_workflow_applied(deployment)  # every fact, old and replayed: none counted twice
    async with aiohttp.ClientSession() as session:
        report = await settled(session, f"{worker.web_url}/projects/{PROJECT}/annotators",
                               lambda body: True)
        models = await settled(session, f"{worker.web_url}/projects/{PROJECT}/models",
                               lambda body: True)
    rows = {row["annotator"]: row for row in report["annotators"]}
    assert {a: row["submitted"] for a, row in rows.items()} == SUBMITTED
    assert {a: row["agreement"] for a, row in rows.items()} == \
        {a: pytest.approx(mean) for a, mean in AGREEMENT.items()}
    (v1,) = models["versions"]
    assert (v1["annotators_agreement"], v1["annotators_tasks"]) == (
        pytest.approx(MODEL["annotators"]), 4)
