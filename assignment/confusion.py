"""Confusion matrices and class priors from soft counts: the Dawid-Skene M-step.

Shared by the batch fit (:mod:`assignment.dawid_skene`) and the online estimator
(:mod:`assignment.reliability`), so both derive their parameters the same way.
``e[w, given, true]`` is the probability that annotator ``w`` gives label ``given`` to a
task whose true label is ``true``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]

EPSILON = 1e-10
"""Floor on probabilities before a logarithm or a normalization (crowd-kit's ``_EPS``), so
that no label an annotator gave has probability exactly 0 and every log stays finite."""


class ReliabilityModel(StrEnum):
    """How an annotator's errors are modelled (see :mod:`assignment.dawid_skene`)."""

    DAWID_SKENE = "dawid_skene"
    ONE_COIN = "one_coin"


@dataclass(frozen=True)
class ReliabilityPrior:
    """Pseudo-counts EM adds to what it counts (a Dirichlet prior: MAP, not ML).

    Attributes
    ----------
    accuracy
        Accuracy in (0, 1) assumed of an annotator before any of their labels count.
    strength
        Pseudo-labels behind that assumption, >= 0: per true label in a full confusion
        matrix, in total for one coin. 0 is maximum likelihood (crowd-kit).
    class_count
        Pseudo-tasks per label added to the class prior, >= 0. 0 is crowd-kit's prior
        (the mean posterior); above 0 a label first seen late can still win a task.
    """

    accuracy: float = 0.7
    strength: float = 2.0
    class_count: float = 1.0

    def __post_init__(self) -> None:
        for name in ("accuracy", "strength", "class_count"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"prior {name} must be a number, got {value!r}")
        if not 0.0 < self.accuracy < 1.0:  # NaN fails too
            raise ValueError(f"prior accuracy must be in (0, 1), got {self.accuracy!r}")
        for name in ("strength", "class_count"):
            value = getattr(self, name)
            if not (0.0 <= value < math.inf):
                raise ValueError(f"prior {name} must be a finite number >= 0, got {value!r}")

    def confusion_pseudo_counts(self, label_count: int) -> FloatArray:
        """Pseudo-counts of a full confusion matrix, shape (K, K) ``[given, true]``.

        Each true-label column holds ``strength`` pseudo-labels, ``accuracy`` of them on
        the diagonal and the rest spread evenly over the other labels.
        """
        k = label_count
        if k == 1:
            return np.full((1, 1), self.strength)
        pseudo = np.full((k, k), self.strength * (1.0 - self.accuracy) / (k - 1))
        np.fill_diagonal(pseudo, self.strength * self.accuracy)
        return pseudo


MAXIMUM_LIKELIHOOD = ReliabilityPrior(strength=0.0, class_count=0.0)
"""No pseudo-counts: the plain maximum-likelihood EM of crowd-kit."""


def error_matrices(
    counts: FloatArray,
    label_counts: FloatArray,
    model: ReliabilityModel,
    prior: ReliabilityPrior,
    given: BoolArray | None = None,
) -> FloatArray:
    """Confusion matrices from soft confusion counts (the M-step).

    Parameters
    ----------
    counts
        Shape (W, K, K): ``counts[w, given, true]`` is the posterior mass of ``true``
        summed over the tasks annotator ``w`` gave ``given``.
    label_counts
        Shape (W,): labels each annotator gave (``counts[w].sum()`` up to rounding).
    model, prior
        Which model, and the pseudo-counts to add.
    given
        Shape (W, K), full model only: whether annotator ``w`` gave label ``k`` at least
        once. Only those rows are floored at 1e-10, the others keep their counts (0
        without a prior), as crowd-kit has no row for a label an annotator never gave;
        this matters in a column with almost no mass. ``None`` floors every row.

    Returns
    -------
    ndarray, shape (W, K, K)
        ``e[w, given, true]`` in [0, 1]; every true-label column sums to 1 (one coin:
        up to the clip at 1e-10 and 1 - 1e-10, as in crowd-kit).
    """
    k = counts.shape[-1]
    if model is ReliabilityModel.DAWID_SKENE:
        mass = counts + prior.confusion_pseudo_counts(k)
        floored = np.maximum(mass, EPSILON)
        if given is not None:
            floored = np.where(given[:, :, None], floored, mass)
        return np.asarray(floored / floored.sum(axis=1, keepdims=True), dtype=np.float64)
    skill = annotator_skill(counts, label_counts, prior)
    wrong = (1.0 - skill) / (k - 1) if k > 1 else np.zeros_like(skill)
    errors = np.repeat(wrong[:, None, None], k, axis=1).repeat(k, axis=2)
    diagonal = np.arange(k)
    errors[:, diagonal, diagonal] = skill[:, None]
    return np.clip(errors, EPSILON, 1.0 - EPSILON)


def annotator_skill(
    counts: FloatArray, label_counts: FloatArray, prior: ReliabilityPrior
) -> FloatArray:
    """One-coin skill: the posterior mass of the labels each annotator gave, per label.

    Shapes: ``counts`` (W, K, K), ``label_counts`` (W,); returns (W,) in [0, 1]. With
    no prior and no label the skill is undefined (NaN); callers never ask for it.
    """
    correct = np.trace(counts, axis1=1, axis2=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(
            (correct + prior.strength * prior.accuracy) / (label_counts + prior.strength),
            dtype=np.float64,
        )


def class_prior(mass: FloatArray, task_count: int, prior: ReliabilityPrior) -> FloatArray:
    """Class prior from the summed task posteriors ``mass`` (shape (K,)); uniform with no
    task and no pseudo-count."""
    k = mass.shape[0]
    total = task_count + prior.class_count * k
    if total <= 0.0:
        return np.full(k, 1.0 / k)
    return np.asarray((mass + prior.class_count) / total, dtype=np.float64)


def expected_accuracy(errors: FloatArray, prior_of_class: FloatArray) -> FloatArray:
    """Each annotator's accuracy under the model: ``sum_c pi[c] * e[w, c, c]``.

    Shapes: ``errors`` (W, K, K), ``prior_of_class`` (K,); returns (W,) in [0, 1]. For
    one coin this is the skill ``s_w`` (clipped as the errors are).
    """
    diagonal = np.diagonal(errors, axis1=1, axis2=2)
    return np.asarray(diagonal @ prior_of_class, dtype=np.float64)


def normalize_log(log_posterior: FloatArray) -> FloatArray:
    """Posteriors from unnormalized log posteriors, row by row (shape (..., K)).

    Shifted so each row's largest entry is 0 before exponentiating, as crowd-kit does,
    so a product of many small likelihoods never underflows to 0/0.
    """
    shifted = np.exp(log_posterior - log_posterior.max(axis=-1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=-1, keepdims=True), dtype=np.float64)


def check_model(model: str) -> ReliabilityModel:
    """``model`` as a :class:`ReliabilityModel`; a clear ``ValueError`` otherwise."""
    try:
        return ReliabilityModel(model)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in ReliabilityModel)
        raise ValueError(f"reliability model must be one of {allowed}; got {model!r}") from None
