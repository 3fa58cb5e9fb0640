"""The annotations consumer stops holding fetches while idle and holds them again once
events come (streams/fetch_hold.py), on the real broker."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams import topics
from streams.agents.annotations import consumer_options
from streams.fetch_hold import FILL_BYTES, FetchHold

from .pipeline import Deployment, annotation
from .test_recovery import CONFIG, _assert_like_clean_run, labeling_operation

pytestmark = pytest.mark.integration


async def test_aiokafkas_fetcher_takes_the_switch_and_an_idle_fetch_returns_the_first_event(
    deployment: Deployment,
) -> None:
    """The switch relies on two attributes of aiokafka's fetcher: an aiokafka that lacks
    them fails here rather than leaving every idle worker asking the broker 200 times a
    second."""
    settings = deployment.settings.model_copy(
        update={"fetch_hold_ms": 5, "fetch_idle_wait_ms": 500})  # the defaults, whatever is set
    topic = settings.topic(topics.ANNOTATIONS)
    options = consumer_options(settings) | {"group_id": None}
    consumer = AIOKafkaConsumer(**options)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(settings.partitions)])
        hold = FetchHold(consumer, settings.fetch_hold_ms, settings.fetch_idle_wait_ms)
        assert hold.active, "aiokafka's fetcher no longer has the figures FetchHold sets"
        assert await consumer.getmany(timeout_ms=100) == {}
        hold.nothing_came()
        fetcher: Any = consumer._fetcher  # what the fetch requests are built from
        assert (fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms) == (
            1, settings.fetch_idle_wait_ms)

        event = annotation("t1", "a1", "u1", "pos")
        await deployment.send([event])
        fetched = await consumer.getmany(timeout_ms=10_000)
        values = [orjson.loads(m.value) for ms in fetched.values() for m in ms]
        assert [v["annotation_id"] for v in values] == ["a1"]
        hold.events_came(time.monotonic(), 1)
        assert (fetcher._fetch_min_bytes, fetcher._fetch_max_wait_ms) == (
            FILL_BYTES, settings.fetch_hold_ms)
    finally:
        await consumer.stop()


async def test_events_after_idle_spells_end_like_a_clean_run(
    deployment: Deployment, start_worker: Callable[..., Any]
) -> None:
    """Three parts with idle spells between them: each spell switches the hold off, the
    next part's first fetch brings it back, and nothing is missed or held up."""
    worker = start_worker(deployment.settings)
    await worker.wait_owning(deployment.settings.partitions)
    await deployment.configure(CONFIG)
    events = labeling_operation(120, seed=17)
    third = len(events) // 3
    for part in (events[:third], events[third:2 * third], events[2 * third:]):
        await deployment.send(part)
        await deployment.wait_applied(timeout_s=60)
        await asyncio.sleep(0.5)  # ten fetch timeouts with nothing
    worker.stop()

    await _assert_like_clean_run(deployment)
    idle = re.findall(r"idle (\d+) times", worker.log())
    assert idle, f"the worker did not say how often it went idle:\n{worker.log()[-3000:]}"
    assert int(idle[-1]) >= 3, "every idle spell after a part should switch the hold off"


async def test_a_sparse_stream_is_fetched_as_it_comes_and_ends_like_a_clean_run(
    deployment: Deployment, start_worker: Callable[..., Any]
) -> None:
    """Events 40 ms apart, as people label: fetches wait for each first event rather
    than hold, and the end state and outputs are a clean run's."""
    settings = deployment.settings.model_copy(
        update={"fetch_hold_ms": 5, "fetch_idle_wait_ms": 500, "fetch_sparse_gap_ms": 20})
    worker = start_worker(settings)
    await worker.wait_owning(settings.partitions)
    await deployment.configure(CONFIG)
    events = labeling_operation(20, seed=23)
    await deployment.send(events, gap_s=0.04)
    await deployment.wait_applied(timeout_s=60)
    worker.stop()

    await _assert_like_clean_run(deployment)
    sparse = re.findall(r"sparse (\d+) times", worker.log())
    assert sparse, f"the worker did not say how often events came sparsely:\n{worker.log()[-3000:]}"
    assert int(sparse[-1]) >= 1, (
        f"{len(events)} events 40 ms apart were held:\n{worker.log()[-3000:]}")
