"""A project's distribution settings (:class:`DistributionPolicy`) and their state.

Defaults are Label Studio Enterprise's (project settings, "Annotation": overlap, overlap
cohort, task reservation, skip queue; https://docs.humansignal.com/guide/project_settings_lse),
plus Quorum's own push mode (:class:`AssignmentMode`), which Label Studio does not have.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .consensus import ConsensusPolicy
from .skips import SkipMode, parse_skip_mode

STATE_VERSION = 1
DEFAULT_RESERVATION_TTL = 1440 * 60.0
"""Label Studio Enterprise's default task reservation: 1440 minutes (one day)."""


class AssignmentMode(StrEnum):
    """How tasks reach annotators."""

    PULL = "pull"
    """Annotators ask the label stream for their next task (Label Studio's way)."""

    PUSH = "push"
    """Quorum reserves tasks for annotators ahead, least-loaded first, and announces each
    on the assignments topic; the label stream answers with the task they hold."""


def parse_assignment_mode(value: AssignmentMode | str) -> AssignmentMode:
    """An :class:`AssignmentMode` from itself or its value; ``ValueError`` naming the choices."""
    try:
        return AssignmentMode(value)
    except ValueError:
        choices = ", ".join(mode.value for mode in AssignmentMode)
        raise ValueError(f"assignment_mode must be one of {choices}; got {value!r}") from None


def hash_unit(*parts: str) -> float:
    """A number in [0, 1) fixed by ``parts``: the same in every process (``hash`` is salted)."""
    text = "\x1f".join(parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big") / 2.0**64


def in_overlap_cohort(task: str, cohort_percentage: float) -> bool:
    """Whether ``task`` is in a project's overlap cohort of ``cohort_percentage`` percent:
    fixed by a hash of the task id, so the distribution and the consensus agree on it."""
    share = cohort_percentage / 100.0
    return share >= 1.0 or hash_unit("cohort", task) < share


def check_version(state: Mapping[str, Any], what: str) -> None:
    """Refuse a state saved by another layout, saying how to get a current one."""
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"{what} state version {state.get('version')!r} is not "
                         f"{STATE_VERSION}; rebuild the state from the input topics")


def _check_number(name: str, value: object, low: float, high: float, *, open_low: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not (low < value <= high if open_low else low <= value <= high):  # NaN fails both
        bounds = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        raise ValueError(f"{name} must be in {bounds}, got {value!r}")


@dataclass(frozen=True)
class DistributionPolicy:
    """A project's distribution settings; defaults are Label Studio Enterprise's.

    Attributes
    ----------
    consensus
        Overlap (annotations per task, ``maximum_annotations``) and ``max_additional``
        (extra annotators for low agreement) come from here, the one place they are set.
    overlap_cohort_percentage
        Share of tasks, in [0, 100], that get the full overlap; the rest get 1. The
        cohort is fixed by a hash of the task id (default 100: every task).
    show_overlap_first
        Offer tasks other annotators already started, then fresh cohort tasks, before
        the rest (Label Studio default: off).
    max_tasks_per_annotator
        At most this many tasks (submitted, counted skips and open reservations) per
        annotator, >= 1; ``None`` for no limit (the default).
    max_share_per_annotator
        At most this share, in (0, 1], of the project's tasks per annotator, rounded up;
        ``None`` for no limit (the default).
    reservation_ttl
        Seconds after which an unsubmitted reservation returns its task to the pool, > 0.
    skip_mode
        What a skip does (:class:`assignment.skips.SkipMode`); default requeue for others.
    assignment_mode
        :class:`AssignmentMode`: annotators pull (the default) or Quorum pushes.
    push_depth
        In push mode, how many tasks each annotator holds ahead, >= 1 (default 1).
    """

    consensus: ConsensusPolicy = field(default_factory=ConsensusPolicy)
    overlap_cohort_percentage: float = 100.0
    show_overlap_first: bool = False
    max_tasks_per_annotator: int | None = None
    max_share_per_annotator: float | None = None
    reservation_ttl: float = DEFAULT_RESERVATION_TTL
    skip_mode: SkipMode = SkipMode.REQUEUE_FOR_OTHERS
    assignment_mode: AssignmentMode = AssignmentMode.PULL
    push_depth: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.consensus, ConsensusPolicy):
            raise ValueError(f"consensus must be a ConsensusPolicy, got {self.consensus!r}")
        _check_number("overlap_cohort_percentage", self.overlap_cohort_percentage, 0.0, 100.0,
                      open_low=False)
        if not isinstance(self.show_overlap_first, bool):
            raise ValueError(f"show_overlap_first must be True or False, "
                             f"got {self.show_overlap_first!r}")
        limit = self.max_tasks_per_annotator
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 1):
            raise ValueError("max_tasks_per_annotator must be a whole number of tasks >= 1, "
                             f"or null for no limit (none in `quorum project set`); got {limit!r}")
        if self.max_share_per_annotator is not None:
            _check_number("max_share_per_annotator", self.max_share_per_annotator, 0.0, 1.0,
                          open_low=True)
        _check_number("reservation_ttl", self.reservation_ttl, 0.0, math.inf, open_low=True)
        if math.isinf(self.reservation_ttl):
            raise ValueError("reservation_ttl must be a finite number of seconds, got inf")
        depth = self.push_depth
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ValueError(f"push_depth must be a whole number of tasks >= 1, got {depth!r}")
        object.__setattr__(self, "skip_mode", parse_skip_mode(self.skip_mode))
        object.__setattr__(self, "assignment_mode", parse_assignment_mode(self.assignment_mode))
        object.__setattr__(self, "reservation_ttl", float(self.reservation_ttl))
        object.__setattr__(self, "overlap_cohort_percentage",
                           float(self.overlap_cohort_percentage))

    @property
    def overlap(self) -> int:
        """Annotations per task in the overlap cohort."""
        return self.consensus.overlap

    @property
    def max_additional(self) -> int:
        """Extra annotators a low-agreement task may get."""
        return self.consensus.max_additional

    @property
    def pushed_per_annotator(self) -> int:
        """Tasks the distribution keeps reserved ahead for each annotator: ``push_depth``
        in push mode, 0 in pull mode."""
        return self.push_depth if self.assignment_mode is AssignmentMode.PUSH else 0

    def task_overlap(self, task: str) -> int:
        """Annotations ``task`` wants before any extra: ``overlap`` in the cohort, else 1."""
        return self.overlap if in_overlap_cohort(task, self.overlap_cohort_percentage) else 1

    def annotator_limit(self, project_tasks: int) -> int | None:
        """Most tasks one annotator may hold in a project of ``project_tasks`` tasks."""
        limits = []
        if self.max_tasks_per_annotator is not None:
            limits.append(self.max_tasks_per_annotator)
        if self.max_share_per_annotator is not None:
            # The epsilon undoes binary rounding: 0.1 * 100 is 10.000000000000002.
            limits.append(math.ceil(self.max_share_per_annotator * project_tasks - 1e-9))
        return min(limits) if limits else None

    def to_state(self) -> dict[str, Any]:
        """The settings as JSON-ready data, ``"version": 1``."""
        consensus = self.consensus
        return {
            "version": STATE_VERSION,
            "overlap": consensus.overlap,
            "threshold": consensus.threshold,
            "max_additional": consensus.max_additional,
            "overlap_cohort_percentage": self.overlap_cohort_percentage,
            "show_overlap_first": self.show_overlap_first,
            "max_tasks_per_annotator": self.max_tasks_per_annotator,
            "max_share_per_annotator": self.max_share_per_annotator,
            "reservation_ttl": self.reservation_ttl,
            "skip_mode": self.skip_mode.value,
            "assignment_mode": self.assignment_mode.value,
            "push_depth": self.push_depth,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> DistributionPolicy:
        """Settings from :meth:`to_state` (states saved before push mode existed have no
        ``assignment_mode`` or ``push_depth``: pull, depth 1)."""
        check_version(state, "distribution policy")
        consensus = ConsensusPolicy(overlap=state["overlap"], threshold=state["threshold"],
                                    max_additional=state["max_additional"])
        names = ("overlap_cohort_percentage", "show_overlap_first", "max_tasks_per_annotator",
                 "max_share_per_annotator", "reservation_ttl", "skip_mode")
        return cls(consensus=consensus, **{name: state[name] for name in names},
                   assignment_mode=state.get("assignment_mode", AssignmentMode.PULL.value),
                   push_depth=state.get("push_depth", 1))
