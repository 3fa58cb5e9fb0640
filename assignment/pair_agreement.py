"""Agreement of two results of one task under a project's scoring configuration.

Ground truth agreement and a reviewer's fix are both "how close are these two answers",
which is the pair score the task agreement already computes. This scores them with
:class:`agreement.task.PairScorer`, the task agreement's own scorer, so a ground-truth
score is the very number :class:`agreement.TaskAgreement` holds for that pair.
"""

from __future__ import annotations

from agreement import ResultItem, ScoringConfig
from agreement.task import PairScorer


def pair_agreement(
    scoring: ScoringConfig | None,
    id_a: str,
    result_a: list[ResultItem],
    id_b: str,
    result_b: list[ResultItem],
) -> float:
    """Agreement of two annotations' ``result`` lists, in [0, 1].

    Parameters
    ----------
    scoring
        The project's :class:`agreement.ScoringConfig`; ``None`` scores every control
        tag with its result type's default metric, weight 1.
    id_a, id_b
        The annotations' ids. The pair is scored in id order, as
        :class:`agreement.TaskAgreement` does, so a custom metric that is not bitwise
        symmetric still gives the task agreement's number. Equal ids (a reviewer's fix
        of an annotation) keep the order given.
    result_a, result_b
        Label Studio ``result`` lists.

    Returns
    -------
    float
        The pair score: equal, bit for bit, to the score ``TaskAgreement`` with the same
        config stores for these two annotations.
    """
    if id_b < id_a:
        id_a, result_a, id_b, result_b = id_b, result_b, id_a, result_a
    return PairScorer(None, scoring).score(id_a, result_a, id_b, result_b)[0]
