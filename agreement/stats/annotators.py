"""Annotator x annotator agreement: the mean pair score of every two annotators."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .sums import ExactSum
from .tally import STATE_VERSION

Pair = tuple[str, str]


class AnnotatorMatrix:
    """Mean pair score per annotator pair, updated one pair-score contribution at a time.

    A contribution is the score in [0, 1] of two annotators' annotations of one task
    (``agreement.pair_score``). The caller adds it when the pair is scored and removes
    the same score when either annotation changes or leaves. Sums are exact
    (:class:`~agreement.stats.sums.ExactSum`), so a mean equals ``math.fsum`` of the
    pair's current scores divided by their count, whatever the order of updates.

    State layout (``to_state``), version 1::

        {"version": 1, "statistic": "annotators",
         "pairs": [["<a>", "<b>", count, [partial, ...]], ...]}      # a < b, sorted
    """

    __slots__ = ("_pairs",)

    def __init__(self) -> None:
        self._pairs: dict[Pair, tuple[int, ExactSum]] = {}

    @staticmethod
    def _pair(annotator_a: str, annotator_b: str) -> Pair:
        if type(annotator_a) is not str or type(annotator_b) is not str:
            raise ValueError(f"annotator ids must be str, got {annotator_a!r}, {annotator_b!r}")
        if annotator_a == annotator_b:
            raise ValueError(f"annotator {annotator_a!r} is paired with themselves; pair two")
        if annotator_a < annotator_b:
            return (annotator_a, annotator_b)
        return (annotator_b, annotator_a)

    @staticmethod
    def _check(score: float) -> float:
        if not 0.0 <= score <= 1.0:  # NaN fails too
            raise ValueError(f"pair score {score!r} is not in [0, 1]")
        return float(score)

    def add(self, annotator_a: str, annotator_b: str, score: float) -> None:
        """Count one task's pair score of the two annotators."""
        pair, score = self._pair(annotator_a, annotator_b), self._check(score)
        count, total = self._pairs.get(pair) or (0, ExactSum())
        total.add(score)
        self._pairs[pair] = (count + 1, total)

    def remove(self, annotator_a: str, annotator_b: str, score: float) -> None:
        """Uncount a pair score that was added; ``ValueError`` if the pair has none."""
        pair, score = self._pair(annotator_a, annotator_b), self._check(score)
        entry = self._pairs.get(pair)
        if entry is None:
            raise ValueError(f"annotators {annotator_a!r} and {annotator_b!r} have no score")
        count, total = entry
        total.remove(score)
        if count > 1:
            self._pairs[pair] = (count - 1, total)
            return
        del self._pairs[pair]
        if not total.is_zero():
            # The last score out must leave exactly nothing; otherwise a removed score
            # was never added and every mean of this pair was wrong.
            raise ValueError(
                f"scores removed for {annotator_a!r} and {annotator_b!r} differ from those "
                "added; remove exactly the scores that were added (state reset for the pair)"
            )

    def mean(self, annotator_a: str, annotator_b: str) -> float | None:
        """Mean pair score of the two annotators; ``None`` if they share no scored task."""
        entry = self._pairs.get(self._pair(annotator_a, annotator_b))
        return None if entry is None else entry[1].value / entry[0]

    def pairs(self) -> list[tuple[str, str, int, float]]:
        """Every pair with a scored task: ``(a, b, count, mean)``, ``a < b``, sorted.

        ``count`` is the number of pair scores the mean is over: one per task both
        annotated, as long as each annotates a task once.
        """
        return [(a, b, count, total.value / count)
                for (a, b), (count, total) in sorted(self._pairs.items())]

    def matrix(self) -> tuple[list[str], NDArray[np.float64]]:
        """All annotators with at least one pair score, and their agreement matrix.

        Returns
        -------
        annotators : list of str, length A, sorted
        matrix : ndarray, shape (A, A)
            Symmetric; ``[i, j]`` the mean pair score of annotators i and j in [0, 1],
            NaN where they share no scored task. The diagonal is 1.0 by convention
            (an annotator is never scored against themselves; 1.0 keeps the matrix
            usable as a similarity, as a correlation matrix's diagonal).
        """
        annotators = sorted({annotator for pair in self._pairs for annotator in pair})
        position = {annotator: i for i, annotator in enumerate(annotators)}
        matrix = np.full((len(annotators), len(annotators)), math.nan)
        np.fill_diagonal(matrix, 1.0)
        for (a, b), (count, total) in self._pairs.items():
            matrix[position[a], position[b]] = matrix[position[b], position[a]] = (
                total.value / count
            )
        return annotators, matrix

    def to_state(self) -> dict[str, Any]:
        """JSON-able state (layout in the class docstring)."""
        return {
            "version": STATE_VERSION,
            "statistic": "annotators",
            "pairs": [
                [a, b, count, list(total.partials)]
                for (a, b), (count, total) in sorted(self._pairs.items())
            ],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> AnnotatorMatrix:
        """Rebuild from :meth:`to_state` output, checking the layout."""
        if state.get("version") != STATE_VERSION or state.get("statistic") != "annotators":
            raise ValueError(
                f"state is version {state.get('version')!r} of {state.get('statistic')!r}, "
                f"expected version {STATE_VERSION} of 'annotators'; rebuild it"
            )
        matrix = cls()
        for a, b, count, partials in state["pairs"]:
            if not (type(count) is int and count >= 1) or (a, b) != cls._pair(a, b):
                raise ValueError(f"state has a bad pair entry {[a, b, count]!r}")
            if (a, b) in matrix._pairs:
                raise ValueError(f"state lists pair {a!r}, {b!r} twice")
            matrix._pairs[(a, b)] = (count, ExactSum(partials))
        return matrix
