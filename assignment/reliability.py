"""Annotator reliability online: Dawid-Skene updated one label at a time.

The estimator keeps EM's sufficient statistics (Neal and Hinton, 1998, "A view of the
EM algorithm that justifies incremental, sparse, and other variants"): each task's
posterior over true labels, each annotator's soft confusion counts (the posterior mass
of every true label summed over the tasks they gave each label) and the class mass (the
posteriors summed over tasks). Parameters are derived from these counts on demand with
the same M-step as the batch fit (:mod:`assignment.dawid_skene`).

A new, changed or removed label re-runs the E-step of its task with the current
parameters and swaps that task's old contribution to the counts for its new one; then a
bounded *refresh* re-runs the E-step of the next ``refresh_tasks_per_label`` tasks in
round-robin order. That is incremental EM: each step costs O(labels of a task x K^2),
never a pass over the project, and its fixed points are those of batch EM with the same
prior, so as refreshes sweep the tasks the online estimate converges to the batch answer.
The approximation until then: a task's posterior was computed with the parameters of
its last E-step, which may be a sweep old.

Pseudo-counts (:class:`~assignment.dawid_skene.ReliabilityPrior`, strength > 0) are
required online: with no label yet, an annotator is assumed ``accuracy``-good, which is
what lets the first labels move any posterior (EM from scratch would start from the
majority vote instead). Counts are plain floats updated by addition and subtraction; the
rounding this accumulates is ~1e-16 per update, far below the 1e-10 probability floor.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .confusion import (
    EPSILON,
    FloatArray,
    ReliabilityModel,
    class_prior,
    error_matrices,
    expected_accuracy,
    normalize_log,
)
from .dawid_skene import ConsensusLabel
from .reliability_settings import ConsensusChanged, ReliabilitySettings

STATE_VERSION = 1
"""Version of :meth:`ReliabilityEstimator.to_state`; bump it when the layout changes."""


@dataclass(slots=True)
class _Task:
    labels: dict[str, int]  # annotator -> label code
    posterior: FloatArray  # shape (K,)


@dataclass(slots=True)
class _Annotator:
    counts: FloatArray  # shape (K, K): [given, true]
    labels: int


def _best(posterior: FloatArray, labels: list[str]) -> tuple[str, float]:
    """Most probable label; exact ties go to the smallest label (``str`` order)."""
    # Python floats: K is small, and this runs twice per E-step.
    values = posterior.tolist()
    top = max(values)
    label = min(labels[i] for i, value in enumerate(values) if value == top)
    return label, top


class ReliabilityEstimator:
    """Online Dawid-Skene (or one-coin) reliability of a project's annotators.

    Apply labels one at a time with :meth:`add_label` and :meth:`remove_label`; read
    :meth:`reliability` per annotator and :meth:`consensus` per task. Deterministic: the
    same events give the same numbers, and :meth:`to_state` / :meth:`from_state` resume
    exactly where it stopped.
    """

    def __init__(self, settings: ReliabilitySettings | None = None) -> None:
        self.settings = settings or ReliabilitySettings()
        self._labels: list[str] = []
        self._codes: dict[str, int] = {}
        self._class_mass: FloatArray = np.zeros(0)
        self._tasks: dict[str, _Task] = {}
        self._annotators: dict[str, _Annotator] = {}
        # Round-robin order of refreshes. A removed task's id stays until it comes up
        # (then it is dropped), so removal is O(1); _queued keeps one entry per id.
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()
        self._pseudo: FloatArray = np.zeros((0, 0))  # pseudo-counts for K labels, cached

    # -- events ---------------------------------------------------------------------

    def add_label(self, task: str, annotator: str, label: str) -> tuple[ConsensusChanged, ...]:
        """Count ``annotator``'s label of ``task`` (replacing their earlier one).

        Returns the consensus changes it caused: of ``task``, and of any refreshed task.
        """
        for name, value in (("task", task), ("annotator", annotator), ("label", label)):
            if type(value) is not str:
                raise ValueError(f"{name} must be a str, got {value!r}")
        code = self._code(label)
        entry = self._tasks.get(task)
        labels = {} if entry is None else dict(entry.labels)
        if labels.get(annotator) == code:
            return ()
        labels[annotator] = code
        changed = self._reestimate(task, labels)
        return changed + self.refresh(self.settings.refresh_tasks_per_label)

    def remove_label(self, task: str, annotator: str) -> tuple[ConsensusChanged, ...]:
        """Uncount ``annotator``'s label of ``task`` (deleted, rejected); a no-op if none."""
        entry = self._tasks.get(task)
        if entry is None or annotator not in entry.labels:
            return ()
        labels = {a: c for a, c in entry.labels.items() if a != annotator}
        changed = self._reestimate(task, labels)
        return changed + self.refresh(self.settings.refresh_tasks_per_label)

    def remove_task(self, task: str) -> tuple[ConsensusChanged, ...]:
        """Uncount every label of ``task`` (the task was deleted)."""
        if task not in self._tasks:
            return ()
        return self._reestimate(task, {})

    def refresh(self, task_count: int) -> tuple[ConsensusChanged, ...]:
        """Re-run the E-step of the next ``task_count`` (>= 0) tasks, round robin.

        Call it when idle to converge faster; ``len(estimator)`` refreshes are a sweep.
        """
        if type(task_count) is not int or task_count < 0:
            raise ValueError(f"task_count must be an integer >= 0, got {task_count!r}")
        changed: list[ConsensusChanged] = []
        done = 0
        while done < task_count and self._queue:
            task = self._queue.popleft()
            entry = self._tasks.get(task)
            if entry is None:
                self._queued.discard(task)
                continue
            self._queue.append(task)
            changed.extend(self._reestimate(task, entry.labels))
            done += 1
        return tuple(changed)

    # -- reads ----------------------------------------------------------------------

    def __len__(self) -> int:
        """Tasks with at least one label."""
        return len(self._tasks)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label seen, in order of first appearance."""
        return tuple(self._labels)

    def reliability(self, annotator: str) -> float:
        """Expected accuracy of ``annotator`` in [0, 1]: ``sum_c pi[c] * e[c, c]``.

        An annotator with no counted label gets ``prior.accuracy``.
        """
        if annotator not in self._annotators:
            return self.settings.prior.accuracy
        errors = self._errors(annotator)
        return float(expected_accuracy(errors[None], self._class_prior())[0])

    def ranked(self, annotators: Iterable[str]) -> list[str]:
        """``annotators`` most reliable first (ties by id), e.g. to offer a low-agreement
        task to the most reliable available annotator first."""
        reliability = {name: self.reliability(name) for name in set(annotators)}
        return sorted(reliability, key=lambda name: (-reliability[name], name))

    def reliabilities(self) -> dict[str, float]:
        """Expected accuracy of every annotator with a counted label."""
        if not self._annotators:
            return {}
        names = list(self._annotators)
        counts = np.stack([self._annotators[a].counts for a in names])
        given = np.array([float(self._annotators[a].labels) for a in names])
        errors = error_matrices(counts, given, self.settings.model, self.settings.prior)
        accuracy = expected_accuracy(errors, self._class_prior())
        return {name: float(value) for name, value in zip(names, accuracy, strict=True)}

    def consensus(self, task: str) -> ConsensusLabel | None:
        """The task's most probable label and its posterior; ``None`` with no label."""
        entry = self._tasks.get(task)
        if entry is None:
            return None
        label, posterior = _best(entry.posterior, self._labels)
        return ConsensusLabel(task, label, posterior)

    def posterior(self, task: str) -> dict[str, float]:
        """The task's posterior probability of each label; empty with no label."""
        entry = self._tasks.get(task)
        if entry is None:
            return {}
        return {label: float(p) for label, p in zip(self._labels, entry.posterior, strict=True)}

    # -- EM steps ---------------------------------------------------------------------

    def _code(self, label: str) -> int:
        code = self._codes.get(label)
        if code is not None:
            return code
        # A new label widens every array by one (zero mass): rare, and O(tasks) once.
        code = len(self._labels)
        self._labels.append(label)
        self._codes[label] = code
        self._class_mass = np.append(self._class_mass, 0.0)
        for entry in self._tasks.values():
            entry.posterior = np.append(entry.posterior, 0.0)
        for annotator in self._annotators.values():
            annotator.counts = np.pad(annotator.counts, ((0, 1), (0, 1)))
        return code

    def _class_prior(self) -> FloatArray:
        return class_prior(self._class_mass, len(self._tasks), self.settings.prior)

    def _errors(self, annotator: str) -> FloatArray:
        """Shape (K, K): the annotator's confusion matrix, as the batch M-step makes it."""
        k = len(self._labels)
        entry = self._annotators.get(annotator)
        counts = np.zeros((1, k, k)) if entry is None else entry.counts[None]
        given = np.array([0.0 if entry is None else float(entry.labels)])
        return error_matrices(counts, given, self.settings.model, self.settings.prior)[0]

    def _log_error_row(self, annotator: str, code: int) -> FloatArray:
        """``log e[code, :]`` of the annotator: the same numbers as a row of
        :meth:`_errors` (up to rounding), with a few array operations, not a K x K
        matrix, since this runs for every label of every E-step."""
        prior = self.settings.prior
        entry = self._annotators.get(annotator)
        k = len(self._labels)
        if self.settings.model is ReliabilityModel.DAWID_SKENE:
            pseudo = self._pseudo_counts()
            if entry is None:
                return np.log(pseudo[code] / prior.strength)
            # Pseudo-counts above 0 keep every cell above the floor, so the column sums
            # need no clip: the counts' column sums plus the pseudo column's ``strength``.
            row = np.maximum(entry.counts[code] + pseudo[code], EPSILON)
            return np.log(row / (entry.counts.sum(axis=0) + prior.strength))
        correct = 0.0 if entry is None else float(entry.counts.trace())
        given = 0 if entry is None else entry.labels
        skill = (correct + prior.strength * prior.accuracy) / (given + prior.strength)
        low, high = EPSILON, 1.0 - EPSILON
        wrong = min(max((1.0 - skill) / (k - 1), low), high) if k > 1 else low
        row = np.full(k, math.log(wrong))
        row[code] = math.log(min(max(skill, low), high))
        return row

    def _pseudo_counts(self) -> FloatArray:
        k = len(self._labels)
        if self._pseudo.shape[0] != k:
            self._pseudo = self.settings.prior.confusion_pseudo_counts(k)
        return self._pseudo

    def _e_step(self, labels: Mapping[str, int]) -> FloatArray:
        log_posterior = np.log(np.maximum(self._class_prior(), EPSILON))
        for annotator, code in labels.items():
            log_posterior += self._log_error_row(annotator, code)
        return normalize_log(log_posterior)

    def _reestimate(self, task: str, labels: dict[str, int]) -> tuple[ConsensusChanged, ...]:
        """E-step of ``task`` with ``labels`` under the current parameters, then swap the
        task's contribution to the counts (Neal and Hinton's incremental step)."""
        old = self._tasks.get(task)
        posterior = self._e_step(labels) if labels else None
        if old is not None:
            self._count(old.labels, old.posterior, -1)
            previous: str | None = _best(old.posterior, self._labels)[0]
        else:
            previous = None
        if posterior is None:
            self._tasks.pop(task, None)
            if not self._tasks:
                self._class_mass = np.zeros(len(self._labels))  # no rounding left over
            return () if previous is None else (ConsensusChanged(task, None, None, previous),)
        self._count(labels, posterior, +1)
        if old is None:
            self._tasks[task] = _Task(labels, posterior)
            if task not in self._queued:
                self._queued.add(task)
                self._queue.append(task)
        else:
            old.labels, old.posterior = labels, posterior
        label, top = _best(posterior, self._labels)
        if label == previous:
            return ()
        return (ConsensusChanged(task, label, top, previous),)

    def _count(self, labels: Mapping[str, int], posterior: FloatArray, sign: int) -> None:
        """Add (``sign`` +1) or take out (-1) a task's contribution to the counts."""
        k = len(self._labels)
        update = np.add if sign > 0 else np.subtract
        update(self._class_mass, posterior, out=self._class_mass)
        for annotator, code in labels.items():
            entry = self._annotators.get(annotator)
            if entry is None:
                entry = self._annotators[annotator] = _Annotator(np.zeros((k, k)), 0)
            row = entry.counts[code]
            update(row, posterior, out=row)
            entry.labels += sign
            if entry.labels == 0:
                # Their last label left: forget the rounding residue with them.
                del self._annotators[annotator]

    # -- state ------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """JSON-able state; :meth:`from_state` resumes from it bit for bit.

        Layout, version 1::

            {"version": 1, "settings": {...}, "labels": [label, ...],
             "class_mass": [K floats],
             "annotators": {"<id>": {"labels": n, "counts": [[K floats] x K]}},
             "tasks": {"<id>": {"labels": {"<annotator>": label}, "posterior": [K]}},
             "queue": ["<task id>", ...]}

        The counts are stored, not rebuilt from the posteriors, so a restored estimator
        carries the same rounding and gives the same bits as one that never stopped.
        """
        labels = self._labels
        return {
            "version": STATE_VERSION,
            "settings": self.settings.to_dict(),
            "labels": list(labels),
            "class_mass": self._class_mass.tolist(),
            "annotators": {
                name: {"labels": entry.labels, "counts": entry.counts.tolist()}
                for name, entry in self._annotators.items()
            },
            "tasks": {
                name: {
                    "labels": {a: labels[code] for a, code in entry.labels.items()},
                    "posterior": entry.posterior.tolist(),
                }
                for name, entry in self._tasks.items()
            },
            "queue": list(self._queue),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ReliabilityEstimator:
        """Rebuild from :meth:`to_state` output; ``ValueError`` if it does not fit."""
        version = state.get("version") if isinstance(state, Mapping) else None
        if version != STATE_VERSION:
            raise ValueError(
                f"reliability state is version {version!r}, expected {STATE_VERSION}; "
                "rebuild it by replaying the labels"
            )
        try:
            return cls._restore(state)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"reliability state is malformed ({exc!r}); rebuild it") from None

    @classmethod
    def _restore(cls, state: Mapping[str, Any]) -> ReliabilityEstimator:
        estimator = cls(ReliabilitySettings.from_dict(state["settings"]))
        labels = [str(label) for label in state["labels"]]
        k = len(labels)
        estimator._labels = labels
        estimator._codes = {label: i for i, label in enumerate(labels)}
        if len(estimator._codes) != k:
            raise ValueError("reliability state lists a label twice; rebuild it")

        def vector(values: Any, shape: tuple[int, ...], what: str) -> FloatArray:
            array = np.array(values, dtype=np.float64)
            if array.shape != shape or not np.all(np.isfinite(array)):
                raise ValueError(f"reliability state: {what} is not {shape} finite numbers")
            return array

        estimator._class_mass = vector(state["class_mass"], (k,), "class_mass")
        for name, body in state["annotators"].items():
            given = body["labels"]
            if type(given) is not int or given < 1:
                raise ValueError(f"reliability state: annotator {name!r} has {given!r} labels")
            counts = vector(body["counts"], (k, k), f"counts of {name!r}")
            estimator._annotators[name] = _Annotator(counts, given)
        for name, body in state["tasks"].items():
            codes = {a: estimator._codes[label] for a, label in body["labels"].items()}
            if not codes:
                raise ValueError(f"reliability state: task {name!r} has no label")
            posterior = vector(body["posterior"], (k,), f"posterior of {name!r}")
            estimator._tasks[name] = _Task(codes, posterior)
        queue = [str(task) for task in state["queue"]]
        estimator._queue = deque(queue)
        estimator._queued = set(queue)
        if len(estimator._queued) != len(queue) or not estimator._tasks.keys() <= set(queue):
            raise ValueError("reliability state: the refresh queue does not list each task once")
        return estimator
