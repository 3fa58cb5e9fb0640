"""How a task's pair scores become one task score: the pairwise and consensus methodologies.

Both work from the pair scores alone, so the stream, which keeps every pair's score,
never re-runs a metric to get a task score under either methodology.

Pairwise (Label Studio Enterprise's default)
    The mean of the pair scores over all pairs of counted annotations.

Consensus
    A pair *agrees* when its score is at least the consensus threshold (so continuous
    metrics such as IoU are thresholded, as Label Studio Enterprise asks of them under
    consensus). Each annotation ``i`` gathers the group ``{i}`` plus every annotation
    that agrees with ``i``. The *majority* is the largest such group; among groups of
    the same size, the one gathered by the smallest id (``str`` order) wins. The score
    is the majority's size over the number of counted annotations: 2 of 3 annotators
    choosing "pos" and one "neg" score 2/3.

    Agreement at a threshold need not be transitive (A~B and B~C without A~C): the
    majority is the annotations that agree with one representative annotation, not a
    set in which every pair agrees, which makes it cheap (O(k^2)) and unambiguous.

Both give ``None`` with no annotation and 1.0 with one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import StrEnum

DEFAULT_CONSENSUS_THRESHOLD = 0.5
"""Pair score at or above which two annotations agree under the consensus methodology.

0.5 is the usual cut for IoU-style overlap; Label Studio Enterprise asks the user to set it.
"""


class Methodology(StrEnum):
    """How pair scores become a task score (see the module docstring)."""

    PAIRWISE = "pairwise"
    CONSENSUS = "consensus"


def methodology_of(value: str) -> Methodology:
    """``value`` as a :class:`Methodology`; a clear error for anything else."""
    try:
        return Methodology(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in Methodology)
        raise ValueError(f"methodology must be one of {allowed}; got {value!r}") from None


def check_threshold(threshold: float) -> float:
    """``threshold`` as a float in [0, 1]; a clear error otherwise."""
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ValueError(f"consensus threshold must be a number in [0, 1], got {threshold!r}")
    value = float(threshold)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"consensus threshold must be in [0, 1], got {threshold!r}")
    return value


def _check_pairs(pair_scores: Mapping[tuple[str, str], float], count: int) -> None:
    if count < 0:
        raise ValueError(f"annotation count must be >= 0, got {count}")
    expected = count * (count - 1) // 2
    if len(pair_scores) != expected:
        raise ValueError(
            f"{len(pair_scores)} pair scores for {count} annotations; every one of the "
            f"{expected} pairs needs a score"
        )


def _agreeing(
    pair_scores: Mapping[tuple[str, str], float], count: int, threshold: float
) -> dict[str, set[str]]:
    """Annotation id -> the ids that agree with it (at ``threshold``)."""
    neighbours: dict[str, set[str]] = {}
    for (id_a, id_b), score in pair_scores.items():
        agree_a = neighbours.setdefault(id_a, set())
        agree_b = neighbours.setdefault(id_b, set())
        if score >= threshold:  # NaN never agrees
            agree_a.add(id_b)
            agree_b.add(id_a)
    if len(neighbours) != count:
        raise ValueError(
            f"pair scores name {len(neighbours)} annotations, not {count}; key each pair "
            "by its two annotation ids"
        )
    return neighbours


def consensus_majority(
    pair_scores: Mapping[tuple[str, str], float],
    count: int,
    consensus_threshold: float = DEFAULT_CONSENSUS_THRESHOLD,
) -> tuple[str, ...]:
    """The ids of the consensus majority, sorted (see the module docstring).

    Parameters
    ----------
    pair_scores
        Score in [0, 1] of every pair of the ``count`` counted annotations, keyed by the
        pair's two ids (``count * (count - 1) / 2`` entries). With one annotation there
        are no pairs to name it, so the majority is empty.
    count
        Number of counted annotations.
    consensus_threshold
        Pair score in [0, 1] at or above which two annotations agree.
    """
    _check_pairs(pair_scores, count)
    threshold = check_threshold(consensus_threshold)
    if count < 2:
        return ()
    neighbours = _agreeing(pair_scores, count, threshold)
    # Sorted ids and a strict ">" make the smallest id win a tie of group sizes.
    representative = ""
    best = -1
    for annotation_id in sorted(neighbours):
        size = len(neighbours[annotation_id])
        if size > best:
            representative, best = annotation_id, size
    return tuple(sorted({representative, *neighbours[representative]}))


def task_score(
    pair_scores: Mapping[tuple[str, str], float],
    count: int,
    methodology: str = Methodology.PAIRWISE,
    consensus_threshold: float = DEFAULT_CONSENSUS_THRESHOLD,
) -> float | None:
    """Task score from the scores of every pair of its counted annotations.

    Parameters
    ----------
    pair_scores
        Score in [0, 1] of each of the ``count * (count - 1) / 2`` pairs, keyed by the
        sorted pair of annotation ids. Use it for the overall pair scores or for one
        control tag's ("dimension's") pair scores.
    count
        Number of counted annotations (0 or more).
    methodology
        ``"pairwise"`` (mean pair score) or ``"consensus"`` (share of annotations in
        the majority).
    consensus_threshold
        Consensus only: pair score in [0, 1] at or above which a pair agrees.

    Returns
    -------
    float or None
        In [0, 1]; None with no annotation, 1.0 with one. Pairwise equals
        :func:`agreement.recompute` to the last bit (``fsum``, so pair order does not
        matter). Consensus is a multiple of ``1 / count``, at least ``1 / count``.

    Raises
    ------
    ValueError
        If the number of pairs does not match ``count``, or a parameter is out of range.
    """
    kind = methodology_of(methodology)
    _check_pairs(pair_scores, count)
    if kind is Methodology.CONSENSUS:
        threshold = check_threshold(consensus_threshold)
    if count == 0:
        return None
    if count == 1:
        return 1.0
    if kind is Methodology.PAIRWISE:
        return math.fsum(pair_scores.values()) / len(pair_scores)
    neighbours = _agreeing(pair_scores, count, threshold)
    return (1 + max(len(agree) for agree in neighbours.values())) / count
