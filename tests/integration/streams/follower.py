"""Running a Label Studio follower (`quorum label-studio reassign`, `scores`) in a test
until it has done enough, with Label Studio stood in for by the follower's callable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

R = TypeVar("R")
Follow = Callable[..., Coroutine[Any, Any, None]]


async def follow_until(follow: Follow, record: Callable[[Any, str], R],
                       enough: Callable[[list[R]], bool],
                       retries: list[float] | None = None) -> list[R]:
    """Run ``follow`` (a follower with its settings, project and callable bound) until
    ``enough`` of the outcomes ``record`` made of them (or 20 s passed); each retry's
    wait goes to ``retries``, and a retry without it fails the test."""
    done: list[R] = []
    stopping = asyncio.Event()

    def outcome(item: Any, what: str) -> None:
        done.append(record(item, what))
        if enough(done):
            stopping.set()

    def retry(exc: Exception, wait: float) -> None:
        assert retries is not None, f"no retry expected: {exc}"
        retries.append(wait)

    follower = asyncio.ensure_future(follow(stopping=stopping, on_outcome=outcome,
                                            on_retry=retry))
    try:
        await asyncio.wait_for(asyncio.shield(follower), timeout=20)
    except TimeoutError:
        stopping.set()
        await follower
    return done
