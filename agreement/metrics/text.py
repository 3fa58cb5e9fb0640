"""TextArea metrics: one minus the normalized Levenshtein distance of transcriptions.

Label Studio Enterprise's default for ``TextArea`` is "Text Similarity" by edit distance
(docs.humansignal.com/guide/agreement_metrics), computed as its stats guide describes
(labelstud.io/guide/stats, "Edit distance algorithm example"): the texts of each
annotation form a list, the lists are aligned by position, each aligned pair scores its
similarity, each text without a partner scores 0, and the tag score is the mean over the
longer list.

A TextArea result's ``value.text`` is a list of strings (one per submitted line); the
texts of all items of the tag are taken in order. Texts are compared in Unicode NFC, so
"é" typed as one code point or as "e" plus a combining accent is the same text. An item
whose ``text`` is missing or not strings makes the tag fall back to exact match.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable

from rapidfuzz.distance import Levenshtein

from .base import Metric, ResultItem
from .classification import exact_match
from .fields import check_fraction, strings, value_of


def texts(items: list[ResultItem]) -> list[str] | None:
    """All texts of a tag's items in order, NFC-normalized; ``None`` if one is unusable."""
    collected: list[str] = []
    for item in items:
        value = value_of(item)
        raw = None if value is None else value.get("text")
        lines = [raw] if isinstance(raw, str) else strings(raw)
        if lines is None:
            return None
        collected.extend(unicodedata.normalize("NFC", line) for line in lines)
    return collected


def character_similarity(text_a: str, text_b: str) -> float:
    """``1 - Levenshtein distance / length of the longer text``, in [0, 1]; "" vs "" is 1."""
    return 1.0 - Levenshtein.normalized_distance(text_a, text_b)


def word_similarity(text_a: str, text_b: str) -> float:
    """As :func:`character_similarity` over words (``str.split``) instead of characters.

    A text without spaces (Chinese, Japanese) is one word, so it scores 1 or 0.
    """
    return 1.0 - Levenshtein.normalized_distance(text_a.split(), text_b.split())


def _aligned(similarity: Callable[[str, str], float]) -> Metric:
    def metric(items_a: list[ResultItem], items_b: list[ResultItem]) -> float:
        texts_a, texts_b = texts(items_a), texts(items_b)
        if texts_a is None or texts_b is None:
            return exact_match(items_a, items_b)
        if not texts_a and not texts_b:
            return 1.0
        # Each pair in one canonical order, so swapping the sides cannot move a bit.
        scores = [similarity(min(a, b), max(a, b)) for a, b in zip(texts_a, texts_b, strict=False)]
        return math.fsum(scores) / max(len(texts_a), len(texts_b))

    return metric


text_edit_distance: Metric = _aligned(character_similarity)
"""TextArea (default): mean per-line character similarity, unpaired lines scoring 0."""

text_edit_distance_words: Metric = _aligned(word_similarity)
"""TextArea: as :data:`text_edit_distance` with words as the edit unit."""


def text_edit_distance_threshold(*, threshold: float = 0.8) -> Metric:
    """TextArea: share of aligned lines whose character similarity is >= ``threshold``.

    Parameters
    ----------
    threshold
        In [0, 1]; default 0.8.

    Returns
    -------
    Metric
        ``(items_a, items_b) -> score in [0, 1]``, 0 or 1 per aligned pair of lines.
    """
    bound = check_fraction("threshold", threshold)

    def similar(text_a: str, text_b: str) -> float:
        return 1.0 if character_similarity(text_a, text_b) >= bound else 0.0

    return _aligned(similar)
