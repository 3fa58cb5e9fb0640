"""Reading fields of Label Studio result values without trusting their types.

A metric runs on every event of the stream, so a malformed item (a missing key, a string
where a number belongs) must not raise: these readers return ``None`` for anything a
metric cannot use, and each metric says what it does with such an item.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from .base import ResultItem


def canonical(value: Any) -> str:
    """One string per JSON value, whatever its dict key order on the wire.

    Used to compare values exactly and to order items deterministically; ``default=str``
    keeps it total even for values no JSON decoder produces.
    """
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def value_of(item: ResultItem) -> dict[str, Any] | None:
    """The item's ``value`` dict, or ``None`` if the item or its value is not a dict."""
    # Exact class first: this runs for every item a metric reads.
    if item.__class__ is dict or isinstance(item, Mapping):
        value = item.get("value")
    else:
        return None
    return value if value.__class__ is dict or isinstance(value, dict) else None


def number(raw: Any) -> float | None:
    """A finite ``int`` or ``float`` as a float; ``None`` for anything else.

    ``bool`` is refused although Python counts it as an ``int``: Label Studio never
    writes one for a coordinate or a rating, so a ``true`` there is malformed.
    """
    # Exact type checks first: this runs for every coordinate of every region.
    if type(raw) is float:
        return raw if math.isfinite(raw) else None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    try:
        result = float(raw)
    except OverflowError:  # an int beyond the float range, which Python's json allows
        return None
    return result if math.isfinite(result) else None


def fraction(raw: float) -> float:
    """``raw`` clipped to [0, 1], NaN as 0.0.

    Similarities pass through here because coordinates near the float limit can turn an
    IoU into ``inf / inf``; such a pair must not count as agreement.
    """
    if raw >= 1.0:
        return 1.0
    return raw if raw > 0.0 else 0.0


def strings(raw: Any) -> list[str] | None:
    """A list of strings as given, or ``None`` if ``raw`` is not a list of strings."""
    if not isinstance(raw, list) or not all(isinstance(entry, str) for entry in raw):
        return None
    return raw


# Label Studio names the labels field after the result type, with one exception.
_LABELS_FIELD = {"hypertextlabels": "htmllabels"}


def labels_of(item: ResultItem, value: Mapping[str, Any]) -> frozenset[str] | None:
    """The labels of a region item: ``value[type]`` (``htmllabels`` for hypertext).

    A region of a tag without labels (``rectangle``, ``polygon``...) has the empty set;
    ``None`` means the labels field is there but is not a list of strings.
    """
    result_type = item.get("type")
    field = _LABELS_FIELD.get(result_type, result_type) if isinstance(result_type, str) else None
    raw = value.get(field) if field is not None else None
    if raw is None:
        raw = value.get("labels")
    if raw is None:
        return frozenset()
    labels = strings(raw)
    return None if labels is None else frozenset(labels)


def check_fraction(name: str, raw: float) -> float:
    """``raw`` as a float in [0, 1], or a ``ValueError`` naming the parameter."""
    result = number(raw)
    if result is None or not 0.0 <= result <= 1.0:
        raise ValueError(f"{name} is {raw!r}; use a number between 0 and 1")
    return result


def check_positive(name: str, raw: float, *, allow_zero: bool = False) -> float:
    """``raw`` as a finite float > 0 (>= 0 with ``allow_zero``), or a ``ValueError``."""
    result = number(raw)
    if result is None or result < 0.0 or (result == 0.0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} is {raw!r}; use a finite number {bound}")
    return result
