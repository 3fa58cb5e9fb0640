"""How well one task's predictions agree with its annotators, consensus and ground truth.

A prediction (a Label Studio prediction, which carries a ``model_version``) is scored
like an annotator's annotation but never counts toward overlap or the task's agreement:
it is compared with the task's people, each pair scored by the project's
:class:`~agreement.ScoringConfig` (per-tag metrics and weights, or a custom metric), as
Label Studio Enterprise's "model version agreement vs annotators" does
(api.labelstud.io, ``GET /api/projects/{id}/model-stats/{model_version}/agreement``).

Three scores per prediction, each ``None`` when there is nothing to compare with:

annotators
    The mean pair score with every counted human annotation of the task.
annotation consensus
    The mean pair score with the annotations of the task's consensus majority
    (:func:`agreement.consensus_majority` at the config's consensus threshold), when
    that majority holds more than half of the annotations (one annotation is its own
    majority; two that disagree have none). A caller with a better consensus, e.g. the
    reliability-weighted label of :mod:`assignment.reliability`, passes it as a result
    instead, and the score is the pair score with it.
ground truth
    The pair score with the task's ground-truth result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from agreement import ResultItem, ScoringConfig, consensus_majority
from agreement.methodology import DEFAULT_CONSENSUS_THRESHOLD
from agreement.scoring import custom_pair_score
from agreement.task import PairScorer


@dataclass(frozen=True, slots=True)
class Prediction:
    """A model's prediction for a task: its version and its Label Studio ``result``."""

    model_version: str
    result: list[ResultItem]


@dataclass(frozen=True, slots=True)
class PredictionScore:
    """One prediction's agreement scores, each in [0, 1] or ``None`` (not scored)."""

    model_version: str
    annotators: float | None = None
    consensus: float | None = None
    ground_truth: float | None = None

    def __post_init__(self) -> None:
        if type(self.model_version) is not str:
            raise ValueError(f"model_version must be a str, got {self.model_version!r}")
        for name in ("annotators", "consensus", "ground_truth"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} score must be a number or None, got {value!r}")
            if not 0.0 <= value <= 1.0:  # NaN fails too
                raise ValueError(f"{name} score must be in [0, 1] or None, got {value!r}")

    @property
    def values(self) -> tuple[float | None, float | None, float | None]:
        """``(annotators, consensus, ground_truth)``."""
        return (self.annotators, self.consensus, self.ground_truth)


class _PairScorer:
    """Scores two results as the project's config says: a custom metric sees the whole
    annotations, anything else goes through the task agreement's own scorer."""

    __slots__ = ("config", "custom", "scorer")

    def __init__(self, config: ScoringConfig | None) -> None:
        self.config = config
        self.custom = None if config is None else config.custom
        self.scorer = PairScorer(None, config)

    def __call__(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
        if self.custom is not None:
            assert self.config is not None
            return custom_pair_score(self.config, self.custom, a, b)
        return self.scorer.score("a", a["result"], "b", b["result"])[0]


def _mean(scores: list[float]) -> float | None:
    return math.fsum(scores) / len(scores) if scores else None


def majority(
    annotations: Mapping[str, list[ResultItem]], config: ScoringConfig | None = None
) -> tuple[str, ...]:
    """Ids of the task's consensus majority, sorted; empty when no group holds more
    than half of the annotations (see the module docstring)."""
    count = len(annotations)
    if count <= 1:
        return tuple(annotations)
    scorer = _PairScorer(config)
    pairs = {
        (a, b): scorer({"id": a, "result": annotations[a]}, {"id": b, "result": annotations[b]})
        for a, b in combinations(sorted(annotations), 2)
    }
    threshold = DEFAULT_CONSENSUS_THRESHOLD if config is None else config.consensus_threshold
    group = consensus_majority(pairs, count, threshold)
    return group if 2 * len(group) > count else ()


def score_predictions(
    predictions: Mapping[str, Prediction],
    annotations: Mapping[str, list[ResultItem]],
    *,
    ground_truth: list[ResultItem] | None = None,
    consensus: list[ResultItem] | None = None,
    config: ScoringConfig | None = None,
) -> dict[str, PredictionScore]:
    """Score each prediction of one task against its people (module docstring).

    Parameters
    ----------
    predictions
        Prediction id -> :class:`Prediction`.
    annotations
        Annotation id -> ``result`` of every counted human annotation of the task (not
        skipped, not rejected; the ground truth too if the project counts it).
    ground_truth
        The task's ground-truth ``result``, if it has one.
    consensus
        A consensus ``result`` to score against instead of the annotations' majority.
    config
        The project's scoring config; ``None`` scores each tag with its type's default.

    Returns
    -------
    dict
        Prediction id -> :class:`PredictionScore`. Cost: ``k * (k - 1) / 2`` pair
        scores for the majority plus ``k + 2`` per prediction, for ``k`` annotations.
    """
    scorer = _PairScorer(config)
    people = [{"id": key, "result": result} for key, result in sorted(annotations.items())]
    if consensus is not None:
        agreed: list[dict[str, Any]] = [{"id": "consensus", "result": consensus}]
    else:
        members = set(majority(annotations, config))
        agreed = [person for person in people if person["id"] in members]
    truth = None if ground_truth is None else {"id": "ground_truth", "result": ground_truth}
    scores: dict[str, PredictionScore] = {}
    for key, prediction in predictions.items():
        if not isinstance(prediction, Prediction):
            raise ValueError(f"prediction {key!r} is {prediction!r}; give a Prediction")
        model = {
            "id": f"prediction:{key}",
            "model_version": prediction.model_version,
            "result": prediction.result,
        }
        scores[key] = PredictionScore(
            prediction.model_version,
            annotators=_mean([scorer(model, person) for person in people]),
            consensus=_mean([scorer(model, member) for member in agreed]),
            ground_truth=None if truth is None else scorer(model, truth),
        )
    return scores
