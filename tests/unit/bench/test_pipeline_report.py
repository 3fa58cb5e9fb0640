"""The benchmark's summary lines say plainly whether each target was met."""

from __future__ import annotations

import pytest

from bench.pipeline import Report, print_table


def _report(bare: list[float], quorum: list[float], p99s: list[float]) -> Report:
    ratios = [q / b for q, b in zip(quorum, bare, strict=True)]
    return Report(
        config={"events": 600_000, "run": "bench-test"},
        machine={"cpus": 2, "hot_path": "compiled"},
        repeats=[{"repeat": i + 1, "bare": {"rate": b}, "quorum": {"rate": q}}
                 for i, (b, q) in enumerate(zip(bare, quorum, strict=True))],
        summary={
            "bare": {"median_rate": sorted(bare)[1], "ratio_to_bare": 1.0},
            "quorum": {"median_rate": sorted(quorum)[1], "ratio_to_bare": None,
                       "ratio_per_repeat": ratios,
                       "median_ratio_per_repeat": sorted(ratios)[1]},
        },
        latency={"target_rate": 18_000, "seconds": 20, "median_p99_ms": sorted(p99s)[1],
                 "runs": [{"p50": 20, "p90": 30, "p99": p, "max": p + 10, "worker_50": 18,
                           "worker_99": p - 5, "cores": {}} for p in p99s]},
    )


@pytest.mark.parametrize(
    ("quorum", "p99s", "throughput", "latency"),
    [
        # Session 24's first run of record: a median of 39.5% once printed as "40%".
        ([36_587, 34_464, 37_023], [51, 44, 45], "median 39.5% (target >= 40%: missed)",
         "median 45 ms (target p99 < 100 ms: met)"),
        ([40_000, 41_000, 42_000], [99, 100, 120], "median 45.5% (target >= 40%: met)",
         "median 100 ms (target p99 < 100 ms: missed)"),
    ],
)
def test_the_summary_says_whether_each_target_was_met(
    capsys: pytest.CaptureFixture[str], quorum: list[float], p99s: list[float],
    throughput: str, latency: str,
) -> None:
    print_table(_report([87_957, 87_180, 94_436], quorum, p99s), ["bare", "quorum"])
    out = capsys.readouterr().out
    assert throughput in out
    assert latency in out


def test_the_summary_names_the_interpreter(capsys: pytest.CaptureFixture[str]) -> None:
    # Two builds of one Python version differ by 10-17% here (bench/README session 25).
    report = _report([87_957, 87_180, 94_436], [40_000, 41_000, 42_000], [50, 60, 70])
    report.machine.update(python="3.11.2", python_executable="/usr/bin/python3.11")
    print_table(report, ["bare", "quorum"])
    assert "python: 3.11.2 (/usr/bin/python3.11)" in capsys.readouterr().out
