"""Local Kafka and Redis for development and tests: start, stop, check, restart and wipe.

Kafka runs from jars that Maven resolves from ``infra/kafka/pom.xml`` (no Docker, no tarball
download), as one KRaft node that is both broker and controller. Redis is the distribution's
``redis-server`` with an append-only file. Everything they write lives under
``settings.data_dir``::

    <data_dir>/kafka/server.properties   rendered from infra/kafka/server.properties
    <data_dir>/kafka/cluster.id          generated once, reused by every format
    <data_dir>/kafka/logs/               the Kafka log dirs (topics, __cluster_metadata)
    <data_dir>/kafka/server.log          Kafka's own log (log4j2.xml)
    <data_dir>/kafka/stdout.log          JVM stdout/stderr: startup crashes land here
    <data_dir>/kafka/kafka.pid
    <data_dir>/redis/                    appendonly dir, redis.log, redis.pid

Every function is idempotent: ``up`` leaves a service that already answers alone and
``down`` is a no-op for one that is not running.

Run as ``python -m streams.infra up|down|status|restart-kafka|restart-redis|wipe|jars``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import hashlib
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from streams.errors import InfraError
from streams.settings import Settings

__all__ = [
    "InfraError",
    "down",
    "ensure_jars",
    "kafka_answers",
    "redis_answers",
    "restart_kafka",
    "restart_redis",
    "status",
    "up",
    "wipe",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Modest heap: a dev broker holds little, and the box also runs Redis, Python and the tests.
JVM_OPTS = ("-Xmx1g", "-Xms256m", "-XX:+UseG1GC", "-Djava.awt.headless=true")
KAFKA_STOP_TIMEOUT_S = 30.0
REDIS_STOP_TIMEOUT_S = 10.0
# Between readiness probes: short enough that `up` returns soon after the service is ready.
POLL_INTERVAL_S = 0.25
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
INSTALL_REDIS_HINT = "run `sudo apt-get install -y redis-server` (or scripts/bootstrap.sh)"
INSTALL_MAVEN_HINT = "run `sudo apt-get install -y maven` (or scripts/bootstrap.sh)"


@dataclass(frozen=True)
class _Paths:
    """Where each service keeps its files; derived from the settings so tests can relocate it."""

    kafka_home: Path
    kafka_dir: Path
    redis_dir: Path

    @classmethod
    def of(cls, settings: Settings) -> _Paths:
        data_dir = settings.data_dir.resolve()
        return cls(
            kafka_home=settings.kafka_home.resolve(),
            kafka_dir=data_dir / "kafka",
            redis_dir=data_dir / "redis",
        )

    @property
    def pom(self) -> Path:
        return self.kafka_home / "pom.xml"

    @property
    def lib(self) -> Path:
        return self.kafka_home / "target" / "lib"

    @property
    def jar_stamp(self) -> Path:
        return self.lib / ".pom.sha256"

    @property
    def base_properties(self) -> Path:
        return self.kafka_home / "server.properties"

    @property
    def log4j_config(self) -> Path:
        return self.kafka_home / "log4j2.xml"

    @property
    def properties(self) -> Path:
        return self.kafka_dir / "server.properties"

    @property
    def log_dirs(self) -> Path:
        return self.kafka_dir / "logs"

    @property
    def cluster_id(self) -> Path:
        return self.kafka_dir / "cluster.id"

    @property
    def kafka_pid(self) -> Path:
        return self.kafka_dir / "kafka.pid"

    @property
    def kafka_stdout(self) -> Path:
        return self.kafka_dir / "stdout.log"

    @property
    def kafka_log(self) -> Path:
        return self.kafka_dir / "server.log"

    @property
    def kafka_gc_log(self) -> Path:
        return self.kafka_dir / "gc.log"

    @property
    def redis_pid(self) -> Path:
        return self.redis_dir / "redis.pid"

    @property
    def redis_log(self) -> Path:
        return self.redis_dir / "redis.log"


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def up(settings: Settings, *, timeout_s: float = 90) -> None:
    """Start Kafka and Redis unless they already answer, and return once both do.

    Raises:
        InfraError: a tool is missing, a process died while starting, or a service did not
            answer within ``timeout_s``; the message names the log file to read.
    """
    paths = _Paths.of(settings)
    # Redis first: it daemonizes in milliseconds, so its wait overlaps Kafka's JVM start.
    if redis_answers(settings):
        log.info("redis: already answering at %s", _redacted(settings.redis_url))
    else:
        _start_redis(settings, paths)
    if kafka_answers(settings):
        log.info("kafka: already answering at %s", settings.kafka_bootstrap)
    else:
        _start_kafka(settings, paths)
    deadline = time.monotonic() + timeout_s
    _wait_for_redis(settings, paths, deadline)
    _wait_for_kafka(settings, paths, deadline)


def down(settings: Settings) -> None:
    """Stop Kafka and Redis if they run; data stays on disk. A no-op for stopped services."""
    paths = _Paths.of(settings)
    _stop_kafka(settings, paths)
    _stop_redis(settings, paths)


def status(settings: Settings) -> dict[str, bool]:
    """Whether each service answers right now, e.g. ``{"kafka": True, "redis": False}``."""
    return {"kafka": kafka_answers(settings), "redis": redis_answers(settings)}


def kafka_answers(settings: Settings, *, timeout_s: float = 5.0) -> bool:
    """True if a broker at ``kafka_bootstrap`` answers a metadata request listing a broker."""
    host, port = _kafka_host_port(settings)
    # A closed port is the common "down" case: answer it without building a Kafka client,
    # which would log connection errors at ERROR level for every probe.
    if not _port_open(host, port):
        return False
    return _run_sync(_kafka_metadata_ok(settings.kafka_bootstrap, timeout_s))


def redis_answers(settings: Settings, *, timeout_s: float = 2.0) -> bool:
    """True if the Redis at ``redis_url`` answers PING."""
    client = redis.Redis.from_url(
        settings.redis_url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
    )
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        # LOADING (replaying the AOF after a restart) lands here too: not ready to serve yet.
        return False
    finally:
        client.close()


def restart_kafka(settings: Settings, *, timeout_s: float = 90, down_for_s: float = 0.0) -> None:
    """Stop Kafka, keep it down for ``down_for_s``, start it again, return once it answers.

    Tests restart it mid-stream to show that nothing is lost.
    """
    paths = _Paths.of(settings)
    _stop_kafka(settings, paths)
    time.sleep(down_for_s)
    _start_kafka(settings, paths)
    _wait_for_kafka(settings, paths, time.monotonic() + timeout_s)


def restart_redis(settings: Settings, *, timeout_s: float = 30, down_for_s: float = 0.0) -> None:
    """Stop Redis (flushing its AOF), keep it down for ``down_for_s``, start it again, and
    return once it answers."""
    paths = _Paths.of(settings)
    _stop_redis(settings, paths)
    time.sleep(down_for_s)
    _start_redis(settings, paths)
    _wait_for_redis(settings, paths, time.monotonic() + timeout_s)


def wipe(settings: Settings) -> None:
    """Stop both services and delete the data dir: every topic, offset and Redis key is gone."""
    down(settings)
    data_dir = settings.data_dir.resolve()
    # The data dir comes from an environment variable; refuse anything that is clearly not ours.
    forbidden = {Path("/"), Path.home().resolve(), settings.kafka_home.resolve().parent.parent}
    if data_dir in forbidden or len(data_dir.parts) < 3:
        raise InfraError(f"refusing to delete {data_dir}: it does not look like a Quorum data dir")
    if data_dir.exists():
        shutil.rmtree(data_dir)
        log.info("wiped %s", data_dir)


def ensure_jars(settings: Settings) -> Path:
    """Resolve the Kafka jars with Maven unless ``target/lib`` matches the current pom.

    A hash of the pom is kept next to the jars, so bumping the Kafka version replaces the
    whole directory instead of mixing two versions on one classpath.

    Returns:
        The directory holding the jars.
    """
    paths = _Paths.of(settings)
    pom_hash = hashlib.sha256(paths.pom.read_bytes()).hexdigest()
    has_jars = paths.lib.is_dir() and any(paths.lib.glob("*.jar"))
    if has_jars and _read_text(paths.jar_stamp) == pom_hash:
        return paths.lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError(f"Maven (mvn) is needed to fetch the Kafka jars: {INSTALL_MAVEN_HINT}")
    log.info("kafka: resolving jars with Maven into %s (first run takes a minute)", paths.lib)
    if paths.lib.exists():
        shutil.rmtree(paths.lib)
    result = subprocess.run(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(paths.pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={paths.lib}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not any(paths.lib.glob("*.jar")):
        raise InfraError(
            f"Maven could not resolve the Kafka jars (exit {result.returncode}):\n"
            + _tail(result.stdout + result.stderr)
        )
    paths.jar_stamp.write_text(pom_hash)
    return paths.lib


# --------------------------------------------------------------------------------------------
# Kafka
# --------------------------------------------------------------------------------------------


def _start_kafka(settings: Settings, paths: _Paths) -> None:
    """Format storage if needed and launch the broker detached; does not wait for it."""
    _require_local("kafka_bootstrap", _kafka_host_port(settings)[0])
    pid = _kafka_pid(paths)
    if pid is not None:
        # A broker from an earlier `up` is still starting (or hung): don't start a second one
        # that would fight it for the lock on the log dirs. The wait will report on it.
        log.info("kafka: process %d already running, waiting for it", pid)
        return
    lib = ensure_jars(settings)
    java = _java()
    paths.kafka_dir.mkdir(parents=True, exist_ok=True)
    _render_properties(settings, paths)
    _format_storage(java, lib, paths)
    command = [
        java,
        *JVM_OPTS,
        # The broker's pauses, for when latency needs explaining (as Kafka's own launcher
        # keeps a GC log); two files of 10 MB at most.
        f"-Xlog:gc:file={paths.kafka_gc_log}:time,uptime:filecount=2,filesize=10m",
        f"-Dlog4j2.configurationFile={paths.log4j_config}",
        f"-Dkafka.logs.dir={paths.kafka_dir}",
        "-cp",
        f"{lib}/*",
        "kafka.Kafka",
        str(paths.properties),
    ]
    # Launched through `sh -c '... &'` so the JVM is a grandchild that init adopts: this process
    # keeps no Popen for it, so nothing warns "subprocess still running" when it is garbage
    # collected and no zombie is left behind when another process stops the broker. The new
    # session keeps Ctrl-C in the caller's terminal from reaching the broker.
    script = (
        f"exec >>{shlex.quote(str(paths.kafka_stdout))} 2>&1 </dev/null; "
        f"{shlex.join(command)} & echo $! >{shlex.quote(str(paths.kafka_pid))}"
    )
    subprocess.run(["sh", "-c", script], cwd=paths.kafka_dir, start_new_session=True, check=True)
    log.info("kafka: started pid %s, log %s", _read_text(paths.kafka_pid), paths.kafka_log)


def _stop_kafka(settings: Settings, paths: _Paths) -> None:
    """SIGTERM the broker (a clean shutdown skips log recovery next start), SIGKILL if stuck."""
    pid = _kafka_pid(paths)
    if pid is None:
        if kafka_answers(settings):
            log.warning(
                "kafka: something answers at %s but it was not started from %s; leaving it",
                settings.kafka_bootstrap,
                paths.kafka_dir,
            )
        paths.kafka_pid.unlink(missing_ok=True)
        return
    log.info("kafka: stopping pid %d", pid)
    if not _terminate(pid, KAFKA_STOP_TIMEOUT_S):
        log.warning("kafka: pid %d ignored SIGTERM for %.0f s, killed", pid, KAFKA_STOP_TIMEOUT_S)
    paths.kafka_pid.unlink(missing_ok=True)


def _wait_for_kafka(settings: Settings, paths: _Paths, deadline: float) -> None:
    """Poll until the broker answers; fail fast if its process died.

    Dead means not found twice in a row: while the launching shell's child execs the JVM,
    its /proc cmdline is briefly empty (seen once in CI, mid `restart_kafka`).
    """
    missing = False
    while not kafka_answers(settings):
        was_missing, missing = missing, _kafka_pid(paths) is None
        if missing and was_missing:
            raise InfraError(
                f"Kafka exited while starting; see {paths.kafka_log} and {paths.kafka_stdout}:\n"
                + _tail(_read_text(paths.kafka_stdout) or "")
            )
        if time.monotonic() > deadline:
            raise InfraError(
                f"Kafka did not answer at {settings.kafka_bootstrap} in time; "
                f"see {paths.kafka_log} and {paths.kafka_stdout}"
            )
        time.sleep(POLL_INTERVAL_S)
    log.info("kafka: answering at %s", settings.kafka_bootstrap)


def kafka_pid(settings: Settings) -> int | None:
    """The pid of the broker ``quorum infra up`` started for these settings (their data
    dir), if it is alive; another checkout's broker is not it."""
    return _kafka_pid(_Paths.of(settings))


def _kafka_pid(paths: _Paths) -> int | None:
    """The pid of our broker if it is alive, found by pid file or, failing that, by its command.

    The command line is checked both ways so a recycled pid is never mistaken for the broker.
    """
    marker = str(paths.properties)
    pid = _read_pid(paths.kafka_pid)
    if pid is not None and _cmdline_has(pid, "kafka.Kafka", marker):
        return pid
    # Pid file lost or stale (e.g. data dir restored): look for the JVM running our config.
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _cmdline_has(int(entry.name), "kafka.Kafka", marker):
            return int(entry.name)
    return None


def _render_properties(settings: Settings, paths: _Paths) -> None:
    """Write the broker config with ports and log dirs taken from the settings.

    A rendered file rather than ``--override`` flags because ``StorageTool format`` reads
    ``log.dirs`` from the file and has no ``--override`` option.
    """
    host, port = _kafka_host_port(settings)
    controller = f"{host}:{settings.kafka_controller_port}"
    overrides = {
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{controller}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        "controller.quorum.bootstrap.servers": controller,
        "log.dirs": str(paths.log_dirs),
    }
    lines = []
    for line in paths.base_properties.read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if not line.lstrip().startswith("#") and key in overrides:
            line = f"{key}={overrides.pop(key)}"
        lines.append(line)
    lines.extend(f"{key}={value}" for key, value in overrides.items())
    header = f"# Generated by streams/infra.py from {paths.base_properties}; edit that instead.\n"
    paths.properties.write_text(header + "\n".join(lines) + "\n")


def _format_storage(java: str, lib: Path, paths: _Paths) -> None:
    """Format the log dirs for KRaft once; a formatted dir has ``meta.properties``."""
    if (paths.log_dirs / "meta.properties").exists():
        return
    cluster_id = _read_text(paths.cluster_id) or _new_cluster_id()
    paths.cluster_id.write_text(cluster_id)
    log.info("kafka: formatting %s for cluster %s", paths.log_dirs, cluster_id)
    result = subprocess.run(
        [
            java,
            f"-Dlog4j2.configurationFile={paths.log4j_config}",
            f"-Dkafka.logs.dir={paths.kafka_dir}",
            "-cp",
            f"{lib}/*",
            "kafka.tools.StorageTool",
            "format",
            # One voter (this node) bootstrapped into the dynamic quorum.
            "--standalone",
            "-t",
            cluster_id,
            "-c",
            str(paths.properties),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise InfraError(
            f"formatting Kafka storage failed (exit {result.returncode}):\n"
            + _tail(result.stdout + result.stderr)
        )


def _new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64, unpadded (as ``random-uuid``).

    Generated here to spare a JVM start. Kafka rejects ids starting with '-' on the command line.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


async def _kafka_metadata_ok(bootstrap: str, timeout_s: float) -> bool:
    """Ask the broker for cluster metadata; a broker that lists itself is ready for clients."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="quorum-infra-probe",
        request_timeout_ms=int(timeout_s * 1000),
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s)
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout_s)
        return bool(cluster.get("brokers"))
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await admin.close()


def _kafka_host_port(settings: Settings) -> tuple[str, int]:
    """Host and port of the first bootstrap server (the local broker has exactly one)."""
    first = settings.kafka_bootstrap.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    if not host or not port.isdigit():
        raise InfraError(f"kafka_bootstrap must look like host:port, got {first!r}")
    return host.strip("[]"), int(port)


def _java() -> str:
    """JAVA_HOME's java if set (what Kafka's own scripts do), else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise InfraError(
            "Java 17+ is needed to run Kafka: run `sudo apt-get install -y openjdk-17-jre-headless`"
        )
    return java


# --------------------------------------------------------------------------------------------
# Redis
# --------------------------------------------------------------------------------------------


# Every acknowledged write survives a restart, losing at most ~1 s on a crash: the
# append-only file is the durable copy. Redis' defaults also fork on their own while a
# worker streams: RDB snapshots (``save``), and an AOF rewrite whenever the file has
# doubled past 64 MB. A busy worker grows the file by 15-30 MB/s (task records are
# rewritten, outbox entries trimmed) while the data stays small, so that was a fork every
# 3 s, each child taking most of a core for 0.1-0.5 s: the latency's spikes lined up
# with them. With snapshots off and rewrites from 1 GB (4 GB in the first four pairs;
# no fork in any run either way), p99 94, 75, 80, 102, 75, 101 and 143 ms at 17,000/s,
# against 75, 167, 150, 177, 100, 92 and 162 ms with the defaults (bench/README.md,
# session 22). ``BGSAVE`` still takes a snapshot when
# asked, for a backup.
REDIS_PERSISTENCE = (
    "--appendonly", "yes",
    "--appendfsync", "everysec",
    "--auto-aof-rewrite-min-size", "1gb",
    "--save", "",
)


def _start_redis(settings: Settings, paths: _Paths) -> None:
    """Launch ``redis-server`` daemonized with an fsync-every-second append-only file,
    rewritten only once it passes 1 GB, and no RDB snapshots (:data:`REDIS_PERSISTENCE`)."""
    url = urlsplit(settings.redis_url)
    host, port = url.hostname or "127.0.0.1", url.port or 6379
    _require_local("redis_url", host)
    server = shutil.which("redis-server")
    if server is None:
        raise InfraError(f"redis-server is not installed: {INSTALL_REDIS_HINT}")
    paths.redis_dir.mkdir(parents=True, exist_ok=True)
    pid = _read_pid(paths.redis_pid)
    if pid is not None and _cmdline_has(pid, "redis-server"):
        log.info("redis: process %d already running, waiting for it", pid)
        return
    result = subprocess.run(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            *REDIS_PERSISTENCE,
            "--dir",
            str(paths.redis_dir),
            "--daemonize",
            "yes",
            "--pidfile",
            str(paths.redis_pid),
            "--logfile",
            str(paths.redis_log),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise InfraError(
            f"redis-server failed to start (exit {result.returncode}); see {paths.redis_log}:\n"
            + _tail(result.stdout + result.stderr)
        )
    log.info("redis: started on port %d, log %s", port, paths.redis_log)


def _stop_redis(settings: Settings, paths: _Paths) -> None:
    """SHUTDOWN (which fsyncs the AOF) if it answers, else SIGTERM a leftover pid."""
    pid = _read_pid(paths.redis_pid)
    if pid is not None and not _cmdline_has(pid, "redis-server"):
        pid = None
    if pid is None and not redis_answers(settings):
        paths.redis_pid.unlink(missing_ok=True)
        return
    if pid is None:
        log.warning(
            "redis: something answers at %s but it was not started from %s; leaving it",
            _redacted(settings.redis_url),
            paths.redis_dir,
        )
        return
    log.info("redis: stopping pid %d", pid)
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=10)
    try:
        client.shutdown()
    except (redis.RedisError, OSError):
        # Not answering (still loading, or hung): the signal below handles it.
        pass
    finally:
        client.close()
    if not _terminate(pid, REDIS_STOP_TIMEOUT_S):
        log.warning("redis: pid %d did not stop in %.0f s, killed", pid, REDIS_STOP_TIMEOUT_S)
    paths.redis_pid.unlink(missing_ok=True)


def _wait_for_redis(settings: Settings, paths: _Paths, deadline: float) -> None:
    """Poll PING until Redis answers (it refuses commands while replaying a large AOF)."""
    while not redis_answers(settings):
        if time.monotonic() > deadline:
            raise InfraError(
                f"Redis did not answer at {_redacted(settings.redis_url)} in time; "
                f"see {paths.redis_log}"
            )
        time.sleep(POLL_INTERVAL_S)
    log.info("redis: answering at %s", _redacted(settings.redis_url))


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _terminate(pid: int, timeout_s: float) -> bool:
    """SIGTERM, wait up to ``timeout_s``, then SIGKILL. True if it stopped on its own."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    while _alive(pid):
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process; a zombie counts as dead (it only awaits reaping)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name, which may itself contain spaces.
    return stat.rpartition(")")[2].split()[0] != "Z"


def _cmdline_has(pid: int, *needles: str) -> bool:
    """Whether ``pid`` is alive and its command line contains every needle."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, UnicodeDecodeError):
        return False
    return bool(cmdline) and all(n in cmdline for n in needles) and _alive(pid)


def _read_pid(path: Path) -> int | None:
    text = _read_text(path)
    return int(text) if text and text.isdigit() else None


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _require_local(setting: str, host: str) -> None:
    """Only services on this machine can be started here; a remote one is someone else's."""
    if host not in LOCAL_HOSTS:
        raise InfraError(f"{setting} points at {host}, not this machine: start that service there")


def _redacted(url: str) -> str:
    """The URL without a password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even if the caller is inside an event loop.

    The helpers here are sync so the CLI and pytest fixtures can call them; inside a running
    loop (async tests) ``asyncio.run`` is not allowed, so the probe gets a thread of its own.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _main(argv: list[str] | None = None) -> int:
    """``python -m streams.infra <command>``: a stand-in until ``quorum infra`` exists."""
    parser = argparse.ArgumentParser(prog="python -m streams.infra", description=__doc__)
    parser.add_argument(
        "command",
        choices=["up", "down", "status", "restart-kafka", "restart-redis", "wipe", "jars"],
    )
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait in `up`")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # aiokafka logs every refused connection at ERROR while a broker is starting: noise here.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    settings = Settings()
    try:
        if args.command == "up":
            started = time.monotonic()
            up(settings, timeout_s=args.timeout)
            print(f"up: kafka and redis answering ({time.monotonic() - started:.1f} s)")
        elif args.command == "down":
            down(settings)
            print("down: kafka and redis stopped")
        elif args.command == "status":
            answers = status(settings)
            for name, ok in answers.items():
                print(f"{name}: {'up' if ok else 'down'}")
            return 0 if all(answers.values()) else 1
        elif args.command == "restart-kafka":
            restart_kafka(settings, timeout_s=args.timeout)
        elif args.command == "restart-redis":
            restart_redis(settings, timeout_s=args.timeout)
        elif args.command == "wipe":
            wipe(settings)
        else:
            print(ensure_jars(settings))
    except InfraError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
