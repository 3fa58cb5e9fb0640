"""Dawid-Skene annotator reliability, batch: EM over (task, annotator, label) triples.

Each annotator ``w`` has a confusion ("error") matrix ``e[w, given, true]``: the
probability of giving label ``given`` to a task whose true label is ``true``; each task's
true label has the class prior ``pi``. EM alternates the E-step (each task's posterior
over true labels from its annotators' labels) and the M-step (confusion matrices and
class prior from the posteriors). Two models (:class:`ReliabilityModel`):

- ``dawid_skene``: a full confusion matrix per annotator (Dawid and Skene, 1979,
  "Maximum Likelihood Estimation of Observer Error-Rates Using the EM Algorithm",
  Applied Statistics 28(1), doi:10.2307/2346806);
- ``one_coin``: one accuracy ``s`` per annotator, errors spread evenly over the other
  labels (Zhang, Chen, Zhou and Jordan, 2016, "Spectral Methods Meet EM", JMLR 17).

The batch fit follows crowd-kit's ``DawidSkene`` and ``OneCoinDawidSkene``
(``crowdkit.aggregation``, v1.4) step for step so the two agree on the same data: the
same initialization (majority-vote posteriors), the same floor of 1e-10 on
probabilities, the same objective per label and the same stopping rule (stop once the
objective gains less than ``tolerance``, at most ``max_iterations`` EM rounds).
:class:`ReliabilityPrior` optionally adds pseudo-counts (a Dirichlet prior, so a MAP
estimate): the online estimator (:mod:`assignment.reliability`) needs them, and the batch
fit with the same prior is the answer the online estimate converges to.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from .confusion import (
    EPSILON,
    MAXIMUM_LIKELIHOOD,
    BoolArray,
    FloatArray,
    IntArray,
    ReliabilityModel,
    ReliabilityPrior,
    check_model,
    class_prior,
    error_matrices,
    expected_accuracy,
    normalize_log,
)


@dataclass(frozen=True, slots=True)
class ConsensusLabel:
    """A task's reliability-weighted consensus: its most probable label and that label's
    posterior probability in [0, 1]. Ties go to the smallest label (``str`` order)."""

    task: str
    label: str
    posterior: float


@dataclass(frozen=True, eq=False)
class ReliabilityFit:
    """What :meth:`DawidSkene.fit` estimated. Arrays are indexed by the id tuples.

    Attributes
    ----------
    labels
        The K labels, sorted. A tie between labels goes to the smallest (crowd-kit's
        ``idxmax`` takes the first of its columns, whose order pandas decides).
    tasks, annotators
        The T tasks and W annotators, in order of first appearance.
    posteriors
        Shape (T, K): each task's posterior over true labels; rows sum to 1.
    class_prior
        Shape (K,): prior probability of each true label.
    errors
        Shape (W, K, K): ``errors[w, given, true]``, columns sum to 1; 0 for a label
        an annotator never gave (maximum likelihood; crowd-kit has no such row).
    reliability
        Shape (W,): expected accuracy ``sum_c class_prior[c] * errors[w, c, c]``.
    label_counts
        Shape (W,): labels each annotator gave.
    loss_history
        The objective (crowd-kit's evidence lower bound per label) after each round.
    """

    labels: tuple[str, ...]
    tasks: tuple[str, ...]
    annotators: tuple[str, ...]
    posteriors: FloatArray
    class_prior: FloatArray
    errors: FloatArray
    reliability: FloatArray
    label_counts: FloatArray
    loss_history: tuple[float, ...]
    _task_index: dict[str, int] = field(init=False, repr=False)
    _annotator_index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_task_index", {t: i for i, t in enumerate(self.tasks)})
        object.__setattr__(
            self, "_annotator_index", {a: i for i, a in enumerate(self.annotators)}
        )

    @property
    def iterations(self) -> int:
        """EM rounds run after the initialization (crowd-kit's ``len(loss_history_)``)."""
        return len(self.loss_history)

    def _row(self, task: str) -> int:
        row = self._task_index.get(task)
        if row is None:
            raise ValueError(f"task {task!r} has no label in the fitted data")
        return row

    def consensus(self, task: str) -> ConsensusLabel:
        """The task's most probable label and its posterior."""
        row = self.posteriors[self._row(task)]
        best = int(np.argmax(row))  # first maximum: the smallest of tied labels
        return ConsensusLabel(task, self.labels[best], float(row[best]))

    def consensus_labels(self) -> dict[str, str]:
        """Most probable label of every task."""
        best = np.argmax(self.posteriors, axis=1) if self.tasks else np.zeros(0, np.intp)
        return {task: self.labels[int(i)] for task, i in zip(self.tasks, best, strict=True)}

    def posterior(self, task: str) -> dict[str, float]:
        """The task's posterior probability of each label."""
        row = self.posteriors[self._row(task)]
        return {label: float(p) for label, p in zip(self.labels, row, strict=True)}

    def reliabilities(self) -> dict[str, float]:
        """Expected accuracy of every annotator."""
        return {a: float(r) for a, r in zip(self.annotators, self.reliability, strict=True)}


@dataclass(frozen=True)
class LabelTable:
    """(task, annotator, label) triples as integer codes, shape (N,) each."""

    tasks: tuple[str, ...]
    annotators: tuple[str, ...]
    labels: tuple[str, ...]
    task_codes: IntArray
    annotator_codes: IntArray
    label_codes: IntArray

    @classmethod
    def of(cls, triples: Iterable[tuple[str, str, str]]) -> LabelTable:
        """Encode triples; ``ValueError`` for a non-string id or label, or an annotator
        labelling one task twice (give their latest label only)."""
        task_ids: dict[str, int] = {}
        annotator_ids: dict[str, int] = {}
        seen: set[tuple[str, str]] = set()
        rows: list[tuple[int, int, str]] = []
        for position, triple in enumerate(triples):
            if len(triple) != 3 or not all(type(part) is str for part in triple):
                raise ValueError(
                    f"label {position} is {triple!r}; give (task, annotator, label) strings"
                )
            task, annotator, label = triple
            if (task, annotator) in seen:
                raise ValueError(
                    f"annotator {annotator!r} labels task {task!r} twice; keep their latest label"
                )
            seen.add((task, annotator))
            task_code = task_ids.setdefault(task, len(task_ids))
            annotator_code = annotator_ids.setdefault(annotator, len(annotator_ids))
            rows.append((task_code, annotator_code, label))
        labels = tuple(sorted({label for _, _, label in rows}))
        label_ids = {label: i for i, label in enumerate(labels)}
        return cls(
            tasks=tuple(task_ids),
            annotators=tuple(annotator_ids),
            labels=labels,
            task_codes=np.array([r[0] for r in rows], dtype=np.intp),
            annotator_codes=np.array([r[1] for r in rows], dtype=np.intp),
            label_codes=np.array([label_ids[r[2]] for r in rows], dtype=np.intp),
        )

    def given(self) -> BoolArray:
        """Shape (W, K): whether each annotator gave each label at least once."""
        mask = np.zeros((len(self.annotators), len(self.labels)), dtype=np.bool_)
        mask[self.annotator_codes, self.label_codes] = True
        return mask

    def majority_posteriors(self) -> FloatArray:
        """Shape (T, K): each task's share of labels per label (majority-vote posteriors)."""
        shape = (len(self.tasks), len(self.labels))
        votes = np.zeros(shape)
        np.add.at(votes, (self.task_codes, self.label_codes), 1.0)
        return np.asarray(votes / votes.sum(axis=1, keepdims=True), dtype=np.float64)

    def confusion_counts(self, posteriors: FloatArray) -> FloatArray:
        """Shape (W, K, K): soft confusion counts ``[annotator, given, true]``."""
        w, k = len(self.annotators), len(self.labels)
        cell = self.annotator_codes * k + self.label_codes
        per_label = posteriors[self.task_codes]  # (N, K)
        columns = [np.bincount(cell, per_label[:, c], minlength=w * k) for c in range(k)]
        return np.asarray(np.stack(columns, axis=1).reshape(w, k, k), dtype=np.float64)

    def log_posteriors(self, errors: FloatArray, prior_of_class: FloatArray) -> FloatArray:
        """Shape (T, K): log prior plus the log likelihood of each task's labels."""
        # Index first: a label an annotator never gave may have probability 0 (log -inf).
        log_errors = np.log(errors[self.annotator_codes, self.label_codes])  # (N, K)
        t = len(self.tasks)
        columns = [
            np.bincount(self.task_codes, log_errors[:, c], minlength=t)
            for c in range(len(self.labels))
        ]
        log_prior = np.log(np.maximum(prior_of_class, EPSILON))
        return np.asarray(np.stack(columns, axis=1) + log_prior, dtype=np.float64)

    def objective(
        self, posteriors: FloatArray, prior_of_class: FloatArray, errors: FloatArray
    ) -> float:
        """crowd-kit's evidence lower bound per label: the expected log joint of every
        label and its task's prior (prior counted once per label, as crowd-kit does),
        plus the posteriors' entropy, over N."""
        log_terms = np.log(errors[self.annotator_codes, self.label_codes]) + np.log(
            np.maximum(prior_of_class, EPSILON)
        )
        joint = float(np.sum(posteriors[self.task_codes] * log_terms))
        clipped = np.maximum(posteriors, EPSILON)
        entropy = -float(np.sum(clipped * np.log(clipped)))
        return (joint + entropy) / len(self.task_codes)


@dataclass(frozen=True)
class DawidSkene:
    """Batch EM for annotator reliability, crowd-kit's algorithm (module docstring).

    Attributes
    ----------
    model
        ``"dawid_skene"`` (full confusion matrices) or ``"one_coin"``.
    max_iterations
        EM rounds at most after the majority-vote initialization, >= 0 (crowd-kit
        ``n_iter``, default 100).
    tolerance
        Stop once a round gains less than this in the objective (crowd-kit ``tol``,
        default 1e-5); ``-inf`` runs every one of ``max_iterations`` rounds, which a
        MAP fit needs to reach its fixed point (crowd-kit's objective, without the
        prior's term, may fall while the MAP estimate still moves).
    prior
        Pseudo-counts; the default :data:`MAXIMUM_LIKELIHOOD` is crowd-kit's estimate.
    """

    model: ReliabilityModel = ReliabilityModel.DAWID_SKENE
    max_iterations: int = 100
    tolerance: float = 1e-5
    prior: ReliabilityPrior = MAXIMUM_LIKELIHOOD

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", check_model(self.model))
        if type(self.max_iterations) is not int or self.max_iterations < 0:
            raise ValueError(f"max_iterations must be an integer >= 0, got {self.max_iterations!r}")
        if isinstance(self.tolerance, bool) or not isinstance(self.tolerance, int | float):
            raise ValueError(f"tolerance must be a number, got {self.tolerance!r}")
        if math.isnan(self.tolerance):
            raise ValueError("tolerance is NaN; give a number (-inf to run every iteration)")
        if not isinstance(self.prior, ReliabilityPrior):
            raise ValueError(f"prior must be a ReliabilityPrior, got {self.prior!r}")

    def fit(self, labels: Iterable[tuple[str, str, str]]) -> ReliabilityFit:
        """Estimate reliabilities and task posteriors from (task, annotator, label) triples.

        Parameters
        ----------
        labels
            One triple per label: an annotator labels a task at most once.

        Returns
        -------
        ReliabilityFit
            Empty (no task, no annotator) for no labels, as crowd-kit.
        """
        table = LabelTable.of(labels)
        if not table.tasks:
            empty = np.zeros((0, 0))
            return ReliabilityFit((), (), (), empty, np.zeros(0), np.zeros((0, 0, 0)),
                                  np.zeros(0), np.zeros(0), ())
        label_counts = np.bincount(
            table.annotator_codes, minlength=len(table.annotators)
        ).astype(np.float64)
        given = table.given()
        posteriors = table.majority_posteriors()
        prior_of_class, errors = self._m_step(table, posteriors, label_counts, given)
        loss = -math.inf
        history: list[float] = []
        for _ in range(self.max_iterations):
            posteriors = normalize_log(table.log_posteriors(errors, prior_of_class))
            prior_of_class, errors = self._m_step(table, posteriors, label_counts, given)
            new_loss = table.objective(posteriors, prior_of_class, errors)
            history.append(new_loss)
            # Not abs(): a round that lowers the objective also stops, as in crowd-kit.
            if new_loss - loss < self.tolerance:
                break
            loss = new_loss
        return ReliabilityFit(
            labels=table.labels,
            tasks=table.tasks,
            annotators=table.annotators,
            posteriors=posteriors,
            class_prior=prior_of_class,
            errors=errors,
            reliability=expected_accuracy(errors, prior_of_class),
            label_counts=label_counts,
            loss_history=tuple(history),
        )

    def _m_step(
        self,
        table: LabelTable,
        posteriors: FloatArray,
        label_counts: FloatArray,
        given: BoolArray,
    ) -> tuple[FloatArray, FloatArray]:
        counts = table.confusion_counts(posteriors)
        errors = error_matrices(counts, label_counts, self.model, self.prior, given)
        mass = posteriors.sum(axis=0)
        return class_prior(mass, len(table.tasks), self.prior), errors
