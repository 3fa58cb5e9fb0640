"""Reviews on real Kafka and real Redis: a reject leaves the agreement, a fix counts, a
duplicate changes nothing, a review of an unknown annotation is dead-lettered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from streams.models.outputs import DEAD_LETTER, REASSIGN_REQUESTED, TASK_QUALITY
from streams.models.project import ProjectConfig
from streams.models.review import review_event
from streams.settings import Settings
from streams.state.task import REJECTED, TaskRecord
from streams.worker_process import WorkerProcess

from .pipeline import Deployment, annotation, by_schema

pytestmark = pytest.mark.integration

CONFIG = ProjectConfig("p1", annotations_per_task=3, agreement_threshold=0.7,
                       max_additional_annotators=1)
NEG = [{"from_name": "sentiment", "to_name": "text", "type": "choices",
        "value": {"choices": ["neg"]}}]


def review(annotation_id: str, action: str, **fields: Any) -> dict[str, Any]:
    return review_event("p1", "t", annotation_id, "lead", action,
                        event_id=f"{action}-{annotation_id}", revision=1, **fields)


async def record_of(deployment: Deployment) -> tuple[bytes, TaskRecord]:
    field = deployment.keys.task_field("p1", "t")
    found = [doc for key, doc in (await deployment.task_states()).items()
             if key.endswith(f"/{field}")]
    assert len(found) == 1, f"expected one stored record of task t, found {len(found)}"
    return found[0], TaskRecord.from_json(found[0])


async def step(deployment: Deployment, events: list[dict[str, Any]],
               outputs: int) -> list[dict[str, Any]]:
    """Send, wait until applied, and read the outputs: exactly ``outputs`` distinct ones."""
    await deployment.send(list(events))
    await deployment.wait_applied()
    published = await deployment.read_outputs(at_least=outputs)
    ids = {event["event_id"] for event in published}
    assert len(ids) == outputs, sorted(ids)
    return published


async def test_reviews_change_the_agreement_once(
    deployment: Deployment, start_worker: Callable[[Settings], WorkerProcess]
) -> None:
    worker = start_worker(deployment.settings)
    await worker.wait_owning(deployment.settings.partitions)
    await deployment.configure(CONFIG)

    # Three annotations, one disagreeing: 1/3, below 0.7 -> one more annotator.
    published = await step(deployment, [
        annotation("t", "a1", "u1", "pos"),
        annotation("t", "a2", "u2", "pos"),
        annotation("t", "a3", "u3", "neg"),
    ], outputs=4)
    assert by_schema(published, TASK_QUALITY)[-1]["agreement"] == pytest.approx(1 / 3)
    assert len(by_schema(published, REASSIGN_REQUESTED)) == 1

    # The reject: the stored agreement and the last task-quality event show a1 and a2.
    published = await step(deployment, [review("a3", "reject")], outputs=5)
    last = by_schema(published, TASK_QUALITY)[-1]
    assert (last["kind"], last["annotation_id"], last["source_event_id"]) == \
        ("reviewed", "a3", "reject-a3")
    # The reviewer decides from now on: the consensus's last decision stands, and no
    # new decision event is published (5 outputs = 4 before + this task-quality one).
    assert (last["agreement"], last["annotations"], last["annotators"], last["status"]) == \
        (1.0, 2, ["u1", "u2"], "reassign")
    assert len(by_schema(published, REASSIGN_REQUESTED)) == 1
    _, record = await record_of(deployment)
    assert record.agreement.ids == ["a1", "a2"]
    assert record.agreement.score == 1.0
    assert record.entries["a3"].status == REJECTED

    # The fix: a2's fixed result counts in place of what u2 submitted.
    published = await step(deployment, [review("a2", "fix_and_accept", result=NEG)],
                           outputs=6)
    last = by_schema(published, TASK_QUALITY)[-1]
    assert (last["kind"], last["agreement"], last["annotations"]) == ("reviewed", 0.0, 2)
    stored, record = await record_of(deployment)
    assert record.agreement.result_of("a2") == NEG
    assert record.agreement.score == 0.0
    assert record.verdicts["a2"].score == 0.0  # pos fixed to neg

    # A duplicate review changes nothing: no output, the same stored bytes.
    await step(deployment, [review("a3", "reject"), review("a2", "fix_and_accept", result=NEG)],
               outputs=6)
    assert (await record_of(deployment))[0] == stored

    # A review of an annotation never submitted is dead-lettered with the reason.
    unknown = review("a9", "accept")
    published = await step(deployment, [unknown], outputs=7)
    (letter,) = by_schema(published, DEAD_LETTER)
    assert "'a9'" in letter["reason"] and "unknown" in letter["reason"]
    assert orjson.loads(letter["original"]) == unknown
    assert (await record_of(deployment))[0] == stored
