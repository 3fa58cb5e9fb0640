"""The annotations agent reads from Redis only what it does not know: a live stream's new
tasks are not read, and everything else still is (tasks written before the worker
started, a configuration changed meanwhile)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest

from streams.models.project import ProjectConfig

from .pipeline import Deployment, annotation
from .test_recovery import CONFIG, _assert_like_clean_run, labeling_operation

pytestmark = pytest.mark.integration


def _fetches(worker: Any) -> tuple[int, int]:
    """(read from Redis, known already) from the stopped worker's last line about it."""
    found = re.findall(r"the state of (\d+) fetches read from Redis, of (\d+) known already",
                       worker.log())
    assert found, f"the worker did not say how it read its state:\n{worker.log()[-3000:]}"
    read, known = found[-1]
    return int(read), int(known)


async def _stream(deployment: Deployment, events: list[dict[str, Any]]) -> None:
    """Send the events at once and wait until they are applied: a worker with a small
    ``batch_max_records`` takes them in many fetches, back to back, as in a busy stream."""
    await deployment.send(events)
    await deployment.wait_applied(timeout_s=60)


async def test_a_live_stream_reads_no_new_task_and_ends_like_a_clean_run(
    deployment: Deployment, start_worker: Callable[..., Any]
) -> None:
    settings = deployment.settings.model_copy(update={"batch_max_records": 20})
    worker = start_worker(settings)
    await worker.wait_owning(settings.partitions)
    await deployment.configure(CONFIG)
    await _stream(deployment, labeling_operation(150, seed=3))
    worker.stop()

    read, known = _fetches(worker)
    assert read >= 1, "the first fetch of a partition reads its applied offset"
    assert known > read, "fetches of new and cached tasks only should not read Redis"
    await _assert_like_clean_run(deployment)


@pytest.mark.parametrize("index_size", [0, 20])
async def test_without_an_index_every_fetch_reads_and_ends_like_a_clean_run(
    deployment: Deployment, start_worker: Callable[..., Any], index_size: int
) -> None:
    """No index (0), or partitions that outgrow it mid-stream (20 tasks): the worker reads
    what its cache does not hold, as it did before it had one."""
    settings = deployment.settings.model_copy(
        update={"batch_max_records": 20, "task_index_size": index_size})
    worker = start_worker(settings)
    await worker.wait_owning(settings.partitions)
    await deployment.configure(CONFIG)
    await _stream(deployment, labeling_operation(150, seed=3))
    worker.stop()

    await _assert_like_clean_run(deployment)
    read, known = _fetches(worker)
    if index_size == 0:
        assert known == 0
        assert "QUORUM_TASK_INDEX_SIZE" not in worker.log()
    else:
        # 150 tasks over 4 partitions: each outgrows 20 tasks, says so once, and its
        # fetches read from then on.
        assert read > settings.partitions
        assert worker.log().count("tasks (QUORUM_TASK_INDEX_SIZE)") == settings.partitions


async def test_a_backlog_written_in_parts_ends_like_a_clean_run(
    deployment: Deployment, start_worker: Callable[..., Any]
) -> None:
    """A backlog's fetches hold thousands of events over every partition: their writes go
    to Redis in parts, as the partitions are computed, and nothing differs from a clean
    run."""
    first = start_worker(deployment.settings)
    await first.wait_owning(deployment.settings.partitions)
    await deployment.configure(CONFIG)
    first.stop()
    await deployment.send(labeling_operation(2000, seed=11))  # about 7,600 events
    worker = start_worker(deployment.settings)
    await deployment.wait_applied(timeout_s=120)
    worker.stop()

    parts = re.findall(r"(\d+) writes sent in parts", worker.log())
    assert parts, f"the worker did not say how it wrote:\n{worker.log()[-3000:]}"
    assert int(parts[-1]) >= 1, "a backlog's fetch should have been written in parts"
    await _assert_like_clean_run(deployment)


async def test_tasks_stored_before_the_worker_started_are_read_not_taken_as_new(
    deployment: Deployment, start_worker: Callable[..., Any]
) -> None:
    """A second worker finds the first one's tasks in Redis. Had it taken them as new, the
    records would hold only the second part's annotations, unlike a clean run."""
    events = labeling_operation(120, seed=5)
    firsts = [e for e in events if e["annotation_id"].endswith("-0")]
    rest = [e for e in events if not e["annotation_id"].endswith("-0")]
    settings = deployment.settings.model_copy(update={"batch_max_records": 20})

    first = start_worker(settings)
    await first.wait_owning(settings.partitions)
    await deployment.configure(CONFIG)
    await _stream(deployment, firsts)
    first.stop()

    second = start_worker(settings)
    await second.wait_owning(settings.partitions)
    await _stream(deployment, rest)
    second.stop()

    await _assert_like_clean_run(deployment)
    read, _ = _fetches(second)
    assert read > settings.partitions, "tasks the worker never saw must be read from Redis"


async def test_a_configuration_changed_between_two_parts_applies_to_the_second(
    deployment: Deployment, start_worker: Callable[..., Any]
) -> None:
    """The worker knows the configurations its last write read back; after an idle fetch it
    reads them again, so the change is not missed for want of a read."""
    worker = start_worker(deployment.settings)
    await worker.wait_owning(deployment.settings.partitions)
    await deployment.configure(CONFIG)  # 3 annotations per task
    # Two agreeing annotations per task; 40 tasks reach every partition, so that the
    # worker knows each one's offset when the second part comes.
    agreeing = [annotation(f"t{t}", f"a{t}-{j}", f"u{j}", "pos")
                for t in range(80) for j in (0, 1)]
    await _stream(deployment, agreeing[:80])

    two = ProjectConfig("p1", annotations_per_task=2,
                        agreement_threshold=CONFIG.agreement_threshold,
                        max_additional_annotators=CONFIG.max_additional_annotators)
    await deployment.configure(two)
    await _stream(deployment, agreeing[80:])
    worker.stop()

    completed = {e["task_id"] for e in await deployment.read_outputs(at_least=40, timeout_s=30)
                 if e.get("schema") == "quorum.task-completed/v1"}
    # Tasks t0-t39 got both annotations under 3 per task: not complete; t40-t79 under 2.
    assert completed == {f"t{t}" for t in range(40, 80)}


# Fields of a project no event names, so that scanning a partition's tasks takes seconds.
_FILL = """
for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do
  redis.call('HSET', KEYS[1], 'filler:' .. i, '{}')
end
"""
_EMPTY = """
for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do
  redis.call('HDEL', KEYS[1], 'filler:' .. i)
end
"""
_FILLER_TASKS = 400_000  # per partition: about 3 s of scanning for the four, here


async def _filler(deployment: Deployment, script: str) -> None:
    for partition in range(deployment.settings.partitions):
        key = deployment.keys.tasks(partition)
        for start in range(0, _FILLER_TASKS, 50_000):
            await deployment.redis.eval(script, 1, key, start, start + 49_999)


async def test_a_partition_is_served_while_its_tasks_are_scanned(
    deployment: Deployment, start_worker: Callable[..., Any]
) -> None:
    """A worker taking over partitions of many tasks serves them at once, reading from
    Redis, while it scans them in the background; the index it ends with also knows the
    tasks it wrote during the scan. Had it missed them, the second part's tasks, gone from
    a cache of 10, would be taken as new, unlike a clean run."""
    await _filler(deployment, _FILL)
    events = labeling_operation(40, seed=7)
    firsts = [e for e in events if e["annotation_id"].endswith("-0")]
    seconds = [e for e in events if e["annotation_id"].endswith("-1")]
    # One event a fetch: a task the index misses is then never read along with one it
    # holds (the scan itself finds most of the tasks written meanwhile).
    settings = deployment.settings.model_copy(
        update={"batch_max_records": 1, "task_cache_size": 10})

    worker = start_worker(settings)
    await worker.wait_owning(settings.partitions)
    await deployment.configure(CONFIG)
    await _stream(deployment, firsts)
    indexed = re.compile(r"partition \d+: \d+ tasks indexed in")
    assert not indexed.search(worker.log()), "the scan ended before the first part was applied"

    deadline = asyncio.get_running_loop().time() + 120
    while len(indexed.findall(worker.log())) < settings.partitions:
        assert asyncio.get_running_loop().time() < deadline, worker.log()[-3000:]
        await asyncio.sleep(0.2)
    await _stream(deployment, seconds)
    worker.stop()

    await _filler(deployment, _EMPTY)
    await _assert_like_clean_run(deployment)
    read, _ = _fetches(worker)
    assert read > settings.partitions, "fetches during the scan read from Redis"
