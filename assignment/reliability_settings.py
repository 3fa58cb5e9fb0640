"""Online reliability's settings and its event (see :mod:`assignment.reliability`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .confusion import ReliabilityModel, ReliabilityPrior, check_model


@dataclass(frozen=True)
class ReliabilitySettings:
    """A project's online reliability settings. Label Studio Enterprise has no
    reliability model, so the defaults are Quorum's.

    Attributes
    ----------
    model
        ``"dawid_skene"`` (a confusion matrix per annotator) or ``"one_coin"``.
    prior
        Pseudo-counts; ``strength`` and ``class_count`` must be above 0 online.
    refresh_tasks_per_label
        Tasks whose E-step is re-run after each label, round robin, >= 0. Over a
        project each task is refreshed about ``refresh_tasks_per_label x labels /
        tasks`` times (2 with 3 labels a task: ~6 sweeps); 0 leaves refreshing to
        :meth:`assignment.reliability.ReliabilityEstimator.refresh`.
    """

    model: ReliabilityModel = ReliabilityModel.DAWID_SKENE
    prior: ReliabilityPrior = field(default_factory=ReliabilityPrior)
    refresh_tasks_per_label: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", check_model(self.model))
        if not isinstance(self.prior, ReliabilityPrior):
            raise ValueError(f"prior must be a ReliabilityPrior, got {self.prior!r}")
        if self.prior.strength <= 0.0 or self.prior.class_count <= 0.0:
            raise ValueError(
                "online reliability needs prior strength and class_count above 0 (got "
                f"{self.prior.strength!r}, {self.prior.class_count!r}): with no pseudo-count "
                "the first labels cannot move any posterior"
            )
        refresh = self.refresh_tasks_per_label
        if type(refresh) is not int or refresh < 0:
            raise ValueError(f"refresh_tasks_per_label must be an integer >= 0, got {refresh!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, read back by :meth:`from_dict`."""
        prior = self.prior
        return {
            "model": self.model.value,
            "prior": {
                "accuracy": prior.accuracy,
                "strength": prior.strength,
                "class_count": prior.class_count,
            },
            "refresh_tasks_per_label": self.refresh_tasks_per_label,
        }

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> ReliabilitySettings:
        """Read :meth:`to_dict` output; absent fields take their defaults."""
        prior = body.get("prior") or {}
        options = {k: body[k] for k in ("model", "refresh_tasks_per_label") if k in body}
        return cls(prior=ReliabilityPrior(**prior), **options)


@dataclass(frozen=True, slots=True)
class ConsensusChanged:
    """A task's reliability-weighted consensus label changed (an output event).

    ``label`` is ``None`` when the task lost its last label; ``previous`` is ``None``
    for a task's first consensus. ``posterior`` is the new label's probability.
    """

    task: str
    label: str | None
    posterior: float | None
    previous: str | None
