"""Pure assignment policy: consensus decisions per task, annotator reliability and model
evaluation. No I/O."""

from .confusion import MAXIMUM_LIKELIHOOD, ReliabilityModel, ReliabilityPrior
from .consensus import (
    INITIAL_STATE,
    ConsensusPolicy,
    Decision,
    DecisionState,
    decide,
    transition,
)
from .dawid_skene import ConsensusLabel, DawidSkene, ReliabilityFit
from .model_settings import (
    MetricMean,
    ModelEvaluationSettings,
    ModelMetric,
    ModelRegressed,
    ModelScores,
)
from .models import ModelEvaluation
from .prediction_scores import Prediction, PredictionScore, score_predictions
from .reliability import ReliabilityEstimator
from .reliability_settings import ConsensusChanged, ReliabilitySettings

__all__ = [
    "INITIAL_STATE",
    "MAXIMUM_LIKELIHOOD",
    "ConsensusChanged",
    "ConsensusLabel",
    "ConsensusPolicy",
    "DawidSkene",
    "Decision",
    "DecisionState",
    "MetricMean",
    "ModelEvaluation",
    "ModelEvaluationSettings",
    "ModelMetric",
    "ModelRegressed",
    "ModelScores",
    "Prediction",
    "PredictionScore",
    "ReliabilityEstimator",
    "ReliabilityFit",
    "ReliabilityModel",
    "ReliabilityPrior",
    "ReliabilitySettings",
    "decide",
    "score_predictions",
    "transition",
]
