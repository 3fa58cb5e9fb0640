"""What the Label Studio followers share: their consumer groups and carrying items out
with retries."""

from __future__ import annotations

import asyncio

from streams.errors import QuorumError
from streams.label_studio_follow import carry_all
from streams.label_studio_reassign import REASSIGN
from streams.label_studio_scores import SCORES
from streams.settings import Settings


def test_each_follower_has_a_consumer_group_of_its_own() -> None:
    settings = Settings(consumer_group="g")
    # reassign's name is the one it had before the followers were shared: a running
    # deployment keeps its position.
    assert REASSIGN.group(settings, "7") == "g-label-studio-7"
    assert SCORES.group(settings, "7") == "g-label-studio-7-scores"


def test_carry_all_retries_a_refusal_and_keeps_the_order() -> None:
    attempts: list[int] = []
    outcomes: list[tuple[int, str]] = []
    retries: list[float] = []

    def carry(item: int) -> str:
        attempts.append(item)
        if item == 2 and attempts.count(2) < 3:
            raise QuorumError("cannot reach Label Studio")
        return "done"

    async def run() -> bool:
        return await carry_all([1, 2, 3], carry, stopping=asyncio.Event(),
                               on_outcome=lambda i, what: outcomes.append((i, what)),
                               on_retry=lambda exc, wait: retries.append(wait))

    # The waits are cut short by nothing here: 1 s then 2 s, as a refusal backs off.
    assert asyncio.run(run()) is True
    assert attempts == [1, 2, 2, 2, 3]
    assert outcomes == [(1, "done"), (2, "done"), (3, "done")]
    assert retries == [1.0, 2.0]


def test_carry_all_stops_when_asked() -> None:
    outcomes: list[int] = []

    async def run() -> bool:
        stopping = asyncio.Event()

        def carry(item: int) -> str:
            if item == 2:
                stopping.set()
                raise QuorumError("refused")
            return "done"

        return await carry_all([1, 2, 3], carry, stopping=stopping,
                               on_outcome=lambda i, what: outcomes.append(i),
                               on_retry=lambda exc, wait: None)

    assert asyncio.run(run()) is False
    assert outcomes == [1]
