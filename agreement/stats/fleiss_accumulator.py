"""Fleiss' kappa of a project, kept up to date one rating at a time."""

from __future__ import annotations

from .fleiss import kappa_from_sums
from .tally import TaskTally


class FleissAccumulator(TaskTally):
    """Category counts per task (subject) and the integer sums Fleiss' kappa needs.

    Sums are grouped by the number of raters r of a task, so that tasks with different
    numbers of annotators give the generalized kappa of :mod:`agreement.stats.fleiss`
    (Fleiss' own when all tasks have the same number). One ``add`` or ``remove`` costs
    O(d) for d distinct categories on the task, one ``replace`` O(1); :meth:`kappa` costs
    O(R K) for R distinct rater counts and K categories, and equals
    :func:`agreement.fleiss_kappa` of the current table exactly.
    """

    __slots__ = ("_agreeing", "_category_totals", "_subjects")

    statistic = "fleiss"

    def __init__(self) -> None:
        super().__init__()
        self._agreeing: dict[int, int] = {}  # r -> sum of r_ik (r_ik - 1)
        self._subjects: dict[int, int] = {}  # r -> tasks with r ratings
        self._category_totals: dict[int, dict[int, int]] = {}  # r -> code -> sum of r_ik

    def _shift(self, size: int, counts: dict[int, int], sign: int) -> None:
        self._subjects[size] = self._subjects.get(size, 0) + sign
        self._agreeing[size] = self._agreeing.get(size, 0) + sign * sum(
            count * (count - 1) for count in counts.values()
        )
        totals = self._category_totals.setdefault(size, {})
        for code, count in counts.items():
            total = totals.get(code, 0) + sign * count
            if total:
                totals[code] = total
            else:
                del totals[code]
        if not self._subjects[size]:
            del self._subjects[size], self._agreeing[size], self._category_totals[size]

    def _swap(self, size: int, counts: dict[int, int], old: int, new: int) -> None:
        # One rating moves from `old` to `new`: r(r - 1) of the two categories changes by
        # -2 (r_old - 1) and +2 r_new; the number of tasks with `size` ratings does not.
        self._agreeing[size] += 2 * counts.get(new, 0) - 2 * (counts[old] - 1)
        totals = self._category_totals[size]
        if totals[old] == 1:
            del totals[old]
        else:
            totals[old] -= 1
        totals[new] = totals.get(new, 0) + 1

    def kappa(self) -> float:
        """Fleiss' kappa of the current table; ``ValueError`` when undefined (see there)."""
        return kappa_from_sums(self._agreeing, self._subjects, self._category_totals)
