"""Online Dawid-Skene: hand-checked steps, convergence to the batch fit, the simulated
project of issue 4, invariants of the incremental statistics, and state round trips."""

from __future__ import annotations

import json
import math
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import MajorityVote
from hypothesis import given, settings
from hypothesis import strategies as st

from assignment.confusion import (
    EPSILON,
    ReliabilityModel,
    ReliabilityPrior,
    class_prior,
    error_matrices,
    expected_accuracy,
    normalize_log,
)
from assignment.dawid_skene import ConsensusLabel, DawidSkene
from assignment.reliability import ReliabilityEstimator, _column_sums, _numpy_sum
from assignment.reliability_settings import ConsensusChanged, ReliabilitySettings

from .crowd import POOR, Crowd, accuracy_of, simulate

NO_REFRESH = ReliabilitySettings(refresh_tasks_per_label=0)


def stream(crowd: Crowd, settings: ReliabilitySettings) -> ReliabilityEstimator:
    estimator = ReliabilityEstimator(settings)
    for label in crowd.labels:
        estimator.add_label(*label)
    return estimator


def online_labels(estimator: ReliabilityEstimator, tasks: list[str]) -> dict[str, str]:
    labels = {}
    for task in tasks:
        consensus = estimator.consensus(task)
        assert consensus is not None
        labels[task] = consensus.label
    return labels


@pytest.fixture(scope="module")
def project() -> Crowd:
    """Issue 4's project: 2,000 tasks, 12 annotators (two poor), overlap 3, up to 2 more."""
    return simulate(seed=2024, tasks=2000)


@pytest.fixture(scope="module")
def streamed(project: Crowd) -> tuple[ReliabilityEstimator, float]:
    """The project's labels streamed one at a time, and how long that took."""
    started = time.perf_counter()
    estimator = stream(project, ReliabilitySettings())
    return estimator, time.perf_counter() - started


# -- hand-checked steps -------------------------------------------------------------------


def test_first_label_of_a_project() -> None:
    estimator = ReliabilityEstimator(NO_REFRESH)
    events = estimator.add_label("t1", "ann", "cat")
    assert events == (ConsensusChanged("t1", "cat", 1.0, None),)
    assert estimator.consensus("t1") == ConsensusLabel("t1", "cat", 1.0)
    assert estimator.labels == ("cat",)
    assert len(estimator) == 1


def test_a_new_annotator_on_a_new_label_by_hand() -> None:
    estimator = ReliabilityEstimator(NO_REFRESH)
    estimator.add_label("t1", "ann", "cat")
    events = estimator.add_label("t2", "bob", "dog")
    # Class prior (mass + 1) / (tasks + 1 x K) = ([1, 0] + 1) / (1 + 2) = [2/3, 1/3].
    # bob has no label yet: his row for "dog" is the prior's, [0.3, 0.7].
    # Posterior of t2 ~ [2/3 x 0.3, 1/3 x 0.7] = [0.2, 0.2333] -> [6/13, 7/13].
    assert estimator.posterior("t2") == pytest.approx({"cat": 6 / 13, "dog": 7 / 13})
    [event] = events
    assert (event.task, event.label, event.previous) == ("t2", "dog", None)
    assert event.posterior == pytest.approx(7 / 13)
    # t1 keeps its posterior until it is refreshed; the new label has no mass there.
    assert estimator.posterior("t1") == {"cat": 1.0, "dog": 0.0}


def test_disagreement_on_one_task_by_hand() -> None:
    estimator = ReliabilityEstimator(NO_REFRESH)
    estimator.add_label("t1", "ann", "cat")
    estimator.add_label("t1", "bob", "dog")
    # ann's counts hold t1 once: row "cat" = [1, 0], so with pseudo-counts (1.4 on the
    # diagonal, 0.6 off it) her column sums are [3, 2] and her "cat" row [2.4/3, 0.6/2].
    # Prior [2/3, 1/3]; bob's "dog" row [0.3, 0.7]:
    # [2/3 x 0.8 x 0.3, 1/3 x 0.3 x 0.7] = [0.16, 0.07] -> [16/23, 7/23].
    assert estimator.posterior("t1") == pytest.approx({"cat": 16 / 23, "dog": 7 / 23})


def test_one_coin_new_annotators_are_the_prior_accuracy() -> None:
    settings = ReliabilitySettings(
        model=ReliabilityModel.ONE_COIN,
        prior=ReliabilityPrior(accuracy=0.8, strength=1.0, class_count=1.0),
    )
    estimator = ReliabilityEstimator(settings)
    assert estimator.reliability("nobody") == 0.8
    estimator.add_label("t1", "ann", "x")
    # ann: 1 label, posterior 1 on it: (1 + 0.8) / (1 + 1).
    assert estimator.reliability("ann") == pytest.approx(0.9)
    assert estimator.reliability("nobody") == pytest.approx(0.8)


# -- edge cases ------------------------------------------------------------------------


def test_one_annotator_is_followed() -> None:
    estimator = ReliabilityEstimator()
    labels = {f"t{i}": ("x", "y", "z")[i % 3] for i in range(30)}
    for task, label in labels.items():
        estimator.add_label(task, "solo", label)
    assert online_labels(estimator, list(labels)) == labels
    assert list(estimator.reliabilities()) == ["solo"]


def test_exact_ties_go_to_the_smallest_label() -> None:
    estimator = ReliabilityEstimator(NO_REFRESH)
    estimator.add_label("t1", "ann", "y")
    state = estimator.to_state()
    # A posterior that ties exactly, with "y" first in the label order.
    state["labels"] = ["y", "x"]
    state["class_mass"] = [0.5, 0.5]
    state["annotators"]["ann"]["counts"] = [[0.5, 0.5], [0.0, 0.0]]
    state["tasks"]["t1"]["posterior"] = [0.5, 0.5]
    tied = ReliabilityEstimator.from_state(state)
    assert tied.consensus("t1") == ConsensusLabel("t1", "x", 0.5)


def test_same_label_again_is_a_no_op() -> None:
    estimator = ReliabilityEstimator()
    estimator.add_label("t1", "ann", "x")
    before = estimator.to_state()
    assert estimator.add_label("t1", "ann", "x") == ()
    assert estimator.to_state() == before


def test_relabel_replaces_the_earlier_label() -> None:
    estimator = ReliabilityEstimator(NO_REFRESH)
    estimator.add_label("t1", "ann", "x")
    [event] = estimator.add_label("t1", "ann", "y")
    assert (event.task, event.label, event.previous) == ("t1", "y", "x")
    state = estimator.to_state()
    assert state["tasks"]["t1"]["labels"] == {"ann": "y"}
    assert state["annotators"]["ann"]["labels"] == 1


def test_removing_labels_down_to_nothing() -> None:
    estimator = ReliabilityEstimator()
    estimator.add_label("t1", "ann", "x")
    estimator.add_label("t1", "bob", "x")
    assert estimator.remove_label("t1", "nobody") == ()
    assert estimator.remove_label("t1", "bob") == ()  # still "x"
    assert estimator.remove_label("t1", "ann") == (ConsensusChanged("t1", None, None, "x"),)
    assert estimator.consensus("t1") is None and estimator.posterior("t1") == {}
    assert len(estimator) == 0 and estimator.reliabilities() == {}
    state = estimator.to_state()
    assert state["class_mass"] == [0.0] and state["tasks"] == {}
    # The task comes back cleanly.
    estimator.add_label("t1", "bob", "x")
    assert estimator.consensus("t1") == ConsensusLabel("t1", "x", 1.0)
    assert estimator.to_state()["queue"] == ["t1"]


def test_remove_task() -> None:
    estimator = ReliabilityEstimator()
    for annotator in ("a", "b", "c"):
        estimator.add_label("gone", annotator, "x")
    estimator.add_label("kept", "a", "y")
    assert estimator.remove_task("gone") == (ConsensusChanged("gone", None, None, "x"),)
    assert estimator.remove_task("gone") == ()
    assert set(estimator.reliabilities()) == {"a"}
    assert estimator.consensus("kept") is not None


def test_unicode_ids_and_labels() -> None:
    estimator = ReliabilityEstimator()
    estimator.add_label("задача-1", "annotateur-é", "猫")
    estimator.add_label("задача-1", "注释者", "猫")
    estimator.add_label("задача-1", "🙂", "chat")
    consensus = estimator.consensus("задача-1")
    assert consensus is not None and consensus.label == "猫"
    restored = ReliabilityEstimator.from_state(json.loads(json.dumps(estimator.to_state())))
    assert restored.to_state() == estimator.to_state()


def test_unknown_reads_and_bad_input() -> None:
    estimator = ReliabilityEstimator()
    assert estimator.reliability("nobody") == 0.7  # the prior's accuracy
    assert estimator.consensus("nothing") is None
    with pytest.raises(ValueError, match="label must be a str"):
        estimator.add_label("t1", "ann", 3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prior": ReliabilityPrior(strength=0.0)}, "above 0"),
        ({"prior": ReliabilityPrior(class_count=0.0)}, "above 0"),
        ({"refresh_tasks_per_label": -1}, "refresh_tasks_per_label"),
        ({"model": "dice"}, "one of"),
    ],
)
def test_bad_settings_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReliabilitySettings(**options)  # type: ignore[arg-type]


# -- the simulated project ----------------------------------------------------------------


def test_weighted_consensus_beats_majority_vote(
    project: Crowd, streamed: tuple[ReliabilityEstimator, float]
) -> None:
    estimator, seconds = streamed
    frame = pd.DataFrame(project.labels, columns=["task", "worker", "label"])
    with warnings.catch_warnings():  # crowd-kit's pandas deprecations, not ours
        warnings.simplefilter("ignore", pd.errors.PandasChangeWarning)
        majority = MajorityVote().fit_predict(frame).to_dict()  # crowd-kit's reference
    online = online_labels(estimator, list(project.truth))
    batch = DawidSkene().fit(project.labels).consensus_labels()
    assert accuracy_of(online, project.truth) > accuracy_of(majority, project.truth) + 0.01
    assert accuracy_of(batch, project.truth) > accuracy_of(majority, project.truth) + 0.01
    assert seconds < 10.0, f"streaming {len(project.labels)} labels took {seconds:.1f} s"


def test_reliabilities_rank_the_poor_annotators_lowest(
    streamed: tuple[ReliabilityEstimator, float],
) -> None:
    estimator, _ = streamed
    reliability = estimator.reliabilities()
    ranked = sorted(reliability, key=reliability.__getitem__)
    assert set(ranked[:2]) == POOR
    assert max(reliability[name] for name in POOR) < 0.5 < min(
        value for name, value in reliability.items() if name not in POOR
    )


def test_streamed_estimate_is_near_the_batch_fit(
    project: Crowd, streamed: tuple[ReliabilityEstimator, float]
) -> None:
    estimator, _ = streamed
    # The batch MAP fit with the same prior, run to its fixed point: the answer
    # incremental EM converges to.
    batch = DawidSkene(prior=ReliabilityPrior(), max_iterations=300, tolerance=-math.inf)
    fit = batch.fit(project.labels)
    online = online_labels(estimator, list(fit.tasks))
    agreeing = sum(online[task] == label for task, label in fit.consensus_labels().items())
    assert agreeing / len(fit.tasks) >= 0.99
    reliability = estimator.reliabilities()
    for name, value in fit.reliabilities().items():
        assert reliability[name] == pytest.approx(value, abs=0.01), name


def test_ranked_most_reliable_first(streamed: tuple[ReliabilityEstimator, float]) -> None:
    estimator, _ = streamed
    ranked = estimator.ranked(["a11", "a00", "newcomer", "a10", "a00"])
    # A newcomer is the prior's 0.7: below the good, above the poor.
    assert ranked[:2] == ["a00", "newcomer"] and set(ranked[2:]) == POOR


def test_refresh_reports_exactly_the_consensus_changes(project: Crowd) -> None:
    # Stream a prefix without refreshes: stale posteriors that a sweep will revise.
    estimator = stream(Crowd(project.labels[:1500], project.truth), NO_REFRESH)
    tasks = list(dict.fromkeys(task for task, _, _ in project.labels[:1500]))
    before = online_labels(estimator, tasks)
    events = estimator.refresh(2 * len(estimator))
    after = online_labels(estimator, tasks)
    flips: dict[str, tuple[str | None, str | None]] = {}
    for event in events:
        previous = flips[event.task][0] if event.task in flips else event.previous
        flips[event.task] = (previous, event.label)
    changed = {task: (before[task], after[task]) for task in tasks if before[task] != after[task]}
    assert changed  # the sweep did revise some
    assert {task: pair for task, pair in flips.items() if pair[0] != pair[1]} == changed
    with pytest.raises(ValueError, match="task_count"):
        estimator.refresh(-1)


@pytest.mark.parametrize("model", list(ReliabilityModel))
def test_refresh_sweeps_converge_to_the_batch_fit(model: ReliabilityModel) -> None:
    crowd = simulate(seed=5, tasks=150)
    prior = ReliabilityPrior()
    estimator = stream(crowd, ReliabilitySettings(model=model, prior=prior))
    estimator.refresh(100 * len(estimator))  # 100 sweeps: EM is slow on small data
    fit = DawidSkene(model=model, prior=prior, max_iterations=1000,
                     tolerance=-math.inf).fit(crowd.labels)
    posteriors = np.array([[estimator.posterior(t)[label] for label in fit.labels]
                           for t in fit.tasks])
    np.testing.assert_allclose(posteriors, fit.posteriors, atol=1e-6)
    reliability = estimator.reliabilities()
    for name, value in fit.reliabilities().items():
        assert reliability[name] == pytest.approx(value, abs=1e-6), name


# -- invariants and state -------------------------------------------------------------------

operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "add", "remove", "remove_task", "refresh"]),
        st.sampled_from(["t1", "t2", "t3", "t4"]),
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["x", "y", "é"]),
    ),
    max_size=40,
)


def apply(estimator: ReliabilityEstimator, operation: tuple[str, str, str, str]) -> None:
    kind, task, annotator, label = operation
    if kind == "add":
        estimator.add_label(task, annotator, label)
    elif kind == "remove":
        estimator.remove_label(task, annotator)
    elif kind == "remove_task":
        estimator.remove_task(task)
    else:
        estimator.refresh(3)


@settings(max_examples=60, deadline=None)
@given(operations, st.sampled_from(list(ReliabilityModel)))
def test_counts_are_the_sums_of_the_current_posteriors(
    steps: list[tuple[str, str, str, str]], model: ReliabilityModel
) -> None:
    estimator = ReliabilityEstimator(ReliabilitySettings(model=model))
    for step in steps:
        apply(estimator, step)
    state = estimator.to_state()
    labels = state["labels"]
    k = len(labels)
    mass = np.zeros(k)
    counts: dict[str, np.ndarray] = {}
    given_labels: dict[str, int] = {}
    for task in state["tasks"].values():
        posterior = np.array(task["posterior"])
        assert posterior.sum() == pytest.approx(1.0)
        mass += posterior
        for annotator, label in task["labels"].items():
            counts.setdefault(annotator, np.zeros((k, k)))[labels.index(label)] += posterior
            given_labels[annotator] = given_labels.get(annotator, 0) + 1
    np.testing.assert_allclose(state["class_mass"], mass, atol=1e-9)
    assert {a: body["labels"] for a, body in state["annotators"].items()} == given_labels
    for annotator, body in state["annotators"].items():
        np.testing.assert_allclose(body["counts"], counts[annotator], atol=1e-9)
    # Every task is queued for refresh exactly once.
    assert set(state["tasks"]) <= set(state["queue"])
    assert len(state["queue"]) == len(set(state["queue"]))


@settings(max_examples=40, deadline=None)
@given(operations, operations)
def test_state_round_trip_resumes_bit_for_bit(
    before: list[tuple[str, str, str, str]], after: list[tuple[str, str, str, str]]
) -> None:
    estimator = ReliabilityEstimator()
    for step in before:
        apply(estimator, step)
    restored = ReliabilityEstimator.from_state(json.loads(json.dumps(estimator.to_state())))
    assert restored.to_state() == estimator.to_state()
    for step in after:
        apply(estimator, step)
        apply(restored, step)
    assert restored.to_state() == estimator.to_state()
    assert restored.reliabilities() == estimator.reliabilities()


def test_same_events_same_state(project: Crowd) -> None:
    first = stream(Crowd(project.labels[:600], project.truth), ReliabilitySettings())
    second = stream(Crowd(project.labels[:600], project.truth), ReliabilitySettings())
    assert first.to_state() == second.to_state()


def test_settings_travel_with_the_state() -> None:
    settings = ReliabilitySettings(
        model=ReliabilityModel.ONE_COIN,
        prior=ReliabilityPrior(accuracy=0.6, strength=3.0, class_count=0.5),
        refresh_tasks_per_label=5,
    )
    estimator = ReliabilityEstimator(settings)
    estimator.add_label("t1", "a", "x")
    assert ReliabilityEstimator.from_state(estimator.to_state()).settings == settings


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(version=2), "version 2"),
        (lambda s: s.pop("tasks"), "malformed"),
        (lambda s: s.update(class_mass=[1.0, 2.0]), "class_mass"),
        (lambda s: s.update(labels=["x", "x"]), "twice"),
        (lambda s: s.update(queue=[]), "queue"),
        (lambda s: s["annotators"]["a"].update(labels=0), "labels"),
    ],
)
def test_bad_states_are_refused(change: object, message: str) -> None:
    estimator = ReliabilityEstimator()
    estimator.add_label("t1", "a", "x")
    state = estimator.to_state()
    change(state)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        ReliabilityEstimator.from_state(state)


# -- the numbers of the numpy formulas, bit for bit ------------------------------------------
# The estimator computes in Python floats, caches the class prior and batches its numpy
# calls; these references are the numpy array formulas of the M-step (assignment.confusion)
# and E-step, applied to its state: every number must be equal, not close.


def reference_reliability(state: dict[str, Any], settings: ReliabilitySettings,
                          annotator: str) -> float:
    body = state["annotators"][annotator]
    errors = error_matrices(np.array([body["counts"]]), np.array([float(body["labels"])]),
                            settings.model, settings.prior)[0]
    pi = class_prior(np.array(state["class_mass"]), len(state["tasks"]), settings.prior)
    return float(expected_accuracy(errors[None], pi)[0])


def reference_posterior(state: dict[str, Any], settings: ReliabilitySettings,
                        labels: dict[str, str]) -> list[float]:
    """The E-step of a task with ``labels`` under the state's parameters."""
    names, prior = state["labels"], settings.prior
    k = len(names)
    pi = class_prior(np.array(state["class_mass"]), len(state["tasks"]), prior)
    log_posterior = np.log(np.maximum(pi, EPSILON))
    pseudo = prior.confusion_pseudo_counts(k)
    for annotator, label in labels.items():
        code = names.index(label)
        body = state["annotators"].get(annotator)
        counts = np.zeros((k, k)) if body is None else np.array(body["counts"])
        if settings.model is ReliabilityModel.DAWID_SKENE:
            if body is None:
                row = np.log(pseudo[code] / prior.strength)
            else:
                row = np.log(np.maximum(counts[code] + pseudo[code], EPSILON)
                             / (counts.sum(axis=0) + prior.strength))
        else:
            given = 0 if body is None else body["labels"]
            skill = ((float(counts.trace()) + prior.strength * prior.accuracy)
                     / (given + prior.strength))
            low, high = EPSILON, 1.0 - EPSILON
            wrong = min(max((1.0 - skill) / (k - 1), low), high) if k > 1 else low
            row = np.full(k, math.log(wrong))
            row[code] = math.log(min(max(skill, low), high))
        log_posterior += row
    return normalize_log(log_posterior).tolist()


five_label_operations = st.lists(
    st.tuples(
        st.sampled_from(["add", "add", "add", "add", "remove", "remove_task", "refresh"]),
        st.sampled_from(["t1", "t2", "t3", "t4", "t5"]),
        st.sampled_from(["a", "b", "c", "d"]),
        st.sampled_from(["x", "y", "z", "w", "v"]),  # K up to 5: BLAS's longer dot products
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(five_label_operations, st.sampled_from(list(ReliabilityModel)))
def test_reliability_and_e_step_are_the_numpy_formulas_bit_for_bit(
    steps: list[tuple[str, str, str, str]], model: ReliabilityModel
) -> None:
    settings_ = ReliabilitySettings(model=model)
    estimator = ReliabilityEstimator(settings_)
    for step in steps:
        apply(estimator, step)
        # Read after every step: the class prior cached by these reads must be dropped by
        # the next step's change of the counts, the task count or the labels.
        state = estimator.to_state()
        for annotator in state["annotators"]:
            assert estimator.reliability(annotator) == reference_reliability(
                state, settings_, annotator)
    state = estimator.to_state()
    queued = [task for task in state["queue"] if task in state["tasks"]]
    if queued:  # the next refresh re-runs the E-step of the first queued task
        task = queued[0]
        expected = reference_posterior(state, settings_, state["tasks"][task]["labels"])
        estimator.refresh(1)
        assert list(estimator.posterior(task).values()) == expected


def test_a_cached_class_prior_is_dropped_when_a_label_changes() -> None:
    estimator = ReliabilityEstimator()
    estimator.add_label("t1", "a", "x")
    estimator.add_label("t1", "b", "x")
    before = estimator.reliability("a")  # caches the class prior
    for change in (lambda: estimator.add_label("t2", "b", "y"),  # a new label: K grows
                   lambda: estimator.add_label("t1", "b", "y"),
                   lambda: estimator.remove_label("t2", "b"),
                   lambda: estimator.remove_task("t1")):
        change()
        fresh = ReliabilityEstimator.from_state(estimator.to_state())  # nothing cached
        for annotator in ("a", "b"):
            assert estimator.reliability(annotator) == fresh.reliability(annotator)
    assert estimator.reliability("a") != before


@pytest.mark.parametrize("length", range(1, 21))
def test_python_sums_are_numpys(length: int) -> None:
    """Below 8 numbers numpy sums left to right, from 8 pairwise; either way the
    estimator's sums must give its bits."""
    rng = np.random.default_rng(length)
    values = rng.random(length) * 10.0 ** rng.integers(-6, 6, length)
    assert _numpy_sum(values.tolist()) == float(values.sum())
    matrix = rng.random((length, length)) * 10.0 ** rng.integers(-6, 6, (length, length))
    assert _column_sums(matrix.tolist()) == matrix.sum(axis=0).tolist()
