"""Task agreement, pairwise methodology, kept up to date one annotation at a time."""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import combinations
from typing import Any

from .metrics import ResultItem
from .pair import pair_score

STATE_VERSION = 1
"""Version of :meth:`TaskAgreement.to_state`; bump it when the layout changes."""

_SEPARATOR = "|"


def _pair_key(id_a: str, id_b: str) -> str:
    """The pair's key in the state, ``"a|b"`` with ``a < b``.

    Pairs are held under this string, not an (a, b) tuple: the state is written and read
    with no conversion, and a string, unlike a tuple, is no work for the garbage collector.
    Ids never contain the separator (``upsert`` refuses them), so the key is unambiguous.
    """
    return f"{id_a}{_SEPARATOR}{id_b}" if id_a < id_b else f"{id_b}{_SEPARATOR}{id_a}"


def _mean(pair_scores: Mapping[Any, float], count: int) -> float | None:
    if count == 0:
        return None
    if count == 1:
        return 1.0
    # fsum is correctly rounded, so the mean does not depend on the order in which
    # pairs were added: an incremental score equals a recompute with ==.
    return math.fsum(pair_scores.values()) / len(pair_scores)


class TaskAgreement:
    """Agreement of one task's counted annotations, updated in O(k) per change.

    Holds each counted annotation's ``result`` and the score of every pair of them. The
    task score is the mean pair score (Label Studio Enterprise's pairwise methodology):
    ``None`` with no annotation, 1.0 with one.

    Results are stored as given, not copied: treat them as immutable once passed in.
    ``weights`` (per control tag, see :func:`agreement.pair.pair_score`) belong to the
    project's configuration and are not part of the state: after changing them, rebuild.
    """

    __slots__ = ("_pairs", "_results", "weights")

    def __init__(self, weights: Mapping[str, float] | None = None) -> None:
        self.weights = weights
        self._results: dict[str, list[ResultItem]] = {}
        self._pairs: dict[str, float] = {}  # by _pair_key

    def __len__(self) -> int:
        return len(self._results)

    def __contains__(self, annotation_id: object) -> bool:
        return annotation_id in self._results

    @property
    def ids(self) -> list[str]:
        """Ids of the counted annotations, sorted."""
        return sorted(self._results)

    @property
    def score(self) -> float | None:
        """Mean pair score in [0, 1]; ``None`` with no annotation, 1.0 with one."""
        return _mean(self._pairs, len(self._results))

    @property
    def pair_scores(self) -> dict[tuple[str, str], float]:
        """Score of every pair, keyed by the sorted pair of annotation ids (a copy)."""
        pairs: dict[tuple[str, str], float] = {}
        for key, score in self._pairs.items():
            id_a, _, id_b = key.partition(_SEPARATOR)
            pairs[(id_a, id_b)] = score
        return pairs

    def upsert(self, annotation_id: str, result: list[ResultItem]) -> None:
        """Add an annotation or replace its result, scoring it against the other k.

        Costs one :func:`pair_score` per other annotation, and none when the result is
        unchanged (a replayed or metadata-only update).
        """
        if _SEPARATOR in annotation_id:
            raise ValueError(
                f"annotation id {annotation_id!r} contains {_SEPARATOR!r}, which the state "
                "uses to join pair keys; use ids without it"
            )
        previous = self._results.get(annotation_id)
        # The same list object may have been changed in place, so only a distinct equal
        # list proves nothing changed.
        if previous is not None and previous is not result and previous == result:
            return
        self._results[annotation_id] = result
        pairs = self._pairs
        weights = self.weights
        for other_id, other in self._results.items():
            if other_id == annotation_id:
                continue
            # Always score in key order so the stored number is exactly what a recompute
            # gets, even for a custom metric that is not bitwise symmetric.
            if annotation_id < other_id:
                pairs[f"{annotation_id}{_SEPARATOR}{other_id}"] = pair_score(
                    result, other, weights
                )
            else:
                pairs[f"{other_id}{_SEPARATOR}{annotation_id}"] = pair_score(
                    other, result, weights
                )

    def remove(self, annotation_id: str) -> bool:
        """Drop an annotation and its pairs, without scoring; False if it was not counted."""
        if self._results.pop(annotation_id, None) is None:
            return False
        for other_id in self._results:
            del self._pairs[_pair_key(annotation_id, other_id)]
        return True

    def to_state(self) -> dict[str, Any]:
        """JSON-able state: results by id and pair scores keyed ``"a|b"`` (``a < b``)."""
        return {
            "version": STATE_VERSION,
            "results": dict(self._results),
            "pairs": dict(self._pairs),
        }

    @classmethod
    def from_state(
        cls, state: Mapping[str, Any], weights: Mapping[str, float] | None = None
    ) -> TaskAgreement:
        """Rebuild from :meth:`to_state` output, checking that every pair is present once."""
        version = state.get("version")
        if version != STATE_VERSION:
            raise ValueError(
                f"task agreement state version {version!r} is not {STATE_VERSION}; "
                "rebuild the state (quorum rebuild)"
            )
        task = cls(weights)
        results = task._results = dict(state["results"])
        pairs = task._pairs
        for key, score in state["pairs"].items():
            id_a, _, id_b = key.partition(_SEPARATOR)
            if not (id_a < id_b and id_a in results and id_b in results):
                raise ValueError(f"task agreement state has a bad pair key {key!r}")
            pairs[key] = float(score)
        count = len(task._results)
        if len(task._pairs) != count * (count - 1) // 2:
            raise ValueError(
                f"task agreement state has {len(task._pairs)} pairs for {count} annotations; "
                "rebuild the state (quorum rebuild)"
            )
        return task


def recompute(
    results: Mapping[str, list[ResultItem]], weights: Mapping[str, float] | None = None
) -> float | None:
    """Task score from scratch, scoring all k(k-1)/2 pairs; equals ``TaskAgreement.score``.

    ``results`` maps annotation id to ``result`` list. ``None`` when empty, 1.0 with one.
    """
    pair_scores = {
        (a, b): pair_score(results[a], results[b], weights)
        for a, b in combinations(sorted(results), 2)
    }
    return _mean(pair_scores, len(results))
