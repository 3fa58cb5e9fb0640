"""One project's annotator quality, from the workflow facts: performance, evaluation,
reliability. Pure: no I/O, no asyncio.

With every person's submission the annotations agent reports what only it can compute:
the annotation's pair score with each other counted annotation of the task, its
agreement with the task's ground truth, its single classification label and its lead
time. :class:`ProjectQuality` folds those facts into the pure core:

* :class:`assignment.AnnotatorPerformance`: agreement with others, submitted, skipped,
  lead times, the annotator x annotator matrix;
* the ground-truth score of each annotation (an update replaces it, a skip or deletion
  removes it) and the evaluation rule (:mod:`streams.evaluation_scores`);
* :class:`assignment.ReliabilityEstimator`: online Dawid-Skene reliability and each
  task's reliability-weighted consensus label.

Facts can disagree with the agreement they come from: annotations counted before the
project distributed its tasks were never reported, and an annotation can leave the
agreement without a fact (the ground truth of a project that leaves it out; a reject).
The newest fact of a task is taken as the truth about it: a pair with an annotation
never reported is left out (its author is unknown), and a reported annotation missing
from a later fact's pairs is *detached*: it stays submitted, with its lead time and
ground-truth score, but leaves the agreement and the reliability labels until it is
submitted again. So no sequence of facts raises; only a value the fact parser refuses
does (a score outside [0, 1], a negative lead time), before anything changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from assignment import (
    AnnotatorPerformance,
    AnnotatorSummary,
    ConsensusChanged,
    ReliabilityEstimator,
)
from streams.evaluation_scores import EvaluationScores
from streams.quality_settings import (
    EVALUATION_FIELDS,
    AnnotatorQuality,
    QualityEvent,
    QualitySettings,
    check_ids,
    check_lead_time,
    check_time,
    check_unit,
    evaluation_from_dict,
    evaluation_to_dict,
)

STATE_VERSION = 1
"""Version of :meth:`ProjectQuality.to_state`; bump it when the layout changes."""

_COUNTED, _DETACHED, _SKIPPED = "counted", "detached", "skipped"


@dataclass(slots=True)
class _Annotation:
    """What one reported annotation is, as the facts told it."""

    annotator: str
    status: str  # _COUNTED, _DETACHED or _SKIPPED
    label: str | None
    score: float | None  # agreement with the task's ground truth
    lead_time: float | None
    at: float  # when it was last submitted or skipped


class ProjectQuality:
    """A project's annotator quality, updated one fact at a time in O(k) for a task with
    k annotations (plus the estimator's refresh). Deterministic; :meth:`to_state` and
    :meth:`from_state` resume exactly where it stopped.

    Each fact method returns its events in this order: :class:`AnnotatorPaused`, then
    :class:`AnnotatorQuality` of the fact's annotator and of every annotator whose
    agreement it changed (sorted), then the estimator's :class:`ConsensusChanged`.
    """

    def __init__(self, settings: QualitySettings | None = None) -> None:
        self.settings = settings or QualitySettings()
        self._performance = AnnotatorPerformance()
        self._estimator = self._new_estimator()
        self._tasks: dict[str, dict[str, _Annotation]] = {}  # in order of last report
        self._task_of: dict[str, str] = {}  # annotation -> task
        self._scores = EvaluationScores(self.settings.evaluation)
        self._labelled: dict[str, int] = {}  # tasks with a label counted, per annotator

    # -- facts ----------------------------------------------------------------------

    def submitted(
        self,
        task: str,
        annotation: str,
        annotator: str,
        now: float,
        *,
        pairs: Mapping[str, float],
        ground_truth_score: float | None,
        label: str | None,
        lead_time: float | None,
    ) -> list[QualityEvent]:
        """A person's annotation was submitted or updated (see the module for ``pairs``)."""
        check_ids(task, annotation, annotator)
        check_time(now)
        for other, score in pairs.items():
            check_unit(f"pair score with {other!r}", score)
        if ground_truth_score is not None:
            check_unit("ground_truth_score", ground_truth_score)
        if lead_time is not None:
            check_lead_time(lead_time)
        if label is not None and type(label) is not str:
            raise ValueError(f"label must be a str or None, got {label!r}")
        events: list[QualityEvent] = []
        record = self._claim(task, annotation, annotator, now, events)
        members = self._tasks.get(task, {})
        counted = {aid: m for aid, m in members.items() if m.status == _COUNTED}
        counted.pop(annotation, None)
        kept = {aid: float(score) for aid, score in pairs.items() if aid in counted}
        before = self._labels(task)
        for aid in counted.keys() - kept.keys():
            self._detach(aid, counted[aid])
        if record is not None and record.status == _DETACHED:
            self._performance.delete(annotation)  # it lives under its own pseudo-task
        self._performance.submit(task, annotation, annotator, now, kept, lead_time)
        old_score = None if record is None else record.score
        self._put(task, annotation, _Annotation(
            annotator, _COUNTED, label, ground_truth_score, lead_time, float(now)))
        self._scores.rescore(annotator, old_score, ground_truth_score)
        others = sorted({m.annotator for m in counted.values()} - {annotator})
        return self._finish(task, before, [annotator, *others], now, events)

    def skipped(self, task: str, annotation: str, annotator: str, now: float
                ) -> list[QualityEvent]:
        """The annotator skipped the task (or their annotation was cancelled)."""
        check_ids(task, annotation, annotator)
        check_time(now)
        events: list[QualityEvent] = []
        record = self._claim(task, annotation, annotator, now, events)
        others = self._pair_authors(task, annotation, record)
        before = self._labels(task)
        if record is not None and record.status == _DETACHED:
            self._performance.delete(annotation)
        self._performance.skip(task, annotation, annotator, now)
        self._put(task, annotation, _Annotation(
            annotator, _SKIPPED, None, None, None, float(now)))
        self._scores.rescore(annotator, None if record is None else record.score, None)
        return self._finish(task, before, [annotator, *others], now, events)

    def deleted(self, task: str, annotation: str, annotator: str | None, now: float
                ) -> list[QualityEvent]:
        """The annotation was deleted: it no longer counts anywhere. The annotator may be
        ``None`` (the one it was reported with is used); unknown annotations change
        nothing."""
        check_time(now)
        task = self._task_of.get(annotation, task)
        record = self._tasks.get(task, {}).get(annotation)
        if record is None:
            return []
        others = self._pair_authors(task, annotation, record)
        before = self._labels(task)
        self._performance.delete(annotation)
        del self._tasks[task][annotation], self._task_of[annotation]
        if not self._tasks[task]:
            del self._tasks[task]
        self._scores.rescore(record.annotator, record.score, None)
        return self._finish(task, before, [record.annotator, *others], now, [])

    def ground_truth_moved(self, task: str, scores: Mapping[str, float | None], now: float
                           ) -> list[QualityEvent]:
        """The task's ground truth was marked, replaced, changed or unmarked: ``scores``
        gives each counted annotation of the task its agreement with the ground truth now
        (``None``: there is none, or it is the ground truth). Annotations never reported,
        and skips, are left alone. Returns :class:`AnnotatorPaused` for whoever now fails
        the evaluation, then the :class:`AnnotatorQuality` of each annotator whose score
        moved."""
        check_time(now)
        for annotation, score in scores.items():
            if score is not None:
                check_unit(f"ground-truth score of {annotation!r}", score)
        members = self._tasks.get(task, {})
        moved: set[str] = set()
        for annotation, score in scores.items():
            record = members.get(annotation)
            if record is None or record.status == _SKIPPED or record.score == score:
                continue
            self._scores.rescore(record.annotator, record.score, score)
            record.score = score
            moved.add(record.annotator)
        events: list[QualityEvent] = list(self._scores.pause(moved, now))
        events.extend(self.quality(annotator) for annotator in sorted(moved))
        return events

    def holds(self, annotation: str) -> bool:
        """Whether the annotation was reported and counts (not skipped)."""
        task = self._task_of.get(annotation)
        return task is not None and self._tasks[task][annotation].status != _SKIPPED

    def reviewed(self, task: str, annotation: str, action: str, score: float, now: float
                 ) -> list[QualityEvent]:
        """A reviewer's verdict on a reported annotation: its acceptance and performance
        score (``score``: 1 accept, 0 reject, the fix's agreement for fix-and-accept).
        Unknown annotations change nothing."""
        check_time(now)
        check_unit("review score", score)
        task = self._task_of.get(annotation, task)
        record = self._tasks.get(task, {}).get(annotation)
        if record is None:
            return []
        self._performance.review(annotation, action, score)
        return self._finish(task, self._labels(task), [record.annotator], now, [])

    def reconfigure(self, settings: QualitySettings, now: float) -> list[QualityEvent]:
        """Apply new settings. Evaluation: unpause whoever now passes (Label Studio
        unpauses evaluated annotators only this way), pause whoever now fails.
        Reliability: a changed model is re-estimated from the counted labels, task by
        task in id order, with a :class:`ConsensusChanged` for each task."""
        check_time(now)
        old, self.settings = self.settings, settings
        events: list[QualityEvent] = []
        if settings.evaluation != old.evaluation:
            events.extend(self._scores.reconfigure(settings.evaluation, now))
        if (settings.reliability, settings.reliability_settings) != (
            old.reliability, old.reliability_settings
        ):
            self._estimator, self._labelled = self._new_estimator(), {}
            for task in sorted(self._tasks):
                events.extend(self._relabel(task, {}))
        return events

    # -- reads ------------------------------------------------------------------------

    def quality(self, annotator: str) -> AnnotatorQuality:
        """The annotator's numbers, as :class:`AnnotatorQuality` reports them."""
        summary = self._performance.summary(annotator)
        count, mean = self._scores.score(annotator)
        estimator = self._estimator
        labelled = estimator is not None and annotator in self._labelled
        return AnnotatorQuality(
            annotator=annotator,
            submitted=summary.submitted,
            skipped=summary.skipped,
            agreement=summary.agreement,
            lead_time_mean=summary.lead_time_mean,
            lead_time_median=summary.lead_time_median,
            reliability=estimator.reliability(annotator) if labelled and estimator else None,
            ground_truth_score=mean,
            ground_truth_tasks=count,
            paused=annotator in self._scores.paused,
            reviewed=summary.reviewed,
            acceptance_score=summary.acceptance_score,
            performance_score=summary.performance_score,
        )

    def summary(self, annotator: str) -> AnnotatorSummary:
        """The annotator's Members-dashboard row, ground-truth agreement included."""
        count, mean = self._scores.score(annotator)
        summary = self._performance.summary(annotator)
        return replace(summary, ground_truth_agreement=mean, ground_truth_tasks=count)

    def matrix(self) -> tuple[list[str], NDArray[np.float64]]:
        """The annotator agreement matrix (see :meth:`AnnotatorPerformance.matrix`)."""
        return self._performance.matrix()

    def agreement_pairs(self) -> list[tuple[str, str, int, float]]:
        """Each annotator pair with a shared scored task: ``(a, b, tasks, mean)``, sorted."""
        return self._performance.agreement_pairs()

    def annotators(self) -> list[str]:
        """Everyone with a submitted or skipped annotation, sorted."""
        return self._performance.annotators()

    def reliabilities(self) -> dict[str, float]:
        """Expected accuracy of every annotator with a counted label; empty with
        reliability off. For ranking annotators."""
        return {} if self._estimator is None else self._estimator.reliabilities()

    def consensus(self, task: str) -> tuple[str, float] | None:
        """The task's reliability-weighted consensus label and its posterior; ``None``
        with reliability off or no label counted."""
        found = None if self._estimator is None else self._estimator.consensus(task)
        return None if found is None else (found.label, found.posterior)

    def is_paused(self, annotator: str) -> bool:
        """Whether the evaluation paused the annotator."""
        return annotator in self._scores.paused

    # -- bookkeeping --------------------------------------------------------------------

    def _new_estimator(self) -> ReliabilityEstimator | None:
        settings = self.settings
        return ReliabilityEstimator(settings.reliability_settings) if settings.reliability else None

    def _claim(self, task: str, annotation: str, annotator: str, now: float,
               events: list[QualityEvent]) -> _Annotation | None:
        """The annotation's record. Ids are unique in a project, so a fact that gives a
        known id another task or annotator ends the old annotation (as a deletion)."""
        known = self._task_of.get(annotation)
        if known is None:
            return None
        record = self._tasks[known][annotation]
        if (known, record.annotator) == (task, annotator):
            return record
        events.extend(self.deleted(known, annotation, record.annotator, now))
        return None

    def _put(self, task: str, annotation: str, record: _Annotation) -> None:
        records = self._tasks.setdefault(task, {})
        records.pop(annotation, None)  # to the end: the latest label of a person wins
        records[annotation] = record
        self._task_of[annotation] = task

    def _detach(self, annotation: str, record: _Annotation) -> None:
        """Take a counted annotation out of the agreement, keeping its submission. The
        performance core has no such step, so it moves to a task of its own (a NUL
        byte keeps that name apart from real task ids) where it has no pair."""
        self._performance.delete(annotation)
        alone = f"\0detached\0{annotation}"
        # ``record.at`` is no later than the annotator's last activity: it stays as is.
        self._performance.submit(alone, annotation, record.annotator, record.at, {},
                                 record.lead_time)
        record.status = _DETACHED

    def _pair_authors(self, task: str, annotation: str, record: _Annotation | None) -> list[str]:
        """Annotators whose agreement changes when this annotation leaves the agreement."""
        if record is None or record.status != _COUNTED:
            return []
        members = self._tasks[task]
        return sorted({m.annotator for aid, m in members.items()
                       if aid != annotation and m.status == _COUNTED} - {record.annotator})

    def _labels(self, task: str) -> dict[str, str]:
        """Each annotator's label of the task as the estimator counts it: that of their
        latest counted annotation with a label."""
        if self._estimator is None:
            return {}
        labels: dict[str, str] = {}
        for record in self._tasks.get(task, {}).values():
            if record.status == _COUNTED and record.label is not None:
                labels[record.annotator] = record.label
        return labels

    def _relabel(self, task: str, before: Mapping[str, str]) -> list[ConsensusChanged]:
        """Give the estimator the task's labels where they changed since ``before``."""
        estimator = self._estimator
        if estimator is None:
            return []
        after = self._labels(task)
        changed: list[ConsensusChanged] = []
        for annotator in sorted(before.keys() | after.keys()):
            old, new = before.get(annotator), after.get(annotator)
            if new is None:
                changed.extend(estimator.remove_label(task, annotator))
                if self._labelled[annotator] == 1:
                    del self._labelled[annotator]
                else:
                    self._labelled[annotator] -= 1
            elif new != old:
                changed.extend(estimator.add_label(task, annotator, new))
                if old is None:
                    self._labelled[annotator] = self._labelled.get(annotator, 0) + 1
        return changed

    def _finish(self, task: str, before: Mapping[str, str], report: list[str], now: float,
                events: list[QualityEvent]) -> list[QualityEvent]:
        events.extend(self._scores.pause(report[:1], now))  # only their score moved
        changed = self._relabel(task, before)
        events.extend(self.quality(annotator) for annotator in report)
        events.extend(changed)
        return events

    # -- state ------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """JSON-ready state; :meth:`from_state` resumes from it exactly.

        Layout, version 1::

            {"version": 1, "settings": QualitySettings.to_dict(),
             "tasks": {"<task>": [[annotation, annotator, status, label,
                                   ground_truth_score, lead_time, at], ...]},
             "paused": [annotator, ...],
             "performance": AnnotatorPerformance.to_state(),
             "reliability": ReliabilityEstimator.to_state() | null}

        A task's annotations are listed in the order they were last reported.
        """
        return {
            "version": STATE_VERSION,
            "settings": self.settings.to_dict(),
            "tasks": {
                task: [[aid, r.annotator, r.status, r.label, r.score, r.lead_time, r.at]
                       for aid, r in records.items()]
                for task, records in self._tasks.items()
            },
            "paused": sorted(self._scores.paused),
            "performance": self._performance.to_state(),
            "reliability": None if self._estimator is None else self._estimator.to_state(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> ProjectQuality:
        """Rebuild from :meth:`to_state` output; ``ValueError`` if it does not fit."""
        version = state.get("version") if isinstance(state, Mapping) else None
        if version != STATE_VERSION:
            raise ValueError(f"annotator quality state is version {version!r}, expected "
                             f"{STATE_VERSION}; rebuild it by replaying the workflow facts")
        try:
            quality = cls(QualitySettings.from_dict(state["settings"]))
            quality._performance = AnnotatorPerformance.from_state(state["performance"])
            estimator = state["reliability"]
            if (estimator is None) != (quality._estimator is None):
                raise ValueError("the reliability state does not match the settings")
            if estimator is not None:
                quality._estimator = ReliabilityEstimator.from_state(estimator)
            for task, records in state["tasks"].items():
                for aid, annotator, status, label, score, lead_time, at in records:
                    if status not in (_COUNTED, _DETACHED, _SKIPPED):
                        raise ValueError(f"annotation {aid!r} has status {status!r}")
                    quality._put(task, aid, _Annotation(
                        annotator, status, label, score, lead_time, float(at)))
                    quality._scores.rescore(annotator, None, score)
                for annotator in quality._labels(task):
                    quality._labelled[annotator] = quality._labelled.get(annotator, 0) + 1
            quality._scores.restore_paused(state["paused"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"annotator quality state is malformed ({exc}); rebuild it by "
                             "replaying the workflow facts") from None
        return quality


__all__ = [
    "EVALUATION_FIELDS",
    "STATE_VERSION",
    "AnnotatorQuality",
    "ProjectQuality",
    "QualityEvent",
    "QualitySettings",
    "evaluation_from_dict",
    "evaluation_to_dict",
]
