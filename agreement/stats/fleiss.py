"""Fleiss' kappa of a subjects x categories count table, any number of raters per subject.

With n raters on every subject this is Fleiss (1971), as statsmodels'
``fleiss_kappa(table, method="fleiss")``. When subjects have different numbers of
raters r_i (a task that got an extra annotator, or only one so far), it is the
generalization of Gwet (2014, "Handbook of Inter-Rater Reliability", 4th ed., ch. 2;
R package irrCAC, ``fleiss.kappa.raw``), which reduces to Fleiss' with equal r_i:

* observed agreement P_a = mean, over subjects with r_i >= 2, of
  sum_k r_ik (r_ik - 1) / (r_i (r_i - 1));
* category prevalence pi_k = mean, over subjects with r_i >= 1, of r_ik / r_i;
* chance agreement P_e = sum_k pi_k^2, and kappa = (P_a - P_e) / (1 - P_e).

A subject with one rating says nothing about agreement but does about prevalence.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def kappa_from_sums(
    agreeing: Mapping[int, int],
    subjects: Mapping[int, int],
    category_totals: Mapping[int, Mapping[Any, int]],
) -> float:
    """Fleiss' (generalized) kappa from integer sums grouped by raters per subject r.

    Parameters
    ----------
    agreeing : mapping r -> int
        Sum over subjects with r raters of sum_k r_ik (r_ik - 1).
    subjects : mapping r -> int
        Number of subjects with r raters (r >= 1).
    category_totals : mapping r -> (category -> int)
        Sum over subjects with r raters of r_ik, per category.

    Returns
    -------
    float
        At most 1; 0 is chance agreement.
    """
    rated = sorted(r for r, count in subjects.items() if count)
    paired = [r for r in rated if r >= 2]
    if not paired:
        raise ValueError(
            "Fleiss' kappa needs at least one subject (task) rated by two or more raters"
        )
    # Divisions grouped by r and summed with fsum: the result does not depend on the
    # order in which subjects were added, so an accumulator equals a recompute exactly.
    observed = math.fsum(agreeing.get(r, 0) / (r * (r - 1)) for r in paired) / sum(
        subjects[r] for r in paired
    )
    n_subjects = sum(subjects[r] for r in rated)
    prevalence: dict[Hashable, list[float]] = {}
    for r in rated:
        for category, total in category_totals.get(r, {}).items():
            if total:
                prevalence.setdefault(category, []).append(total / r)
    if len(prevalence) < 2:
        raise ValueError(
            "Fleiss' kappa is undefined when every rating is in one category (chance "
            "agreement is 1); it needs ratings in two categories"
        )
    chance = math.fsum((math.fsum(shares) / n_subjects) ** 2 for shares in prevalence.values())
    return (observed - chance) / (1.0 - chance)


def fleiss_kappa(counts: ArrayLike) -> float:
    """Fleiss' kappa of a subjects x categories table of rating counts.

    Parameters
    ----------
    counts : array_like of int, shape (S, K)
        ``counts[i, k]``: how many raters put subject i in category k. Rows may sum to
        different numbers of raters (generalized form, see the module docstring);
        all-zero rows are ignored.

    Returns
    -------
    float
        Equals statsmodels' ``fleiss_kappa(counts, method="fleiss")`` when every row has
        the same sum.

    Raises
    ------
    ValueError
        Not a 2-D table of non-negative integers; no row with two ratings; all ratings
        in one category (statsmodels returns NaN there).
    """
    table = np.asarray(counts)
    if table.ndim != 2 or table.dtype.kind not in "iuf":
        raise ValueError(
            f"counts must be a 2-D numeric table (subjects x categories), got shape "
            f"{table.shape} of {table.dtype}"
        )
    if table.dtype.kind == "f":
        if not (np.isfinite(table).all() and (table == np.round(table)).all()):
            raise ValueError("counts must be whole numbers of ratings")
        table = table.astype(np.int64)
    if (table < 0).any():
        raise ValueError("counts must be >= 0")
    raters = table.sum(axis=1)
    agreeing: dict[int, int] = {}
    subjects: dict[int, int] = {}
    category_totals: dict[int, dict[Hashable, int]] = {}
    for r in np.unique(raters[raters > 0]).tolist():
        rows = table[raters == r]
        agreeing[r] = int((rows * (rows - 1)).sum())
        subjects[r] = len(rows)
        category_totals[r] = dict(enumerate(rows.sum(axis=0).tolist()))
    return kappa_from_sums(agreeing, subjects, category_totals)
