"""Redis I/O for the workflow agent: task distribution state, event-sourced per partition.

Each partition of ``<prefix>.workflow`` keeps, under its hash tag ``{w<N>}``:

- a *snapshot*: project -> distribution state, and the input offset and request count
  it reflects;
- a *journal*: the ops of every batch and label-stream request applied since, oldest
  first. Recovery is the snapshot plus the journal replayed in order;
- the applied input offset, the request counter, an outbox and the owner token.

Every write is one script call, fenced by the owner's token. Entries and states are
opaque bytes here: the agent encodes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

from redis.asyncio import Redis

from streams.state.keys import Keys
from streams.state.store import ApplyStatus

# Reserved snapshot fields: what the snapshot reflects. Project fields never start with a
# single '_' (see _project_field), so no project id can overwrite them.
SNAPSHOT_OFFSET = "_offset"
SNAPSHOT_REQUESTS = "_requests"


def _script(name: str) -> str:
    return resources.files("streams.state").joinpath(name).read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class WorkflowState:
    """One workflow partition as stored: what recovery rebuilds the distributions from."""

    snapshot: dict[str, bytes]  # project id -> distribution state, as of the snapshot
    snapshot_offset: int | None  # the last input offset the snapshot holds
    snapshot_requests: int  # the label-stream requests the snapshot holds
    journal: list[bytes]  # applied after the snapshot, oldest first
    offset: int | None  # the last applied input offset
    offset_raw: bytes | None  # as stored: passed back to apply() as the expected offset
    requests: int  # label-stream requests applied (the last one's number)
    outbox: list[bytes]  # outputs applied but not yet known to be published


class WorkflowStore:
    """The workflow agent's view of Redis. ``redis`` must use ``decode_responses=False``."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        # Script objects run EVALSHA and, on NOSCRIPT (a restarted Redis), load the
        # script and run it again: one round trip in the usual case.
        self._apply = redis.register_script(_script("workflow_apply.lua"))
        self._request = redis.register_script(_script("workflow_request.lua"))
        self._snapshot = redis.register_script(_script("workflow_snapshot.lua"))
        self._trim = redis.register_script(_script("trim_outbox.lua"))

    async def claim(self, partition: int) -> str:
        """Take ownership of a partition: a new fencing token that outdates the old owner's."""
        return str(await self.redis.incr(self.keys.workflow_owner(partition)))

    async def load(self, partition: int) -> WorkflowState:
        """Everything stored for a partition, read in one MULTI so no write interleaves.

        An empty partition loads as no snapshot, no journal, no offset and no requests.
        """
        keys = self.keys
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.workflow_offset(partition))
            pipe.get(keys.workflow_requests(partition))
            pipe.hgetall(keys.workflow_snapshot(partition))
            pipe.lrange(keys.workflow_journal(partition), 0, -1)
            pipe.lrange(keys.workflow_outbox(partition), 0, -1)
            offset_raw, requests_raw, stored, journal, outbox = await pipe.execute()
        snapshot: dict[str, bytes] = {}
        for raw_field, state in stored.items():
            field = _text(raw_field)
            project_id = _project_id(field)
            if project_id is not None:
                snapshot[project_id] = state
        snapshot_offset = _text(stored.get(SNAPSHOT_OFFSET.encode(), b""))
        return WorkflowState(
            snapshot=snapshot,
            snapshot_offset=int(snapshot_offset) if snapshot_offset else None,
            snapshot_requests=int(stored.get(SNAPSHOT_REQUESTS.encode(), b"0")),
            journal=list(journal),
            offset=int(offset_raw) if offset_raw else None,
            offset_raw=offset_raw,
            requests=int(requests_raw or 0),
            outbox=list(outbox),
        )

    async def apply(
        self,
        partition: int,
        token: str,
        *,
        expected_offset_raw: bytes | None,
        new_offset: int,
        journal_entry: bytes | None,
        outbox_entries: Sequence[bytes],
        acked: int,
    ) -> ApplyStatus:
        """Apply one stream batch atomically (``workflow_apply.lua``).

        Trims the first ``acked`` outbox entries, appends ``journal_entry`` (``None``: the
        batch changed no distribution, only the offset moves) and ``outbox_entries``, and
        sets the offset to ``new_offset``: only if ``token`` still owns the partition
        (else FENCED) and the stored offset is still ``expected_offset_raw`` (else
        CONFLICT; ``None`` = nothing applied yet). Nothing is written unless APPLIED.
        """
        _check_count("acked", acked)
        keys = self.keys
        entry: list[bytes] = [] if journal_entry is None else [journal_entry]
        status = await self._apply(
            keys=[
                keys.workflow_owner(partition),
                keys.workflow_offset(partition),
                keys.workflow_journal(partition),
                keys.workflow_outbox(partition),
            ],
            args=[
                token, expected_offset_raw or b"", new_offset, acked, "1" if entry else "0",
                *entry, *outbox_entries,
            ],
        )
        return ApplyStatus(int(status))

    async def record_request(
        self,
        partition: int,
        token: str,
        *,
        journal_entry: bytes,
        outbox_entries: Sequence[bytes],
        acked: int,
    ) -> tuple[ApplyStatus, int]:
        """Record one label-stream request atomically (``workflow_request.lua``).

        Numbers the request, appends ``journal_entry`` and ``outbox_entries`` and trims
        the first ``acked`` outbox entries, if ``token`` still owns the partition.
        Returns (APPLIED, the request's number, from 1) or (FENCED, 0).
        """
        _check_count("acked", acked)
        keys = self.keys
        reply = int(await self._request(
            keys=[
                keys.workflow_owner(partition),
                keys.workflow_requests(partition),
                keys.workflow_journal(partition),
                keys.workflow_outbox(partition),
            ],
            args=[token, acked, journal_entry, *outbox_entries],
        ))
        if reply < 0:
            return ApplyStatus(reply), 0
        return ApplyStatus.APPLIED, reply

    async def write_snapshot(
        self,
        partition: int,
        token: str,
        *,
        states: dict[str, bytes],
        offset: int | None,
        requests: int,
        journal_entries: int,
        removed: Iterable[str] = (),
    ) -> ApplyStatus:
        """Store a snapshot atomically (``workflow_snapshot.lua``) and drop the journal
        entries it holds.

        ``states`` (project -> state) replace those projects' states; other projects keep
        theirs, except the ``removed`` ones, which are deleted (a project that stopped
        distributing). ``offset`` and ``requests`` are the input offset and request count
        the snapshot reflects; it holds the first ``journal_entries`` journal entries,
        which are removed, and later entries stay. FENCED if ``token`` no longer owns the
        partition; CONFLICT if the journal holds fewer entries than ``journal_entries``.
        """
        _check_count("journal_entries", journal_entries)
        _check_count("requests", requests)
        gone = list(removed)
        if both := set(gone) & states.keys():
            raise ValueError(
                f"projects {sorted(both)} are both stored and removed in one snapshot; "
                "pass each project in states or in removed, not both"
            )
        pairs: list[str | bytes] = []
        for project_id, state in states.items():
            pairs += [_project_field(project_id), state]
        pairs += [SNAPSHOT_OFFSET, "" if offset is None else str(offset),
                  SNAPSHOT_REQUESTS, str(requests)]
        keys = self.keys
        status = await self._snapshot(
            keys=[
                keys.workflow_owner(partition),
                keys.workflow_snapshot(partition),
                keys.workflow_journal(partition),
            ],
            args=[token, journal_entries, len(gone), *map(_project_field, gone), *pairs],
        )
        return ApplyStatus(int(status))

    async def outbox(self, partition: int) -> list[bytes]:
        """Outputs applied but not yet known to be published, oldest first."""
        entries = await self.redis.lrange(self.keys.workflow_outbox(partition), 0, -1)
        return [e if isinstance(e, bytes) else e.encode() for e in entries]

    async def trim_outbox(self, partition: int, token: str, count: int) -> bool:
        """Drop the first ``count`` outbox entries; False if the partition was claimed away."""
        _check_count("count", count)
        status = await self._trim(
            keys=[self.keys.workflow_owner(partition), self.keys.workflow_outbox(partition)],
            args=[token, count],
        )
        return int(status) == 1


def _project_field(project_id: str) -> str:
    """A project's snapshot field: ids starting with '_' get one more, so that project
    "_offset" is stored as "__offset" and never takes a reserved field's place."""
    return "_" + project_id if project_id.startswith("_") else project_id


def _project_id(field: str) -> str | None:
    """The project of a snapshot field; None for a reserved field."""
    if field.startswith("__"):
        return field[1:]
    if field.startswith("_"):
        return None
    return field


def _check_count(name: str, value: int) -> None:
    """Counts go into LTRIM/INCR: a negative one would trim from the end of a list."""
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}; it counts entries")


def _text(value: bytes | str) -> str:
    """A Redis reply as text (clients here are made without ``decode_responses``)."""
    return value.decode() if isinstance(value, bytes) else value
