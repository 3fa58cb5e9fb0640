"""Span metrics: overlap (interval IoU) of labeled text, HTML, paragraph, audio and time
series spans.

Label Studio Enterprise's "Overlap" is the default for ``Labels``, ``HyperTextLabels``,
``ParagraphLabels`` and ``TimeSeriesLabels`` (docs.humansignal.com/guide/agreement_metrics):
for two spans with the same labels, the length they share over the length they cover,
as label-studio-evalme's ``spans_iou`` computes it. Spans are matched by label as
:mod:`agreement.metrics.regions` describes.

Where a span lies, by result type:

- ``labels``: ``start``/``end``, character offsets in text or seconds in audio; audio
  spans on different ``channel`` values never overlap.
- ``hypertextlabels``: ``globalOffsets.start``/``end`` (character offsets in the whole
  document). Without them, the ``startOffset``/``endOffset`` within the ``start``/``end``
  XPath nodes, as below.
- ``paragraphlabels``: ``startOffset``/``endOffset`` within paragraphs ``start``/``end``.
- ``timeserieslabels``: ``start``/``end`` on the time axis; an ``instant`` event has
  ``start == end``.

Offsets within nodes are comparable only within one node: a span inside one node (or
paragraph) overlaps spans of that same node; a span across nodes, whose length is
unknown without the document, agrees only with an identical span (score 1 or 0), as
evalme compares offsets only when both XPaths are equal. A zero-length span (an instant)
agrees only with the same point.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import Metric, ResultItem
from .fields import canonical, fraction, number
from .regions import region_metric

Span = tuple[Any, float, float]
"""``(container, start, end)``: spans overlap only within the same hashable container."""

# Any fixed positive length works: identical spans of a multi-node container are caught
# as equal shapes before their IoU is taken, and different ones never share a container.
_WHOLE = 1.0


def interval_iou(span_a: Span, span_b: Span) -> float:
    """Length of the intersection over length of the union of two spans, in [0, 1].

    0.0 for spans in different containers, disjoint or touching spans, and a zero-length
    span against any other span.
    """
    container_a, start_a, end_a = span_a
    container_b, start_b, end_b = span_b
    if container_a != container_b:
        return 0.0
    intersection = min(end_a, end_b) - max(start_a, start_b)
    if intersection <= 0.0:
        return 0.0
    union = (end_a - start_a) + (end_b - start_b) - intersection
    return fraction(intersection / union)


def _node(raw: Any) -> str | None:
    # Paragraph indices arrive as "3" or 3 depending on the Label Studio version.
    if isinstance(raw, str):
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    return None


def _anchored(value: Mapping[str, Any]) -> Span | None:
    start_node, end_node = _node(value.get("start")), _node(value.get("end"))
    start, end = number(value.get("startOffset")), number(value.get("endOffset"))
    if start_node is None or end_node is None or start is None or end is None:
        return None
    if start_node == end_node:
        return (("node", start_node), start, end) if start <= end else None
    return (("nodes", start_node, end_node, start, end), 0.0, _WHOLE)


def _interval(start_raw: Any, end_raw: Any, container: Any) -> Span | None:
    start, end = number(start_raw), number(end_raw)
    if start is None or end is None or start > end:
        return None
    return (container, start, end)


def read_span(item: ResultItem, value: dict[str, Any]) -> Span | None:
    """The span of a span result item (see the module docstring); ``None`` if unusable."""
    result_type = item.get("type")
    if result_type == "paragraphlabels":
        return _anchored(value)
    if result_type == "hypertextlabels":
        offsets = value.get("globalOffsets")
        if isinstance(offsets, Mapping):
            span = _interval(offsets.get("start"), offsets.get("end"), None)
            if span is not None:
                return span
        return _anchored(value)
    channel = value.get("channel")
    container = None if channel is None else ("channel", canonical(channel))
    span = _interval(value.get("start"), value.get("end"), container)
    # Labels on hypertext in old Label Studio versions wrote XPaths in start/end.
    return span if span is not None else _anchored(value)


def span_overlap(*, label_weights: Mapping[str, float] | None = None) -> Metric:
    """Spans: mean interval IoU of label-matched spans (default for ``labels``,
    ``hypertextlabels``, ``paragraphlabels``, ``timeserieslabels``).

    Parameters
    ----------
    label_weights
        Optional ``{label: weight >= 0}``; unlisted labels weigh 1, weight 0 drops a label.

    Returns
    -------
    Metric
        ``(items_a, items_b) -> score in [0, 1]``: the sum of matched IoUs over
        ``n_a + n_b - n_matched``. A span with a missing or non-numeric position is
        unusable and scores 0.
    """
    return region_metric(read_span, interval_iou, label_weights)


def span_overlap_threshold(
    *, threshold: float = 0.5, label_weights: Mapping[str, float] | None = None
) -> Metric:
    """Spans: share of label-matched spans with IoU >= ``threshold`` (in [0, 1]).

    Spans are matched on raw IoU as in :func:`span_overlap`; a matched pair then scores
    1 or 0, an unmatched span 0.
    """
    return region_metric(read_span, interval_iou, label_weights, threshold)
