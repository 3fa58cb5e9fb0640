"""Span overlap for text, audio, HTML, paragraph and time series spans.

Reference: interval IoU as label-studio-evalme's ``spans_iou`` defines it (intersection
over union of ``[start, end]``), checked against a set-of-positions IoU computed here; the
"Excellent tool" example is Label Studio's own (labelstud.io/guide/stats).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agreement.metrics import ResultItem, span_overlap, span_overlap_threshold

from .laws import assert_metric_laws
from .strategies import LABELS, item, span, spans

overlap = span_overlap()


def test_label_studio_excellent_tool_example() -> None:
    text = "Excellent tool"
    whole = span(0, 14, ["positive"], text=text)
    tool = span(10, 14, ["positive"], text="tool")
    negative = span(10, 14, ["negative"], text="tool")
    # Label Studio's guide says 50%, counting words (one of two); by characters, which
    # is what start/end measure, "tool" is 4 of 14.
    assert overlap([whole], [tool]) == pytest.approx(4 / 14)
    # "the same text span was labeled differently": 0%.
    assert overlap([tool], [negative]) == 0.0


def test_audio_spans_in_seconds_and_channels() -> None:
    assert overlap([span(1.5, 3.5)], [span(2.5, 4.5)]) == pytest.approx(1 / 3)
    assert overlap([span(1.5, 3.5, channel=0)], [span(1.5, 3.5, channel=1)]) == 0.0


def _hypertext(offsets: tuple[int, int], node: str, start: int, end: int) -> ResultItem:
    value = {"start": node, "end": node, "startOffset": start, "endOffset": end}
    value["globalOffsets"] = {"start": offsets[0], "end": offsets[1]}
    return item("hypertextlabels", {**value, "htmllabels": ["Car"]})


def test_hypertext_uses_global_offsets() -> None:
    # Different nodes, but global offsets [0, 10] and [5, 15] share 5 of 15 characters.
    a = _hypertext((0, 10), "/p[1]/text()[1]", 0, 10)
    b = _hypertext((5, 15), "/p[2]/text()[1]", 3, 13)
    assert overlap([a], [b]) == pytest.approx(1 / 3)
    # Without global offsets the nodes differ, so the spans cannot be compared.
    for result in (a, b):
        del result["value"]["globalOffsets"]
    assert overlap([a], [b]) == 0.0


def _anchored(result_type: str, start: Any, end: Any, offsets: tuple[int, int]) -> ResultItem:
    value = {"start": start, "end": end, "startOffset": offsets[0], "endOffset": offsets[1]}
    return item(result_type, {**value, result_type: ["Car"], "htmllabels": ["Car"]})


def test_paragraph_spans_overlap_within_one_paragraph() -> None:
    a = _anchored("paragraphlabels", "2", "2", (0, 10))
    b = _anchored("paragraphlabels", "2", "2", (5, 10))
    assert overlap([a], [b]) == 0.5
    # Paragraph indices written as numbers by some versions are the same paragraphs.
    assert overlap([a], [_anchored("paragraphlabels", 2, 2, (5, 10))]) == 0.5
    # The same offsets in another paragraph are elsewhere in the dialogue.
    assert overlap([a], [_anchored("paragraphlabels", "3", "3", (0, 10))]) == 0.0


def test_spans_across_nodes_agree_only_when_identical() -> None:
    across = _anchored("paragraphlabels", "1", "3", (4, 2))
    assert overlap([across], [_anchored("paragraphlabels", "1", "3", (4, 2))]) == 1.0
    assert overlap([across], [_anchored("paragraphlabels", "1", "3", (5, 2))]) == 0.0
    html = _anchored("hypertextlabels", "/p[1]", "/p[2]", (4, 2))
    assert overlap([html], [_anchored("hypertextlabels", "/p[1]", "/p[2]", (4, 2))]) == 1.0
    assert overlap([html], [_anchored("hypertextlabels", "/p[1]", "/p[1]", (4, 20))]) == 0.0


def _series(start: float, end: float, instant: bool = False) -> ResultItem:
    value = {"start": start, "end": end, "instant": instant, "timeserieslabels": ["Car"]}
    return item("timeserieslabels", value)


def test_time_series_spans_and_instants() -> None:
    assert overlap([_series(100, 200)], [_series(150, 250)]) == pytest.approx(50 / 150)
    assert overlap([_series(100, 100, True)], [_series(100, 100, True)]) == 1.0
    assert overlap([_series(100, 100, True)], [_series(101, 101, True)]) == 0.0
    # An instant inside a span covers none of its length.
    assert overlap([_series(150, 150, True)], [_series(100, 200)]) == 0.0


def test_threshold_variant() -> None:
    a, b = [span(0, 10)], [span(0, 6)]
    assert span_overlap_threshold(threshold=0.6)(a, b) == 1.0
    assert span_overlap_threshold(threshold=0.61)(a, b) == 0.0
    assert span_overlap_threshold()(a, []) == 0.0


def test_unusable_spans() -> None:
    good = span(0, 10)
    for bad in (span(None, 10), span(10, 0), span("0", "10"), span(0, float("nan"))):
        assert overlap([bad], [good]) == 0.0
        assert overlap([bad], [bad]) == 1.0


@given(st.integers(0, 40), st.integers(1, 20), st.integers(0, 40), st.integers(1, 20))
def test_one_span_each_equals_position_set_iou(
    start_a: int, length_a: int, start_b: int, length_b: int
) -> None:
    covered_a = set(range(start_a, start_a + length_a))
    covered_b = set(range(start_b, start_b + length_b))
    expected = len(covered_a & covered_b) / len(covered_a | covered_b)
    score = overlap([span(start_a, start_a + length_a)], [span(start_b, start_b + length_b)])
    assert score == pytest.approx(expected, abs=1e-15)


@given(st.lists(spans, max_size=5), st.lists(spans, max_size=5))
def test_span_metric_laws(a: list[ResultItem], b: list[ResultItem]) -> None:
    assert_metric_laws(overlap, a, b)
    assert_metric_laws(span_overlap_threshold(threshold=0.5), a, b)
    assert_metric_laws(span_overlap(label_weights={LABELS[0]: 0.5, LABELS[2]: 0.0}), a, b)
