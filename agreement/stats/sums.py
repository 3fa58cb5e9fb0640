"""A running float sum that stays exact under additions and removals."""

from __future__ import annotations

import math
from collections.abc import Iterable


class ExactSum:
    """The exact sum of the floats added so far (minus those removed), never rounded.

    Held as non-overlapping partials, Shewchuk's (1997) "adaptive precision" expansion,
    the representation behind :func:`math.fsum`: each addition is error-free, so removing
    a float exactly undoes adding it, however many other floats came between. The
    :attr:`value` is the correctly rounded sum, hence equal to ``math.fsum`` of the
    current floats whatever the order of updates. Finite floats only.
    """

    __slots__ = ("partials",)

    def __init__(self, partials: Iterable[float] = ()) -> None:
        self.partials: list[float] = [float(partial) for partial in partials]

    def add(self, number: float) -> None:
        """Add ``number`` (exactly)."""
        partials = self.partials
        kept = 0
        for partial in partials:
            # Two-sum of the larger and smaller magnitude: high + low == number + partial.
            if abs(number) < abs(partial):
                number, partial = partial, number
            high = number + partial
            low = partial - (high - number)
            if low:
                partials[kept] = low
                kept += 1
            number = high
        partials[kept:] = [number] if number else []

    def remove(self, number: float) -> None:
        """Subtract ``number`` (exactly)."""
        self.add(-number)

    @property
    def value(self) -> float:
        """The correctly rounded sum."""
        return math.fsum(self.partials)

    def is_zero(self) -> bool:
        """Whether the exact sum is 0 (every added float was removed again)."""
        return not any(self.partials)
