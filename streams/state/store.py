"""Redis I/O for the annotations agent: two round trips per batch, whatever its size.

1. :meth:`StateStore.load`: one pipelined read of the partition's applied offset, every
   touched task's record and every touched project's configuration.
2. :meth:`StateStore.apply`: one script call that writes task records, the agreement
   index, projects seen, the outbox and the new offset atomically, fenced by the
   partition owner's token.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from importlib import resources

import orjson
from redis.asyncio import Redis

from streams.models.invalid import InvalidEvent
from streams.models.project import ProjectConfig, project_config_from_dict
from streams.state.keys import Keys
from streams.state.task import TaskRecord

TaskRef = tuple[str, str]


def _script(name: str) -> str:
    return resources.files("streams.state").joinpath(name).read_text(encoding="utf-8")


class ApplyStatus(IntEnum):
    """What the batch script answered."""

    APPLIED = 1
    FENCED = -1  # another worker claimed the partition since this one did
    CONFLICT = -2  # the applied offset moved since the batch was read


@dataclass(slots=True)
class LoadedBatch:
    """What one batch needs from Redis."""

    offset_raw: str  # '' when nothing was applied yet; passed back to apply() as a CAS
    tasks: dict[TaskRef, bytes | None]
    configs: dict[str, ProjectConfig]

    @property
    def applied_offset(self) -> int | None:
        """The last applied input offset of the partition, if any."""
        return int(self.offset_raw) if self.offset_raw else None


class StateStore:
    """The agent's view of Redis. ``redis`` must be created with ``decode_responses=False``."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._apply = redis.register_script(_script("apply_batch.lua"))
        self._trim = redis.register_script(_script("trim_outbox.lua"))

    async def claim(self, partition: int) -> str:
        """Take ownership of a partition: a new fencing token that outdates the old owner's."""
        return str(await self.redis.incr(self.keys.owner(partition)))

    async def applied_offset(self, partition: int) -> int | None:
        """The last input offset whose effects are in Redis."""
        raw = await self.redis.get(self.keys.offset(partition))
        return int(raw) if raw else None

    async def load(
        self, partition: int, task_refs: list[TaskRef], project_ids: list[str]
    ) -> LoadedBatch:
        """Read the offset, task records and configurations in one round trip."""
        keys = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.offset(partition))
            if task_refs:
                pipe.mget([keys.task(partition, p, t) for p, t in task_refs])
            if project_ids:
                pipe.hmget(keys.project_configs(), project_ids)
            replies = await pipe.execute()
        offset_raw = replies[0].decode() if replies[0] else ""
        blobs = replies[1] if task_refs else []
        raw_configs = replies[-1] if project_ids else []
        configs: dict[str, ProjectConfig] = {}
        for project_id, raw in zip(project_ids, raw_configs, strict=True):
            if raw is not None:
                configs[project_id] = _stored_config(raw)
        return LoadedBatch(
            offset_raw=offset_raw,
            tasks=dict(zip(task_refs, blobs, strict=True)),
            configs=configs,
        )

    async def apply(
        self,
        partition: int,
        *,
        token: str,
        expected_offset_raw: str,
        new_offset: int,
        acked: int,
        records: dict[TaskRef, TaskRecord],
        outbox: list[bytes],
        projects: list[str],
    ) -> ApplyStatus:
        """Write one batch atomically; see ``apply_batch.lua`` for the layout."""
        keys = self.keys
        task_keys: list[str] = []
        index_keys: list[str] = []
        task_args: list[bytes | str] = []
        for (project_id, task_id), record in records.items():
            task_keys.append(keys.task(partition, project_id, task_id))
            index_keys.append(keys.agreement_index(partition, project_id))
            score = record.agreement.score
            task_args += [record.to_json(), task_id, "" if score is None else repr(score)]
        status = await self._apply(
            keys=[
                keys.owner(partition),
                keys.offset(partition),
                keys.outbox(partition),
                keys.projects_seen(partition),
                *task_keys,
                *index_keys,
            ],
            args=[
                token,
                expected_offset_raw,
                str(new_offset),
                str(acked),
                str(len(records)),
                str(len(outbox)),
                str(len(projects)),
                *task_args,
                *outbox,
                *projects,
            ],
        )
        return ApplyStatus(int(status))

    async def outbox(self, partition: int) -> list[bytes]:
        """Outputs applied but not yet known to be published, oldest first."""
        entries = await self.redis.lrange(self.keys.outbox(partition), 0, -1)
        return [e if isinstance(e, bytes) else e.encode() for e in entries]

    async def trim_outbox(self, partition: int, token: str, count: int) -> bool:
        """Drop the first ``count`` outbox entries; False if the partition was claimed away."""
        status = await self._trim(
            keys=[self.keys.owner(partition), self.keys.outbox(partition)], args=[token, count]
        )
        return int(status) == 1

    async def set_project_config(self, config_json: bytes, project_id: str) -> None:
        """Store a project's configuration (the projects agent's only write)."""
        await self.redis.hset(self.keys.project_configs(), project_id, config_json)

    async def delete_project_config(self, project_id: str) -> None:
        """Forget a project's configuration: its tasks get the defaults again."""
        await self.redis.hdel(self.keys.project_configs(), project_id)


def _stored_config(raw: bytes) -> ProjectConfig:
    """A configuration as the projects agent stored it (validated before it was stored)."""
    try:
        return project_config_from_dict(orjson.loads(raw))
    except (InvalidEvent, orjson.JSONDecodeError) as exc:  # pragma: no cover - guarded at write
        raise ValueError(f"stored project configuration is invalid: {exc}") from exc
