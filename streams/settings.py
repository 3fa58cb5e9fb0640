"""The one settings object: built once at start (from ``QUORUM_*`` variables) and passed in."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Where the services are, what the topics are called and how batches are sized."""

    model_config = SettingsConfigDict(env_prefix="QUORUM_", extra="ignore")

    # Services. Non-default ports so a developer's own Kafka or Redis is left alone.
    kafka_bootstrap: str = "127.0.0.1:19092"
    kafka_controller_port: int = 19093
    redis_url: str = "redis://127.0.0.1:16379/0"
    # Every Redis key starts with this, so tests and deployments can share one Redis.
    # Empty: the topic prefix, so a deployment's state never mixes with another's.
    redis_prefix: str = ""
    data_dir: Path = REPO_ROOT / ".data"
    kafka_home: Path = REPO_ROOT / "infra" / "kafka"

    # Topics. A prefix lets tests and several deployments share one broker.
    topic_prefix: str = "quorum"
    partitions: int = 4

    # Hot path: how much one fetch may hold (over all partitions) and how long it waits.
    # A fetch holds at most 1 MiB per partition (about 2,500 events); a cap below what
    # aiokafka has buffered leaves records behind, and those hold back the next fetch
    # and take a cycle of their own, so the default is above what 4 partitions fetch.
    batch_max_records: int = Field(default=50_000, ge=1)
    batch_fetch_timeout_ms: int = 50
    # How long the broker may hold a fetch of the annotations topic to gather more events
    # (up to 1 MiB): fewer, fuller cycles while events trickle in, for at most this much
    # latency. 0: it answers as soon as there is one event (bench/README.md, session 7).
    fetch_hold_ms: int = Field(default=5, ge=0, le=500)
    # Once nothing has come for a fetch timeout, fetches stop holding and wait at the
    # broker up to this long for a first event instead, answered as soon as it is there:
    # an idle worker then asks a few times a second, not every few ms (streams/fetch_hold.py).
    # 0 keeps the hold while idle.
    fetch_idle_wait_ms: int = Field(default=500, ge=0, le=5000)
    # While events come this far apart or more (moving averages: a few dozen events a
    # second or fewer, as people label), fetches wait for a first event too rather than
    # hold, as while idle (up to fetch_idle_wait_ms; with that 0, they stay held): a
    # cycle per event costs less than the held fetches between them. 0 holds whenever
    # events come (streams/fetch_hold.py).
    fetch_sparse_gap_ms: int = Field(default=20, ge=0, le=5000)
    consumer_group: str = "quorum-annotations"
    # Whether the annotations consumer checks each fetched record batch's CRC, as Kafka's
    # Java consumer does; librdkafka does not by default. The broker checked it when the
    # batch was produced; unchecked, an event damaged on the broker's disk afterwards is
    # read as it is (refused into the dead-letter topic if it no longer validates). The
    # check costs the worker 1.0-1.5 us of CPU per event (bench/README.md, session 26).
    kafka_check_crcs: bool = False
    # Task records the annotations agent keeps decoded between batches (all partitions),
    # least recently used out first; a tenth of them for completed tasks, first in first
    # out (TaskCache). A few KB each. 0 reads every task from Redis.
    task_cache_size: int = Field(default=20_000, ge=0)
    # Task records a partition may hold for its owner to index which tasks Redis has (8
    # bytes each): a batch whose uncached tasks are all new then reads nothing from Redis.
    # A partition holding more reads its uncached tasks every batch; 0 indexes none.
    task_index_size: int = Field(default=2_000_000, ge=0)
    # Bigger annotation events go to the dead-letter topic: no labeling result is this large.
    max_event_bytes: int = Field(default=1024 * 1024, ge=1024)
    # The label-stream API (faust web) of `quorum worker`.
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=6066, ge=1, le=65535)
    # When set, Label Studio's webhooks must carry ``Authorization: Bearer <token>`` (a
    # custom header of the webhook). Unset, the receiver accepts any post.
    webhook_token: SecretStr | None = None
    # The workflow agent writes each partition's projects to a snapshot once its journal
    # holds this many entries (batches and label-stream requests) since the last one.
    workflow_snapshot_every: int = Field(default=5000, ge=1)
    # Infrastructure errors (Redis or Kafka down) are retried with backoff up to this delay.
    retry_max_delay_s: float = 5.0

    @property
    def key_prefix(self) -> str:
        """The Redis key prefix in force (``redis_prefix``, else ``topic_prefix``)."""
        return self.redis_prefix or self.topic_prefix

    def topic(self, name: str) -> str:
        """Full topic name for a short one, e.g. ``annotations`` -> ``quorum.annotations``."""
        return f"{self.topic_prefix}.{name}"
