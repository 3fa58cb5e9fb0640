"""Ground truth: one annotation per task, and every annotator scored against it.

Label Studio Enterprise (docs: guide/quality.md, "Define ground truth annotations";
guide/dashboard_members.md, "GT Agreement"): "A task can only have one annotation set as
the ground truth annotation for the task. If you set a new annotation for a task as a
ground truth, the previous annotation [...] is updated to no longer be a ground truth";
removing a ground truth keeps the annotation. An annotator's GT agreement is the
agreement of their annotations with the ground truth on the tasks they share.

Only ground-truth tasks are held here (their truth and the results scored against it),
so memory grows with the honeypots, not with the project.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agreement import ResultItem, ScoringConfig
from agreement.stats.sums import ExactSum

from .evaluation import (
    PAUSE_REASON,
    UNPAUSE_REASON,
    AnnotatorPaused,
    AnnotatorUnpaused,
    EvaluationSettings,
    ground_truth_due,
)
from .pair_agreement import pair_agreement
from .review_events import ReviewReason, ReviewRequested

STATE_VERSION = 1

Event = ReviewRequested | AnnotatorPaused | AnnotatorUnpaused


@dataclass(slots=True)
class _Truth:
    annotation: str
    annotator: str
    result: list[ResultItem]


@dataclass(slots=True)
class _Scored:
    annotator: str
    result: list[ResultItem]
    score: float


class GroundTruth:
    """A project's ground truth and each annotator's agreement with it.

    An annotator's score is the mean, over their annotations on ground-truth tasks (the
    ground-truth annotation itself excepted), of :func:`pair_agreement` with the ground
    truth under the project's :class:`~agreement.ScoringConfig`. Sums are exact, so the
    score after any sequence of marks, unmarks, submissions and removals equals a
    recompute from scratch. A rejected annotation keeps its score, also when the reject
    cancels it (:class:`~assignment.review_events.CancelAnnotation`): rejecting a wrong
    answer must not hide it from the evaluation. Report deletions and the annotator's
    own skips to :meth:`remove`, not rejections.

    Every mutating method returns the events to publish: ``ground_truth_disagreement``
    review requests (when ``settings.review_below`` is set) and :class:`AnnotatorPaused`.
    """

    __slots__ = ("_paused", "_scored", "_tally", "_truth", "scoring", "settings")

    def __init__(
        self, settings: EvaluationSettings | None = None, scoring: ScoringConfig | None = None
    ) -> None:
        self.settings = settings or EvaluationSettings()
        self.scoring = scoring
        self._truth: dict[str, _Truth] = {}
        self._scored: dict[str, dict[str, _Scored]] = {}
        self._tally: dict[str, tuple[int, ExactSum]] = {}
        self._paused: set[str] = set()

    # Reads.

    def truth(self, task: str) -> str | None:
        """The task's ground-truth annotation id; ``None`` if it has none."""
        truth = self._truth.get(task)
        return None if truth is None else truth.annotation

    def scores(self, task: str) -> dict[str, float]:
        """Score against the ground truth of each other annotation of the task."""
        return {aid: s.score for aid, s in self._scored.get(task, {}).items()}

    def score(self, annotator: str) -> float | None:
        """The annotator's mean ground-truth agreement in [0, 1]; ``None`` if unscored."""
        tally = self._tally.get(annotator)
        return None if tally is None else tally[1].value / tally[0]

    def tasks(self, annotator: str) -> int:
        """The annotator's annotations scored against a ground truth."""
        tally = self._tally.get(annotator)
        return 0 if tally is None else tally[0]

    def is_paused(self, annotator: str) -> bool:
        """Whether the evaluation paused the annotator."""
        return annotator in self._paused

    def due(self, annotator: str, tasks: int) -> bool:
        """Whether the annotator's next task should be a ground-truth one, given all the
        tasks they have done (see :func:`~assignment.evaluation.ground_truth_due`)."""
        return ground_truth_due(self.settings, self.tasks(annotator), tasks)

    # Events.

    def mark(
        self,
        task: str,
        annotation: str,
        annotations: Mapping[str, tuple[str, list[ResultItem]]],
        now: float,
    ) -> list[Event]:
        """Make an annotation the task's ground truth, replacing any previous one.

        ``annotations`` holds every submitted annotation of the task (rejected ones
        included, skipped ones not) as ``{id: (annotator, result)}``, the new ground
        truth among them; all the others are scored against it, O(k).
        """
        if annotation not in annotations:
            raise ValueError(
                f"ground truth {annotation!r} is not among the annotations given for task "
                f"{task!r}; pass every submitted annotation of the task, the truth included"
            )
        previous = self._drop_task(task)
        annotator, result = annotations[annotation]
        self._truth[task] = _Truth(annotation, annotator, result)
        events: list[Event] = []
        for aid, (author, other) in annotations.items():
            if aid != annotation:
                before = previous.get(aid)
                earlier = None if before is None else before.score
                self._put(task, aid, author, other, earlier, now, events)
        touched = {s.annotator for s in previous.values()} | {a for a, _ in annotations.values()}
        return self._check(touched, now, events)

    def unmark(self, task: str, now: float) -> list[Event]:
        """The task has no ground truth any more; its annotations stay, unscored."""
        previous = self._drop_task(task)
        self._truth.pop(task, None)
        return self._check({s.annotator for s in previous.values()}, now, [])

    def submit(
        self, task: str, annotation: str, annotator: str, result: list[ResultItem], now: float
    ) -> list[Event]:
        """An annotation was submitted or updated: score it if the task has a ground
        truth; if it is the ground truth, rescore the task's other annotations."""
        truth = self._truth.get(task)
        if truth is None:
            return []
        events: list[Event] = []
        if annotation == truth.annotation:
            if annotator != truth.annotator:
                raise ValueError(
                    f"ground truth {annotation!r} is by {truth.annotator!r}, not {annotator!r}"
                )
            truth.result = result
            others = self._scored.get(task, {})
            for aid, scored in list(others.items()):
                self._put(task, aid, scored.annotator, scored.result, scored.score, now, events)
            return self._check({s.annotator for s in others.values()}, now, events)
        before = self._scored.get(task, {}).get(annotation)
        if before is not None and before.annotator != annotator:
            raise ValueError(
                f"annotation {annotation!r} is by {before.annotator!r}, not {annotator!r}"
            )
        earlier = None if before is None else before.score
        self._put(task, annotation, annotator, result, earlier, now, events)
        return self._check({annotator}, now, events)

    def remove(self, task: str, annotation: str, now: float) -> list[Event]:
        """An annotation was deleted or skipped by its annotator (not a rejection).
        Deleting the ground truth unmarks it."""
        truth = self._truth.get(task)
        if truth is not None and truth.annotation == annotation:
            return self.unmark(task, now)
        others = self._scored.get(task, {})
        scored = others.pop(annotation, None)
        if scored is None:
            return []
        if not others:
            del self._scored[task]
        self._untally(scored.annotator, scored.score)
        return self._check({scored.annotator}, now, [])

    def reconfigure(self, settings: EvaluationSettings, now: float) -> list[Event]:
        """Apply new evaluation settings: unpause whoever now passes, pause whoever now
        fails (Label Studio unpauses evaluated annotators only this way)."""
        self.settings = settings
        events: list[Event] = []
        for annotator in sorted(self._paused):
            if not self._fails(annotator):
                self._paused.discard(annotator)
                score, tasks = self.score(annotator), self.tasks(annotator)
                events.append(AnnotatorUnpaused(annotator, score, tasks, UNPAUSE_REASON, now))
        return self._check(self._tally.keys(), now, events)

    # Bookkeeping.

    def _put(
        self,
        task: str,
        annotation: str,
        annotator: str,
        result: list[ResultItem],
        before: float | None,
        now: float,
        events: list[Event],
    ) -> None:
        truth = self._truth[task]
        score = pair_agreement(self.scoring, truth.annotation, truth.result, annotation, result)
        scored = self._scored.setdefault(task, {})
        old = scored.get(annotation)
        if old is not None:
            self._untally(old.annotator, old.score)
        scored[annotation] = _Scored(annotator, result, score)
        count, total = self._tally.get(annotator) or (0, ExactSum())
        total.add(score)
        self._tally[annotator] = (count + 1, total)
        threshold = self.settings.review_below
        # Once per fall below the threshold, not on every update that stays below it.
        if threshold is not None and score < threshold and (before is None or before >= threshold):
            reason = ReviewReason.GROUND_TRUTH_DISAGREEMENT
            events.append(ReviewRequested(task, reason, now, annotation, score))

    def _untally(self, annotator: str, score: float) -> None:
        count, total = self._tally[annotator]
        total.remove(score)
        if count == 1:
            del self._tally[annotator]
        else:
            self._tally[annotator] = (count - 1, total)

    def _drop_task(self, task: str) -> dict[str, _Scored]:
        scored = self._scored.pop(task, {})
        for entry in scored.values():
            self._untally(entry.annotator, entry.score)
        return scored

    def _fails(self, annotator: str) -> bool:
        settings = self.settings
        score = self.score(annotator)
        return (
            settings.enabled
            and settings.pause_on_failure
            and score is not None
            and self.tasks(annotator) >= settings.minimum_tasks
            and score < settings.minimum_score
        )

    def _check(self, annotators: Iterable[str], now: float, events: list[Event]) -> list[Event]:
        # Pause at most once: a paused annotator stays paused until the settings relax.
        for annotator in sorted(annotators):
            if annotator not in self._paused and self._fails(annotator):
                self._paused.add(annotator)
                score = self.score(annotator)
                assert score is not None  # _fails needs a score
                tasks = self.tasks(annotator)
                events.append(AnnotatorPaused(annotator, score, tasks, PAUSE_REASON, now))
        return events

    # State.

    def to_state(self) -> dict[str, Any]:
        """JSON-able state; per-annotator means are rebuilt from the scores on load.

        Layout, version 1::

            {"version": 1, "truths": {"<task>": [annotation, annotator, result]},
             "scored": {"<task>": {"<annotation>": [annotator, result, score]}},
             "paused": [annotator, ...]}
        """
        return {
            "version": STATE_VERSION,
            "truths": {t: [x.annotation, x.annotator, x.result] for t, x in self._truth.items()},
            "scored": {
                task: {aid: [s.annotator, s.result, s.score] for aid, s in scored.items()}
                for task, scored in self._scored.items()
            },
            "paused": sorted(self._paused),
        }

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, Any],
        settings: EvaluationSettings | None = None,
        scoring: ScoringConfig | None = None,
    ) -> GroundTruth:
        """Rebuild from :meth:`to_state` output with the project's settings."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(
                f"ground truth state version {state.get('version')!r} is not "
                f"{STATE_VERSION}; rebuild it from the annotation events"
            )
        ground_truth = cls(settings, scoring)
        for task, (annotation, annotator, result) in state["truths"].items():
            ground_truth._truth[task] = _Truth(annotation, annotator, result)
        for task, scored in state["scored"].items():
            if task not in ground_truth._truth:
                raise ValueError(f"ground truth state scores task {task!r}, which has no truth")
            for aid, (annotator, result, score) in scored.items():
                entry = _Scored(annotator, result, float(score))
                ground_truth._scored.setdefault(task, {})[aid] = entry
                count, total = ground_truth._tally.get(annotator) or (0, ExactSum())
                total.add(entry.score)
                ground_truth._tally[annotator] = (count + 1, total)
        ground_truth._paused = set(state["paused"])
        return ground_truth
