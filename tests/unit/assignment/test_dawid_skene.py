"""Batch Dawid-Skene and one-coin EM against crowd-kit, the reference implementation.

Reference: crowd-kit 1.4 (Toloka), ``crowdkit.aggregation.DawidSkene`` and
``OneCoinDawidSkene``, run on the same triples with the same ``n_iter`` and ``tol``.
Aggregated labels must match exactly, iteration counts exactly, and probabilities to
1e-8: crowd-kit floors its returned posteriors at 1e-10 in place after the last round
(the only difference by design) and sums in another order (~1e-15).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene as CrowdKitDawidSkene
from crowdkit.aggregation import MajorityVote
from crowdkit.aggregation import OneCoinDawidSkene as CrowdKitOneCoin

from assignment.confusion import (
    MAXIMUM_LIKELIHOOD,
    ReliabilityModel,
    ReliabilityPrior,
    annotator_skill,
    error_matrices,
)
from assignment.dawid_skene import ConsensusLabel, DawidSkene, ReliabilityFit

from .crowd import simulate

Triples = list[tuple[str, str, str]]

PROBABILITY_TOLERANCE = 1e-8


def random_labels(seed: int) -> Triples:
    """A random data set: 5-150 tasks, 2-10 annotators, 2-5 labels, 1-4 labels a task."""
    rng = np.random.default_rng(seed)
    tasks, annotators, classes = (
        int(rng.integers(5, 150)), int(rng.integers(2, 11)), int(rng.integers(2, 6))
    )
    # Annotators of random quality, so EM has something to find.
    skill = rng.uniform(0.2, 0.95, size=annotators)
    labels: Triples = []
    for task in range(tasks):
        true = int(rng.integers(classes))
        chosen = rng.choice(annotators, size=min(annotators, int(rng.integers(1, 5))),
                            replace=False)
        for annotator in chosen:
            label = true if rng.random() < skill[annotator] else int(rng.integers(classes))
            labels.append((f"t{task}", f"w{annotator}", f"label-{label}"))
    return labels


@contextmanager
def pandas_deprecations_ignored() -> Iterator[None]:
    """crowd-kit 1.4 calls pandas APIs that pandas 3 deprecates; those warnings are
    crowd-kit's to fix, not ours, and the tests turn warnings into errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pd.errors.PandasChangeWarning)
        yield


def crowd_kit(model: ReliabilityModel, labels: Triples, n_iter: int = 100,
              tol: float = 1e-5) -> CrowdKitDawidSkene:
    frame = pd.DataFrame(labels, columns=["task", "worker", "label"])
    reference = (
        CrowdKitDawidSkene(n_iter=n_iter, tol=tol)
        if model is ReliabilityModel.DAWID_SKENE
        else CrowdKitOneCoin(n_iter=n_iter, tol=tol)
    )
    with pandas_deprecations_ignored():
        return reference.fit(frame)


def assert_matches(fit: ReliabilityFit, reference: Any,
                   model: ReliabilityModel, ties: bool = False) -> None:
    """Equal to crowd-kit. Exact ties (``ties=True``) are broken differently: crowd-kit
    takes the first of its columns in pandas' order, we take the smallest label."""
    assert fit.iterations == len(reference.loss_history_)
    np.testing.assert_allclose(fit.loss_history, reference.loss_history_, rtol=0, atol=1e-9)
    ours, theirs = fit.consensus_labels(), reference.labels_.to_dict()
    assert ours.keys() == theirs.keys()
    for task, row in zip(fit.tasks, fit.posteriors, strict=True):
        best = [label for label, p in zip(fit.labels, row, strict=True) if p > row.max() - 1e-9]
        if len(best) == 1:
            assert ours[task] == theirs[task] == best[0], task
        else:
            assert ties, f"task {task} ties between {best}; this data set should have no tie"
            assert ours[task] == min(best) and theirs[task] in best
    tasks, labels, annotators = list(fit.tasks), list(fit.labels), list(fit.annotators)
    posteriors = reference.probas_.reindex(index=tasks, columns=labels).to_numpy()
    np.testing.assert_allclose(fit.posteriors, posteriors, atol=PROBABILITY_TOLERANCE)
    priors = reference.priors_.reindex(labels).to_numpy()
    np.testing.assert_allclose(fit.class_prior, priors, atol=PROBABILITY_TOLERANCE)
    if model is ReliabilityModel.ONE_COIN:
        skills = reference.skills_.reindex(annotators).to_numpy()
        np.testing.assert_allclose(fit.reliability, skills, atol=PROBABILITY_TOLERANCE)
        return
    # crowd-kit keeps rows only for labels an annotator gave; the others are ~0 here.
    errors = np.stack([
        reference.errors_.loc[name].reindex(index=labels, columns=labels).fillna(0.0).to_numpy()
        for name in annotators
    ])
    np.testing.assert_allclose(fit.errors, errors, atol=PROBABILITY_TOLERANCE)


# crowd-kit takes ~30-60 ms a round (pandas): 25 rounds keep the suite fast, and some
# random data sets stop on the tolerance before that anyway.
ROUNDS = 25


@pytest.mark.parametrize("model", list(ReliabilityModel))
@pytest.mark.parametrize("seed", range(6))
def test_matches_crowd_kit_on_random_data(model: ReliabilityModel, seed: int) -> None:
    labels = random_labels(seed)
    fit = DawidSkene(model=model, max_iterations=ROUNDS).fit(labels)
    assert_matches(fit, crowd_kit(model, labels, n_iter=ROUNDS), model)


@pytest.mark.parametrize("model", list(ReliabilityModel))
def test_matches_crowd_kit_with_other_iterations_and_tolerance(model: ReliabilityModel) -> None:
    labels = random_labels(42)
    for n_iter, tol in ((1, 1e-5), (3, 0.0), (150, 1e-3)):
        fit = DawidSkene(model=model, max_iterations=n_iter, tolerance=tol).fit(labels)
        assert_matches(fit, crowd_kit(model, labels, n_iter, tol), model)


@pytest.mark.parametrize("model", list(ReliabilityModel))
def test_matches_crowd_kit_on_the_simulated_project(model: ReliabilityModel) -> None:
    labels = simulate(seed=3, tasks=2000).labels
    assert_matches(DawidSkene(model=model).fit(labels), crowd_kit(model, labels), model)


def test_weighted_consensus_beats_majority_vote_and_finds_the_poor_annotators() -> None:
    crowd = simulate(seed=11, tasks=2000)
    frame = pd.DataFrame(crowd.labels, columns=["task", "worker", "label"])
    with pandas_deprecations_ignored():
        majority = MajorityVote().fit_predict(frame).to_dict()  # crowd-kit's majority vote
    for model in ReliabilityModel:
        fit = DawidSkene(model=model).fit(crowd.labels)
        weighted = fit.consensus_labels()

        def accuracy(labels: dict[str, str]) -> float:
            return sum(labels[t] == true for t, true in crowd.truth.items()) / len(crowd.truth)

        assert accuracy(weighted) > accuracy(majority) + 0.01, model
        ranked = sorted(fit.reliabilities(), key=fit.reliabilities().__getitem__)
        assert set(ranked[:2]) == {"a10", "a11"}, model


def test_max_iterations_zero_is_the_majority_vote() -> None:
    labels = [("t1", "a", "x"), ("t1", "b", "x"), ("t1", "c", "y"), ("t2", "a", "y")]
    fit = DawidSkene(max_iterations=0).fit(labels)
    assert fit.iterations == 0
    assert fit.posterior("t1") == pytest.approx({"x": 2 / 3, "y": 1 / 3})
    assert fit.posterior("t2") == {"x": 0.0, "y": 1.0}
    assert fit.class_prior.tolist() == pytest.approx([1 / 3, 2 / 3])


def test_no_labels_gives_an_empty_fit() -> None:
    fit = DawidSkene().fit([])
    assert (fit.tasks, fit.annotators, fit.labels, fit.iterations) == ((), (), (), 0)
    assert fit.consensus_labels() == {} and fit.reliabilities() == {}
    with pytest.raises(ValueError, match="no label"):
        fit.consensus("t1")


@pytest.mark.parametrize("model", list(ReliabilityModel))
def test_one_annotator_is_followed(model: ReliabilityModel) -> None:
    labels = [("t1", "solo", "x"), ("t2", "solo", "y"), ("t3", "solo", "x")]
    fit = DawidSkene(model=model).fit(labels)
    assert fit.consensus_labels() == {"t1": "x", "t2": "y", "t3": "x"}
    assert_matches(fit, crowd_kit(model, labels), model)


@pytest.mark.parametrize("model", list(ReliabilityModel))
def test_a_task_with_one_label_takes_it(model: ReliabilityModel) -> None:
    labels = [*random_labels(5), ("lonely", "w0", "label-1")]
    fit = DawidSkene(model=model).fit(labels)
    assert fit.consensus("lonely").label == "label-1"
    assert_matches(fit, crowd_kit(model, labels), model)


@pytest.mark.parametrize("model", list(ReliabilityModel))
def test_ties_go_to_the_smallest_label_as_in_crowd_kit(model: ReliabilityModel) -> None:
    # Two annotators disagreeing on every task, symmetrically: every posterior is 1/2.
    labels = [("t1", "a", "y"), ("t1", "b", "x"), ("t2", "a", "x"), ("t2", "b", "y")]
    fit = DawidSkene(model=model).fit(labels)
    assert fit.consensus("t1") == ConsensusLabel("t1", "x", 0.5)
    assert fit.consensus_labels() == {"t1": "x", "t2": "x"}
    assert_matches(fit, crowd_kit(model, labels), model, ties=True)


def test_unicode_ids_and_labels() -> None:
    renamed = [
        (f"задача-{task}", f"annotateur-{annotator}-é", f"{label}-积极")
        for task, annotator, label in random_labels(7)
    ]
    for model in ReliabilityModel:
        fit = DawidSkene(model=model, max_iterations=ROUNDS).fit(renamed)
        assert_matches(fit, crowd_kit(model, renamed, n_iter=ROUNDS), model)


def test_confusion_matrix_of_pseudo_counts_by_hand() -> None:
    prior = ReliabilityPrior(accuracy=0.7, strength=2.0)
    # No label counted: each column is the prior, 0.7 on the diagonal, 0.3 / 2 elsewhere.
    errors = error_matrices(np.zeros((1, 3, 3)), np.zeros(1), ReliabilityModel.DAWID_SKENE,
                            prior)
    expected = np.array([[0.7, 0.15, 0.15], [0.15, 0.7, 0.15], [0.15, 0.15, 0.7]])
    np.testing.assert_allclose(errors[0], expected)
    # One coin: 3 of 4 labels right, plus 2 pseudo-labels at 0.7: (3 + 1.4) / (4 + 2).
    counts = np.array([[[2.0, 0.5], [0.5, 1.0]]])
    assert annotator_skill(counts, np.array([4.0]), prior)[0] == pytest.approx(4.4 / 6)
    assert annotator_skill(counts, np.array([4.0]), MAXIMUM_LIKELIHOOD)[0] == 0.75


def test_a_prior_pulls_a_sparse_annotator_towards_its_accuracy() -> None:
    labels = [("t1", "a", "x"), ("t1", "b", "x"), ("t1", "c", "y")]
    plain = DawidSkene(model=ReliabilityModel.ONE_COIN).fit(labels)
    smoothed = DawidSkene(
        model=ReliabilityModel.ONE_COIN, prior=ReliabilityPrior(accuracy=0.6, strength=10.0)
    ).fit(labels)
    # c is wrong on its only task: ML says ~0, ten pseudo-labels at 0.6 say ~0.55.
    assert plain.reliabilities()["c"] < 0.05
    assert 0.5 < smoothed.reliabilities()["c"] < 0.6


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([("t1", "a", "x"), ("t1", "a", "y")], "twice"),
        ([("t1", "a", 3)], "strings"),
        ([("t1", "a")], "strings"),
    ],
)
def test_bad_labels_are_refused(labels: list[tuple[object, ...]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DawidSkene().fit(labels)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"model": "three_coin"}, "one of"),
        ({"max_iterations": -1}, "max_iterations"),
        ({"max_iterations": 2.5}, "max_iterations"),
        ({"tolerance": math.nan}, "NaN"),
        ({"prior": 0.7}, "ReliabilityPrior"),
    ],
)
def test_bad_settings_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DawidSkene(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"accuracy": 1.0}, "accuracy"),
        ({"accuracy": math.nan}, "accuracy"),
        ({"strength": -1.0}, "strength"),
        ({"class_count": math.inf}, "class_count"),
    ],
)
def test_bad_priors_are_refused(options: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReliabilityPrior(**options)
