"""An outbox entry leaves the outbox only once it, and every entry before it, is published."""

from __future__ import annotations

import asyncio

from streams.publications import Publications


async def _callbacks() -> None:
    """Let the sends' callbacks, then their entry's, run."""
    for _ in range(3):
        await asyncio.sleep(0)


def _tracker() -> tuple[Publications, list[tuple[int, str]]]:
    failures: list[tuple[int, str]] = []
    return Publications(lambda p, exc: failures.append((p, repr(exc)))), failures


async def test_only_the_published_head_is_acknowledged() -> None:
    publications, failures = _tracker()
    loop = asyncio.get_running_loop()
    sends = [loop.create_future() for _ in range(4)]
    publications.add(0, sends[:2])  # one entry, two messages
    publications.add(0, sends[2:3])
    publications.add(0, sends[3:])
    assert publications.acknowledged(0) == 0
    sends[0].set_result(None)
    sends[2].set_result(None)  # the second entry is out, but the first is not yet whole
    await _callbacks()
    assert publications.acknowledged(0) == 0
    sends[1].set_result(None)
    await _callbacks()
    assert publications.acknowledged(0) == 2
    publications.trimmed(0, 2)
    assert publications.acknowledged(0) == 0
    assert len(publications.in_flight([0])) == 1
    assert publications.acknowledged(1) == 0 and failures == []


async def test_a_failed_publication_keeps_itself_and_all_after_it() -> None:
    publications, failures = _tracker()
    loop = asyncio.get_running_loop()
    first, failed, later = (loop.create_future() for _ in range(3))
    for send in (first, failed, later):
        publications.add(3, [send])
    first.set_result(None)
    failed.set_exception(RuntimeError("MessageSizeTooLarge"))
    later.set_result(None)
    await _callbacks()
    # The failed entry and the later one stay in the outbox, whatever happens next.
    assert publications.acknowledged(3) == 1
    assert publications.failed == {3}
    assert failures == [(3, "RuntimeError('MessageSizeTooLarge')")]
    # Recovery publishes the whole outbox again and forgets what was in flight.
    publications.forget(3)
    assert publications.failed == set() and publications.in_flight([3]) == []


async def test_a_forgotten_publication_that_fails_is_not_a_failure() -> None:
    publications, failures = _tracker()
    send = asyncio.get_running_loop().create_future()
    publications.add(1, [send])
    publications.forget(1)  # released, or published again by a recovery
    send.set_exception(RuntimeError("broker gone"))
    await _callbacks()
    assert publications.failed == set() and failures == []


async def test_drain_waits_for_what_is_in_flight() -> None:
    publications, _ = _tracker()
    send = asyncio.get_running_loop().create_future()
    publications.add(2, [send])
    asyncio.get_running_loop().call_later(0.05, send.set_result, None)
    await publications.drain([2], timeout_s=5)
    assert publications.acknowledged(2) == 1
