"""The label stream's index: the first open task an annotator may take, in O(log n).

Tasks with a free seat wait in a few queues (tiers, e.g. low agreement before the rest),
each ordered by import sequence. An annotator must pass over the tasks they hold, labeled
or were kept off. One heap shared by all annotators would make a call walk past all of
those: an annotator who labeled 20,000 tasks that still wait for other annotators would
step over 20,000 entries on every call. So each tier keeps a Fenwick (binary indexed)
tree counting its tasks by sequence number, and each annotator a sparse Fenwick tree per
tier counting the tasks of that tier they are blocked on. The difference of the two is
the count of tasks the annotator may take; the first of them is found by one descent,
O(log n) steps, whatever the annotator did before. An annotator's sparse tree holds
O(b log n) entries for the b pooled tasks they are blocked on.

Fenwick trees: P. M. Fenwick, "A new data structure for cumulative frequency tables",
Software: Practice and Experience 24(3), 1994.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

_EMPTY: dict[int, int] = {}  # the sparse tree of an annotator blocked on nothing; never written


class Queue(StrEnum):
    """Where an assignment came from, in the order the label stream tries them.

    Named after Label Studio's ``queue_info`` labels (``projects/functions/next_task.py``).
    """

    REWORK = "rework"  # an annotation a reviewer rejected and requeued to its annotator
    RESERVED = "reserved"  # a task the annotator already holds (Label Studio's "task lock")
    GROUND_TRUTH = "ground_truth"  # a honeypot: a ground-truth task, when one is due
    LOW_AGREEMENT = "low_agreement"  # one more annotator asked for by the consensus
    STARTED = "started"  # show-overlap-first: a task other annotators already started
    OVERLAP = "overlap"  # show-overlap-first: a fresh task of the overlap cohort
    SEQUENCE = "sequence"  # everything else, in import order
    SKIPPED = "skipped"  # requeue-for-me: a task the annotator skipped, after all others
    PUSHED = "pushed"  # reserved ahead for the annotator in push mode (``Distribution.push``)


# The tiers of the index, in the order they are offered.
TIERS: tuple[Queue, ...] = (Queue.LOW_AGREEMENT, Queue.STARTED, Queue.OVERLAP, Queue.SEQUENCE)


@dataclass(frozen=True, slots=True)
class Assignment:
    """A task reserved for an annotator.

    ``expires_at`` is when the reservation returns the task to the pool (seconds since
    the epoch), ``None`` for a rejected annotation requeued to its annotator, which waits
    for them. ``queue`` says why this task (:class:`Queue`).
    """

    task: str
    annotator: str
    expires_at: float | None
    queue: Queue


def _add(tree: list[int], index: int, delta: int, capacity: int) -> None:
    while index <= capacity:
        tree[index] += delta
        index += index & -index


def _add_sparse(tree: dict[int, int], index: int, delta: int, capacity: int) -> None:
    while index <= capacity:
        value = tree.get(index, 0) + delta
        if value:
            tree[index] = value
        else:
            # Dropping zeros keeps an annotator's tree as small as what they block now.
            del tree[index]
        index += index & -index


class LabelStream:
    """Tasks with a free seat, by tier and sequence, and who is blocked on each.

    Sequence numbers are positive integers, unique per task (the import order). The
    index only orders and filters: which tasks have a free seat, their tier and who is
    blocked on them is decided by the caller (:class:`assignment.distribution.Distribution`).
    """

    __slots__ = ("_blocked", "_blocked_counts", "_capacity", "_counts", "_placed", "_trees")

    def __init__(self, tiers: int = len(TIERS), capacity: int = 1024) -> None:
        if tiers < 1:
            raise ValueError(f"a label stream needs at least one tier, got {tiers}")
        self._capacity = 1 << max(capacity - 1, 1).bit_length()  # a power of two
        self._trees = [[0] * (self._capacity + 1) for _ in range(tiers)]
        self._counts = [0] * tiers
        self._blocked: dict[str, list[dict[int, int]]] = {}
        self._blocked_counts: dict[str, list[int]] = {}
        self._placed: dict[int, tuple[int, frozenset[str]]] = {}

    def __len__(self) -> int:
        """Tasks in the index, all tiers."""
        return len(self._placed)

    def tier_of(self, seq: int) -> int | None:
        """The tier a task is in, ``None`` when it is not in the index."""
        placed = self._placed.get(seq)
        return None if placed is None else placed[0]

    def place(self, seq: int, tier: int | None, blockers: Iterable[str]) -> None:
        """Put a task in ``tier`` with the annotators blocked on it; ``tier=None`` removes it.

        Parameters
        ----------
        seq
            The task's sequence number, >= 1.
        tier
            Index into the tiers, 0 first; ``None`` when the task has no free seat.
        blockers
            Annotators who must not be offered the task.

        Costs O((1 + changed blockers) log n): calling it again with what is already
        there changes nothing.
        """
        if seq < 1:
            raise ValueError(f"sequence numbers start at 1, got {seq}")
        if tier is not None and not 0 <= tier < len(self._trees):
            raise ValueError(f"tier must be in [0, {len(self._trees)}), got {tier}")
        old = self._placed.get(seq)
        if tier is None:
            if old is not None:
                self._move(seq, old[0], old[1], -1)
                del self._placed[seq]
            return
        new = frozenset(blockers)
        if old is None:
            while seq > self._capacity:
                self._grow()
            self._move(seq, tier, new, 1)
        elif old[0] != tier:
            self._move(seq, old[0], old[1], -1)
            self._move(seq, tier, new, 1)
        elif old[1] != new:
            for annotator in old[1] - new:
                self._block(annotator, tier, seq, -1)
            for annotator in new - old[1]:
                self._block(annotator, tier, seq, 1)
        self._placed[seq] = (tier, new)

    def first(self, annotator: str, skip: Collection[int] = ()) -> tuple[int, int] | None:
        """``(tier, seq)`` of the first task ``annotator`` is not blocked on, or ``None``.

        Tiers in order (those in ``skip`` left out), then the smallest sequence number:
        O(tiers + log n).
        """
        counts = self._blocked_counts.get(annotator)
        trees = self._blocked.get(annotator)
        for tier, total in enumerate(self._counts):
            if tier in skip:
                continue
            blocked = _EMPTY if trees is None else trees[tier]
            if total - (counts[tier] if counts is not None else 0) <= 0:
                continue
            tree = self._trees[tier]
            # Descend to the last position before which every task is blocked (or absent):
            # a node whose whole range has no task left for this annotator is stepped over.
            position = 0
            step = self._capacity
            while step:
                following = position + step
                if following <= self._capacity and tree[following] == blocked.get(following, 0):
                    position = following
                step >>= 1
            return tier, position + 1
        return None

    def _move(self, seq: int, tier: int, blockers: frozenset[str], delta: int) -> None:
        _add(self._trees[tier], seq, delta, self._capacity)
        self._counts[tier] += delta
        for annotator in blockers:
            self._block(annotator, tier, seq, delta)

    def _block(self, annotator: str, tier: int, seq: int, delta: int) -> None:
        trees = self._blocked.get(annotator)
        if trees is None:
            trees = self._blocked[annotator] = [{} for _ in self._trees]
            self._blocked_counts[annotator] = [0] * len(self._trees)
        _add_sparse(trees[tier], seq, delta, self._capacity)
        self._blocked_counts[annotator][tier] += delta

    def _grow(self) -> None:
        # A Fenwick node i covers (i - lowbit(i), i] whatever the size, so doubling keeps
        # every node; of the new ones only the last, which covers everything, is non-zero.
        old = self._capacity
        self._capacity = new = 2 * old
        for tier, tree in enumerate(self._trees):
            tree.extend([0] * old)
            tree[new] = self._counts[tier]
        for annotator, sparse_trees in self._blocked.items():
            for tier, sparse in enumerate(sparse_trees):
                count = self._blocked_counts[annotator][tier]
                if count:
                    sparse[new] = count
