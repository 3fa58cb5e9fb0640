"""A `quorum worker` in a child process: what the demo, the tests and the benchmark run."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from streams.errors import QuorumError
from streams.roles import WorkerAgents
from streams.settings import REPO_ROOT, Settings


def free_port(host: str) -> int:
    """A TCP port nobody listens on now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class WorkerProcess:
    """Starts a worker for ``settings`` with its output in ``log_path``."""

    def __init__(self, settings: Settings, log_path: Path, *, web_port: int | None = None,
                 agents: WorkerAgents = WorkerAgents.ALL) -> None:
        self.settings = settings
        self.log_path = log_path
        # Several workers run side by side in tests and benchmarks: each gets a free port
        # for its label-stream API unless one is asked for.
        self.web_port = web_port if web_port is not None else free_port(settings.web_host)
        self.web_url = f"http://{settings.web_host}:{self.web_port}"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "QUORUM_TOPIC_PREFIX": settings.topic_prefix,
            "QUORUM_REDIS_PREFIX": settings.redis_prefix,
            "QUORUM_CONSUMER_GROUP": settings.consumer_group,
            "QUORUM_REDIS_URL": settings.redis_url,
            "QUORUM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "QUORUM_BATCH_MAX_RECORDS": str(settings.batch_max_records),
            "QUORUM_FETCH_HOLD_MS": str(settings.fetch_hold_ms),
            "QUORUM_FETCH_IDLE_WAIT_MS": str(settings.fetch_idle_wait_ms),
            "QUORUM_FETCH_SPARSE_GAP_MS": str(settings.fetch_sparse_gap_ms),
            "QUORUM_TASK_INDEX_SIZE": str(settings.task_index_size),
            "QUORUM_TASK_CACHE_SIZE": str(settings.task_cache_size),
            "QUORUM_PARTITIONS": str(settings.partitions),
            "QUORUM_WEB_HOST": settings.web_host,
            "QUORUM_WEB_PORT": str(self.web_port),
            "QUORUM_WORKFLOW_SNAPSHOT_EVERY": str(settings.workflow_snapshot_every),
        }
        if settings.webhook_token is not None:
            env["QUORUM_WEBHOOK_TOKEN"] = settings.webhook_token.get_secret_value()
        else:
            env.pop("QUORUM_WEBHOOK_TOKEN", None)
        self._log = log_path.open("ab")
        # Its own process group, so that a kill takes everything it started.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "--agents", agents.value],
            cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        """Everything the worker printed so far."""
        return self.log_path.read_text(errors="replace")

    async def wait_owning(self, partitions: int, timeout_s: float = 90, *,
                          workflow: bool = False) -> None:
        """Wait until the worker has claimed all ``partitions`` (it logs them) of the
        annotations topic, or with ``workflow`` of the workflow topic."""
        kind = "workflow partitions" if workflow else "partitions"
        wanted = f"owning {kind} {list(range(partitions))}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if wanted in self.log():
                return
            if self.process.poll() is not None:
                raise QuorumError(
                    f"the worker exited with code {self.process.returncode}; its log "
                    f"({self.log_path}) ends with:\n{self.log()[-3000:]}"
                )
            await asyncio.sleep(0.2)
        raise QuorumError(
            f"the worker did not claim its partitions within {timeout_s:.0f}s; see {self.log_path}"
        )

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, as in a crash."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 30) -> None:
        """Ask for a clean stop (SIGTERM); kill if it does not come in time."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()
