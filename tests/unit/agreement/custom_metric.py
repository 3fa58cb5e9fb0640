"""Custom agreement metrics for the tests, named by dotted path as a project would."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NOT_CALLABLE = 3


def same_region_count(annotation_1: Mapping[str, Any], annotation_2: Mapping[str, Any]) -> float:
    """1.0 when both annotations hold as many result items, else 0.0, whatever the labels.

    Label Studio Enterprise's custom metric signature: two whole annotations in.
    """
    return 1.0 if len(annotation_1["result"]) == len(annotation_2["result"]) else 0.0


def lead_time_ratio(annotation_1: Mapping[str, Any], annotation_2: Mapping[str, Any]) -> float:
    """Shorter over longer lead time: reads a field no per-tag metric sees."""
    low, high = sorted((annotation_1["lead_time"], annotation_2["lead_time"]))
    return float(low / high)


def not_a_number(annotation_1: Mapping[str, Any], annotation_2: Mapping[str, Any]) -> object:
    """A broken metric: returns a string."""
    return "high"


def fails_on_neutral(annotation_1: Mapping[str, Any], annotation_2: Mapping[str, Any]) -> float:
    """A metric with a bug: raises on a ``neu`` choice, else exact match."""
    labels = [item["value"]["choices"][0] for a in (annotation_1, annotation_2)
              for item in a["result"]]
    if "neu" in labels:
        raise KeyError("neu")
    return 1.0 if labels[0] == labels[1] else 0.0
