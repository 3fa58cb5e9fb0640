"""Values seen so far, numbered densely, so that counts can live in integer-keyed tables."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

Value = str | int | float
"""A coded value: a label (``str``) or a number. JSON scalars only, so states stay JSON."""


def check_value(value: object) -> Value:
    """``value`` as a plain ``str``, ``int`` or ``float``; ``ValueError`` for anything else.

    NaN is refused because it marks a missing value in reliability data; ``bool`` is
    refused because ``True == 1`` would silently merge it with the number 1.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        raise ValueError(
            f"value {value!r} is a bool, which would be counted as the number {int(value)}; "
            "pass 0/1 or a string label instead"
        )
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(
                f"value {value!r} is not finite; NaN means 'missing': remove the value instead"
            )
        return number
    raise ValueError(
        f"value {value!r} of type {type(value).__name__} cannot be stored; "
        "use a str label or a finite number"
    )


class Codebook:
    """Dense codes 0, 1, 2... for values, in the order they were first seen.

    Equal values share a code (``1`` and ``1.0`` are one value, kept as first seen).
    """

    __slots__ = ("_codes", "values")

    def __init__(self, values: Iterable[object] = ()) -> None:
        self.values: list[Value] = []
        self._codes: dict[Value, int] = {}
        for value in values:
            if self.find(value) is not None:
                raise ValueError(f"value {value!r} is listed twice in the codebook")
            self.code(value)

    def __len__(self) -> int:
        return len(self.values)

    def code(self, value: object) -> int:
        """The code of ``value``, giving it the next code if it is new."""
        # Labels are the common case: skip the checks for them on the per-event path.
        checked = value if type(value) is str else check_value(value)
        code = self._codes.get(checked)
        if code is None:
            code = self._codes[checked] = len(self.values)
            self.values.append(checked)
        return code

    def find(self, value: object) -> int | None:
        """The code of ``value``, or ``None`` if it was never coded."""
        checked = value if type(value) is str else check_value(value)
        return self._codes.get(checked)
