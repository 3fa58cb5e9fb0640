"""Pure assignment policy: consensus decisions per task, reviews, ground truth, annotator
performance and reliability, model evaluation. No I/O."""

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
from .evaluation import AnnotatorPaused, AnnotatorUnpaused, EvaluationSettings, ground_truth_due
from .ground_truth import GroundTruth
from .label_stream import Assignment, LabelStream, Queue
from .model_settings import (
    MetricMean,
    ModelAlert,
    ModelEvaluationSettings,
    ModelMetric,
    ModelRecovered,
    ModelRegressed,
    ModelScores,
    RecoveryReason,
)
from .models import ModelEvaluation
from .pair_agreement import pair_agreement
from .performance import AnnotatorPerformance, AnnotatorSummary, pairs_with
from .prediction_scores import Prediction, PredictionScore, score_predictions
from .reliability import ReliabilityEstimator
from .reliability_settings import ConsensusChanged, ReliabilitySettings
from .review import ReviewBoard
from .review_events import (
    CancelAnnotation,
    RemoveFromAgreement,
    ReplaceResult,
    RequeueToAnnotator,
    Review,
    ReviewAction,
    ReviewCriteria,
    ReviewOutcome,
    ReviewReason,
    ReviewRequested,
    TaskReviewed,
)
from .review_queue import ReviewQueue
from .review_settings import ReviewSettings
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
    "AnnotatorPaused",
    "AnnotatorPerformance",
    "AnnotatorSummary",
    "AnnotatorUnpaused",
    "Assignment",
    "CancelAnnotation",
    "ConsensusChanged",
    "ConsensusLabel",
    "ConsensusPolicy",
    "DawidSkene",
    "Decision",
    "DecisionState",
    "Distribution",
    "DistributionEvent",
    "DistributionPolicy",
    "EvaluationSettings",
    "GroundTruth",
    "LabelStream",
    "MetricMean",
    "ModelAlert",
    "ModelEvaluation",
    "ModelEvaluationSettings",
    "ModelMetric",
    "ModelRecovered",
    "ModelRegressed",
    "ModelScores",
    "Prediction",
    "PredictionScore",
    "Queue",
    "RecoveryReason",
    "RejectMode",
    "ReleaseReason",
    "ReliabilityEstimator",
    "ReliabilityFit",
    "ReliabilityModel",
    "ReliabilityPrior",
    "ReliabilitySettings",
    "RemoveFromAgreement",
    "ReplaceResult",
    "RequeueToAnnotator",
    "ReservationReleased",
    "Review",
    "ReviewAction",
    "ReviewBoard",
    "ReviewCriteria",
    "ReviewOutcome",
    "ReviewQueue",
    "ReviewReason",
    "ReviewRequested",
    "ReviewSettings",
    "SkipMode",
    "TaskReviewed",
    "TaskUnfillable",
    "TaskView",
    "decide",
    "ground_truth_due",
    "pair_agreement",
    "pairs_with",
    "score_predictions",
    "transition",
]
