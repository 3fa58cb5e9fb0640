"""A Label Studio export streamed through the worker scores exactly as ``score_export``.

Issue 3: the stream scores every supported type through the same code, incrementally,
and ``quorum score`` (built on ``score_export``) gives the same numbers as the stream.
The export mixes bounding boxes (some rotated), a single-choice tag, a text area and
skipped annotations; one project is scored pairwise, another with consensus.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from agreement import ScoringConfig, read_export, score_export
from streams.cli import app
from streams.export_events import annotation_events
from streams.models.outputs import TASK_QUALITY
from streams.models.project import ProjectConfig, project_config_from_dict
from streams.operations import project_tasks
from streams.report import build_report, report_to_json
from streams.settings import Settings
from streams.state.task import TaskRecord
from streams.worker_process import WorkerProcess

from .pipeline import Deployment, by_schema

pytestmark = pytest.mark.integration

LABEL_CONFIG = """
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="boxes" toName="image">
    <Label value="Car"/><Label value="Person"/>
  </RectangleLabels>
  <Choices name="weather" toName="image" choice="single">
    <Choice value="sunny"/><Choice value="rainy"/><Choice value="foggy"/>
  </Choices>
  <TextArea name="caption" toName="image"/>
</View>
"""

CAPTIONS = ["a red car", "a red car parked", "two people walking", "a car and a person", ""]


def _box(rng: random.Random, x: float, y: float, label: str) -> dict[str, Any]:
    jitter = [rng.uniform(-3, 3) for _ in range(4)]
    return {
        "id": f"r{rng.randrange(10**6)}",
        "from_name": "boxes",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": 1280,
        "original_height": 720,
        "value": {
            "x": x + jitter[0],
            "y": y + jitter[1],
            "width": 20 + jitter[2],
            "height": 15 + jitter[3],
            "rotation": rng.choice([0, 0, 0, 12.5]),
            "rectanglelabels": [label],
        },
    }


def _annotation(rng: random.Random, annotation_id: int, annotator: int, truth: dict) -> dict:
    careless = rng.random() < 0.3
    boxes = [
        _box(rng, x, y, label if not careless or rng.random() < 0.7 else "Person")
        for x, y, label in truth["boxes"]
        if not careless or rng.random() < 0.8
    ]
    weather = truth["weather"] if not careless else rng.choice(["sunny", "rainy", "foggy"])
    result = [
        *boxes,
        {"from_name": "weather", "to_name": "image", "type": "choices",
         "value": {"choices": [weather]}},
    ]
    if rng.random() < 0.8:
        caption = truth["caption"] if not careless else rng.choice(CAPTIONS)
        result.append({"from_name": "caption", "to_name": "image", "type": "textarea",
                       "value": {"text": [caption]}})
    return {
        "id": annotation_id,
        "completed_by": annotator,
        "result": result,
        "was_cancelled": rng.random() < 0.05,
        "ground_truth": False,
        "created_at": "2026-11-28T10:00:00.000000Z",
        "updated_at": "2026-11-28T10:05:00.000000Z",
        "lead_time": rng.uniform(5, 60),
    }


def make_export(seed: int, tasks: int) -> list[dict[str, Any]]:
    """A Label Studio JSON export: each task annotated by 2-4 of 5 annotators."""
    rng = random.Random(seed)
    export = []
    next_id = 1000
    for task_id in range(1, tasks + 1):
        truth = {
            "boxes": [
                (rng.uniform(0, 70), rng.uniform(0, 70), rng.choice(["Car", "Person"]))
                for _ in range(rng.randint(1, 3))
            ],
            "weather": rng.choice(["sunny", "rainy", "foggy"]),
            "caption": rng.choice(CAPTIONS[:-1]),
        }
        annotations = []
        for annotator in rng.sample(range(1, 6), rng.randint(2, 4)):
            annotations.append(_annotation(rng, next_id, annotator, truth))
            next_id += 1
        if task_id % 4 == 0 and not annotations[0]["was_cancelled"]:
            annotations[0]["ground_truth"] = True  # a reviewer's answer on every 4th task
        export.append({
            "id": task_id,
            "data": {"image": f"/data/upload/1/{task_id}.jpg"},
            "annotations": annotations,
            "predictions": [],
        })
    return export


async def test_streamed_export_scores_as_score_export(
    deployment: Deployment, start_worker: Callable[[Settings], WorkerProcess]
) -> None:
    export = make_export(seed=3, tasks=60)
    worker = start_worker(deployment.settings)
    await worker.wait_owning(deployment.settings.partitions)
    configs: dict[str, ProjectConfig] = {}
    for project, methodology in (("ls-pairwise", "pairwise"), ("ls-consensus", "consensus")):
        configs[project] = project_config_from_dict({
            "schema": "quorum.project/v1",
            "project_id": project,
            "annotations_per_task": 3,
            "agreement_threshold": 0.6,
            "label_config": LABEL_CONFIG,
            "methodology": methodology,
        })
    # Ground truth scored against, not with: Quorum's own scoring object.
    without_truth = ScoringConfig.from_label_studio(LABEL_CONFIG, include_ground_truth=False)
    configs["ls-no-truth"] = project_config_from_dict({
        "schema": "quorum.project/v1",
        "project_id": "ls-no-truth",
        "annotations_per_task": 3,
        "scoring": without_truth.to_dict(),
    })
    for config in configs.values():
        await deployment.configure(config)
    events = [e for project in configs for e in annotation_events(export, project)]
    await deployment.send(events)
    await deployment.wait_applied()
    outputs = await deployment.read_outputs(("task-quality",), at_least=len(events))
    quality = by_schema(outputs, TASK_QUALITY)
    assert len({e["event_id"] for e in quality}) == len(events)

    states = await deployment.task_states()
    for project, config in configs.items():
        expected = score_export(export, config.scoring)
        last: dict[str, dict[str, Any]] = {}
        for event in quality:
            if event["project_id"] == project:
                last[event["task_id"]] = event
        assert set(last) == {str(task_id) for task_id in expected}
        dimensions_seen = set()
        for task_id, score in expected.items():
            event = last[str(task_id)]
            # Exact equality: the stream's incremental numbers are the offline numbers.
            assert event["agreement"] == score.overall, (project, task_id)
            assert event["dimensions"] == score.dimensions, (project, task_id)
            dimensions_seen |= set(score.dimensions)
            field = deployment.keys.task_field(project, str(task_id))
            [stored] = [doc for key, doc in states.items() if key.endswith(f"/{field}")]
            record = TaskRecord.from_json(stored, scoring=config.scoring)
            assert record.agreement.score == score.overall
            assert record.agreement.dimensions == score.dimensions
        assert dimensions_seen == {"boxes", "weather", "caption"}
        # Each submission's agreement with the task's ground truth, as the report has it.
        truth_scores = [e["ground_truth_agreement"] for e in last.values()
                        if e["ground_truth_agreement"] is not None]
        assert truth_scores, "no task-quality event was scored against ground truth"
        overall = [s.overall for s in expected.values() if s.overall is not None]
        # The export is not degenerate: tasks agree, partly agree and disagree.
        assert min(overall) < 0.5 < max(overall)

        # `quorum stats` reads the same state back: the report of `quorum score`.
        held = await project_tasks(deployment.settings, project)
        from_stream = build_report(held, config.scoring)
        from_export = build_report(read_export(export), config.scoring)
        assert {str(row.id): (row.score, row.dimensions) for row in from_stream.tasks} == {
            str(row.id): (row.score, row.dimensions) for row in from_export.tasks
        }
        stream_json, export_json = report_to_json(from_stream), report_to_json(from_export)
        for part in ("tags", "annotators", "agreement_matrix", "summary"):
            assert stream_json[part] == export_json[part], part

    # Leaving ground truth out changes some tasks' scores: the setting is not a no-op.
    with_truth = score_export(export, configs["ls-pairwise"].scoring)
    no_truth = score_export(export, configs["ls-no-truth"].scoring)
    assert any(with_truth[t].overall != no_truth[t].overall for t in with_truth)

    env = {
        "QUORUM_TOPIC_PREFIX": deployment.settings.topic_prefix,
        "QUORUM_REDIS_URL": deployment.settings.redis_url,
        "QUORUM_KAFKA_BOOTSTRAP": deployment.settings.kafka_bootstrap,
    }
    # The command runs its own event loop: in a thread, away from this test's loop.
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["stats", "ls-consensus", "--lowest", "3"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "3 lowest tasks" in result.output and "Krippendorff" in result.output
    missing = await asyncio.to_thread(
        CliRunner().invoke, app, ["stats", "no-such-project"], env=env
    )
    assert missing.exit_code == 1
    assert "no task of project 'no-such-project'" in missing.output


async def test_an_exports_predictions_score_the_model_of_a_tracked_project(
    deployment: Deployment, start_worker: Callable[[Settings], WorkerProcess], tmp_path: Any,
) -> None:
    """`quorum send-export` streams the predictions too: a project that tracks its
    quality (as `connect` configures one) gets its model version scored against the
    annotators, while the predictions count toward no overlap."""
    settings = deployment.settings
    worker = start_worker(settings)
    await worker.wait_owning(settings.partitions)
    await deployment.configure(ProjectConfig("ls-models", annotations_per_task=2,
                                             agreement_threshold=0.5, track_quality=True))
    choice = [{"from_name": "s", "to_name": "t", "type": "choices",
               "value": {"choices": ["pos"]}}]
    other = [{**choice[0], "value": {"choices": ["neg"]}}]
    # Both annotators say pos on task 1 and the model agrees; on task 2 they say pos
    # and neg, and the model says neg. Prediction ids repeat annotation ids, as in Label
    # Studio, which numbers them apart.
    export = [
        {"id": 1, "data": {}, "annotations": [
            {"id": 1, "completed_by": 1, "result": choice},
            {"id": 2, "completed_by": 2, "result": choice}],
         "predictions": [{"id": 1, "model_version": "m1", "result": choice}]},
        {"id": 2, "data": {}, "annotations": [
            {"id": 3, "completed_by": 1, "result": choice},
            {"id": 4, "completed_by": 2, "result": other}],
         "predictions": [{"id": 2, "model_version": "m1", "result": other}]},
    ]
    path = tmp_path / "export.json"
    path.write_bytes(orjson.dumps(export))
    env = {"QUORUM_TOPIC_PREFIX": settings.topic_prefix, "QUORUM_REDIS_URL": settings.redis_url,
           "QUORUM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
    sent = await asyncio.to_thread(CliRunner().invoke, app,
                                   ["send-export", str(path), "--project", "ls-models"], env=env)
    assert sent.exit_code == 0, sent.output
    assert "sent 6 annotation events" in sent.output  # 4 annotations, 2 predictions
    await deployment.wait_applied()
    outputs = await deployment.read_outputs(("model-quality", "task-completed",
                                             "review-requests"), at_least=3)
    models = [e for e in outputs if e["schema"] == "quorum.model-quality/v1"]
    assert models, outputs
    # Task 1: 1 against both; task 2: 1 with the annotator who said neg, 0 with the other.
    assert (models[-1]["model_version"], models[-1]["annotators_agreement"],
            models[-1]["annotators_tasks"]) == ("m1", 0.75, 2)
    # Two annotations made each task's overlap of 2: the predictions took no seat.
    decided = {e["task_id"]: e["schema"] for e in outputs if e["schema"] in (
        "quorum.task-completed/v1", "quorum.review-requested/v1")}
    assert decided == {"1": "quorum.task-completed/v1", "2": "quorum.review-requested/v1"}
