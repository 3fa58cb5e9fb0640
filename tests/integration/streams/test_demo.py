"""The main job (`make demo`, `quorum demo`) end to end, small: it runs, resolves every
task, and what Quorum measures (agreement from the stream's records, and the live
reliability estimate) ranks the simulated annotators as their hidden accuracy does.
"""

from __future__ import annotations

import re

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from rich.console import Console

from streams import topics
from streams.demo import _reset, run_demo
from streams.settings import Settings

from .pipeline import Deployment, projects_committed

pytestmark = pytest.mark.integration

ANNOTATOR_ROW = re.compile(
    r"(annotator-\d+)\s*│\s*([\d.]+)\s*│\s*[\d,]+\s*│\s*([\d.]+)\s*│\s*([\d.]+)")
COMPLETED = re.compile(r"tasks completed\s*│\s*([\d,]+) of ([\d,]+)")
REVIEW = re.compile(r"sent to review[^│]*│\s*([\d,]+)")


def test_demo_resolves_every_task_and_ranks_the_annotators(settings: Settings) -> None:
    console = Console(record=True, width=200)
    run_demo(settings, tasks=400, annotators=5, seed=11, console=console)
    text = console.export_text()

    completed = COMPLETED.search(text)
    review = REVIEW.search(text)
    assert completed and review, text
    done, total = (int(group.replace(",", "")) for group in completed.groups())
    # Five annotators cover overlap 3 plus 2 more: every task ends completed or in review.
    assert total == 400
    assert done + int(review.group(1).replace(",", "")) == 400

    rows = {name: (float(accuracy), float(measured), float(reliability))
            for name, accuracy, measured, reliability in ANNOTATOR_ROW.findall(text)}
    assert len(rows) == 5, text
    best = max(rows.values())
    worst = min(rows.values())
    assert best[1] > worst[1], rows  # the most accurate agrees most with the others
    # The live reliability estimate (the project tracks quality) ranks them the same way.
    assert best[2] > worst[2], rows
    assert "annotator quality: every fact applied" in text
    assert "Krippendorff's alpha (nominal) of 'sentiment'" in text


async def test_the_reset_rewinds_the_workers_position_in_the_projects_topic(
    deployment: Deployment,
) -> None:
    """A second demo on the same broker: the topic deleted and created again at once can
    keep the last run's committed offsets, and the worker then skipped the new
    configuration (the demo failed with "did not apply the project configuration")."""
    demo = deployment.settings
    tps = [TopicPartition(demo.topic(topics.PROJECTS), p) for p in range(demo.partitions)]
    previous = AIOKafkaConsumer(bootstrap_servers=demo.kafka_bootstrap,
                                group_id=topics.worker_app_id(demo), enable_auto_commit=False)
    await previous.start()
    try:
        previous.assign(tps)
        await previous.commit({tp: 1 for tp in tps})  # the last run read one message
    finally:
        await previous.stop()
    assert [await projects_committed(demo, tp.partition) for tp in tps] == [1] * len(tps)
    await _reset(demo)
    assert [await projects_committed(demo, tp.partition) for tp in tps] == [0] * len(tps)
