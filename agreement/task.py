"""Task agreement, kept up to date one annotation at a time.

Every pair of counted annotations is scored once, when the later of the two arrives or
changes, with the project's :class:`~agreement.scoring.ScoringConfig` (per-tag metrics
and weights, or a custom metric); the task score is the configured methodology over the
stored pair scores, so neither methodology ever re-runs a metric.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from itertools import combinations
from typing import Any, Literal

from .methodology import Methodology, task_score
from .metrics import Metric, ResultItem
from .pair import pair_score, score_pair
from .scoring import CustomMetric, ScoringConfig, custom_pair_score

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


class PairScorer:
    """Scores one pair of results as a project's configuration asks.

    Shared by the incremental :class:`TaskAgreement`, :func:`recompute` and whoever else
    scores two results of a task (ground truth, reviews), so all get the same bits.
    """

    __slots__ = ("custom", "metrics", "scoring", "weights")

    def __init__(
        self, weights: Mapping[str, float] | None, scoring: ScoringConfig | None
    ) -> None:
        if scoring is not None and weights is not None:
            raise ValueError("give control tag weights in the scoring config, not both")
        self.scoring = scoring
        self.weights: Mapping[str, float] | None = (
            weights if scoring is None else (scoring.weights or None)
        )
        self.metrics: Mapping[str, Metric] | None = None if scoring is None else (
            scoring.metrics or None
        )
        self.custom: CustomMetric | None = None if scoring is None else scoring.custom

    def score(
        self, id_a: str, result_a: list[ResultItem], id_b: str, result_b: list[ResultItem]
    ) -> tuple[float, dict[str, float] | None]:
        """The pair's overall score, and its per-tag scores when it has two tags or more
        (with one tag, that tag's score is the overall score; with none, there is none)."""
        if self.custom is not None:
            assert self.scoring is not None
            annotation_a = {"id": id_a, "result": result_a}
            annotation_b = {"id": id_b, "result": result_b}
            return custom_pair_score(self.scoring, self.custom, annotation_a, annotation_b), None
        if self.metrics is None and len(result_a) <= 1 and len(result_b) <= 1:
            # At most one tag: no per-tag scores to keep, and pair_score's fast path.
            return pair_score(result_a, result_b, self.weights), None
        scored = score_pair(result_a, result_b, self.metrics, self.weights)
        dimensions = scored.dimensions
        return scored.overall, (dimensions if len(dimensions) > 1 else None)

    def tags(self, result: list[ResultItem]) -> set[str]:
        """The control tags of a result that take part in the score (weight above 0)."""
        weights = self.weights
        return {
            name
            for item in result
            if (name := item.get("from_name")) is not None
            and (weights is None or weights.get(name, 1.0) != 0.0)
        }


def _single_tag(results: Iterable[list[ResultItem]]) -> str | Literal[False] | None:
    """The one control tag all ``results`` use; None if they have none; False if several."""
    name = None
    for result in results:
        for item in result:
            tag = item.get("from_name")
            if tag is None or tag == name:
                continue
            if name is not None:
                return False
            name = tag
    return name


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

    Holds each counted annotation's ``result`` and the score of every pair of them, and
    per control tag ("dimension") the pair's tag scores when the pair has two tags or
    more. The task score is the configured methodology over the pair scores (pairwise by
    default: the mean pair score, Label Studio Enterprise's default): ``None`` with no
    annotation, 1.0 with one.

    Results are stored as given, not copied: treat them as immutable once passed in.
    ``weights`` (per control tag, see :func:`agreement.pair.pair_score`) or ``scoring``
    (a project's whole :class:`~agreement.scoring.ScoringConfig`) belong to the
    project's configuration and are not part of the state: after changing them, rebuild.
    """

    __slots__ = ("_dims", "_pairs", "_results", "_scorer")

    def __init__(
        self, weights: Mapping[str, float] | None = None, scoring: ScoringConfig | None = None
    ) -> None:
        self._scorer = PairScorer(weights, scoring)
        self._results: dict[str, list[ResultItem]] = {}
        self._pairs: dict[str, float] = {}  # by _pair_key
        self._dims: dict[str, dict[str, float]] = {}  # by _pair_key, pairs with 2+ tags

    @property
    def weights(self) -> Mapping[str, float] | None:
        """Weight per control tag in force (from the scoring config, if one was given)."""
        return self._scorer.weights

    @property
    def scoring(self) -> ScoringConfig | None:
        """The scoring configuration, if one was given."""
        return self._scorer.scoring

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
        """Task score in [0, 1] by the methodology; ``None`` with no annotation, 1.0 with one."""
        return self._task_score(self._pairs)

    def _task_score(self, pairs: Mapping[str, float]) -> float | None:
        """The methodology over pair scores keyed ``"a|b"``: :func:`task_score`'s numbers,
        without building its tuple-keyed copy (this runs on every event)."""
        scoring = self._scorer.scoring
        count = len(self._results)
        if scoring is None or scoring.methodology is Methodology.PAIRWISE:
            return _mean(pairs, count)
        if count < 2:
            return None if count == 0 else 1.0
        threshold = scoring.consensus_threshold
        agreeing = dict.fromkeys(self._results, 0)
        for key, pair_score_ in pairs.items():
            if pair_score_ >= threshold:
                id_a, _, id_b = key.partition(_SEPARATOR)
                agreeing[id_a] += 1
                agreeing[id_b] += 1
        # The largest group agreeing with one annotation, that annotation included.
        return (1 + max(agreeing.values())) / count

    @property
    def pair_scores(self) -> dict[tuple[str, str], float]:
        """Score of every pair, keyed by the sorted pair of annotation ids (a copy)."""
        pairs: dict[tuple[str, str], float] = {}
        for key, score in self._pairs.items():
            id_a, _, id_b = key.partition(_SEPARATOR)
            pairs[(id_a, id_b)] = score
        return pairs

    @property
    def dimensions(self) -> dict[str, float | None]:
        """Task score per control tag of the counted annotations (weight-0 tags and a
        custom metric excepted), by the same methodology as :attr:`score`.

        Within a tag, a pair in which neither annotation has the tag agrees (1.0), as in
        :func:`agreement.scoring.score_task`, which gives the same numbers.
        """
        return self.dimensions_at(self.score)

    def dimensions_at(self, score: float | None) -> dict[str, float | None]:
        """:attr:`dimensions`, given the task's :attr:`score` (the stream has it already)."""
        scorer = self._scorer
        if scorer.custom is not None or not self._results:
            return {}
        single = _single_tag(self._results.values())
        if single is not False:
            # One tag in the whole task (the common case): every pair's tag score is its
            # overall score, so the tag scores as the task does.
            weights = scorer.weights
            if single is None or (weights is not None and weights.get(single, 1.0) == 0.0):
                return {}
            return {single: score}
        tags_of = {aid: scorer.tags(result) for aid, result in self._results.items()}
        names: set[str] = set().union(*tags_of.values())
        if len(names) <= 1:
            # One tag left once weight-0 tags are out: it scores as the task does.
            return dict.fromkeys(names, score)
        per_tag: dict[str, dict[str, float]] = {name: {} for name in names}
        for key, overall in self._pairs.items():
            stored = self._dims.get(key)
            if stored is None:
                id_a, _, id_b = key.partition(_SEPARATOR)
                present = tags_of[id_a] | tags_of[id_b]  # at most one tag
                for name in names:
                    per_tag[name][key] = overall if name in present else 1.0
            else:
                for name in names:
                    per_tag[name][key] = stored.get(name, 1.0)
        return {name: self._task_score(per_tag[name]) for name in sorted(names)}

    def result_of(self, annotation_id: str) -> list[ResultItem] | None:
        """The counted annotation's result, or None if it is not counted."""
        return self._results.get(annotation_id)

    def score_pair_of(
        self, id_a: str, result_a: list[ResultItem], id_b: str, result_b: list[ResultItem]
    ) -> float:
        """The pair score this task would store for two results (ids in order, as for
        the task's own pairs), e.g. an annotation against ground truth left out of it."""
        if id_b < id_a:
            id_a, result_a, id_b, result_b = id_b, result_b, id_a, result_a
        return self._scorer.score(id_a, result_a, id_b, result_b)[0]

    def upsert(self, annotation_id: str, result: list[ResultItem]) -> None:
        """Add an annotation or replace its result, scoring it against the other k.

        Costs one pair score per other annotation, and none when the result is
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
        dims = self._dims
        score = self._scorer.score
        for other_id, other in self._results.items():
            if other_id == annotation_id:
                continue
            # Always score in key order so the stored number is exactly what a recompute
            # gets, even for a custom metric that is not bitwise symmetric.
            if annotation_id < other_id:
                key = f"{annotation_id}{_SEPARATOR}{other_id}"
                overall, tags = score(annotation_id, result, other_id, other)
            else:
                key = f"{other_id}{_SEPARATOR}{annotation_id}"
                overall, tags = score(other_id, other, annotation_id, result)
            pairs[key] = overall
            if tags is None:
                dims.pop(key, None)
            else:
                dims[key] = tags

    def remove(self, annotation_id: str) -> bool:
        """Drop an annotation and its pairs, without scoring; False if it was not counted."""
        if self._results.pop(annotation_id, None) is None:
            return False
        for other_id in self._results:
            key = _pair_key(annotation_id, other_id)
            del self._pairs[key]
            self._dims.pop(key, None)
        return True

    def to_state(self) -> dict[str, Any]:
        """JSON-able state: results by id, pair scores keyed ``"a|b"`` (``a < b``) and, for
        pairs with two tags or more, their tag scores under ``"dims"`` (left out if none)."""
        state: dict[str, Any] = {
            "version": STATE_VERSION,
            "results": dict(self._results),
            "pairs": dict(self._pairs),
        }
        if self._dims:
            state["dims"] = {key: dict(tags) for key, tags in self._dims.items()}
        return state

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        weights: Mapping[str, float] | None = None,
        scoring: ScoringConfig | None = None,
    ) -> TaskAgreement:
        """Rebuild from :meth:`to_state` output, checking that every pair is present once."""
        version = state.get("version")
        if version != STATE_VERSION:
            raise ValueError(
                f"task agreement state version {version!r} is not {STATE_VERSION}; "
                "rebuild the state (quorum rebuild)"
            )
        task = cls(weights, scoring)
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
        for key, tags in state.get("dims", {}).items():
            if key not in pairs:
                raise ValueError(f"task agreement state has tag scores of no pair: {key!r}")
            task._dims[key] = {name: float(score) for name, score in tags.items()}
        return task


def recompute(
    results: Mapping[str, list[ResultItem]],
    weights: Mapping[str, float] | None = None,
    scoring: ScoringConfig | None = None,
) -> float | None:
    """Task score from scratch, scoring all k(k-1)/2 pairs; equals ``TaskAgreement.score``.

    ``results`` maps annotation id to ``result`` list. ``None`` when empty, 1.0 with one.
    """
    scorer = PairScorer(weights, scoring)
    pair_scores = {
        (a, b): scorer.score(a, results[a], b, results[b])[0]
        for a, b in combinations(sorted(results), 2)
    }
    if scoring is None:
        return _mean(pair_scores, len(results))
    return task_score(
        pair_scores, len(results), scoring.methodology, scoring.consensus_threshold
    )
