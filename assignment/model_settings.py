"""Model evaluation's settings, its event and its figures (see :mod:`assignment.models`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ModelMetric(StrEnum):
    """What a prediction is compared with; ``PredictionScore`` field of the same name."""

    ANNOTATORS = "annotators"
    CONSENSUS = "consensus"
    GROUND_TRUTH = "ground_truth"


METRICS: tuple[ModelMetric, ...] = tuple(ModelMetric)


@dataclass(frozen=True)
class ModelEvaluationSettings:
    """A project's model evaluation settings.

    Attributes
    ----------
    bucket_seconds
        Length of a time bucket in seconds, > 0 (default one day).
    regression_margin
        A version regresses when its mean is more than this below the one before's,
        in [0, 1] (default 0.05, five points of agreement).
    min_scored_tasks
        Scored predictions both versions need on a metric before they are compared,
        >= 1 (default 100: below that a five-point drop of 0/1 agreements is noise).
    regression_metrics
        Metrics watched for regressions (default all three).
    """

    bucket_seconds: float = 86_400.0
    regression_margin: float = 0.05
    min_scored_tasks: int = 100
    regression_metrics: tuple[ModelMetric, ...] = METRICS

    def __post_init__(self) -> None:
        for name in ("bucket_seconds", "regression_margin"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number, got {value!r}")
        if not (0.0 < self.bucket_seconds < math.inf):
            raise ValueError(
                f"bucket_seconds must be a positive number, got {self.bucket_seconds!r}"
            )
        if not (0.0 <= self.regression_margin <= 1.0):
            raise ValueError(
                f"regression_margin must be in [0, 1], got {self.regression_margin!r}"
            )
        minimum = self.min_scored_tasks
        if type(minimum) is not int or minimum < 1:
            raise ValueError(f"min_scored_tasks must be an integer >= 1, got {minimum!r}")
        try:
            metrics = tuple(ModelMetric(m) for m in self.regression_metrics)
        except (ValueError, TypeError):
            allowed = ", ".join(repr(m.value) for m in ModelMetric)
            raise ValueError(
                f"regression_metrics must name metrics among {allowed}; "
                f"got {self.regression_metrics!r}"
            ) from None
        object.__setattr__(self, "regression_metrics", metrics)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, read back by ``ModelEvaluationSettings(**body)``."""
        return {
            "bucket_seconds": self.bucket_seconds,
            "regression_margin": self.regression_margin,
            "min_scored_tasks": self.min_scored_tasks,
            "regression_metrics": [m.value for m in self.regression_metrics],
        }


@dataclass(frozen=True, slots=True)
class ModelRegressed:
    """A model version does worse than the one before it (an output event).

    ``new`` and ``previous`` are the two versions' mean scores on ``metric``;
    ``margin`` the configured margin that ``previous - new`` exceeds.
    """

    new_version: str
    previous_version: str
    metric: ModelMetric
    new: float
    previous: float
    margin: float


class RecoveryReason(StrEnum):
    """Why a regression stopped holding."""

    WITHIN_MARGIN = "within_margin"  # the version is back within the margin
    TOO_FEW_SCORED_TASKS = "too_few_scored_tasks"  # one of the two fell below the minimum
    NO_PREVIOUS_VERSION = "no_previous_version"  # a reordering made it the first version
    NO_LONGER_WATCHED = "no_longer_watched"  # the metric left ``regression_metrics``


@dataclass(frozen=True, slots=True)
class ModelRecovered:
    """A regression reported by :class:`ModelRegressed` no longer holds (an output event):
    the alert is closed, and a new fall is reported again.

    ``previous_version`` is the version before ``new_version`` now (``None`` if there is
    none); ``new`` and ``previous`` the two versions' mean scores on ``metric`` now
    (``None`` for a version with no scored task on it).
    """

    new_version: str
    previous_version: str | None
    metric: ModelMetric
    new: float | None
    previous: float | None
    margin: float
    reason: RecoveryReason


ModelAlert = ModelRegressed | ModelRecovered


@dataclass(frozen=True, slots=True)
class MetricMean:
    """Mean score in [0, 1] over ``count`` scored predictions; ``None`` when none."""

    mean: float | None
    count: int


@dataclass(frozen=True, slots=True)
class ModelScores:
    """A model version's agreement, overall or in one time bucket.

    ``start`` is the bucket's start (seconds since the epoch), or the version's
    first-seen time for the overall figures; ``predictions`` counts its predictions,
    scored or not.
    """

    model_version: str
    start: float
    predictions: int
    annotators: MetricMean
    consensus: MetricMean
    ground_truth: MetricMean
