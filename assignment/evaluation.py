"""Annotator evaluation settings, honeypot scheduling and the pause events.

Label Studio Enterprise's "Annotator Evaluation" (docs: guide/project_settings_lse.md,
"Quality"): annotators are scored against ground truth; with "Onboarding evaluation"
their first tasks are ground-truth tasks; "Pause annotator on failed evaluation" pauses
one whose ground-truth agreement is below "Score required to pass evaluation" once they
have done "Number of tasks for evaluation" ground-truth tasks. API fields and defaults:
``annotator_evaluation_enabled`` (off), ``annotator_evaluation_onboarding_tasks`` (0),
``pause_on_failed_annotator_evaluation`` (false), ``annotator_evaluation_minimum_score``
("95.00", a percentage), ``annotator_evaluation_minimum_tasks`` (10).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

PAUSE_REASON = "ground_truth_evaluation_failed"
UNPAUSE_REASON = "evaluation_settings_relaxed"


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    return value


def _share(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


@dataclass(frozen=True)
class EvaluationSettings:
    """How a project evaluates annotators against ground truth.

    Attributes
    ----------
    enabled
        Serve ground-truth tasks as honeypots and evaluate (Label Studio's
        ``annotator_evaluation_enabled``). Ground-truth agreement is computed either way,
        as Label Studio shows it in the Members dashboard.
    onboarding_tasks
        Ground-truth tasks each annotator gets first, >= 0.
    continuous_share
        After onboarding, the share in [0, 1] of each annotator's tasks that are
        ground-truth tasks, mixed in evenly (Quorum's deterministic take on Label
        Studio's "Continuous evaluation"); 0 mixes none in.
    pause_on_failure
        Pause an annotator who fails the evaluation.
    minimum_score
        Ground-truth agreement in [0, 1] required to pass (Label Studio's percentage
        divided by 100).
    minimum_tasks
        Ground-truth tasks an annotator must have done before they can be paused, >= 0.
    review_below
        Request a review (``ground_truth_disagreement``) for a submission scoring below
        this against the ground truth; ``None`` (default) requests none. Quorum's.
    """

    enabled: bool = False
    onboarding_tasks: int = 0
    continuous_share: float = 0.0
    pause_on_failure: bool = False
    minimum_score: float = 0.95
    minimum_tasks: int = 10
    review_below: float | None = None
    _exact_share: Fraction = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for flag in ("enabled", "pause_on_failure"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be true or false, got {getattr(self, flag)!r}")
        set_field = object.__setattr__  # frozen: normalise once, here
        set_field(self, "onboarding_tasks", _count("onboarding_tasks", self.onboarding_tasks))
        set_field(self, "minimum_tasks", _count("minimum_tasks", self.minimum_tasks))
        set_field(self, "minimum_score", _share("minimum_score", self.minimum_score))
        set_field(self, "continuous_share", _share("continuous_share", self.continuous_share))
        if self.review_below is not None:
            set_field(self, "review_below", _share("review_below", self.review_below))
        # The share as the decimal the user wrote (0.1 is 1/10, not the float just below
        # it), so "every tenth task" is every tenth task, never the eleventh.
        set_field(self, "_exact_share", Fraction(repr(self.continuous_share)))

    @property
    def exact_share(self) -> Fraction:
        """``continuous_share`` as an exact fraction of its decimal value."""
        return self._exact_share

    @classmethod
    def from_label_studio(cls, project: Mapping[str, Any], **options: Any) -> EvaluationSettings:
        """Settings from a Label Studio project (``GET /api/projects/{id}``); absent
        fields keep their defaults. ``options`` sets the Quorum-only fields."""
        fields = {
            "enabled": "annotator_evaluation_enabled",
            "onboarding_tasks": "annotator_evaluation_onboarding_tasks",
            "pause_on_failure": "pause_on_failed_annotator_evaluation",
            "minimum_tasks": "annotator_evaluation_minimum_tasks",
        }
        read = {ours: project[theirs] for ours, theirs in fields.items() if theirs in project}
        percent = project.get("annotator_evaluation_minimum_score")
        if percent is not None:
            try:
                value = float(percent)  # Label Studio sends a decimal string, "95.00"
            except (TypeError, ValueError):
                value = math.nan
            if not 0 <= value <= 100:
                raise ValueError(
                    f"annotator_evaluation_minimum_score must be a percentage in [0, 100], "
                    f"got {percent!r}"
                )
            read["minimum_score"] = value / 100
        return cls(**{**read, **options})


def ground_truth_due(settings: EvaluationSettings, ground_truth_tasks: int, tasks: int) -> bool:
    """Whether an annotator's next task should be a ground-truth one (a honeypot).

    Parameters
    ----------
    settings
        The project's evaluation settings.
    ground_truth_tasks
        Ground-truth tasks the annotator has done, >= 0.
    tasks
        All tasks the annotator has done, ground-truth ones included, >= ground_truth_tasks.

    Returns
    -------
    bool
        False when evaluation is off. True while the annotator has done fewer than
        ``onboarding_tasks`` ground-truth tasks (Label Studio serves those first); after
        that, True when one more ground-truth task keeps their share of ground-truth
        tasks at or below ``continuous_share``: ``g + 1 <= share * (n + 1)``, exactly.
        A share ``s`` thus makes every ``1/s``-th task a ground-truth one, evenly spread
        and decided from the counts alone (no randomness, replayable).
    """
    _count("ground_truth_tasks", ground_truth_tasks)
    _count("tasks", tasks)
    if ground_truth_tasks > tasks:
        raise ValueError(
            f"ground_truth_tasks ({ground_truth_tasks}) cannot exceed tasks ({tasks}); "
            "count ground-truth tasks among all tasks"
        )
    if not settings.enabled:
        return False
    if ground_truth_tasks < settings.onboarding_tasks:
        return True
    share = settings.exact_share
    return (ground_truth_tasks + 1) * share.denominator <= share.numerator * (tasks + 1)


@dataclass(frozen=True, slots=True)
class AnnotatorPaused:
    """An annotator failed the evaluation and is paused (emitted once)."""

    annotator: str
    score: float
    tasks: int
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class AnnotatorUnpaused:
    """A paused annotator passes under relaxed evaluation settings.

    Label Studio: an annotator paused by the evaluation cannot be unpaused by hand;
    "relax the evaluation settings" instead. ``score`` is ``None`` when they have no
    ground-truth score left.
    """

    annotator: str
    score: float | None
    tasks: int
    reason: str
    at: float
