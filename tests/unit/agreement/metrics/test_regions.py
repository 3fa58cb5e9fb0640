"""Region matching: optimal one-to-one pairing by label, scored as Label Studio does.

Semantics from labelstud.io/guide/stats ("Overlapping can be only considered with matched
labels"; "Number of region pairs with IoU above the threshold of 0.5 = 2 of 3, agreement
0.66") and label-studio-evalme (label sets compared whole). Spans stand in for any region:
their IoU is easy to work out by hand.
"""

from __future__ import annotations

from itertools import permutations
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agreement.metrics import ResultItem, bbox_iou, span_overlap, span_overlap_threshold
from agreement.metrics.regions import best_matching, check_label_weights

from .laws import assert_metric_laws
from .strategies import box, span, spans

overlap = span_overlap()


def test_both_empty_agree_one_region_against_none_does_not() -> None:
    assert overlap([], []) == 1.0
    assert overlap([span(0, 10)], []) == 0.0
    assert overlap([], [span(0, 10)]) == 0.0


def test_unmatched_regions_count_once_each() -> None:
    # One identical pair (1.0) and one extra region: 1 / (2 + 1 - 1).
    assert overlap([span(0, 10), span(50, 60)], [span(0, 10)]) == 0.5
    # Disjoint spans do not match: 0 / (1 + 1).
    assert overlap([span(0, 10)], [span(20, 30)]) == 0.0


def test_optimal_matching_beats_greedy() -> None:
    a = [span(3, 14), span(8, 20)]
    b = [span(5, 15), span(0, 9)]
    # IoU: a1-b1 9/12, a1-b2 6/14, a2-b1 7/15, a2-b2 1/20. Greedy takes a1-b1 then a2-b2
    # (total 0.8); the optimum pairs a1-b2 and a2-b1 (total 0.895).
    expected = (6 / 14 + 7 / 15) / 2
    assert overlap(a, b) == pytest.approx(expected, abs=1e-15)
    assert overlap(b, a) == overlap(a, b)


def test_best_matching_on_a_matrix() -> None:
    table = {(0, 0): 0.9, (0, 1): 0.8, (1, 0): 0.85, (1, 1): 0.0}
    pairs = best_matching([0, 1], [0, 1], lambda i, j: table[(i, j)])
    assert sorted(pairs) == [(0, 1, 0.8), (1, 0, 0.85)]
    # Pairs of similarity 0 are no match, even when the assignment has to fill a row.
    assert best_matching([0], [0, 1], lambda i, j: 0.0) == []
    assert best_matching([], [0], lambda i, j: 1.0) == []


def test_labels_must_match_as_sets() -> None:
    assert overlap([span(0, 10, ["Car"])], [span(0, 10, ["Person"])]) == 0.0
    assert overlap([span(0, 10, ["Car", "Person"])], [span(0, 10, ["Car"])]) == 0.0
    assert overlap([span(0, 10, ["Car", "Person"])], [span(0, 10, ["Person", "Car"])]) == 1.0


def test_label_studio_threshold_example() -> None:
    # IoUs 0.99, 0.34 and 0.82; with threshold 0.5, 2 of 3 pairs agree.
    a = [span(0, 100), span(200, 300), span(400, 500)]
    b = [span(0, 99), span(200, 234), span(400, 482)]
    assert span_overlap_threshold(threshold=0.5)(a, b) == pytest.approx(2 / 3)
    assert overlap(a, b) == pytest.approx((0.99 + 0.34 + 0.82) / 3)
    # A pair below the threshold still counts once, unlike an unmatched region.
    assert span_overlap_threshold(threshold=0.99)(a, b) == pytest.approx(1 / 3)


def test_label_weights() -> None:
    a = [span(0, 10, ["Car"]), span(20, 30, ["Person"])]
    b = [span(0, 10, ["Car"])]
    # Car matched (1.0, weight 3), Person unmatched (weight 1): 3 / (3 + 1).
    assert span_overlap(label_weights={"Car": 3.0})(a, b) == 0.75
    # Person dropped: only the matched Car is left.
    assert span_overlap(label_weights={"Person": 0.0})(a, b) == 1.0
    # Car dropped: Person against nothing.
    assert span_overlap(label_weights={"Car": 0.0})(a, b) == 0.0
    # Everything dropped on both sides: nothing to disagree on.
    assert span_overlap(label_weights={"Car": 0.0, "Person": 0.0})(a, b) == 1.0


def test_zero_weight_label_leaves_a_multi_label_region() -> None:
    metric = span_overlap(label_weights={"Ignore": 0.0, "Car": 2.0, "Person": 4.0})
    assert metric([span(0, 10, ["Car", "Ignore"])], [span(0, 10, ["Car"])]) == 1.0
    # A multi-label region weighs the mean of its labels: (2 + 4) / 2 = 3.
    a = [span(0, 10, ["Car", "Person"]), span(20, 30, ["Car"])]
    b = [span(0, 10, ["Car", "Person"])]
    assert metric(a, b) == 3 / (3 + 2)


def test_bad_label_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="Car"):
        span_overlap(label_weights={"Car": -1.0})
    with pytest.raises(ValueError, match="Car"):
        span_overlap(label_weights={"Car": float("inf")})
    with pytest.raises(ValueError, match="mapping"):
        span_overlap(label_weights=["Car"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threshold"):
        span_overlap_threshold(threshold=1.5)
    assert check_label_weights(None) is None


def test_unusable_regions_match_only_their_twin() -> None:
    bad = box("10", 0, 5, 5)  # a string where a number belongs
    good = box(10, 0, 5, 5)
    metric = bbox_iou()
    assert metric([bad], [good]) == 0.0
    assert metric([bad], [bad]) == 1.0
    # The unusable region is one unmatched unit next to a perfect pair: 1 / 2.
    assert metric([good, bad], [good]) == 0.5
    not_a_dict: ResultItem = {"id": "a1", "type": "rectanglelabels", "value": None}
    assert metric([not_a_dict], [good]) == 0.0
    assert metric([not_a_dict], [{**not_a_dict, "id": "b7"}]) == 1.0


def _reference(a: list[ResultItem], b: list[ResultItem]) -> list[float]:
    """Scores of every maximum-total matching, found by trying all of them.

    IoU here counts the integer positions a span covers, independently of the metric.
    """

    def similarity(x: dict[str, Any], y: dict[str, Any]) -> float:
        if set(x["labels"]) != set(y["labels"]):
            return 0.0
        if (x["start"], x["end"]) == (y["start"], y["end"]):
            return 1.0
        covered_x, covered_y = set(range(x["start"], x["end"])), set(range(y["start"], y["end"]))
        union = covered_x | covered_y
        return len(covered_x & covered_y) / len(union) if union else 0.0

    if not a and not b:
        return [1.0]
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    outcomes: list[tuple[float, float]] = []
    for chosen in permutations(range(len(large)), len(small)):
        scores = [similarity(small[i]["value"], large[j]["value"]) for i, j in enumerate(chosen)]
        kept = [s for s in scores if s > 0.0]
        total = sum(kept)
        outcomes.append((total, total / (len(a) + len(b) - len(kept))))
    best = max(total for total, _ in outcomes)
    return [score for total, score in outcomes if total > best - 1e-9]


span_lists = st.lists(spans, max_size=4)


@given(span_lists, span_lists)
def test_matches_brute_force_reference(a: list[ResultItem], b: list[ResultItem]) -> None:
    score = assert_metric_laws(overlap, a, b)
    assert any(score == pytest.approx(expected, abs=1e-12) for expected in _reference(a, b))
