"""Model evaluation: each model version's agreement, over time, and regressions.

Per model version and per metric (agreement with annotators, with the consensus, with
ground truth; see :mod:`assignment.prediction_scores`), the mean score over the
version's scored predictions, overall and per time bucket, kept up to date one task at
a time. Predictions never count toward a task's overlap or agreement. Settings, the
event and the figures are in :mod:`assignment.model_settings`.

Time: a prediction's scores count in the bucket of the ``now`` at which they last
changed (a task is re-scored when a person annotates it or its ground truth is set), so
a version's timeline shows its agreement with the work done in each bucket. Buckets
are ``bucket_seconds`` long, aligned on the epoch (UTC days by default).

Settings can change at any time (:meth:`ModelEvaluation.reconfigure`), predictions
scored or not: each prediction keeps the time it was scored at, so the timeline is
re-bucketed and the regression rule re-tested from the stored scores, and the result is
the evaluation the new settings would have given from the start.

Regression: versions are ordered by the time each was first seen (the earliest ``now``
a prediction of it was scored at; ties by name), and "the one before" a version is the
version just before it in that order. :class:`ModelRegressed` is emitted when a
version's mean on a metric falls more than ``regression_margin`` below the one before's,
both over at least ``min_scored_tasks`` scored predictions; once per (version, metric)
until it recovers. :class:`ModelRecovered` closes the alert when the rule stops holding
(back within the margin, too few scored tasks, no version before it any more, or the
metric no longer watched). Label Studio Enterprise shows model-version agreement but has no such
alert, so margin and minimum are Quorum's defaults.

Sums are exact (:class:`agreement.stats.sums.ExactSum`): after any sequence of updates
and removals each mean equals a recompute from the current scores, to the bit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agreement import ResultItem, ScoringConfig
from agreement.stats.sums import ExactSum

from .model_settings import (
    METRICS,
    MetricMean,
    ModelAlert,
    ModelEvaluationSettings,
    ModelMetric,
    ModelRecovered,
    ModelRegressed,
    ModelScores,
    RecoveryReason,
)
from .prediction_scores import Prediction, PredictionScore, score_predictions

STATE_VERSION = 2
"""Version of :meth:`ModelEvaluation.to_state`; bump it when the layout changes.

Version 2 keeps each prediction's scoring time where version 1 kept its bucket start,
which cannot be re-bucketed when ``bucket_seconds`` changes."""


class _Tally:
    """Prediction count and per-metric (count, exact sum)."""

    __slots__ = ("counts", "predictions", "sums")

    def __init__(self) -> None:
        self.predictions = 0
        self.counts = [0, 0, 0]
        self.sums = [ExactSum(), ExactSum(), ExactSum()]

    def shift(self, values: tuple[float | None, ...], sign: int) -> None:
        self.predictions += sign
        for i, value in enumerate(values):
            if value is not None:
                self.counts[i] += sign
                self.sums[i].add(sign * value)

    def mean(self, metric: int) -> float | None:
        count = self.counts[metric]
        return self.sums[metric].value / count if count else None

    def scores(self, version: str, start: float) -> ModelScores:
        means = [MetricMean(self.mean(i), self.counts[i]) for i in range(3)]
        return ModelScores(version, start, self.predictions, *means)


@dataclass(slots=True)
class _Version:
    first_seen: float
    total: _Tally = field(default_factory=_Tally)
    buckets: dict[float, _Tally] = field(default_factory=dict)


# One stored prediction: (when its scores last changed, its scores).
_Stored = tuple[float, PredictionScore]


def _check_time(now: float) -> float:
    if isinstance(now, bool) or not isinstance(now, int | float) or not math.isfinite(now):
        raise ValueError(f"now must be a finite number of seconds since the epoch, got {now!r}")
    return float(now)


def _check_settings(settings: object) -> ModelEvaluationSettings:
    if not isinstance(settings, ModelEvaluationSettings):
        raise ValueError(f"settings must be a ModelEvaluationSettings, got {settings!r}")
    return settings


class ModelEvaluation:
    """Model versions' agreement for one project, updated one task at a time.

    Give each task's prediction scores with :meth:`update_task` (or let
    :meth:`score_task` score them) every time the task changes; read :meth:`scores`,
    :meth:`timeline` and the :class:`ModelRegressed` and :class:`ModelRecovered` events
    the updates return.
    """

    def __init__(self, settings: ModelEvaluationSettings | None = None) -> None:
        self._settings = _check_settings(settings or ModelEvaluationSettings())
        self._tasks: dict[str, dict[str, _Stored]] = {}
        self._versions: dict[str, _Version] = {}
        self._order: list[str] = []  # by (first seen, name)
        self._regressed: set[tuple[str, ModelMetric]] = set()

    # -- events ---------------------------------------------------------------------

    def update_task(
        self, task: str, scores: Mapping[str, PredictionScore], now: float
    ) -> tuple[ModelAlert, ...]:
        """Replace the scores of ``task``'s predictions (prediction id -> scores).

        A prediction missing from ``scores`` is removed; one whose scores did not
        change keeps its scoring time (and bucket), the others are scored at ``now``.
        Cost: the task's predictions, plus two versions per touched version for the
        regression check (every version when the first-seen order changes).
        """
        if type(task) is not str:
            raise ValueError(f"task must be a str, got {task!r}")
        now = _check_time(now)
        old = self._tasks.get(task, {})
        new: dict[str, _Stored] = {}
        for key, score in scores.items():
            if type(key) is not str or not isinstance(score, PredictionScore):
                raise ValueError(
                    f"scores must map prediction ids (str) to PredictionScore, got {key!r}: "
                    f"{score!r}"
                )
            kept = old.get(key)
            new[key] = kept if kept is not None and kept[1] == score else (now, score)
        touched: set[str] = set()
        for key, stored in old.items():
            if new.get(key) is not stored:
                self._shift(stored, -1)
                touched.add(stored[1].model_version)
        reordered = False
        for key, stored in new.items():
            if old.get(key) is not stored:
                reordered |= self._see(stored[1].model_version, now)
                self._shift(stored, +1)
                touched.add(stored[1].model_version)
        if new:
            self._tasks[task] = new
        else:
            self._tasks.pop(task, None)
        return self._check(None if reordered else touched)

    def score_task(
        self,
        task: str,
        *,
        predictions: Mapping[str, Prediction],
        annotations: Mapping[str, list[ResultItem]],
        now: float,
        ground_truth: list[ResultItem] | None = None,
        consensus: list[ResultItem] | None = None,
        config: ScoringConfig | None = None,
    ) -> tuple[ModelAlert, ...]:
        """Score ``task``'s predictions (:func:`score_predictions`) and apply them."""
        scores = score_predictions(
            predictions, annotations, ground_truth=ground_truth, consensus=consensus,
            config=config,
        )
        return self.update_task(task, scores, now)

    def remove_task(self, task: str) -> tuple[ModelAlert, ...]:
        """Remove every prediction score of ``task`` (the task was deleted)."""
        old = self._tasks.pop(task, None)
        if old is None:
            return ()
        for stored in old.values():
            self._shift(stored, -1)
        return self._check({stored[1].model_version for stored in old.values()})

    def reconfigure(self, settings: ModelEvaluationSettings) -> tuple[ModelAlert, ...]:
        """Apply new settings to every prediction, scored before or after the change.

        A new ``bucket_seconds`` re-buckets the timeline by the stored scoring times;
        the regression rule is re-tested for every version under the new margin, minimum
        and metrics. Returns :class:`ModelRegressed` for the pairs that regress now and
        did not before, :class:`ModelRecovered` for those that stopped (as when scores
        recover; ``no_longer_watched`` for a metric the settings dropped); nothing when
        the settings are the ones in use. The overall
        figures do not depend on the settings. Cost: the stored predictions when the
        buckets change, plus every version's pairs.
        """
        settings = _check_settings(settings)
        old = self._settings
        if settings == old:
            return ()
        self._settings = settings
        if settings.bucket_seconds != old.bucket_seconds:
            self._rebucket()
        # A metric no longer watched has no regression to keep: its alert is closed, and
        # watched again later, it alerts afresh.
        watched = set(settings.regression_metrics)
        dropped = sorted(key for key in self._regressed if key[1] not in watched)
        closed = [self._recovered(version, metric, RecoveryReason.NO_LONGER_WATCHED)
                  for version, metric in dropped]
        self._regressed.difference_update(dropped)
        return (*closed, *self._check(None))

    # -- reads ----------------------------------------------------------------------

    @property
    def settings(self) -> ModelEvaluationSettings:
        """The settings in use; change them with :meth:`reconfigure`."""
        return self._settings

    def versions(self) -> list[str]:
        """Every model version seen, by first-seen time (ties by name)."""
        return list(self._order)

    def previous_version(self, version: str) -> str | None:
        """The version seen just before ``version``; ``None`` for the first."""
        position = self._order.index(self._version(version)[0])
        return self._order[position - 1] if position else None

    def scores(self, version: str) -> ModelScores:
        """The version's agreement over all its predictions; ``start`` is first seen."""
        name, entry = self._version(version)
        return entry.total.scores(name, entry.first_seen)

    def timeline(self, version: str) -> list[ModelScores]:
        """The version's agreement per time bucket with a prediction, oldest first."""
        name, entry = self._version(version)
        return [entry.buckets[start].scores(name, start) for start in sorted(entry.buckets)]

    def regressions(self) -> list[tuple[str, ModelMetric]]:
        """(version, metric) currently regressed against the version before, sorted."""
        return sorted(self._regressed)

    def _version(self, version: str) -> tuple[str, _Version]:
        entry = self._versions.get(version)
        if entry is None:
            raise ValueError(f"model version {version!r} has no scored prediction")
        return version, entry

    # -- bookkeeping ------------------------------------------------------------------

    def _see(self, version: str, now: float) -> bool:
        """Note that ``version`` was scored at ``now``; True if the order changed."""
        entry = self._versions.get(version)
        if entry is not None and entry.first_seen <= now:
            return False
        if entry is None:
            self._versions[version] = _Version(now)
            self._order.append(version)
        else:
            entry.first_seen = now
        self._order.sort(key=lambda name: (self._versions[name].first_seen, name))
        return True

    def _shift(self, stored: _Stored, sign: int) -> None:
        entry = self._versions[stored[1].model_version]
        entry.total.shift(stored[1].values, sign)
        self._shift_bucket(entry, stored, sign)

    def _shift_bucket(self, entry: _Version, stored: _Stored, sign: int) -> None:
        time, score = stored
        width = self._settings.bucket_seconds
        start = math.floor(time / width) * width
        tally = entry.buckets.get(start)
        if tally is None:
            tally = entry.buckets[start] = _Tally()
        tally.shift(score.values, sign)
        if tally.predictions == 0:
            del entry.buckets[start]

    def _rebucket(self) -> None:
        """Rebuild every version's buckets from the stored scoring times; the sums are
        exact, so the figures equal the ones updates under these settings would give."""
        for entry in self._versions.values():
            entry.buckets = {}
        for predictions in self._tasks.values():
            for stored in predictions.values():
                self._shift_bucket(self._versions[stored[1].model_version], stored, +1)

    def _check(self, touched: set[str] | None) -> tuple[ModelAlert, ...]:
        """Re-test the regression rule for ``touched`` versions and the ones after them
        (all versions when ``None``); events for pairs that just started or stopped to
        regress."""
        order = self._order
        checked: Sequence[int]
        if touched is None:
            checked = range(len(order))
        else:
            position = {name: i for i, name in enumerate(order)}
            around = {position[v] for v in touched} | {position[v] + 1 for v in touched}
            checked = range(len(order)) if len(around) > len(order) else sorted(around)
        margin = self._settings.regression_margin
        minimum = self._settings.min_scored_tasks
        events: list[ModelAlert] = []
        for i in checked:
            if i >= len(order):
                continue
            version = order[i]
            new = self._versions[version].total
            before = self._versions[order[i - 1]].total if i else None
            for metric in self._settings.regression_metrics:
                m = METRICS.index(metric)
                key = (version, metric)
                new_mean = new.mean(m)
                old_mean = None if before is None else before.mean(m)
                # Why the rule does not hold, or None: it does.
                why: RecoveryReason | None
                if before is None:
                    why = RecoveryReason.NO_PREVIOUS_VERSION
                elif (new_mean is None or old_mean is None
                      or min(new.counts[m], before.counts[m]) < minimum):
                    why = RecoveryReason.TOO_FEW_SCORED_TASKS
                elif old_mean - new_mean <= margin:
                    why = RecoveryReason.WITHIN_MARGIN
                else:
                    why = None
                if why is not None:
                    if key in self._regressed:
                        self._regressed.discard(key)
                        events.append(self._recovered(version, metric, why))
                elif key not in self._regressed:
                    assert new_mean is not None and old_mean is not None
                    self._regressed.add(key)
                    events.append(
                        ModelRegressed(version, order[i - 1], metric, new_mean, old_mean, margin)
                    )
        return tuple(events)

    def _recovered(self, version: str, metric: ModelMetric, reason: RecoveryReason
                   ) -> ModelRecovered:
        """The event that closes ``version``'s alert on ``metric``, with the figures now."""
        m = METRICS.index(metric)
        position = self._order.index(version)  # versions, once seen, are never dropped
        previous = self._order[position - 1] if position else None
        return ModelRecovered(
            version, previous, metric, self._versions[version].total.mean(m),
            None if previous is None else self._versions[previous].total.mean(m),
            self._settings.regression_margin, reason,
        )

    # -- state ------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """JSON-able state; the sums are rebuilt by :meth:`from_state`, exactly.

        Layout, version 2::

            {"version": 2, "settings": {...},
             "first_seen": {"<model version>": seconds, ...},
             "tasks": {"<task>": {"<prediction>": [scored at, model version,
                                                    annotators, consensus, ground_truth]}},
             "regressed": [["<model version>", "<metric>"], ...]}
        """
        return {
            "version": STATE_VERSION,
            "settings": self._settings.to_dict(),
            "first_seen": {name: self._versions[name].first_seen for name in self._order},
            "tasks": {
                task: {
                    key: [time, score.model_version, *score.values]
                    for key, (time, score) in predictions.items()
                }
                for task, predictions in self._tasks.items()
            },
            "regressed": [[name, metric.value] for name, metric in sorted(self._regressed)],
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ModelEvaluation:
        """Rebuild from :meth:`to_state` output; ``ValueError`` if it does not fit."""
        version = state.get("version") if isinstance(state, Mapping) else None
        if version != STATE_VERSION:
            raise ValueError(
                f"model evaluation state is version {version!r}, expected {STATE_VERSION}; "
                "rebuild the derived state with `quorum rebuild` (the predictions are "
                "scored again from the input topics)"
            )
        try:
            evaluation = cls(ModelEvaluationSettings(**state["settings"]))
            for name, first_seen in state["first_seen"].items():
                evaluation._versions[name] = _Version(_check_time(first_seen))
            evaluation._order = sorted(
                evaluation._versions, key=lambda n: (evaluation._versions[n].first_seen, n)
            )
            for task, predictions in state["tasks"].items():
                stored: dict[str, _Stored] = {}
                for key, (time, name, *values) in predictions.items():
                    if name not in evaluation._versions:
                        raise ValueError(f"prediction {key!r} has unknown version {name!r}")
                    stored[key] = (_check_time(time), PredictionScore(name, *values))
                    evaluation._shift(stored[key], +1)
                if stored:
                    evaluation._tasks[task] = stored
            for name, metric in state["regressed"]:
                evaluation._version(name)
                evaluation._regressed.add((name, ModelMetric(metric)))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"model evaluation state is malformed ({exc}); rebuild it") from None
        return evaluation
