"""A simulated labeling floor on the real services: annotators of known accuracy pull
tasks from the label stream over HTTP and label them, a reviewer answers review
requests, and every output topic is read as it happens."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer

from streams import topics
from streams.kafka import plain_producer
from streams.operations import message_key
from streams.settings import Settings

from .pipeline import annotation


@dataclass
class Floor:
    """One project's labeling floor; ``truth`` is every task's hidden label."""

    settings: Settings
    web_url: str
    project: str
    truth: dict[str, str]
    accuracy: dict[str, float]
    labels: tuple[str, ...]
    seed: int = 7
    reviewer: str | None = "reviewer-1"
    # What happened, for the test's assertions.
    sent: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id -> event
    completed: set[str] = field(default_factory=set)
    review_requested: set[str] = field(default_factory=set)
    reviewed: set[str] = field(default_factory=set)
    # annotation id -> the lead time (seconds) of its last revision sent
    lead_times: dict[str, float] = field(default_factory=dict)
    pulls: int = 0
    reworks: int = 0

    @property
    def decided(self) -> int:
        return len(self.completed | self.reviewed)

    async def run(self, timeout_s: float) -> None:
        """Label until every task is completed or reviewed (or fail at ``timeout_s``)."""
        self._producer = plain_producer(self.settings)
        await self._producer.start()
        stop = asyncio.Event()
        reader = asyncio.ensure_future(self._read(stop))
        try:
            async with aiohttp.ClientSession() as session:
                workers = [asyncio.ensure_future(self._annotate(session, name, stop))
                           for name in self.accuracy]
                deadline = time.monotonic() + timeout_s
                while self.decided < len(self.truth):
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            f"{len(self.truth) - self.decided} of {len(self.truth)} tasks not "
                            f"decided in {timeout_s:.0f} s ({self.pulls} pulls, "
                            f"{sum(len(v) for v in self.sent.values())} annotations)")
                    for task in sorted(self.review_requested - self.reviewed):
                        await self._review(task)
                    await asyncio.sleep(0.1)
                stop.set()
                await asyncio.gather(*workers)
            await asyncio.sleep(1.0)  # the last outputs
        finally:
            stop.set()
            await reader
            await self._producer.stop()

    async def _annotate(self, session: aiohttp.ClientSession, name: str,
                        stop: asyncio.Event) -> None:
        rng = random.Random(f"{self.seed}-{name}")
        # Its own generator: the labels drawn stay those of runs without lead times.
        timing = random.Random(f"{self.seed}-{name}-lead-time")
        url = f"{self.web_url}/projects/{self.project}/annotators/{name}/next-task"
        done: set[str] = set()
        redone: set[str] = set()
        while not stop.is_set():
            async with session.post(url) as response:
                if response.status != 200:
                    await asyncio.sleep(0.2)  # starting, or the partition moving
                    continue
                answer = await response.json()
            task = answer["task_id"]
            self.pulls += 1
            if answer.get("queue") == "rework" and task not in redone:
                # A reviewer rejected their annotation and sent it back: redo it.
                redone.add(task)
                await self._send_annotation(rng, timing, name, task, revision=2)
                continue
            if task is None or task in done:
                # Nothing for them now, or their last submission is still on its way
                # to the distribution (the held task comes back until it arrives).
                await asyncio.sleep(0.05)
                continue
            await self._send_annotation(rng, timing, name, task, revision=1)
            done.add(task)

    async def _send_annotation(self, rng: random.Random, timing: random.Random, name: str,
                               task: str, *, revision: int) -> None:
        accuracy = self.accuracy[name]
        truth = self.truth[task]
        label = truth if rng.random() < accuracy else rng.choice(
            [x for x in self.labels if x != truth])
        lead_time = round(timing.lognormvariate(2.5, 0.6), 1)  # Label Studio: seconds
        event = annotation(task, f"{task}-{name}", name, label, project=self.project,
                           revision=revision, kind="created" if revision == 1 else "updated",
                           lead_time=lead_time)
        self.lead_times[f"{task}-{name}"] = lead_time
        await self._producer.send_and_wait(
            self.settings.topic(topics.ANNOTATIONS), value=orjson.dumps(event),
            key=message_key(event))
        self.sent[task][name] = label
        self.reworks += revision > 1

    async def _review(self, task: str) -> None:
        """The reviewer knows the truth: accept the right annotations, reject the rest."""
        if self.reviewer is None:
            return
        for name, label in sorted(self.sent[task].items()):
            action = "accept" if label == self.truth[task] else "reject"
            event = {
                "schema": "quorum.review/v1", "event_id": f"review-{task}-{name}",
                "project_id": self.project, "task_id": task,
                "occurred_at": "2026-11-28T07:00:00+00:00",
                "annotation_id": f"{task}-{name}", "reviewer": self.reviewer,
                "action": action, "revision": 1, "requeue": False,
            }
            await self._producer.send_and_wait(
                self.settings.topic(topics.ANNOTATIONS), value=orjson.dumps(event),
                key=message_key(event))
        self.reviewed.add(task)

    async def _read(self, stop: asyncio.Event) -> None:
        names = topics.OUTPUTS
        consumer = AIOKafkaConsumer(
            *[self.settings.topic(n) for n in names],
            bootstrap_servers=self.settings.kafka_bootstrap, auto_offset_reset="earliest",
            enable_auto_commit=False, max_partition_fetch_bytes=16 * 1024 * 1024)
        await consumer.start()
        try:
            while not stop.is_set():
                fetched = await consumer.getmany(timeout_ms=100)
                for messages in fetched.values():
                    for message in messages:
                        self._on_output(orjson.loads(message.value))
            # Whatever is still there.
            quiet = 0
            while quiet < 5:
                fetched = await consumer.getmany(timeout_ms=200)
                quiet = 0 if fetched else quiet + 1
                for messages in fetched.values():
                    for message in messages:
                        self._on_output(orjson.loads(message.value))
        finally:
            await consumer.stop()

    def _on_output(self, event: dict[str, Any]) -> None:
        self.outputs[event["event_id"]] = event
        schema = event["schema"]
        if schema == "quorum.task-completed/v1":
            self.completed.add(event["task_id"])
        elif schema == "quorum.review-requested/v1":
            self.review_requested.add(event["task_id"])

    def events(self, schema: str) -> list[dict[str, Any]]:
        return [e for e in self.outputs.values() if e["schema"] == schema]
