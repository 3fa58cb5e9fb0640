"""Pure agreement math: pair metrics per Label Studio result type and task scores."""

from .label_studio import ControlTag, parse_label_config, read_export, read_project
from .methodology import Methodology, consensus_majority, task_score
from .metrics import METRICS, Metric, ResultItem
from .pair import PairScore, pair_score, score_pair
from .scoring import (
    CustomMetricError,
    ScoringConfig,
    TagScoring,
    TaskScore,
    score_export,
    score_task,
)
from .stats import (
    AnnotatorMatrix,
    CohenAccumulator,
    FleissAccumulator,
    KrippendorffAccumulator,
    LabelAgreement,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
)
from .task import TaskAgreement, recompute

__all__ = [
    "METRICS",
    "AnnotatorMatrix",
    "CohenAccumulator",
    "ControlTag",
    "CustomMetricError",
    "FleissAccumulator",
    "KrippendorffAccumulator",
    "LabelAgreement",
    "Methodology",
    "Metric",
    "PairScore",
    "ResultItem",
    "ScoringConfig",
    "TagScoring",
    "TaskAgreement",
    "TaskScore",
    "cohen_kappa",
    "consensus_majority",
    "fleiss_kappa",
    "krippendorff_alpha",
    "pair_score",
    "parse_label_config",
    "read_export",
    "read_project",
    "recompute",
    "score_export",
    "score_pair",
    "score_task",
    "task_score",
]
