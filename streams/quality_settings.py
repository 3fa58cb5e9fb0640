"""Annotator quality's settings, its output event, and the checks of a fact's values
(see :mod:`streams.quality`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from assignment import (
    AnnotatorPaused,
    AnnotatorUnpaused,
    ConsensusChanged,
    EvaluationSettings,
    ReliabilitySettings,
)

EVALUATION_FIELDS = tuple(f.name for f in fields(EvaluationSettings) if f.init)
"""The settings of an ``evaluation`` object, as :class:`assignment.EvaluationSettings`
names them."""


def evaluation_to_dict(settings: EvaluationSettings) -> dict[str, Any]:
    """The evaluation settings as a JSON-ready object, read back by
    :func:`evaluation_from_dict`."""
    return {name: getattr(settings, name) for name in EVALUATION_FIELDS}


def evaluation_from_dict(body: object) -> EvaluationSettings:
    """Evaluation settings from an object; absent fields keep their defaults.

    ``ValueError`` for anything but an object, an unknown field, or a bad value.
    """
    if not isinstance(body, Mapping):
        raise ValueError(f"the evaluation settings must be an object, got {body!r}")
    unknown = sorted(str(name) for name in set(body) - set(EVALUATION_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown evaluation setting {', '.join(map(repr, unknown))}; the settings are "
            f"{', '.join(EVALUATION_FIELDS)}"
        )
    return EvaluationSettings(**body)


@dataclass(frozen=True)
class QualitySettings:
    """How a project measures its annotators.

    Attributes
    ----------
    evaluation
        Ground-truth evaluation; pausing needs both ``enabled`` and ``pause_on_failure``,
        as in Label Studio, where the pause is part of annotator evaluation.
    reliability
        Estimate annotator reliability and consensus labels (Dawid-Skene); off saves
        the estimator's memory and time.
    reliability_settings
        The estimator's model, prior and refresh rate.
    """

    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)
    reliability: bool = True
    reliability_settings: ReliabilitySettings = field(default_factory=ReliabilitySettings)

    def __post_init__(self) -> None:
        if not isinstance(self.evaluation, EvaluationSettings):
            raise ValueError(f"evaluation must be EvaluationSettings, got {self.evaluation!r}")
        if not isinstance(self.reliability, bool):
            raise ValueError(f"reliability must be true or false, got {self.reliability!r}")
        if not isinstance(self.reliability_settings, ReliabilitySettings):
            raise ValueError(
                f"reliability_settings must be ReliabilitySettings, got "
                f"{self.reliability_settings!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, read back by :meth:`from_dict`."""
        return {
            "evaluation": evaluation_to_dict(self.evaluation),
            "reliability": self.reliability,
            "reliability_settings": self.reliability_settings.to_dict(),
        }

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> QualitySettings:
        """Read :meth:`to_dict` output."""
        return cls(
            evaluation_from_dict(body["evaluation"]),
            body["reliability"],
            ReliabilitySettings.from_dict(body["reliability_settings"]),
        )


@dataclass(frozen=True, slots=True)
class AnnotatorQuality:
    """An annotator's numbers after a fact that changed them (an output event).

    ``agreement``: mean pair score with other annotators' annotations of the same tasks;
    ``reliability``: expected accuracy in [0, 1], ``None`` with reliability off or no
    label of theirs counted; ``ground_truth_score``: mean agreement with ground truth
    over ``ground_truth_tasks`` scored annotations; ``paused``: by the evaluation.
    """

    annotator: str
    submitted: int
    skipped: int
    agreement: float | None
    lead_time_mean: float | None
    lead_time_median: float | None
    reliability: float | None
    ground_truth_score: float | None
    ground_truth_tasks: int
    paused: bool
    # Reviews (Label Studio's Members dashboard): accepted or fixed / reviewed, and the
    # performance score (accept 1, reject 0, fix-and-accept the fix's agreement).
    reviewed: int = 0
    acceptance_score: float | None = None
    performance_score: float | None = None


QualityEvent = AnnotatorQuality | AnnotatorPaused | AnnotatorUnpaused | ConsensusChanged


def check_unit(name: str, value: object) -> None:
    """``ValueError`` unless ``value`` is a number in [0, 1]."""
    # NaN fails the range test too.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")


def check_time(now: object) -> None:
    """``ValueError`` unless ``now`` is a finite number of seconds."""
    if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
        raise ValueError(f"now must be a finite number of seconds, got {now!r}")


def check_lead_time(seconds: object) -> None:
    """``ValueError`` unless ``seconds`` is a finite number >= 0."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not (
        0 <= seconds < math.inf
    ):
        raise ValueError(f"lead_time must be finite seconds >= 0, got {seconds!r}")


def check_ids(task: object, annotation: object, annotator: object) -> None:
    """``ValueError`` unless the three ids are ``str``."""
    for name, value in (("task", task), ("annotation", annotation), ("annotator", annotator)):
        if type(value) is not str:
            raise ValueError(f"{name} must be a str, got {value!r}")
