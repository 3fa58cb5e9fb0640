"""Pure agreement math: pair metrics per Label Studio result type and task scores."""

from .metrics import METRICS, Metric, ResultItem
from .pair import pair_score
from .task import TaskAgreement, recompute

__all__ = ["METRICS", "Metric", "ResultItem", "TaskAgreement", "pair_score", "recompute"]
