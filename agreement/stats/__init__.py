"""Chance-corrected project statistics: batch functions and incremental accumulators.

Batch: :func:`krippendorff_alpha`, :func:`fleiss_kappa`, :func:`cohen_kappa`.
Incremental, one annotation at a time, JSON-able state, equal to the batch figures:
:class:`KrippendorffAccumulator` (alpha at any level, coincidences, per-label
agreement), :class:`FleissAccumulator`, :class:`CohenAccumulator` (every annotator
pair), :class:`AnnotatorMatrix` (mean pair score of every annotator pair).
"""

from .alpha import LabelAgreement
from .annotators import AnnotatorMatrix
from .codebook import Value
from .cohen import cohen_kappa
from .cohen_accumulator import CohenAccumulator
from .fleiss import fleiss_kappa
from .fleiss_accumulator import FleissAccumulator
from .krippendorff import krippendorff_alpha
from .krippendorff_accumulator import KrippendorffAccumulator
from .levels import LEVELS

__all__ = [
    "LEVELS",
    "AnnotatorMatrix",
    "CohenAccumulator",
    "FleissAccumulator",
    "KrippendorffAccumulator",
    "LabelAgreement",
    "Value",
    "cohen_kappa",
    "fleiss_kappa",
    "krippendorff_alpha",
]
