"""One project's model evaluation, from the workflow facts. Pure: no I/O, no asyncio.

The annotations agent scores a task's predictions (a ``model-scores`` fact: prediction
id -> :class:`assignment.PredictionScore`) whenever the task changes, because only it
holds the task's annotations. :class:`ProjectModels` folds those scores into
:class:`assignment.ModelEvaluation` and says what changed: a :class:`ModelQuality` for
each model version whose figures moved, and the core's :class:`assignment.ModelRegressed`
when a version falls behind the one before it (:class:`assignment.ModelRecovered` when that
stops holding). A change of the project's
``model_evaluation`` settings applies to the scores already folded in
(:meth:`ProjectModels.reconfigure`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assignment.model_settings import (
    ModelEvaluationSettings,
    ModelRecovered,
    ModelRegressed,
    ModelScores,
)
from assignment.models import ModelEvaluation
from assignment.prediction_scores import PredictionScore

STATE_VERSION = 1
"""Version of :meth:`ProjectModels.to_state`; bump it when the layout changes."""


@dataclass(frozen=True, slots=True)
class ModelQuality:
    """A model version's figures after a change (an output event): its agreement with
    the annotators, the consensus and ground truth over all its scored predictions."""

    model_version: str
    scores: ModelScores


ModelEvent = ModelQuality | ModelRegressed | ModelRecovered


class ProjectModels:
    """A project's model versions, updated one task's prediction scores at a time.

    Deterministic: the same facts give the same events, and :meth:`to_state` and
    :meth:`from_state` resume exactly where it stopped.
    """

    def __init__(self, settings: ModelEvaluationSettings | None = None) -> None:
        self._evaluation = ModelEvaluation(settings)

    @property
    def settings(self) -> ModelEvaluationSettings:
        """The project's model evaluation settings."""
        return self._evaluation.settings

    @property
    def evaluation(self) -> ModelEvaluation:
        """The evaluation itself, for reads (versions, timelines, regressions)."""
        return self._evaluation

    def scores(
        self, task: str, scores: Mapping[str, PredictionScore], now: float
    ) -> list[ModelEvent]:
        """Replace ``task``'s prediction scores (prediction id -> scores; empty: the task
        has no prediction any more) as of ``now`` (seconds since the epoch).

        Returns a :class:`ModelQuality` for each version whose overall figures changed,
        in first-seen order, then the :class:`ModelRegressed` and :class:`ModelRecovered`
        events of the update.
        ``ValueError`` for a bad task id, time or score, before anything changed.
        """
        evaluation = self._evaluation
        # Model versions are few per project: comparing all of them is cheaper than
        # working out which ones a task's old and new scores touch.
        before = {version: evaluation.scores(version) for version in evaluation.versions()}
        regressed = evaluation.update_task(task, scores, now)
        events: list[ModelEvent] = []
        for version in evaluation.versions():
            figures = evaluation.scores(version)
            if before.get(version) != figures:
                events.append(ModelQuality(version, figures))
        events.extend(regressed)
        return events

    def reconfigure(self, settings: ModelEvaluationSettings) -> list[ModelEvent]:
        """Apply the project's new model-evaluation settings to every scored prediction.

        Returns the :class:`ModelRegressed` events of the pairs that regress under the
        new settings and did not under the old ones, and the :class:`ModelRecovered`
        events of those that stopped; no :class:`ModelQuality`, since a
        version's overall figures do not depend on the settings (its timeline does, and
        is re-bucketed). Nothing when the settings are the ones in use: the same settings
        applied twice alert once.
        """
        return list(self._evaluation.reconfigure(settings))

    def quality(self, version: str) -> ModelQuality:
        """The version's figures now; ``ValueError`` for a version never scored."""
        return ModelQuality(version, self._evaluation.scores(version))

    # -- state ------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """JSON-ready state; :meth:`from_state` resumes from it exactly.

        Layout, version 1: ``{"version": 1, "evaluation": ModelEvaluation.to_state()}``.
        """
        return {"version": STATE_VERSION, "evaluation": self._evaluation.to_state()}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ProjectModels:
        """Rebuild from :meth:`to_state` output; ``ValueError`` if it does not fit."""
        version = state.get("version") if isinstance(state, Mapping) else None
        if version != STATE_VERSION:
            raise ValueError(f"model quality state is version {version!r}, expected "
                             f"{STATE_VERSION}; rebuild it by replaying the workflow facts")
        evaluation = state.get("evaluation")
        if not isinstance(evaluation, Mapping):
            raise ValueError("model quality state has no evaluation; rebuild it by replaying "
                             "the workflow facts")
        models = cls()
        models._evaluation = ModelEvaluation.from_state(evaluation)
        return models


__all__ = ["STATE_VERSION", "ModelEvent", "ModelQuality", "ProjectModels"]
