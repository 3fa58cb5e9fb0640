"""Krippendorff's alpha of a project, kept up to date one annotation at a time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from .alpha import LabelAgreement, alpha_from_pairs, coincidences_from_pairs, labels_from_pairs
from .codebook import Value
from .pairs import PairCounts, marginals
from .tally import TaskTally

_SHIFT = 32
_LOW = (1 << _SHIFT) - 1


def _key(code: int, other: int) -> int:
    """Key of the unordered value pair in a bucket: ``(low << 32) | high``."""
    return (code << _SHIFT) | other if code < other else (other << _SHIFT) | code


class KrippendorffAccumulator(TaskTally):
    """Coincidence counts of a project, updated per annotation, alpha on demand.

    Keeps, besides the value counts of every task (:class:`~agreement.stats.tally.TaskTally`),
    the coincidence matrix in its exact integer form: the pair counts P_m grouped by unit
    size m (see :mod:`agreement.stats.pairs`), sparse. Coincidences o_ck and marginals
    n_c are derived from them per query (in O(M V^2) for M sizes and V values, what alpha
    costs anyway) rather than kept as floats, which would drift under add/remove.
    ``add`` or ``remove`` of one value moves its task's contribution from one size to
    another: O(d^2) dictionary updates for the d distinct values on that task (d <= its
    annotators); ``replace`` is O(d). Neither depends on the project's size. After any sequence of
    updates the figures equal those of :func:`agreement.krippendorff_alpha` on the same
    data bit for bit.

    Values are labels (``str``) or finite numbers; the level of measurement is chosen
    per query, so one accumulator answers nominal and interval alike.
    """

    __slots__ = ("_pairs",)

    statistic = "krippendorff"

    def __init__(self) -> None:
        super().__init__()
        # Unit size m -> {(c << 32) | k with c <= k: P_m[c, k]}, no zero entries.
        self._pairs: dict[int, dict[int, int]] = {}

    def _shift(self, size: int, counts: dict[int, int], sign: int) -> None:
        if size < 2:  # a lone value pairs with nothing
            return
        bucket = self._pairs.get(size)
        if bucket is None:
            bucket = self._pairs[size] = {}
        get = bucket.get
        items = list(counts.items())
        for i, (code, count) in enumerate(items):
            if count > 1:
                key = (code << _SHIFT) | code
                total = get(key, 0) + sign * count * (count - 1)
                if total:
                    bucket[key] = total
                else:
                    del bucket[key]
            for other, other_count in items[i + 1 :]:
                key = _key(code, other)
                total = get(key, 0) + sign * count * other_count
                if total:
                    bucket[key] = total
                else:
                    del bucket[key]
        if not bucket:
            del self._pairs[size]

    def _swap(self, size: int, counts: dict[int, int], old: int, new: int) -> None:
        if size < 2:
            return
        # The change of n n^T - diag(n) when n loses one `old` and gains one `new`: only
        # row/column `old` and `new` move, so this is O(d), not the O(d^2) of a shift.
        old_count, new_count = counts[old], counts.get(new, 0)
        changes = {
            (new << _SHIFT) | new: 2 * new_count,
            (old << _SHIFT) | old: -2 * (old_count - 1),
            _key(old, new): old_count - new_count - 1,
        }
        for code, count in counts.items():
            if code != old and code != new:
                changes[_key(code, new)] = count
                changes[_key(code, old)] = -count
        bucket = self._pairs[size]
        get = bucket.get
        for key, change in changes.items():
            if change:
                total = get(key, 0) + change
                if total:
                    bucket[key] = total
                else:
                    del bucket[key]

    def pair_counts(self) -> tuple[list[Value], PairCounts]:
        """The values in pairable tasks, and P_m by size as dense (V, V) arrays over them."""
        sizes = list(self._pairs)
        keys = [np.fromiter(self._pairs[size], dtype=np.int64) for size in sizes]
        counts = [np.fromiter(self._pairs[size].values(), dtype=np.int64) for size in sizes]
        rows = [key >> _SHIFT for key in keys]
        columns = [key & _LOW for key in keys]
        # Only codes still in some pair: values that were changed away take no room.
        codes = np.unique(np.concatenate([*rows, *columns, np.zeros(0, dtype=np.int64)]))
        dense: PairCounts = {}
        for size, row, column, count in zip(sizes, rows, columns, counts, strict=True):
            matrix = np.zeros((len(codes), len(codes)), dtype=np.int64)
            row, column = np.searchsorted(codes, row), np.searchsorted(codes, column)
            matrix[row, column] = count
            matrix[column, row] = count
            dense[size] = matrix
        values = self._codebook.values
        return [values[code] for code in codes.tolist()], dense

    @property
    def pairable(self) -> int:
        """n, the number of values in units with at least two values."""
        values, pairs = self.pair_counts()
        return int(marginals(pairs, len(values)).sum())

    def alpha(self, level: str = "nominal", value_domain: Sequence[object] | None = None) -> float:
        """Krippendorff's alpha of the current data; see :func:`agreement.krippendorff_alpha`.

        Raises ``ValueError`` when alpha is undefined (no pairable unit, or one distinct
        pairable value) or the level does not fit the values.
        """
        return alpha_from_pairs(*self.pair_counts(), level, value_domain)

    def coincidences(self) -> tuple[list[Value], NDArray[np.float64]]:
        """The coincidence matrix o_ck, shape (V, V), and its values.

        Values are numbers ascending, then labels; row c sums to the marginal n_c.
        """
        return coincidences_from_pairs(*self.pair_counts())

    def labels(self) -> dict[Value, LabelAgreement]:
        """Per-label agreement of every pairable value (:class:`LabelAgreement`)."""
        return labels_from_pairs(*self.pair_counts())
