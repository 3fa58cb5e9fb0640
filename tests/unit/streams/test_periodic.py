"""`quorum label-studio connect --every`: the interval it reads and the schedule it keeps."""

from __future__ import annotations

import pytest

from streams.errors import QuorumError
from streams.periodic import parse_interval, run_periodically


@pytest.mark.parametrize(("text", "seconds"), [
    ("900", 900.0), ("90s", 90.0), ("15m", 900.0), ("1h", 3600.0), ("1d", 86400.0),
    (" 2M ", 120.0), ("1.5h", 5400.0),
])
def test_intervals_are_read_in_seconds(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["soon", "", "m", "15 minutes", "1w"])
def test_an_unreadable_interval_says_how_to_write_one(text: str) -> None:
    with pytest.raises(ValueError, match=r"write seconds \(900\) or a number with s, m, h or d"):
        parse_interval(text)


@pytest.mark.parametrize("text", ["0", "-5m", "0.5", "nan", "inf"])
def test_an_interval_under_a_second_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="at least 1 second"):
        parse_interval(text)


class FakeTime:
    """A clock that only moves when a pass works or the schedule sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_passes_start_every_interval_after_the_previous_start() -> None:
    time = FakeTime()
    starts: list[float] = []
    durations = iter([10.0, 70.0, 5.0])

    def work() -> None:
        starts.append(time.now)
        time.now += next(durations)

    failed = run_periodically(work, 60.0, retry_on=(QuorumError,), on_error=_never,
                              sleep=time.sleep, clock=time.clock, passes=3)
    assert failed == 0
    # The second pass took longer than the interval: the third starts at once.
    assert starts == [1000.0, 1060.0, 1130.0]
    assert time.sleeps == [50.0, 0.0]  # none after the last pass


def test_a_failed_pass_is_reported_and_the_next_one_tries_again() -> None:
    time = FakeTime()
    outcomes = iter([QuorumError("Kafka cannot be reached"), None, None])
    reported: list[tuple[str, float]] = []
    passes = 0

    def work() -> None:
        nonlocal passes
        passes += 1
        time.now += 4.0
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome

    failed = run_periodically(work, 30.0, retry_on=(QuorumError,),
                              on_error=lambda exc, wait: reported.append((str(exc), wait)),
                              sleep=time.sleep, clock=time.clock, passes=3)
    assert (failed, passes) == (1, 3)
    assert reported == [("Kafka cannot be reached", 26.0)]


def test_an_error_it_was_not_told_to_retry_ends_the_schedule() -> None:
    time = FakeTime()
    passes = 0

    def work() -> None:
        nonlocal passes
        passes += 1
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        run_periodically(work, 30.0, retry_on=(QuorumError,), on_error=_never,
                         sleep=time.sleep, clock=time.clock, passes=5)
    assert passes == 1


def test_the_last_failed_pass_is_reported_with_no_wait() -> None:
    time = FakeTime()
    reported: list[float] = []

    def work() -> None:
        raise QuorumError("Label Studio cannot be reached")

    failed = run_periodically(work, 30.0, retry_on=(QuorumError,),
                              on_error=lambda exc, wait: reported.append(wait),
                              sleep=time.sleep, clock=time.clock, passes=2)
    assert failed == 2
    assert reported == [30.0, 0.0]
    assert time.sleeps == [30.0]


def _never(exc: Exception, wait: float) -> None:
    raise AssertionError(f"no pass should fail: {exc}")
