"""Issue 4's scenario on the real Kafka and Redis: 2,000 tasks, overlap 3, threshold 0.7,
up to 2 more annotators, 12 simulated annotators of known accuracy (two of them poor)
pulling from the label stream, and a simulated reviewer. The invariants are checked over
every event the worker emitted."""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable

import aiohttp
import pytest

from streams.models.project import ProjectConfig
from streams.models.workflow import annotator_event, task_event
from streams.settings import Settings
from streams.worker_process import WorkerProcess

from .floor import Floor
from .pipeline import Deployment
from .test_workflow import _produce_workflow

TASKS = 2000
OVERLAP, THRESHOLD, MAX_ADDITIONAL = 3, 0.7, 2
LABELS = ("pos", "neg", "neu")
# Ten annotators from expert to mediocre, and two poor ones (u10, u11) near chance
# (3 labels). The spread is what a reliability-weighted vote can use: with ten equally
# good annotators it would have little to weigh.
ACCURACY = {f"u{i}": acc for i, acc in enumerate(
    (0.95, 0.92, 0.9, 0.85, 0.8, 0.75, 0.7, 0.7, 0.65, 0.6, 0.35, 0.3))}
POOR = {"u10", "u11"}
PROJECT = "scenario"


async def test_labeling_operation_scenario(
    deployment: Deployment, start_worker: Callable[[Settings], WorkerProcess]
) -> None:
    settings = deployment.settings
    rng = random.Random(11)
    truth = {f"t{i}": rng.choice(LABELS) for i in range(TASKS)}
    worker = start_worker(settings)
    await worker.wait_owning(settings.partitions)
    await worker.wait_owning(settings.partitions, workflow=True)
    await deployment.configure(ProjectConfig(
        PROJECT, annotations_per_task=OVERLAP, agreement_threshold=THRESHOLD,
        max_additional_annotators=MAX_ADDITIONAL, distribute=True,
        # Rejected annotations leave the task for good: every label compared below is
        # the one the annotator first gave (requeue_to_annotator would have them redo it).
        reject_mode="remove"))
    await _produce_workflow(settings, [annotator_event(PROJECT, a, "joined")
                                          for a in ACCURACY])
    await _produce_workflow(settings, [task_event(PROJECT, t, "imported") for t in truth])

    floor = Floor(settings, worker.web_url, PROJECT, truth, ACCURACY, LABELS)
    await floor.run(timeout_s=900)

    assert not floor.events("quorum.dead-letter/v1")
    # No annotator twice on a task; budgets respected.
    assigned = [(e["task_id"], e["annotator"]) for e in floor.events("quorum.assignment/v1")
                if e["kind"] == "assigned"]
    assert len(assigned) == len(set(assigned)), "an annotator was assigned a task twice"
    per_task: dict[str, set[str]] = defaultdict(set)
    for task, annotator in assigned:
        per_task[task].add(annotator)
    assert max(len(a) for a in per_task.values()) <= OVERLAP + MAX_ADDITIONAL
    for task, labels in floor.sent.items():
        assert set(labels) <= per_task[task], f"{task}: annotated without an assignment"
    # Each completed task met the rule; each review request had spent its budget.
    for event in floor.events("quorum.task-completed/v1"):
        assert len(event["annotators"]) >= OVERLAP
        assert event["agreement"] >= THRESHOLD or \
            len(event["annotators"]) == OVERLAP + MAX_ADDITIONAL
    for event in floor.events("quorum.review-requested/v1"):
        assert event["agreement"] < THRESHOLD
        assert len(event["annotators"]) == OVERLAP + MAX_ADDITIONAL
    assert floor.decided == TASKS

    # The poor annotators are the ones scored lowest: by their estimated reliability, and
    # by the reviewer's verdicts (every task with a disagreement went to review here:
    # with a 0.7 threshold one dissenter among five already fails it).
    quality = _last_by_annotator(floor.events("quorum.annotator-quality/v1"))
    for score in ("reliability", "performance_score"):
        ranked = sorted(quality, key=lambda a: float(quality[a][score]))  # type: ignore[arg-type]
        assert set(ranked[:2]) == POOR, \
            f"lowest {score}: {[(a, quality[a][score]) for a in ranked]}"

    # Lead times (Label Studio's `lead_time` on each annotation event): each annotator's
    # mean and median over their annotations, a revision replacing its annotation's.
    for name in ACCURACY:
        spent = sorted(v for k, v in floor.lead_times.items() if k.endswith(f"-{name}"))
        assert quality[name]["lead_time_mean"] == pytest.approx(statistics.fmean(spent))
        assert quality[name]["lead_time_median"] == pytest.approx(statistics.median(spent))

    # Low-agreement tasks go first to the more reliable annotators: the poor ones get a
    # smaller share of them than of the tasks overall.
    offers = [e for e in floor.events("quorum.assignment/v1") if e["kind"] == "assigned"]
    low = [e for e in offers if e["queue"] == "low_agreement"]
    poor_low = sum(e["annotator"] in POOR for e in low) / len(low)
    poor_all = sum(e["annotator"] in POOR for e in offers) / len(offers)
    assert poor_low < poor_all, f"poor annotators got {poor_low:.1%} of low-agreement " \
        f"offers and {poor_all:.1%} of all"

    # Review criteria (one accepted annotation): every task the reviewer accepted an
    # annotation of is reviewed, once; the review stream serves the rest, lowest first.
    accepted = {t for t in floor.reviewed
                if any(label == truth[t] for label in floor.sent[t].values())}
    reviewed_events = floor.events("quorum.task-reviewed/v1")
    assert sorted(e["task_id"] for e in reviewed_events) == sorted(accepted)
    async with aiohttp.ClientSession() as session:
        url = f"{worker.web_url}/projects/{PROJECT}/reviewers/lead/next-review"
        async with session.get(url) as response:
            assert response.status == 200, await response.text()
            next_review = (await response.json())["task_id"]
    assert next_review is not None and next_review not in accepted

    # Reliability-weighted consensus labels beat majority vote.
    consensus = {}
    for event in sorted(floor.events("quorum.consensus-label/v1"), key=_order):
        consensus[event["task_id"]] = event["label"]
    weighted = sum(consensus.get(t) == truth[t] for t in truth) / TASKS
    majority = sum(_majority(floor.sent[t], rng) == truth[t] for t in truth) / TASKS
    wrong = {t: (truth[t], consensus.get(t), dict(floor.sent[t])) for t in truth
             if consensus.get(t) != truth[t]
             or _majority(floor.sent[t], random.Random(1)) != truth[t]}
    print(f"scenario: {TASKS} tasks decided ({len(floor.completed)} completed, "
          f"{len(floor.reviewed)} reviewed), {sum(len(v) for v in floor.sent.values())} "
          f"annotations, {floor.pulls} label-stream requests; consensus accuracy: "
          f"reliability-weighted {weighted:.4f}, majority vote {majority:.4f}; poor "
          f"annotators' share of low-agreement offers {poor_low:.1%}, of all {poor_all:.1%}")
    assert weighted > majority, f"weighted {weighted:.3f} vs majority {majority:.3f}: {wrong}"


def _order(event: dict[str, object]) -> tuple[int, ...]:
    """Output ids are <partition>:<offset>:<rank> (w-prefixed for the workflow)."""
    return tuple(int(p.lstrip("wr")) for p in str(event["event_id"]).split(":"))


def _last_by_annotator(events: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    last: dict[str, dict[str, object]] = {}
    for event in sorted(events, key=_order):
        last[str(event["annotator"])] = event
    return last


def _majority(labels: dict[str, str], rng: random.Random) -> str | None:
    if not labels:
        return None
    counts = Counter(labels.values()).most_common()
    top = [label for label, n in counts if n == counts[0][1]]
    return rng.choice(sorted(top))  # ties broken at random, as a plain vote would
