"""The metric registry: the fixed names and parameters, the defaults per result type, and
robustness of every metric to malformed values.

The defaults follow docs.humansignal.com/guide/agreement_metrics ("Default metric
reference"), except where Quorum's design asks for more: ellipses by IoU and keypoints by
distance instead of exact match.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agreement import pair_score
from agreement.metrics import (
    DEFAULT_METRIC,
    METRICS,
    REGISTRY,
    exact_match,
    make_metric,
    metric_for,
)

from .laws import assert_metric_laws
from .strategies import box, item, malformed

# name -> {parameter: default}, as fixed for the engineers who code against them.
PARAMETERS: dict[str, dict[str, Any]] = {
    "choices": {},
    "choices_exact": {},
    "taxonomy": {},
    "taxonomy_prefix": {},
    "taxonomy_prefix_threshold": {"threshold": 0.5},
    "datetime_exact": {},
    "pairwise_exact": {},
    "numeric_difference": {"range": 4.0},
    "numeric_tolerance": {"tolerance": 0.0},
    "bbox_iou": {"label_weights": None},
    "bbox_iou_threshold": {"threshold": 0.5, "label_weights": None},
    "polygon_iou": {"label_weights": None},
    "polygon_iou_threshold": {"threshold": 0.5, "label_weights": None},
    "ellipse_iou": {"label_weights": None},
    "ellipse_iou_threshold": {"threshold": 0.5, "label_weights": None},
    "span_overlap": {"label_weights": None},
    "span_overlap_threshold": {"threshold": 0.5, "label_weights": None},
    "keypoint_distance": {"max_distance": 2.0, "label_weights": None},
    "keypoint_distance_threshold": {"distance": 1.0, "label_weights": None},
    "text_edit_distance": {},
    "text_edit_distance_words": {},
    "text_edit_distance_threshold": {"threshold": 0.8},
    "ranker_kendall": {},
    "ranker_kendall_threshold": {"threshold": 0.5},
    "exact_match": {},
}

DEFAULTS = {
    "choices": "choices",
    "taxonomy": "taxonomy",
    "datetime": "datetime_exact",
    "pairwise": "pairwise_exact",
    "number": "numeric_difference",
    "rating": "numeric_difference",
    "rectanglelabels": "bbox_iou",
    "rectangle": "bbox_iou",
    "polygonlabels": "polygon_iou",
    "polygon": "polygon_iou",
    "ellipselabels": "ellipse_iou",
    "ellipse": "ellipse_iou",
    "labels": "span_overlap",
    "hypertextlabels": "span_overlap",
    "paragraphlabels": "span_overlap",
    "timeserieslabels": "span_overlap",
    "keypointlabels": "keypoint_distance",
    "keypoint": "keypoint_distance",
    "textarea": "text_edit_distance",
    "ranker": "ranker_kendall",
}


def test_names_and_parameters_are_as_agreed() -> None:
    assert set(REGISTRY) == set(PARAMETERS)
    for name, expected in PARAMETERS.items():
        parameters = inspect.signature(REGISTRY[name]).parameters
        assert {p: parameters[p].default for p in parameters} == expected, name
        assert all(p.kind is p.KEYWORD_ONLY for p in parameters.values()), name


def test_defaults_per_result_type() -> None:
    assert DEFAULT_METRIC == DEFAULTS
    for result_type in DEFAULTS:
        assert metric_for(result_type) is METRICS[result_type]
    for result_type in ("brushlabels", "videorectangle", "bitmasklabels", "relation"):
        assert metric_for(result_type) is exact_match


def test_make_metric_binds_parameters() -> None:
    a, b = [box(0, 0, 10, 10)], [box(0, 0, 10, 6)]  # IoU 0.6
    assert make_metric("bbox_iou")(a, b) == pytest.approx(0.6)
    assert make_metric("bbox_iou_threshold", threshold=0.7)(a, b) == 0.0
    assert make_metric("bbox_iou", label_weights={"Car": 0.0})(a, b) == 1.0
    with pytest.raises(ValueError, match="bad parameters"):
        make_metric("bbox_iou", threshold=0.5)
    with pytest.raises(ValueError, match="threshold"):
        make_metric("bbox_iou_threshold", threshold=2)


def test_pair_score_uses_the_new_defaults() -> None:
    def result(stars: int, height: float, text: str) -> list[dict[str, Any]]:
        rating = {**item("rating", {"rating": stars}), "from_name": "stars"}
        comment = {**item("textarea", {"text": [text]}), "from_name": "comment"}
        return [rating, box(0, 0, 10, height), comment]

    # Rating 0.75, boxes IoU 0.5, text 4/7: the mean over three tags.
    score = pair_score(result(3, 10, "kitten"), result(2, 5, "sitting"))
    assert score == pytest.approx((0.75 + 0.5 + 4 / 7) / 3)


# Every field a metric reads, so that malformed values reach every reader.
FIELDS = [
    "x", "y", "width", "height", "rotation", "points", "radiusX", "radiusY", "start", "end",
    "startOffset", "endOffset", "globalOffsets", "channel", "text", "number", "rating",
    "datetime", "selected", "ranker", "taxonomy", "choices", "labels", "htmllabels",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.data(), st.sampled_from(sorted(REGISTRY)), st.sampled_from(sorted(DEFAULTS)))
def test_malformed_values_never_raise(data: st.DataObject, name: str, result_type: str) -> None:
    items = st.lists(malformed(result_type, [*FIELDS, result_type]), max_size=3)
    a, b = data.draw(items), data.draw(items)
    metric = make_metric(name)
    assert_metric_laws(metric, a, b)
