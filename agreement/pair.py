"""Agreement of two annotations: per control tag scores combined by a weighted mean."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .metrics import Metric, ResultItem, exact_match, metric_for

# Stands for the items of a tag an annotation does not have; shared, never mutated.
_ABSENT: list[ResultItem] = []


def _by_tag(result: list[ResultItem]) -> dict[str, list[ResultItem]]:
    tags: dict[str, list[ResultItem]] = {}
    for item in result:
        from_name = item.get("from_name")
        # Relations (``type: relation``) link two regions and carry no ``from_name``:
        # they are not a labeling result of any control tag, so they do not count.
        if from_name is None:
            continue
        items = tags.get(from_name)
        if items is None:
            tags[from_name] = [item]
        else:
            items.append(item)
    return tags


def tag_score(
    items_a: list[ResultItem], items_b: list[ResultItem], metric: Metric | None = None
) -> float:
    """Score the items of one control tag with ``metric`` (by default its type's), in [0, 1].

    A tag present in only one annotation scores 0.0. If the two sides disagree on the
    type (which Label Studio does not produce), values are compared exactly.
    """
    if not items_a or not items_b:
        return 0.0
    type_a = items_a[0].get("type")
    if type_a != items_b[0].get("type"):
        return exact_match(items_a, items_b)
    return (metric_for(type_a) if metric is None else metric)(items_a, items_b)


def pair_score(
    result_a: list[ResultItem],
    result_b: list[ResultItem],
    weights: Mapping[str, float] | None = None,
) -> float:
    """Agreement of two annotations' ``result`` lists, in [0, 1].

    Parameters
    ----------
    result_a, result_b
        Label Studio ``result`` lists, unchanged. Items without ``from_name``
        (relations) are ignored.
    weights
        Optional weight per control tag (``from_name``); tags not listed weigh 1.0 and a
        weight of 0 removes a tag. Weights must be finite and non-negative.

    Returns
    -------
    float
        The weighted mean over every tag present in either annotation of that tag's
        score (0.0 for a tag only one annotation has). 1.0 when no tag is left: two
        empty annotations agree. Symmetric bit for bit: ``pair_score(a, b) ==
        pair_score(b, a)``.
    """
    if len(result_a) == 1 and len(result_b) == 1:
        # Hot path: one item per side on the same tag (a Choices-only project) needs no
        # grouping; the general path below gives the same number.
        from_name = result_a[0].get("from_name")
        if from_name is not None and from_name == result_b[0].get("from_name"):
            if weights is not None and _weight(weights, from_name) == 0.0:
                return 1.0
            return _clip(tag_score(result_a, result_b))
    # A lone tag's score must not pick up rounding from (w * s) / w: score_pair keeps it.
    return score_pair(result_a, result_b, None, weights).overall


@dataclass(frozen=True, slots=True)
class PairScore:
    """Agreement of two annotations: overall and per control tag ("dimension").

    ``dimensions`` has the score of every tag present in either annotation and not
    removed by a zero weight, each clipped to [0, 1]; ``overall`` is their weighted mean,
    the same number :func:`pair_score` gives.
    """

    overall: float
    dimensions: dict[str, float]


def score_pair(
    result_a: list[ResultItem],
    result_b: list[ResultItem],
    metrics: Mapping[str, Metric] | None = None,
    weights: Mapping[str, float] | None = None,
) -> PairScore:
    """Agreement of two annotations per control tag, and overall, in [0, 1].

    Parameters
    ----------
    result_a, result_b
        Label Studio ``result`` lists, unchanged. Items without ``from_name``
        (relations) are ignored.
    metrics
        Metric per control tag (``from_name``), e.g. from a project's scoring
        configuration; a tag not listed is scored with its type's default metric
        (:func:`agreement.metrics.metric_for`), as :func:`pair_score` does.
    weights
        Weight per control tag, as in :func:`pair_score`: unlisted tags weigh 1.0, 0
        removes a tag from both ``overall`` and ``dimensions``.

    Returns
    -------
    PairScore
        ``overall`` is what :func:`pair_score` returns when ``metrics`` lists no tag
        (it calls this). Symmetric bit for bit when the metrics are.
    """
    tags_a = _by_tag(result_a)
    tags_b = _by_tag(result_b)
    dimensions: dict[str, float] = {}
    scores: list[float] = []
    tag_weights: list[float] = []
    # Sorted tags and fsum make the sum independent of which annotation comes first, so
    # the score is symmetric to the last bit, not just up to rounding.
    for name in sorted(tags_a.keys() | tags_b.keys()):
        weight = 1.0 if weights is None else _weight(weights, name)
        if weight == 0.0:
            continue
        metric = None if metrics is None else metrics.get(name)
        items_a = tags_a.get(name, _ABSENT)
        items_b = tags_b.get(name, _ABSENT)
        score = tag_score(items_a, items_b, metric)
        dimensions[name] = _clip(score)
        scores.append(score)
        tag_weights.append(weight)
    if not scores:
        overall = 1.0
    elif len(scores) == 1:
        overall = _clip(scores[0])
    elif weights is None:
        overall = _clip(math.fsum(scores) / len(scores))
    else:
        weighted = math.fsum(w * s for w, s in zip(tag_weights, scores, strict=True))
        overall = _clip(weighted / math.fsum(tag_weights))
    return PairScore(overall, dimensions)


def _weight(weights: Mapping[str, float], name: str) -> float:
    weight = weights.get(name, 1.0)
    if not (weight >= 0.0 and math.isfinite(weight)):
        raise ValueError(f"weight of control tag {name!r} is {weight!r}; use a number >= 0")
    return weight


def _clip(score: float) -> float:
    # A custom metric may return slightly out of range (rounding) or worse; the task
    # score promises [0, 1], so clip here rather than trust every metric.
    if not score >= 0.0:  # also catches NaN
        return 0.0
    if score > 1.0:
        return 1.0
    return score
