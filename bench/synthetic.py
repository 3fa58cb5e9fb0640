"""Is p99 < 100 ms at half the maximum rate within reach of any consumer on this machine?

    .venv/bin/python -m bench.synthetic [--events 100000] [--seconds 20] [--repeats 3]

A synthetic consumer that costs what Quorum's worker costs per event and nothing per cycle
beyond the Kafka client's: the bare consume-and-produce loop of `bench.pipeline` (baseline
A) with a fixed amount of plain Python work per event (`bench.children --burn-us`). Its
work per event is set, in the same run, so that its maximum rate on a backlog matches
Quorum's; then both are measured at half their own maximum rate, alternately, with the
Java load generator and the broker's append times (`bench.latency`).

1. One backlog of N events (fresh prefix); on it, in turn, the bare loop and `quorum
   worker`: their maximum rates b and q. The work per event: 1e6/q - 1e6/b us.
2. The bare loop with that work, on the same backlog: its maximum rate s; if s is more
   than 5% off q, the work is corrected once by 1e6/q - 1e6/s and s measured again.
3. ``--repeats`` times, in a rotating order: Quorum at q/2, the synthetic consumer at
   s/2 and the bare loop at b/2, ``--seconds`` each, each on a fresh prefix.

If the synthetic consumer keeps p99 under 100 ms at half its maximum where Quorum does
not, what Quorum does per cycle (its Redis round trips, its write, its cycle's fixed
costs) is what stands in the way; if it does not either, the machine is. Results: a table
on stdout and ``bench/results/synthetic-<time>.json``. Needs Kafka and Redis up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from datetime import UTC, datetime
from typing import Any

from bench.events import generate
from bench.latency import measure
from bench.pipeline import (
    RESULTS,
    _process_age_s,
    delete_run_keys,
    delete_run_topics,
    fill,
    log,
    machine_info,
    run_bare,
    run_quorum,
)
from streams.infra import kafka_pid
from streams.kafka import ensure_topics
from streams.settings import Settings

_BROKER_WARM_S = 600.0
_CONSUMERS = ["quorum", "synthetic", "bare"]


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    run = f"synth-{stamp}"
    base = Settings()
    settings = base.model_copy(update={"topic_prefix": run, "consumer_group": f"{run}-g"})
    logdir = RESULTS / f"logs-{stamp}"
    n = args.events // 3 * 3
    report: dict[str, Any] = {"config": vars(args), "machine": machine_info(), "run": run}
    try:
        await ensure_topics(settings)
        await fill(settings, list(generate(n, run=run)))
        bare = await run_bare(settings, n, args.timeout, logdir)
        quorum = await run_quorum(settings, n, args.timeout, logdir)
        b, q = bare["rate"], quorum["rate"]
        if not b or not q:
            raise RuntimeError(f"a backlog run failed: bare {bare}, quorum {quorum}")
        burn_us = max(0.0, 1e6 / q - 1e6 / b)
        log(f"backlog: bare {b:,.0f}/s, quorum {q:,.0f}/s: {burn_us:.1f} us of work per event")
        tries = []
        for _ in range(2):
            synthetic = await run_bare(settings, n, args.timeout, logdir, burn_us=burn_us)
            s = synthetic["rate"]
            if not s:
                raise RuntimeError(f"the synthetic consumer's backlog run failed: {synthetic}")
            log(f"backlog: synthetic, {burn_us:.1f} us of work per event: {s:,.0f}/s "
                f"({s / q:.0%} of quorum's)")
            tries.append({"burn_us": burn_us, **synthetic})
            if abs(s / q - 1) <= 0.05:
                break
            # The work costs more or less per event in the loop than when calibrated
            # alone: correct it once by the difference.
            burn_us = max(0.0, burn_us + 1e6 / q - 1e6 / s)
        burn_us = tries[-1]["burn_us"]
        report["backlog"] = {"bare": bare, "quorum": quorum, "synthetic": synthetic,
                             "burn_us": burn_us, "synthetic_tries": tries}
    finally:
        await delete_run_topics(base.kafka_bootstrap, f"{run}.")
        await delete_run_keys(base.redis_url, f"{run}:")
    kafka = kafka_pid(base)
    age = _process_age_s(kafka) if kafka else None
    if age is not None and age < _BROKER_WARM_S:
        log(f"the broker is {age:.0f} s old: one uncounted 30 s run to warm it up")
        await measure(q / 2, 30)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in _CONSUMERS}
    for i in range(args.repeats):
        order = _CONSUMERS[i % 3:] + _CONSUMERS[:i % 3]
        for name in order:
            if name == "quorum":
                result = await measure(q / 2, args.seconds)
            elif name == "synthetic":
                result = await measure(s / 2, args.seconds, burn_us=burn_us)
            else:
                result = await measure(b / 2, args.seconds, burn_us=0.0)
            result.pop("timeline", None)
            runs[name].append(result)
            cores = result["cores"].get("worker")
            log(f"repeat {i + 1}: {name} at {result['rate']:,.0f}/s: p50 {result['p50']:.0f} "
                f"ms, p99 {result['p99']:.0f} ms, max {result['max']:.0f} ms; "
                f"its process at {cores} cores")
    report["latency"] = runs
    return report


def print_table(report: dict[str, Any]) -> None:
    backlog = report["backlog"]
    print(f"\nbacklog of {report['config']['events']:,} events: bare "
          f"{backlog['bare']['rate']:,.0f}/s, quorum {backlog['quorum']['rate']:,.0f}/s, "
          f"synthetic ({backlog['burn_us']:.1f} us of work per event) "
          f"{backlog['synthetic']['rate']:,.0f}/s")
    print(f"{'consumer':<10} {'rate':>8}  {'p50 ms':>16}  {'p99 ms':>16}  {'cores':>16}")
    for name, runs in report["latency"].items():
        p50 = ", ".join(f"{r['p50']:.0f}" for r in runs)
        p99 = ", ".join(f"{r['p99']:.0f}" for r in runs)
        cores = ", ".join(f"{r['cores'].get('worker')}" for r in runs)
        print(f"{name:<10} {runs[0]['rate']:>8,.0f}  {p50:>16}  {p99:>16}  {cores:>16}"
              f"   median p99 {statistics.median(r['p99'] for r in runs):.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    print_table(report)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = RESULTS / f"synthetic-{stamp}.json"
    path.write_text(json.dumps(report, default=str))
    print(f"saved {path}")


if __name__ == "__main__":
    main()
