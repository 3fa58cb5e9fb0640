"""Agreement of two results of one task under a project's scoring configuration.

Ground truth agreement and a reviewer's fix are both "how close are these two answers",
which is the pair score the task agreement already computes. This scores them the same
way (``agreement.score_pair`` with the config's metrics and weights, or the config's
custom metric), so a ground-truth score is the very number
:class:`agreement.TaskAgreement` holds for that pair.
"""

from __future__ import annotations

from agreement import ResultItem, ScoringConfig, pair_score, score_pair
from agreement.scoring import custom_pair_score


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
    if scoring is None:
        return pair_score(result_a, result_b)
    custom = scoring.custom
    if custom is not None:
        annotation_a = {"id": id_a, "result": result_a}
        annotation_b = {"id": id_b, "result": result_b}
        return custom_pair_score(scoring, custom, annotation_a, annotation_b)
    return score_pair(result_a, result_b, scoring.metrics or None, scoring.weights or None).overall
