"""Ranker agreement: bucket-aware Kendall tau.

Reference: for two orderings of the same items, the share of concordant pairs is
``(1 + tau) / 2`` with Kendall's tau (scipy.stats.kendalltau; tau-b equals tau-a without
ties). Result shapes from labelstud.io/tags/ranker: a list of ids, or buckets of id lists.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import kendalltau

from agreement.metrics import ResultItem, make_metric, ranker_kendall

from .laws import assert_metric_laws
from .strategies import item


def _ranked(ranking: Any) -> list[ResultItem]:
    return [item("ranker", {"ranker": ranking})]


def test_plain_rankings() -> None:
    assert ranker_kendall(_ranked(["mdn", "wiki", "blog"]), _ranked(["mdn", "wiki", "blog"])) == 1.0
    assert ranker_kendall(_ranked(["mdn", "wiki", "blog"]), _ranked(["blog", "wiki", "mdn"])) == 0.0
    # One swapped neighbour: 2 of 3 pairs in order.
    assert ranker_kendall(_ranked(["a", "b", "c"]), _ranked(["b", "a", "c"])) == pytest.approx(
        2 / 3
    )


def test_items_ranked_by_one_side_only() -> None:
    # Placement {a, b, c} vs {a, b}: 2 of 3; the common pair is in order.
    assert ranker_kendall(_ranked(["a", "b", "c"]), _ranked(["a", "b"])) == pytest.approx(2 / 3)
    assert ranker_kendall(_ranked(["a"]), _ranked(["b"])) == 0.0
    assert ranker_kendall(_ranked([]), _ranked([])) == 1.0


def test_buckets() -> None:
    a = _ranked({"best": ["mdn", "wiki"], "ads": ["blog"]})
    # Same buckets, order inside "best" reversed: placement 1, order 0 of 1 pair.
    assert ranker_kendall(a, _ranked({"best": ["wiki", "mdn"], "ads": ["blog"]})) == 0.0
    # Bucket order is not a ranking: listing "ads" first changes nothing.
    assert ranker_kendall(a, _ranked({"ads": ["blog"], "best": ["mdn", "wiki"]})) == 1.0
    # blog moved to "best": placements {best:mdn, best:wiki, ads:blog} vs
    # {best:mdn, best:wiki, best:blog} share 2 of 4; mdn before wiki in both.
    moved = _ranked({"best": ["mdn", "wiki", "blog"], "ads": []})
    assert ranker_kendall(a, moved) == 0.5
    # A plain list is another bucket than any named one.
    assert ranker_kendall(a, _ranked(["mdn", "wiki", "blog"])) == 0.0


def test_malformed_falls_back_to_exact_match() -> None:
    for bad in (_ranked("mdn"), _ranked([["mdn"]]), _ranked({"best": "mdn"}), _ranked(None)):
        assert ranker_kendall(bad, _ranked(["mdn"])) == 0.0
        assert ranker_kendall(bad, bad) == 1.0


@given(st.permutations(list("abcdefg")), st.permutations(list("abcdefg")))
def test_same_items_match_kendall_tau(a: list[str], b: list[str]) -> None:
    score = assert_metric_laws(ranker_kendall, _ranked(a), _ranked(b))
    tau = kendalltau([a.index(x) for x in "abcdefg"], [b.index(x) for x in "abcdefg"]).statistic
    assert score == pytest.approx((1 + tau) / 2, abs=1e-12)


buckets = st.dictionaries(
    st.sampled_from(["best", "ok", "ads"]),
    st.lists(st.sampled_from(list("abcde")), max_size=4, unique=True),
    max_size=3,
)


@given(
    st.one_of(buckets, st.lists(st.sampled_from(list("abcde")), max_size=5, unique=True)),
    st.one_of(buckets, st.lists(st.sampled_from(list("abcde")), max_size=5, unique=True)),
)
def test_ranker_laws(a: Any, b: Any) -> None:
    assert_metric_laws(ranker_kendall, _ranked(a), _ranked(b))


def test_ranker_kendall_threshold_agrees_from_the_threshold_on() -> None:
    a, b = _ranked(["a", "b", "c"]), _ranked(["a", "b"])  # ranker_kendall 2/3
    assert make_metric("ranker_kendall_threshold")(a, b) == 1.0
    assert make_metric("ranker_kendall_threshold", threshold=0.7)(a, b) == 0.0
    assert make_metric("ranker_kendall_threshold", threshold=0.7)(a, a) == 1.0
