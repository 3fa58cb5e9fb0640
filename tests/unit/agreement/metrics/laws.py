"""The laws every pair metric obeys, checked on concrete inputs."""

from __future__ import annotations

import copy

from agreement.metrics import Metric, ResultItem


def assert_metric_laws(metric: Metric, a: list[ResultItem], b: list[ResultItem]) -> float:
    """Range, bitwise symmetry, self-agreement (also against a reordered deep copy) and
    both-empty agreement; returns ``metric(a, b)`` for further checks.

    The reordered copy reverses the items, so ``a`` may hold several items only for
    metrics where item order carries no meaning (not TextArea lines, not Ranker).
    """
    score = metric(a, b)
    assert 0.0 <= score <= 1.0, score
    assert metric(b, a) == score, (metric(b, a), score)
    assert metric(a, a) == 1.0
    assert metric(b, b) == 1.0
    assert metric(a, list(reversed(copy.deepcopy(a)))) == 1.0
    assert metric([], []) == 1.0
    return score
