"""Cohen's kappa of every annotator pair of a project, kept up to date per co-rated task."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .codebook import Codebook
from .cohen import category_order, kappa_from_confusion
from .tally import STATE_VERSION

_SHIFT = 32
_LOW = (1 << _SHIFT) - 1

Pair = tuple[str, str]


class CohenAccumulator:
    """A confusion table per annotator pair; unweighted, linear or quadratic kappa.

    The caller adds a pair's labels when two annotators have both labeled a task and
    removes them when either annotation changes or leaves (then adds the new labels).
    Pairs are unordered: ``(a, la, b, lb)`` and ``(b, lb, a, la)`` are the same entry.
    One update is O(1); one kappa is O(K^2) for the K labels of that pair, computed in
    integers, so it equals :func:`agreement.cohen_kappa` on the pair's items exactly.

    State layout (``to_state``), version 1::

        {"version": 1, "statistic": "cohen",
         "values": [label, ...],                                  # code -> label
         "pairs": [["<a>", "<b>", [code_a, code_b, count, ...]], ...]}   # a < b
    """

    __slots__ = ("_codebook", "_pairs")

    def __init__(self) -> None:
        self._codebook = Codebook()
        # (a, b) with a < b -> {(code_a << 32) | code_b: items}, zero entries dropped.
        self._pairs: dict[Pair, dict[int, int]] = {}

    def add(self, annotator_a: str, label_a: object, annotator_b: str, label_b: object) -> None:
        """Count one task: ``label_a`` from ``annotator_a``, ``label_b`` from ``annotator_b``."""
        pair, key = self._entry(annotator_a, label_a, annotator_b, label_b, create=True)
        table = self._pairs.setdefault(pair, {})
        table[key] = table.get(key, 0) + 1

    def remove(self, annotator_a: str, label_a: object, annotator_b: str, label_b: object) -> None:
        """Uncount one such task; ``ValueError`` if it was not counted."""
        pair, key = self._entry(annotator_a, label_a, annotator_b, label_b, create=False)
        table = self._pairs.get(pair)
        if table is None or key not in table:
            raise ValueError(
                f"no task of {annotator_a!r} ({label_a!r}) and {annotator_b!r} ({label_b!r}) "
                "is counted; remove the labels that were added"
            )
        if table[key] == 1:
            del table[key]
            if not table:
                del self._pairs[pair]
        else:
            table[key] -= 1

    def _entry(
        self, annotator_a: str, label_a: object, annotator_b: str, label_b: object, *, create: bool
    ) -> tuple[Pair, int]:
        if type(annotator_a) is not str or type(annotator_b) is not str:
            raise ValueError(f"annotator ids must be str, got {annotator_a!r}, {annotator_b!r}")
        if annotator_a == annotator_b:
            raise ValueError(f"annotator {annotator_a!r} is paired with themselves; pair two")
        if annotator_a > annotator_b:
            annotator_a, label_a, annotator_b, label_b = annotator_b, label_b, annotator_a, label_a
        lookup = self._codebook.code if create else self._codebook.find
        code_a, code_b = lookup(label_a), lookup(label_b)
        if code_a is None or code_b is None:
            return (annotator_a, annotator_b), -1  # never counted: remove reports it
        return (annotator_a, annotator_b), (code_a << _SHIFT) | code_b

    @property
    def pairs(self) -> list[Pair]:
        """Annotator pairs ``(a, b)``, ``a < b``, with at least one co-rated task, sorted."""
        return sorted(self._pairs)

    def kappa(self, annotator_a: str, annotator_b: str, weights: str | None = None) -> float:
        """Cohen's kappa of two annotators over their co-rated tasks.

        ``weights`` as in :func:`agreement.cohen_kappa`. ``ValueError`` when the pair has
        no co-rated task or kappa is undefined (one label only).
        """
        pair: Pair = (min(annotator_a, annotator_b), max(annotator_a, annotator_b))
        if pair not in self._pairs:
            raise ValueError(f"annotators {annotator_a!r} and {annotator_b!r} share no task")
        return kappa_from_confusion(self._confusion(pair, weights), weights)

    def kappas(self, weights: str | None = None) -> dict[Pair, float]:
        """Kappa of every pair in :attr:`pairs`; NaN for a pair where it is undefined."""
        result: dict[Pair, float] = {}
        for pair in self.pairs:
            confusion = self._confusion(pair, weights)  # labels that do not sort: raise
            try:
                result[pair] = kappa_from_confusion(confusion, weights)
            except ValueError:  # one label only
                result[pair] = math.nan
        return result

    def _confusion(self, pair: Pair, weights: str | None) -> NDArray[np.int64]:
        """The pair's confusion table over its own labels, in rank order for ``weights``."""
        table = self._pairs[pair]
        keys = np.fromiter(table.keys(), dtype=np.int64, count=len(table))
        counts = np.fromiter(table.values(), dtype=np.int64, count=len(table))
        codes, inverse = np.unique(
            np.concatenate([keys >> _SHIFT, keys & _LOW]), return_inverse=True
        )
        labels = [self._codebook.values[code] for code in codes.tolist()]
        rank = np.empty(len(codes), dtype=np.intp)
        rank[category_order(labels, weights)] = np.arange(len(codes))
        confusion = np.zeros((len(codes), len(codes)), dtype=np.int64)
        confusion[rank[inverse[: len(keys)]], rank[inverse[len(keys) :]]] = counts
        return confusion

    def to_state(self) -> dict[str, Any]:
        """JSON-able state (layout in the class docstring); codes renumbered densely."""
        used = sorted(
            {key >> _SHIFT for table in self._pairs.values() for key in table}
            | {key & _LOW for table in self._pairs.values() for key in table}
        )
        renumber = {old: new for new, old in enumerate(used)}
        return {
            "version": STATE_VERSION,
            "statistic": "cohen",
            "values": [self._codebook.values[code] for code in used],
            "pairs": [
                [
                    a,
                    b,
                    [
                        number
                        for key, count in sorted(self._pairs[(a, b)].items())
                        for number in (renumber[key >> _SHIFT], renumber[key & _LOW], count)
                    ],
                ]
                for a, b in sorted(self._pairs)
            ],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> CohenAccumulator:
        """Rebuild from :meth:`to_state` output, checking the layout."""
        if state.get("version") != STATE_VERSION or state.get("statistic") != "cohen":
            raise ValueError(
                f"state is version {state.get('version')!r} of {state.get('statistic')!r}, "
                f"expected version {STATE_VERSION} of 'cohen'; rebuild it from the task records"
            )
        accumulator = cls()
        accumulator._codebook = Codebook(state["values"])
        n_values = len(accumulator._codebook)
        for a, b, flat in state["pairs"]:
            table: dict[int, int] = {}
            triples = [flat[i : i + 3] for i in range(0, len(flat), 3)]
            for triple in triples:
                if not (
                    len(triple) == 3
                    and all(type(number) is int for number in triple)
                    and 0 <= triple[0] < n_values
                    and 0 <= triple[1] < n_values
                    and triple[2] >= 1
                ):
                    raise ValueError(f"state has bad counts for pair {a!r}, {b!r}: {flat!r}")
                table[(triple[0] << _SHIFT) | triple[1]] = triple[2]
            if not (type(a) is str and type(b) is str and a < b and table):
                raise ValueError(f"state has a bad pair {a!r}, {b!r}")
            if (a, b) in accumulator._pairs or len(table) != len(triples):
                raise ValueError(f"state lists pair {a!r}, {b!r} or one of its cells twice")
            accumulator._pairs[(a, b)] = table
        return accumulator
