"""Pair metrics by Label Studio result type, and the registry that names them.

A metric compares the result items of one control tag (one ``from_name``) in two
annotations and returns a score in [0, 1]. Every metric must be symmetric bit for bit
(``m(a, b) == m(b, a)``), because task scores are compared with ``==`` against a recompute.

Metrics are registered by name in :data:`REGISTRY` as factories taking keyword parameters
(a threshold, a numeric range...) and returning the bound metric; :data:`DEFAULT_METRIC`
names the Label Studio Enterprise default for each result ``type``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .base import Metric, MetricFactory, ResultItem
from .classification import (
    choices,
    choices_exact,
    datetime_exact,
    exact_match,
    jaccard,
    pairwise_exact,
    taxonomy,
    taxonomy_prefix,
)
from .fields import check_fraction
from .geometry import (
    bbox_iou,
    bbox_iou_threshold,
    ellipse_iou,
    ellipse_iou_threshold,
    polygon_iou,
    polygon_iou_threshold,
)
from .keypoints import keypoint_distance, keypoint_distance_threshold
from .numeric import numeric_difference, numeric_tolerance
from .ranker import ranker_kendall
from .spans import span_overlap, span_overlap_threshold
from .text import text_edit_distance, text_edit_distance_threshold, text_edit_distance_words

REGISTRY: dict[str, MetricFactory] = {}
"""Metric name -> factory ``(**params) -> Metric``."""

DEFAULT_METRIC: dict[str, str] = {}
"""Label Studio result ``type`` (as in a result item, lower case) -> default metric name."""

METRICS: dict[str, Metric] = {}
"""Label Studio result ``type`` -> its default metric, bound with default parameters."""


def register(
    name: str, *, default_for: Iterable[str] = ()
) -> Callable[[MetricFactory], MetricFactory]:
    """Decorator: add a metric factory to :data:`REGISTRY` under ``name``.

    ``default_for`` lists the result types whose default metric this is (called with no
    parameters, so every parameter of a default metric needs a default).
    """

    def add(factory: MetricFactory) -> MetricFactory:
        if name in REGISTRY:
            raise ValueError(f"metric {name!r} is registered twice")
        REGISTRY[name] = factory
        for result_type in default_for:
            DEFAULT_METRIC[result_type] = name
            METRICS[result_type] = factory()
        return factory

    return add


def make_metric(name: str, **params: Any) -> Metric:
    """The metric ``name`` bound to ``params``; a clear error for an unknown name or param."""
    factory = REGISTRY.get(name)
    if factory is None:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown metric {name!r}; known metrics: {known}")
    try:
        return factory(**params)
    except TypeError as exc:
        raise ValueError(f"metric {name!r}: bad parameters {params!r}: {exc}") from None


def _simple(metric: Metric) -> MetricFactory:
    def factory() -> Metric:
        return metric

    return factory


def _at_least(metric: Metric) -> MetricFactory:
    """The threshold variant of a continuous metric with no per-item one of its own: a
    pair agrees (1.0) when the metric's score reaches ``threshold``, else 0.0."""

    def factory(*, threshold: float = 0.5) -> Metric:
        bound = check_fraction("threshold", threshold)

        def thresholded(items_a: list[ResultItem], items_b: list[ResultItem]) -> float:
            return 1.0 if metric(items_a, items_b) >= bound else 0.0

        return thresholded

    return factory


register("exact_match")(_simple(exact_match))
register("choices", default_for=("choices",))(_simple(choices))
register("choices_exact")(_simple(choices_exact))
register("taxonomy", default_for=("taxonomy",))(_simple(taxonomy))
register("taxonomy_prefix")(_simple(taxonomy_prefix))
register("taxonomy_prefix_threshold")(_at_least(taxonomy_prefix))
register("datetime_exact", default_for=("datetime",))(_simple(datetime_exact))
register("pairwise_exact", default_for=("pairwise",))(_simple(pairwise_exact))
register("numeric_difference", default_for=("number", "rating"))(numeric_difference)
register("numeric_tolerance")(numeric_tolerance)
register("bbox_iou", default_for=("rectanglelabels", "rectangle"))(bbox_iou)
register("bbox_iou_threshold")(bbox_iou_threshold)
register("polygon_iou", default_for=("polygonlabels", "polygon"))(polygon_iou)
register("polygon_iou_threshold")(polygon_iou_threshold)
register("ellipse_iou", default_for=("ellipselabels", "ellipse"))(ellipse_iou)
register("ellipse_iou_threshold")(ellipse_iou_threshold)
register(
    "span_overlap",
    default_for=("labels", "hypertextlabels", "paragraphlabels", "timeserieslabels"),
)(span_overlap)
register("span_overlap_threshold")(span_overlap_threshold)
register("keypoint_distance", default_for=("keypointlabels", "keypoint"))(keypoint_distance)
register("keypoint_distance_threshold")(keypoint_distance_threshold)
register("text_edit_distance", default_for=("textarea",))(_simple(text_edit_distance))
register("text_edit_distance_words")(_simple(text_edit_distance_words))
register("text_edit_distance_threshold")(text_edit_distance_threshold)
register("ranker_kendall", default_for=("ranker",))(_simple(ranker_kendall))
register("ranker_kendall_threshold")(_at_least(ranker_kendall))
# Every other type (brushlabels, videorectangle, ...) keeps the exact-match fallback.


def metric_for(result_type: str | None) -> Metric:
    """The default metric for a result ``type``, or :func:`exact_match` for unknown types."""
    if result_type is None:
        return exact_match
    return METRICS.get(result_type, exact_match)


__all__ = [
    "DEFAULT_METRIC",
    "METRICS",
    "REGISTRY",
    "Metric",
    "MetricFactory",
    "ResultItem",
    "bbox_iou",
    "bbox_iou_threshold",
    "choices",
    "choices_exact",
    "datetime_exact",
    "ellipse_iou",
    "ellipse_iou_threshold",
    "exact_match",
    "jaccard",
    "keypoint_distance",
    "keypoint_distance_threshold",
    "make_metric",
    "metric_for",
    "numeric_difference",
    "numeric_tolerance",
    "pairwise_exact",
    "polygon_iou",
    "polygon_iou_threshold",
    "ranker_kendall",
    "register",
    "span_overlap",
    "span_overlap_threshold",
    "taxonomy",
    "taxonomy_prefix",
    "text_edit_distance",
    "text_edit_distance_threshold",
    "text_edit_distance_words",
]
