"""``quorum demo``: Quorum's main job, end to end, on the real infrastructure.

Brings Kafka and Redis up, starts a worker, streams a simulated labeling operation
through it (3 annotators per task, more where they disagree, then review), answers the
worker's reassignment requests like a labeling team would, and prints a summary, with
the annotators' live quality (the project tracks it) next to their simulated accuracy.
Everything lives under the ``quorum-demo`` prefix, wiped at the start of each run, so
``QUORUM_TOPIC_PREFIX=quorum-demo quorum tasks below 0.5`` explores it afterwards.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from redis.asyncio import Redis
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agreement import ScoringConfig
from streams import infra, lag, topics
from streams.errors import QuorumError
from streams.kafka import delete_topics, ensure_topics, plain_producer
from streams.lag import total_lag
from streams.models.project import ProjectConfig
from streams.operations import (
    delete_state,
    input_lag,
    message_key,
    project_tasks,
    publish_project_config,
    rewind_group,
    tasks_below,
)
from streams.report import build_report
from streams.settings import Settings
from streams.simulation import LabelingOperation, default_annotators
from streams.state.keys import Keys
from streams.topics import all_topics
from streams.worker_process import WorkerProcess

DEMO_PREFIX = "quorum-demo"
PROJECT = "sentiment-reviews"
# Pairwise agreement of 3 annotators is 1, 1/3 or 0: 0.6 completes a task when all agree,
# or when 4 of 5 do (6 of 10 pairs) after the additional annotators. Quality tracked, as
# a team that wants to know who labels well would (and as `connect` sets it).
CONFIG = ProjectConfig(PROJECT, annotations_per_task=3, agreement_threshold=0.6,
                       max_additional_annotators=2, track_quality=True)
# How long the summary waits for the annotator figures (the workflow agent's facts).
_QUALITY_WAIT_S = 120.0
# Tasks whose first round is sent before the next chunk; reassignments interleave.
_CHUNK_TASKS = 500
# Give up waiting for the last tasks after this long without any output event.
_STALL_S = 20.0


@dataclass
class Tally:
    """What the demo saw on the output topics."""

    decisions: dict[str, str] = field(default_factory=dict)  # task -> last decision
    seen: dict[str, tuple[int, int]] = field(default_factory=dict)  # task -> newest event
    reassignments: int = 0
    dead_letters: list[str] = field(default_factory=list)
    unassignable: set[str] = field(default_factory=set)

    @property
    def resolved(self) -> int:
        return sum(1 for d in self.decisions.values() if d in ("completed", "review"))


def run_demo(
    settings: Settings, *, tasks: int, annotators: int, seed: int, console: Console
) -> None:
    """Run the main job and print its summary."""
    if tasks < 1:
        raise QuorumError("--tasks must be at least 1")
    console.print(f"[bold]Quorum demo[/bold]: {tasks:,} tasks, {annotators} annotators, "
                  f"overlap {CONFIG.annotations_per_task}, threshold "
                  f"{CONFIG.agreement_threshold}, up to {CONFIG.max_additional_annotators} "
                  "more annotators, then review")
    console.print("starting Kafka and Redis ...")
    infra.up(settings)
    demo = settings.model_copy(update={
        "topic_prefix": DEMO_PREFIX, "redis_prefix": "", "consumer_group": f"{DEMO_PREFIX}-g"})
    asyncio.run(_reset(demo))
    worker = WorkerProcess(demo, settings.data_dir / "demo-worker.log")
    try:
        console.print(f"starting a worker (log: {worker.log_path}) ...")
        asyncio.run(worker.wait_owning(demo.partitions))
        operation = LabelingOperation(PROJECT, tasks, default_annotators(annotators), seed)
        asyncio.run(_stream(demo, operation, console, worker.web_url))
    finally:
        worker.stop()


async def _reset(demo: Settings) -> None:
    """Remove the previous demo's topics and state, then create the topics afresh."""
    deleted = await delete_topics(demo)
    await delete_state(demo)
    redis = Redis.from_url(demo.redis_url)
    try:
        await redis.delete(Keys(demo.key_prefix).project_configs())
    finally:
        await redis.aclose()
    admin = AIOKafkaAdminClient(bootstrap_servers=demo.kafka_bootstrap)
    await admin.start()
    try:
        names = set(all_topics(demo))
        # A deleted topic takes a moment to go. Until it has, "creating" it again finds
        # the old one, which then vanishes under the demo (faust's own topic included:
        # the worker creates it when it starts).
        await _until_listed(admin, names | set(deleted), listed=False)
        for _ in range(100):
            try:
                await ensure_topics(demo)
                break
            except KafkaError:
                await asyncio.sleep(0.2)
        else:
            await ensure_topics(demo)
        # Clients that ask before the broker lists the new topics log errors: wait for it.
        await _until_listed(admin, names, listed=True)
    finally:
        await admin.close()
    # The previous run's worker committed its position in the projects topic. Deleted
    # and created again at once, the topic can keep it, and a worker resuming there
    # skipped this run's configuration (`rewind_group`).
    await rewind_group(demo, topics.worker_app_id(demo), [demo.topic(topics.PROJECTS)])


async def _until_listed(admin: AIOKafkaAdminClient, names: set[str], *, listed: bool) -> None:
    """Wait up to 10 s until the broker lists all of ``names`` (or, not ``listed``, none)."""
    for _ in range(100):
        present = names & set(await admin.list_topics())
        if present == (names if listed else set()):
            return
        await asyncio.sleep(0.1)


async def _stream(demo: Settings, operation: LabelingOperation, console: Console,
                  web_url: str) -> None:
    applied = await publish_project_config(demo, CONFIG, wait_s=60)
    if not applied:
        raise QuorumError("the worker did not apply the project configuration within 60 s")
    producer = plain_producer(demo)
    consumer = AIOKafkaConsumer(
        *[demo.topic(t) for t in (topics.ASSIGNMENTS, topics.REVIEW_REQUESTS,
                                  topics.TASK_COMPLETED, topics.DEAD_LETTER)],
        bootstrap_servers=demo.kafka_bootstrap, auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    tally = Tally()
    sent = 0
    annotation_topic = demo.topic(topics.ANNOTATIONS)

    async def send(events: list[dict[str, Any]]) -> None:
        nonlocal sent
        futures = [await producer.send(annotation_topic, value=orjson.dumps(e),
                                       key=message_key(e)) for e in events]
        await asyncio.gather(*futures)
        sent += len(events)

    async def drain(timeout_ms: int) -> bool:
        """Read outputs; answer reassignment requests with a new annotator."""
        fetched = await consumer.getmany(timeout_ms=timeout_ms, max_records=5000)
        answers: list[dict[str, Any]] = []
        for messages in fetched.values():
            for message in messages:
                answers += _on_output(orjson.loads(message.value), operation, tally)
        if answers:
            await send(answers)
        return bool(fetched)

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console)
    started = time.monotonic()
    try:
        with progress:
            bar = progress.add_task("tasks resolved", total=operation.tasks)
            ids = operation.task_ids
            # Labeling tools send garbage now and then; it must not stop anything.
            await producer.send_and_wait(annotation_topic, value=b"{\"schema\": oops")
            for start in range(0, len(ids), _CHUNK_TASKS):
                events = [e for t in ids[start:start + _CHUNK_TASKS]
                          for e in operation.first_round(t, CONFIG.annotations_per_task)]
                await send(events)
                await drain(0)
                progress.update(bar, completed=tally.resolved)
            quiet_since = last_output = time.monotonic()
            while tally.resolved + len(tally.unassignable) < operation.tasks:
                if await drain(200):
                    quiet_since = last_output = time.monotonic()
                elif time.monotonic() - quiet_since > _STALL_S:
                    break
                progress.update(bar, completed=tally.resolved)
            progress.update(bar, completed=tally.resolved)
        # Up to the last output, not through the final wait for a stalled task.
        elapsed = last_output - started
        quality = await _annotator_quality(demo, web_url, console)
        await _summary(demo, operation, tally, sent, elapsed, quality, console)
    finally:
        await consumer.stop()
        await producer.stop()


def _on_output(event: dict[str, Any], operation: LabelingOperation, tally: Tally) -> list[dict]:
    schema = event.get("schema", "")
    if schema.startswith("quorum.dead-letter"):
        tally.dead_letters.append(event["reason"])
        return []
    task = event["task_id"]
    # Decisions come on several topics, so a task's events may be read out of order; the
    # id (partition:offset:rank, one task stays on one partition) says which is newer.
    _, offset, rank = event["event_id"].split(":")
    when = (int(offset), int(rank))
    newest = tally.seen.get(task, (-1, -1)) < when
    if newest:
        tally.seen[task] = when
    if schema.startswith("quorum.reassign-requested"):
        tally.reassignments += 1
        if not newest:
            return []  # the task was decided since: nobody needs to label it again
        tally.decisions[task] = "reassign"
        answer = operation.annotate(task, exclude=set(event["exclude_annotators"]))
        if answer is None:
            tally.unassignable.add(task)
            return []
        return [answer]
    if newest and schema.startswith("quorum.review-requested"):
        tally.decisions[task] = "review"
    elif newest and schema.startswith("quorum.task-completed"):
        tally.decisions[task] = "completed"
    return []


async def _annotator_quality(demo: Settings, web_url: str, console: Console
                             ) -> dict[str, dict[str, Any]]:
    """The worker's live annotator figures (``GET /projects/PROJECT/annotators``) once the
    workflow agent has applied every fact; empty if it could not get there in time."""
    started = time.monotonic()
    with console.status("annotator quality: the workflow agent applies the facts ...") as status:
        while True:
            rows, _ = await input_lag(demo)
            behind = total_lag(rows, lag.WORKFLOW)
            if behind == 0:
                break
            if time.monotonic() - started > _QUALITY_WAIT_S:
                console.print(f"[yellow]annotator quality: {behind:,} facts still unapplied "
                              f"after {_QUALITY_WAIT_S:.0f} s; the table shows no live "
                              "figures[/yellow]")
                return {}
            status.update(f"annotator quality: {behind:,} facts to apply ...")
            await asyncio.sleep(0.5)
    console.print(f"annotator quality: every fact applied {time.monotonic() - started:.1f} s "
                  "after the last decision")
    url = f"{web_url}/projects/{PROJECT}/annotators"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        if response.status != 200:
            console.print(f"[yellow]annotator quality: {url} answered {response.status}"
                          "[/yellow]")
            return {}
        body = await response.json()
    return {row["annotator"]: row for row in body["annotators"]}


async def _summary(demo: Settings, operation: LabelingOperation, tally: Tally, sent: int,
                   elapsed: float, quality: dict[str, dict[str, Any]],
                   console: Console) -> None:
    final = Counter(tally.decisions.values())
    table = Table(title="Quorum demo: summary", show_header=False)
    table.add_row("annotation events streamed", f"{sent:,}")
    table.add_row("wall time", f"{elapsed:.1f} s")
    table.add_row("events per second (end to end)", f"{sent / elapsed:,.0f}")
    table.add_row("tasks completed", f"{final['completed']:,} of {operation.tasks:,}")
    table.add_row("sent to review (budget spent, still below threshold)",
                  f"{final['review']:,}")
    table.add_row("reassignment requests", f"{tally.reassignments:,}")
    table.add_row("tasks waiting for an eligible annotator", f"{len(tally.unassignable):,}")
    table.add_row("dead letters", f"{len(tally.dead_letters)}"
                  + (f" ({tally.dead_letters[0][:60]})" if tally.dead_letters else ""))
    console.print(table)

    lowest = await tasks_below(demo, 1.01, project_id=PROJECT, limit=10)
    low = Table("task", "agreement", "truth", "annotators", title="10 lowest-agreement tasks")
    for row in lowest:
        low.add_row(row.task_id, f"{row.agreement:.3f}", operation.truth.get(row.task_id, "?"),
                    ", ".join(sorted(operation.labeled_by.get(row.task_id, ()))))
    console.print(low)

    # What Quorum measured, next to what the simulation knows: the annotators' agreement
    # with the others (from the stream's task records, `quorum stats`) and their
    # estimated reliability (live, from the worker's annotator figures) rank them as their
    # hidden accuracy does.
    report = build_report(await project_tasks(demo, PROJECT), ScoringConfig())
    measured = {row.annotator: row for row in report.annotators}
    people = Table("annotator", "simulated accuracy", "annotations",
                   "measured: agreement with the others", "live: estimated reliability",
                   title="annotators")
    for annotator in operation.annotators:
        seen = measured.get(annotator.name)
        reliability = quality.get(annotator.name, {}).get("reliability")
        people.add_row(annotator.name, f"{annotator.accuracy:.2f}",
                       f"{operation.load[annotator.name]:,}",
                       "-" if seen is None else f"{seen.agreement:.3f}",
                       "-" if reliability is None else f"{reliability:.3f}")
    console.print(people)
    for tag, statistics in sorted(report.tags.items()):
        alpha = statistics.alpha.get("nominal", math.nan)
        if not math.isnan(alpha):
            console.print(f"Krippendorff's alpha (nominal) of {tag!r}: {alpha:.3f} over "
                          f"{statistics.units:,} tasks")
    console.print(f"explore: QUORUM_TOPIC_PREFIX={DEMO_PREFIX} quorum tasks below 0.5 | "
                  f"QUORUM_TOPIC_PREFIX={DEMO_PREFIX} quorum follow --from-beginning | "
                  f"quorum annotators report {PROJECT} (while a worker runs on "
                  f"{DEMO_PREFIX})")
