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
from .classification import choices, exact_match, jaccard, taxonomy

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


register("exact_match")(_simple(exact_match))
register("choices", default_for=("choices",))(_simple(choices))
register("taxonomy", default_for=("taxonomy",))(_simple(taxonomy))


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
    "choices",
    "exact_match",
    "jaccard",
    "make_metric",
    "metric_for",
    "register",
    "taxonomy",
]
