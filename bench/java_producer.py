"""Drive ``bench/java/PacedProducer.java``: a load generator that costs the machine little.

On these 2-core machines the worker, the broker, Redis and the load generator share the
cores. The Python generator (``bench.pacing``, aiokafka) cost about 0.6 cores at 8,000
events/s, so "latency at half the maximum rate" was measured on a machine the probe
itself had filled. The Java producer sends the same pre-encoded events with the same
producer settings for a small fraction of that; the latency is then read from the
broker's append times, not from this process.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.events import Event
from streams.settings import REPO_ROOT

SOURCE = REPO_ROOT / "bench" / "java" / "PacedProducer.java"
CLASSES = REPO_ROOT / "bench" / "results" / "java"  # git-ignored, like every result
KAFKA_LIB = REPO_ROOT / "infra" / "kafka" / "target" / "lib"
# The serial collector and C1 only: the generator must not take cores of its own. The
# whole heap from the start, so that the events it holds (read before the clock runs,
# then collected once) never fill the old generation during a run: with the default
# initial heap (384 MB here) it filled after about 10 s, and the full collection
# stopped the generator for 240 ms. Events due meanwhile were sent late and in a burst,
# so the latency's p99 was the generator's (bench/README.md, session 22).
JVM_FLAGS = ("-Xms2g", "-Xmx2g", "-Xmn256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
# The generator's collections, for a run to be checked against (git-ignored, as results).
GC_LOG = CLASSES / "paced-producer-gc.log"


def pauses_while_sending(log: Path = GC_LOG) -> list[float]:
    """The generator's collection pauses (ms) after the one it asks for before the clock
    runs: events due during one are sent late, so a long one shows in the latency."""
    if not log.exists():
        return []
    lines = log.read_text().splitlines()
    started = next((i for i, line in enumerate(lines) if "System.gc()" in line), None)
    if started is None:
        return []
    return [float(m.group(1)) for line in lines[started + 1:]
            if "Pause" in line and (m := re.search(r"([0-9.]+)ms$", line))]


def describe_pauses(pauses: list[float]) -> str:
    """The generator's pauses while sending, for a run's line of figures."""
    return (f"the load generator's collections while sending: {len(pauses)}, longest "
            f"{max(pauses, default=0):.0f} ms")


def compile_producer() -> None:
    """Compile the generator against the Kafka client jars ``make bootstrap`` fetched."""
    target = CLASSES / "PacedProducer.class"
    if target.exists() and target.stat().st_mtime >= SOURCE.stat().st_mtime:
        return
    if shutil.which("javac") is None:
        raise SystemExit("javac is missing: install a JDK 17 (scripts/bootstrap.sh does), or "
                         "pass --producer python")
    if not any(KAFKA_LIB.glob("kafka-clients-*.jar")):
        raise SystemExit(f"no Kafka client jar in {KAFKA_LIB}: run `make bootstrap` first")
    CLASSES.mkdir(parents=True, exist_ok=True)
    subprocess.run(["javac", "-cp", f"{KAFKA_LIB}/*", "-d", str(CLASSES), str(SOURCE)],
                   check=True)


@dataclass
class Sent:
    """What the generator reports: when event 0 was due (epoch ms), and how it went."""

    start_ms: float
    sent: int
    seconds: float
    errors: int


class JavaProducer:
    """One run of the generator over ``events`` at ``rate``/s to ``topic``."""

    def __init__(self, bootstrap: str, topic: str, events: list[Event], rate: float,
                 workdir: Path) -> None:
        self.bootstrap, self.topic, self.rate = bootstrap, topic, rate
        self.path = workdir / f"{topic}-events.tsv"
        self.log = workdir / f"{topic}-producer.log"
        with self.path.open("wb") as out:
            for event in events:
                # orjson escapes control characters: no tab or newline inside a value.
                out.write(event.key + b"\t" + event.encode() + b"\n")
        self.process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    async def start(self) -> None:
        """Launch the JVM and wait until it is connected (before the clock runs)."""
        compile_producer()
        self.process = await asyncio.create_subprocess_exec(
            "java", *JVM_FLAGS, f"-Xlog:gc:file={GC_LOG}:time,uptime",
            "-cp", f"{CLASSES}:{KAFKA_LIB}/*", "PacedProducer",
            self.bootstrap, self.topic, str(self.path), repr(self.rate),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=self.log.open("wb"),
        )
        await self._expect("ready", timeout=60)

    async def go(self) -> float:
        """Start sending; the epoch ms at which event 0 was due."""
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        await self.process.stdin.drain()
        return float((await self._expect("start", timeout=10))[0])

    async def done(self, start_ms: float, timeout: float) -> Sent:
        """Wait for the last event to be acknowledged; the process stays until
        :meth:`stop`, so that its CPU time can still be read."""
        sent, seconds, errors = await self._expect("done", timeout=timeout)
        return Sent(start_ms, int(sent), float(seconds), int(errors))

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            assert self.process.stdin is not None
            try:
                self.process.stdin.write(b"exit\n")
                await asyncio.wait_for(self.process.wait(), 10)
            except (TimeoutError, OSError):
                self.process.kill()
                await self.process.wait()
        self.path.unlink(missing_ok=True)

    async def _expect(self, word: str, *, timeout: float) -> list[str]:
        assert self.process is not None and self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
            if not line:
                raise RuntimeError(f"the Java producer exited before {word!r}; see {self.log}")
            parts = line.decode().split()
            if parts[:2] == ["PACED", word]:
                return parts[2:]
