"""TextArea edit distance.

Reference: the Wagner-Fischer dynamic programme for Levenshtein distance, written out
below independently of rapidfuzz, and the aggregation of Label Studio's guide
(labelstud.io/guide/stats, "Edit distance algorithm example"): texts aligned by position,
an unaligned text scores 0, the scores averaged over all pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agreement.metrics import (
    ResultItem,
    text_edit_distance,
    text_edit_distance_threshold,
    text_edit_distance_words,
)

from .laws import assert_metric_laws
from .strategies import item


def _levenshtein(a: Sequence[str], b: Sequence[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, unit_a in enumerate(a, 1):
        current = [i]
        for j, unit_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (unit_a != unit_b))
            )
        previous = current
    return previous[-1]


def _similarity(a: Sequence[str], b: Sequence[str]) -> float:
    longest = max(len(a), len(b))
    return 1.0 - _levenshtein(a, b) / longest if longest else 1.0


def _textarea(*texts: str) -> list[ResultItem]:
    return [item("textarea", {"text": list(texts)})]


def test_kitten_sitting() -> None:
    # The textbook pair: 3 edits over 7 characters.
    assert text_edit_distance(_textarea("kitten"), _textarea("sitting")) == pytest.approx(4 / 7)


def test_lines_are_aligned_and_unaligned_lines_score_zero() -> None:
    a = _textarea("hello", "world")
    # "hello" vs "hallo" is 4/5, "world" has no partner: (0.8 + 0) / 2.
    assert text_edit_distance(a, _textarea("hallo")) == pytest.approx(0.4)
    assert text_edit_distance(_textarea(), _textarea()) == 1.0
    assert text_edit_distance(_textarea(""), _textarea("")) == 1.0
    assert text_edit_distance(_textarea(""), _textarea("x")) == 0.0


def test_words_variant() -> None:
    a, b = _textarea("the quick brown fox"), _textarea("the quick red fox")
    assert text_edit_distance_words(a, b) == 0.75  # one word of four replaced
    assert text_edit_distance_words(_textarea("a  b"), _textarea("a b")) == 1.0


def test_threshold_variant() -> None:
    a = _textarea("kitten", "hello")
    b = _textarea("sitting", "hello")
    assert text_edit_distance_threshold()(a, b) == 0.5  # 4/7 < 0.8, 1.0 >= 0.8
    assert text_edit_distance_threshold(threshold=0.5)(a, b) == 1.0
    with pytest.raises(ValueError, match="threshold"):
        text_edit_distance_threshold(threshold=-0.1)


def test_unicode() -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    assert text_edit_distance(_textarea(composed), _textarea(decomposed)) == 1.0
    # One of four characters differs, in Chinese as in English.
    assert text_edit_distance(_textarea("我爱北京"), _textarea("我爱上京")) == 0.75
    assert text_edit_distance(_textarea("👍 ok"), _textarea("👎 ok")) == 0.75
    # Without spaces a Chinese sentence is one word.
    assert text_edit_distance_words(_textarea("我爱北京"), _textarea("我爱上京")) == 0.0


def test_text_as_a_plain_string_and_across_items() -> None:
    assert text_edit_distance([item("textarea", {"text": "abc"})], _textarea("abc")) == 1.0
    split = [item("textarea", {"text": ["abc"]}), item("textarea", {"text": ["def"]})]
    assert text_edit_distance(split, _textarea("abc", "def")) == 1.0


def test_malformed_text_falls_back_to_exact_match() -> None:
    for bad in ([item("textarea", {"text": [1, 2]})], [item("textarea", {"text": None})]):
        assert text_edit_distance(bad, _textarea("1")) == 0.0
        assert text_edit_distance(bad, bad) == 1.0


lines = st.lists(st.text(alphabet="abc é积", max_size=8), max_size=3)


@given(lines, lines)
def test_matches_reference_and_laws(a: list[str], b: list[str]) -> None:
    score = assert_metric_laws(text_edit_distance, _textarea(*a), _textarea(*b))
    pairs = [_similarity(x, y) for x, y in zip(a, b, strict=False)]
    expected = sum(pairs) / max(len(a), len(b)) if a or b else 1.0
    assert score == pytest.approx(expected, abs=1e-12)
    words = assert_metric_laws(text_edit_distance_words, _textarea(*a), _textarea(*b))
    pairs = [_similarity(x.split(), y.split()) for x, y in zip(a, b, strict=False)]
    expected = sum(pairs) / max(len(a), len(b)) if a or b else 1.0
    assert words == pytest.approx(expected, abs=1e-12)
    assert_metric_laws(text_edit_distance_threshold(), _textarea(*a), _textarea(*b))
