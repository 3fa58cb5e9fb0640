"""One annotator's lead times: total, mean and exact median under additions and removals.

Label Studio Enterprise reports per annotator the total, average and median lead time of
submitted annotations (docs: guide/dashboard_members.md, "Avg Lead Time", "Median Lead
Time"); an annotation's lead time changes when it is updated and leaves when it is
deleted, so the median needs removal, not just a running estimate.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort

from agreement.stats.sums import ExactSum


class LeadTimes:
    """A sorted list of lead times (seconds) and their exact sum.

    ``add`` and ``remove`` cost O(log n) to find the place plus an O(n) memmove, which
    for the few thousand annotations of one annotator is faster than two heaps with lazy
    deletion and is exact. The mean equals ``math.fsum(times) / n`` and the median
    ``statistics.median(times)``, whatever the order of updates.
    """

    __slots__ = ("_sorted", "_total")

    def __init__(self) -> None:
        self._sorted: list[float] = []
        self._total = ExactSum()

    def __len__(self) -> int:
        return len(self._sorted)

    def add(self, seconds: float) -> None:
        """Count one annotation's lead time, a finite number >= 0."""
        if not (0.0 <= seconds < math.inf):  # NaN fails too
            raise ValueError(f"lead time must be a finite number of seconds >= 0, got {seconds!r}")
        insort(self._sorted, float(seconds))
        self._total.add(float(seconds))

    def remove(self, seconds: float) -> None:
        """Uncount a lead time that was added; ``ValueError`` if there is none equal."""
        position = bisect_left(self._sorted, seconds)
        if position == len(self._sorted) or self._sorted[position] != seconds:
            raise ValueError(f"lead time {seconds!r} was never added; remove what was added")
        del self._sorted[position]
        self._total.remove(float(seconds))

    @property
    def total(self) -> float:
        """Sum of the lead times (0.0 when there are none)."""
        return self._total.value

    @property
    def mean(self) -> float | None:
        """Mean lead time; ``None`` when there are none."""
        return self._total.value / len(self._sorted) if self._sorted else None

    @property
    def median(self) -> float | None:
        """Median lead time (mean of the two middle ones for an even count); ``None``
        when there are none."""
        times = self._sorted
        middle = len(times) // 2
        if not times:
            return None
        if len(times) % 2:
            return times[middle]
        return (times[middle - 1] + times[middle]) / 2
