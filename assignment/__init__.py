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
from .distribution import Distribution, DistributionPolicy
from .label_stream import Assignment, LabelStream, Queue
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
from .seats import (
    DistributionEvent,
    ReleaseReason,
    ReservationReleased,
    TaskUnfillable,
    TaskView,
)
from .skips import RejectMode, SkipMode

__all__ = [
    "INITIAL_STATE",
    "MAXIMUM_LIKELIHOOD",
    "Assignment",
    "ConsensusChanged",
    "ConsensusLabel",
    "ConsensusPolicy",
    "DawidSkene",
    "Decision",
    "DecisionState",
    "Distribution",
    "DistributionEvent",
    "DistributionPolicy",
    "LabelStream",
    "MetricMean",
    "ModelEvaluation",
    "ModelEvaluationSettings",
    "ModelMetric",
    "ModelRegressed",
    "ModelScores",
    "Prediction",
    "PredictionScore",
    "Queue",
    "RejectMode",
    "ReleaseReason",
    "ReliabilityEstimator",
    "ReliabilityFit",
    "ReliabilityModel",
    "ReliabilityPrior",
    "ReliabilitySettings",
    "ReservationReleased",
    "SkipMode",
    "TaskUnfillable",
    "TaskView",
    "decide",
    "score_predictions",
    "transition",
]
