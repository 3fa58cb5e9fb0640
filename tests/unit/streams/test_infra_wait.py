"""Waiting for the local broker: a process seen missing once is not yet dead."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams import infra
from streams.errors import InfraError
from streams.settings import Settings


def _wait(monkeypatch: pytest.MonkeyPatch, answers: list[bool], pids: list[int | None]) -> None:
    monkeypatch.setattr(infra, "kafka_answers", lambda settings: answers.pop(0))
    monkeypatch.setattr(infra, "_kafka_pid", lambda paths: pids.pop(0))
    monkeypatch.setattr(infra, "POLL_INTERVAL_S", 0.0)
    paths = infra._Paths.of(Settings(data_dir=Path("/nonexistent")))
    infra._wait_for_kafka(Settings(), paths, deadline=float("inf"))


def test_a_pid_missing_once_while_the_jvm_starts_is_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _wait(monkeypatch, answers=[False, False, False, True], pids=[None, 42, None])


def test_a_pid_missing_twice_in_a_row_is_a_broker_that_died(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(InfraError, match="Kafka exited while starting"):
        _wait(monkeypatch, answers=[False] * 5, pids=[42, None, None])
