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

K (labels) is small, so the counts are Python lists, not numpy arrays: an E-step is a few
dozen float operations, and numpy's overhead per call on arrays of 2-5 numbers cost more
than the arithmetic. The arithmetic is the batch M-step's (:mod:`assignment.confusion`)
to the last bit: the same operations in the same order (numpy sums fewer than 8 numbers
left to right, see :func:`_numpy_sum`), with numpy's own ``log``, ``exp`` and dot product,
which may round differently from :mod:`math` on CPUs with vector versions of them.
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
    error_matrices,
    expected_accuracy,
)
from .dawid_skene import ConsensusLabel
from .reliability_settings import ConsensusChanged, ReliabilitySettings

STATE_VERSION = 1
"""Version of :meth:`ReliabilityEstimator.to_state`; bump it when the layout changes."""


Vector = list[float]  # K floats


@dataclass(slots=True)
class _Task:
    labels: dict[str, int]  # annotator -> label code
    posterior: Vector
    label: str  # _best(posterior): a new label, with no mass, never changes it


@dataclass(slots=True)
class _Annotator:
    counts: list[Vector]  # K x K: [given][true]
    labels: int


def _best(posterior: Vector, labels: list[str]) -> tuple[str, float]:
    """Most probable label; exact ties go to the smallest label (``str`` order)."""
    top = max(posterior)
    label = min(labels[i] for i, value in enumerate(posterior) if value == top)
    return label, top


def _numpy_sum(values: Vector) -> float:
    """``np.sum`` of the values as a 1-D array, bit for bit: numpy adds fewer than 8
    numbers left to right from 0 (beyond that, pairwise). Not :func:`sum`, which sums
    floats with compensation from Python 3.12."""
    if len(values) >= 8:
        return float(np.add.reduce(np.array(values)))
    total = 0.0
    for value in values:
        total += value
    return total


def _column_sums(rows: list[Vector]) -> Vector:
    """``np.sum(rows, axis=0)`` bit for bit: numpy adds the rows one after the other."""
    sums = rows[0]
    for row in rows[1:]:
        sums = [total + value for total, value in zip(sums, row, strict=True)]
    return list(sums)


def _plus(total: Vector, values: Vector, sign: int) -> Vector:
    """``total + values`` (``sign`` +1) or ``total - values`` (-1), elementwise."""
    if sign > 0:
        return [a + b for a, b in zip(total, values, strict=True)]
    return [a - b for a, b in zip(total, values, strict=True)]


def _normalize_log(log_posterior: Vector) -> Vector:
    """:func:`~assignment.confusion.normalize_log` of one row, bit for bit."""
    top = max(log_posterior)
    shifted = np.exp([value - top for value in log_posterior]).tolist()
    total = _numpy_sum(shifted)
    return [value / total for value in shifted]


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
        self._class_mass: Vector = []
        self._tasks: dict[str, _Task] = {}
        self._annotators: dict[str, _Annotator] = {}
        # Round-robin order of refreshes. A removed task's id stays until it comes up
        # (then it is dropped), so removal is O(1); _queued keeps one entry per id.
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()
        self._pseudo: list[Vector] = []  # pseudo-counts for K labels, cached
        # The class prior, derived from _class_mass and the task count: cached, as every
        # reliability read after a fact uses it; None after either changes.
        self._prior: Vector | None = None
        self._prior_array: FloatArray | None = None  # the same, for numpy's dot product

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
        entry = self._annotators.get(annotator)
        if entry is None:
            return self.settings.prior.accuracy
        # expected_accuracy reads only the diagonal of the confusion matrix; its dot
        # product stays numpy's, which rounds as its BLAS does.
        errors = np.diag(self._error_diagonal(entry))
        return float(expected_accuracy(errors[None], self._class_prior_array())[0])

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
        counts = np.array([self._annotators[a].counts for a in names])
        given = np.array([float(self._annotators[a].labels) for a in names])
        errors = error_matrices(counts, given, self.settings.model, self.settings.prior)
        accuracy = expected_accuracy(errors, self._class_prior_array())
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
        return dict(zip(self._labels, entry.posterior, strict=True))

    # -- EM steps ---------------------------------------------------------------------

    def _code(self, label: str) -> int:
        code = self._codes.get(label)
        if code is not None:
            return code
        # A new label widens every array by one (zero mass): rare, and O(tasks) once.
        code = len(self._labels)
        self._labels.append(label)
        self._codes[label] = code
        self._class_mass.append(0.0)
        self._forget_prior()
        for entry in self._tasks.values():
            entry.posterior.append(0.0)
        for annotator in self._annotators.values():
            for row in annotator.counts:
                row.append(0.0)
            annotator.counts.append([0.0] * (code + 1))
        return code

    def _class_prior(self) -> Vector:
        """:func:`~assignment.confusion.class_prior` in Python floats, cached."""
        if self._prior is None:
            prior, k = self.settings.prior, len(self._labels)
            total = len(self._tasks) + prior.class_count * k
            if total <= 0.0:
                self._prior = [1.0 / k] * k
            else:
                self._prior = [(mass + prior.class_count) / total for mass in self._class_mass]
        return self._prior

    def _class_prior_array(self) -> FloatArray:
        if self._prior_array is None:
            self._prior_array = np.array(self._class_prior())
        return self._prior_array

    def _forget_prior(self) -> None:
        self._prior = self._prior_array = None

    def _error_diagonal(self, entry: _Annotator) -> Vector:
        """``e[c, c]`` of the annotator's confusion matrix for each label ``c``, as
        :func:`~assignment.confusion.error_matrices` makes it."""
        prior = self.settings.prior
        k = len(self._labels)
        if self.settings.model is ReliabilityModel.DAWID_SKENE:
            pseudo = self._pseudo_counts()
            floored = [
                [max(count + extra, EPSILON) for count, extra in zip(row, extras, strict=True)]
                for row, extras in zip(entry.counts, pseudo, strict=True)
            ]
            columns = _column_sums(floored)
            return [floored[c][c] / columns[c] for c in range(k)]
        correct = _numpy_sum([entry.counts[c][c] for c in range(k)])
        skill = (correct + prior.strength * prior.accuracy) / (entry.labels + prior.strength)
        return [min(max(skill, EPSILON), 1.0 - EPSILON)] * k

    def _one_coin_log_row(self, annotator: str, code: int) -> Vector:
        """``log e[code, :]`` of the annotator, one-coin model."""
        prior = self.settings.prior
        entry = self._annotators.get(annotator)
        k = len(self._labels)
        correct = 0.0 if entry is None else _numpy_sum([entry.counts[c][c] for c in range(k)])
        given = 0 if entry is None else entry.labels
        skill = (correct + prior.strength * prior.accuracy) / (given + prior.strength)
        low, high = EPSILON, 1.0 - EPSILON
        wrong = min(max((1.0 - skill) / (k - 1), low), high) if k > 1 else low
        row = [math.log(wrong)] * k
        row[code] = math.log(min(max(skill, low), high))
        return row

    def _pseudo_counts(self) -> list[Vector]:
        k = len(self._labels)
        if len(self._pseudo) != k:
            self._pseudo = self.settings.prior.confusion_pseudo_counts(k).tolist()
        return self._pseudo

    def _e_step(self, labels: Mapping[str, int]) -> Vector:
        k = len(self._labels)
        logs = [p if p > EPSILON else EPSILON for p in self._class_prior()]
        if self.settings.model is ReliabilityModel.DAWID_SKENE:
            # Each label's row ``e[code, :]`` before the logarithm, then one np.log of
            # the prior and every row together: one numpy call, not one per row.
            strength = self.settings.prior.strength
            pseudo = self._pseudo_counts()
            for annotator, code in labels.items():
                entry = self._annotators.get(annotator)
                if entry is None:
                    logs += [extra / strength for extra in pseudo[code]]
                    continue
                # Pseudo-counts above 0 keep every cell above the floor, so the column
                # sums need no clip: the counts' column sums plus the pseudo column's
                # ``strength``.
                columns = _column_sums(entry.counts)
                logs += [
                    (count + extra if count + extra > EPSILON else EPSILON) / (total + strength)
                    for count, extra, total in zip(entry.counts[code], pseudo[code], columns,
                                                   strict=True)
                ]
            logs = np.log(logs).tolist()
            rows = [logs[start:start + k] for start in range(k, len(logs), k)]
        else:
            logs = np.log(logs).tolist()
            rows = [self._one_coin_log_row(annotator, code) for annotator, code in labels.items()]
        log_posterior = logs[:k]
        for row in rows:  # in label order, as the array sum was
            log_posterior = [total + value for total, value in zip(log_posterior, row, strict=True)]
        return _normalize_log(log_posterior)

    def _reestimate(self, task: str, labels: dict[str, int]) -> tuple[ConsensusChanged, ...]:
        """E-step of ``task`` with ``labels`` under the current parameters, then swap the
        task's contribution to the counts (Neal and Hinton's incremental step)."""
        old = self._tasks.get(task)
        posterior = self._e_step(labels) if labels else None
        self._forget_prior()  # the counts and maybe the task count change below
        if old is not None:
            self._count(old.labels, old.posterior, -1)
        previous = None if old is None else old.label
        if posterior is None:
            self._tasks.pop(task, None)
            if not self._tasks:
                self._class_mass = [0.0] * len(self._labels)  # no rounding left over
            return () if previous is None else (ConsensusChanged(task, None, None, previous),)
        self._count(labels, posterior, +1)
        label, top = _best(posterior, self._labels)
        if old is None:
            self._tasks[task] = _Task(labels, posterior, label)
            if task not in self._queued:
                self._queued.add(task)
                self._queue.append(task)
        else:
            old.labels, old.posterior, old.label = labels, posterior, label
        if label == previous:
            return ()
        return (ConsensusChanged(task, label, top, previous),)

    def _count(self, labels: Mapping[str, int], posterior: Vector, sign: int) -> None:
        """Add (``sign`` +1) or take out (-1) a task's contribution to the counts."""
        k = len(self._labels)
        self._class_mass = _plus(self._class_mass, posterior, sign)
        for annotator, code in labels.items():
            entry = self._annotators.get(annotator)
            if entry is None:
                entry = self._annotators[annotator] = _Annotator([[0.0] * k for _ in range(k)], 0)
            entry.counts[code] = _plus(entry.counts[code], posterior, sign)
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
            "class_mass": list(self._class_mass),
            "annotators": {
                name: {"labels": entry.labels, "counts": [list(row) for row in entry.counts]}
                for name, entry in self._annotators.items()
            },
            "tasks": {
                name: {
                    "labels": {a: labels[code] for a, code in entry.labels.items()},
                    "posterior": list(entry.posterior),
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

        def vector(values: Any, shape: tuple[int, ...], what: str) -> Any:
            array = np.array(values, dtype=np.float64)
            if array.shape != shape or not np.all(np.isfinite(array)):
                raise ValueError(f"reliability state: {what} is not {shape} finite numbers")
            return array.tolist()

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
            estimator._tasks[name] = _Task(codes, posterior, _best(posterior, labels)[0])
        queue = [str(task) for task in state["queue"]]
        estimator._queue = deque(queue)
        estimator._queued = set(queue)
        if len(estimator._queued) != len(queue) or not estimator._tasks.keys() <= set(queue):
            raise ValueError("reliability state: the refresh queue does not list each task once")
        return estimator
