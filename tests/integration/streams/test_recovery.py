"""Nothing is lost: a killed worker, a restarted Redis or Kafka ends exactly like a clean run.

The clean run is the oracle in ``pipeline.clean_run``: the same stored input, with the
same offsets, through the processing core in one go.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
from redis.exceptions import RedisError

from streams import infra, topics
from streams.models.project import ProjectConfig

from .pipeline import Deployment, annotation, clean_run

pytestmark = pytest.mark.integration

CONFIG = ProjectConfig("p1", annotations_per_task=3, agreement_threshold=0.7,
                       max_additional_annotators=2)
LABELS = ("pos", "neg", "neu")


def labeling_operation(tasks: int, seed: int) -> list[dict[str, Any]]:
    """Creates from 3-5 annotators per task, with updates, skips and deletes mixed in."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for t in range(tasks):
        for j in range(rng.choice((3, 3, 4, 5))):
            events.append(annotation(f"t{t}", f"a{t}-{j}", f"u{j}", rng.choice(LABELS)))
            roll = rng.random()
            if roll < 0.05:
                events.append(annotation(f"t{t}", f"a{t}-{j}", f"u{j}", rng.choice(LABELS),
                                         kind="updated", revision=2))
            elif roll < 0.07:
                events.append(annotation(f"t{t}", f"a{t}-{j}", f"u{j}", None,
                                         kind="deleted", revision=2))
            elif roll < 0.08:
                events.append(annotation(f"t{t}", f"s{t}-{j}", f"u{j + 5}", None,
                                         kind="skipped"))
    return events


async def _wait_progress(deployment: Deployment, fraction: float, total: int) -> None:
    """Wait until some of the input is applied (the interruption lands mid-stream)."""
    for _ in range(600):
        applied = sum((await deployment.applied_offsets()).values())
        if applied >= fraction * total:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the worker made no progress")


def _late_events() -> list[dict[str, Any]]:
    """600 events of 200 new tasks, sent during an interruption so that the worker meets
    it with work to do, however far it had got."""
    return [annotation(f"late{t}", f"late{t}-{j}", f"u{j}", LABELS[t % 3])
            for t in range(200) for j in range(3)]


async def _until_redis_down(deployment: Deployment) -> None:
    """Wait until Redis stops answering (it is being stopped)."""
    for _ in range(300):
        try:
            await deployment.redis.ping()
        except RedisError:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("Redis did not go down within 6 s")


async def _assert_like_clean_run(deployment: Deployment) -> None:
    expected_states, expected_outputs = await clean_run(deployment, {"p1": CONFIG})
    expected = {e["event_id"]: e for e in expected_outputs}
    assert len(expected) == len(expected_outputs)

    outputs = await deployment.read_outputs(at_least=len(expected), timeout_s=120)
    seen: dict[str, dict[str, Any]] = {}
    for event in outputs:
        # A replay may publish an event again: same id, and it must be the same event.
        assert seen.setdefault(event["event_id"], event) == event
    assert seen.keys() == expected.keys()
    assert seen == expected
    assert await deployment.task_states() == expected_states


async def _run_interrupted(
    deployment: Deployment,
    start_worker: Callable[..., Any],
    interrupt: Callable[[Any], Any],
    *,
    tasks: int,
) -> None:
    events = labeling_operation(tasks, seed=tasks)
    # The second half is sent after the interruption: the stream goes on through it
    # however fast the worker is (sent at once, a whole stream could be applied before
    # the interruption came, as a clean-clone CI run saw).
    first, rest = events[: len(events) // 2], events[len(events) // 2:]
    worker = start_worker(deployment.settings)
    await worker.wait_owning(deployment.settings.partitions)
    await deployment.configure(CONFIG)
    await deployment.send(first)
    await _wait_progress(deployment, 0.3, len(first))
    await interrupt(worker)
    await deployment.send(rest)
    await deployment.wait_applied(timeout_s=180)
    await _assert_like_clean_run(deployment)


async def test_worker_killed_mid_stream_ends_like_a_clean_run(
    deployment: Deployment, start_worker
) -> None:
    async def kill_and_restart(worker: Any) -> None:
        worker.kill()
        replacement = start_worker(deployment.settings)
        await replacement.wait_owning(deployment.settings.partitions)

    # Small batches so that the kill lands between many applied batches.
    deployment.settings = deployment.settings.model_copy(update={"batch_max_records": 200})
    await _run_interrupted(deployment, start_worker, kill_and_restart, tasks=6000)


async def test_redis_restart_mid_stream_ends_like_a_clean_run(
    deployment: Deployment, start_worker
) -> None:
    async def restart_redis(worker: Any) -> None:
        restart = asyncio.ensure_future(
            asyncio.to_thread(infra.restart_redis, deployment.settings, down_for_s=2.0))
        # More events once Redis is down: a worker that was quick enough to finish the
        # stream before Redis stopped must still meet the outage with work to write.
        await _until_redis_down(deployment)
        await deployment.send(_late_events())
        await restart
        await deployment.redis.connection_pool.disconnect()
        workers.append(worker)

    workers: list[Any] = []
    deployment.settings = deployment.settings.model_copy(update={"batch_max_records": 200})
    await _run_interrupted(deployment, start_worker, restart_redis, tasks=6000)
    assert "retrying with backoff" in workers[0].log(), "the worker never saw Redis go away"


async def test_kafka_restart_mid_stream_ends_like_a_clean_run(
    deployment: Deployment, start_worker
) -> None:
    async def restart_kafka(worker: Any) -> None:
        await asyncio.to_thread(infra.restart_kafka, deployment.settings, down_for_s=2.0)
        workers.append(worker)

    workers: list[Any] = []
    deployment.settings = deployment.settings.model_copy(update={"batch_max_records": 200})
    await _run_interrupted(deployment, start_worker, restart_kafka, tasks=6000)


async def test_outputs_kafka_refuses_for_a_while_end_like_a_clean_run(
    deployment: Deployment, start_worker
) -> None:
    """The task-quality topic refuses every message for a while: what it refused stays in
    the outbox and is published once it takes messages again (with an idempotent producer,
    every later send to that partition failed for good)."""

    async def refuse_for_a_while(worker: Any) -> None:
        await deployment.limit_message_bytes(topics.TASK_QUALITY, 64)  # no event fits
        # Events to publish while it refuses, however far the worker had got.
        await deployment.send(_late_events())
        deadline = time.monotonic() + 60
        while "publishing outputs failed" not in worker.log():
            assert time.monotonic() < deadline, "no publication was refused"
            await asyncio.sleep(0.1)
        await deployment.limit_message_bytes(topics.TASK_QUALITY, None)
        workers.append(worker)

    workers: list[Any] = []
    deployment.settings = deployment.settings.model_copy(update={"batch_max_records": 200})
    await _run_interrupted(deployment, start_worker, refuse_for_a_while, tasks=6000)
    assert "OutOfOrderSequence" not in workers[0].log()


async def test_redis_losing_its_last_writes_ends_like_a_clean_run(
    deployment: Deployment, start_worker
) -> None:
    """Redis rolls back under a running worker (as after a crash with ``appendfsync
    everysec``): the worker's cached task records are newer than Redis and must not be
    used; the lost part of the input is applied again from Kafka."""
    events = labeling_operation(600, seed=7)
    first, second, third = events[:600], events[600:1200], events[1200:]
    worker = start_worker(deployment.settings)
    await worker.wait_owning(deployment.settings.partitions)
    await deployment.configure(CONFIG)
    await deployment.send(first)
    await deployment.wait_applied(timeout_s=60)
    redis = deployment.redis
    prefix = deployment.settings.key_prefix
    saved = {key: await redis.dump(key) async for key in redis.scan_iter(f"{prefix}:*")}
    await deployment.send(second)
    await deployment.wait_applied(timeout_s=60)
    ahead = await deployment.applied_offsets()

    # Back to the state after the first part, as if the second part's writes were lost.
    for key in [key async for key in redis.scan_iter(f"{prefix}:*")]:
        if not key.endswith(b":owner"):  # the worker keeps its partitions
            await redis.delete(key)
    for key, value in saved.items():
        if not key.endswith(b":owner"):
            assert value is not None  # dumped from a key that scan_iter had just listed
            await redis.restore(key, 0, value, replace=True)
    assert await deployment.applied_offsets() != ahead

    await deployment.send(third)
    await deployment.wait_applied(timeout_s=120)
    await _assert_like_clean_run(deployment)
    # The worker noticed, in one of three places, whichever comes first (it depends on
    # which tasks each partition's first fetch touches and on whether the background
    # index build has finished): the read (Redis' applied offset is not the cache's),
    # the batch (it starts past Redis' applied offset), or the write's compare-and-set
    # (a fetch that went without a read).
    noticed = worker.log()
    assert any(sign in noticed for sign in (
        "moved under the cache", "but state ends at", "applied offset moved under a batch",
    )), f"the worker never noticed the rollback:\n{noticed[-3000:]}"


async def test_workers_joining_and_leaving_mid_stream_end_like_a_clean_run(
    deployment: Deployment, start_worker
) -> None:
    """Two rebalances with events flowing: a second worker joins and takes some of the
    partitions over, then the first leaves (SIGTERM: it settles its batches in flight and
    gives its partitions up) and the second takes them all."""
    events = labeling_operation(3000, seed=11)
    chunks = [events[i:i + 150] for i in range(0, len(events), 150)]
    partitions = deployment.settings.partitions
    deployment.settings = deployment.settings.model_copy(update={"batch_max_records": 200})
    first = start_worker(deployment.settings)
    await first.wait_owning(partitions)
    await deployment.configure(CONFIG)

    total = len(chunks)
    sent: dict[str, int] = {"joining": 0, "leaving": 0, "after": 0}

    async def send_while(phase: str, busy: Callable[[], bool], up_to: float,
                         pause_s: float = 0.0) -> None:
        """Send chunks while ``busy()``, at least one (every phase has events in flight)
        and no further than ``up_to`` of the input (the rest is for the next phases)."""
        while chunks and (sent[phase] == 0
                          or (busy() and total - len(chunks) < up_to * total)):
            await deployment.send(chunks.pop(0))
            sent[phase] += 1
            await asyncio.sleep(pause_s)

    second = start_worker(deployment.settings)
    # Paced: the second worker takes seconds to start, and events should still be flowing
    # when it joins the group and the first gives partitions up.
    await send_while("joining", lambda: not _owns_any(second.log()), up_to=0.5, pause_s=0.1)
    await _wait_until(lambda: _owns_any(second.log()), "the second worker took no partition")
    assert f"owning partitions {list(range(partitions))}" not in second.log()

    leaving = asyncio.ensure_future(asyncio.to_thread(first.stop))
    await send_while("leaving", lambda: not leaving.done(), up_to=0.75)
    await leaving
    await second.wait_owning(partitions)
    await send_while("after", lambda: True, up_to=1.0)
    assert all(sent.values()), sent

    await deployment.wait_applied(timeout_s=180)
    await _assert_like_clean_run(deployment)
    for worker in (first, second):
        assert "Traceback" not in worker.log()


def _owns_any(log: str) -> bool:
    """Whether a worker's log says it owns annotation partitions (``owning partitions
    [..]``, not ``[]``)."""
    return any("owning partitions [" in line and "owning partitions []" not in line
               for line in log.splitlines())


async def _wait_until(condition: Callable[[], bool], failure: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, failure
        await asyncio.sleep(0.1)
