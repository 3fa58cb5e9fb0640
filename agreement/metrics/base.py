"""Types shared by every metric module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ResultItem = dict[str, Any]
"""One item of a Label Studio ``result`` list: ``from_name``, ``to_name``, ``type``, ``value``."""

Metric = Callable[[list[ResultItem], list[ResultItem]], float]
"""``(items_a, items_b) -> score in [0, 1]`` for the items of one control tag."""

MetricFactory = Callable[..., Metric]
"""``factory(**params) -> Metric``: binds a metric's parameters (threshold, range...) once."""
