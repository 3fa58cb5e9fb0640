"""The agreement report of a Label Studio export, for ``quorum score``.

:func:`build_report` is pure: it scores every task with :func:`agreement.score_task`
(the function the stream's numbers are checked against) and gathers per-annotator
agreement and per-tag project statistics (:mod:`streams.report_statistics`).
:func:`write_report` and :func:`write_histogram` are the only functions that write.

Summary figures (mean, median, histogram, lowest tasks, threshold) are over the tasks
with two or more counted annotations: a task with one annotation scores 1.0 by
definition and would say nothing about agreement.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from agreement import ScoringConfig, TaskScore, score_task
from agreement.label_studio import ExportTask, annotator_of
from agreement.stats import AnnotatorMatrix

from .report_model import (
    AgreementMatrix,
    AnnotatorRow,
    ProjectReport,
    Summary,
    TaskRow,
    annotator_order,
)
from .report_statistics import StatisticsTally

__all__ = [
    "HISTOGRAM_BINS",
    "ProjectReport",
    "build_report",
    "report_to_json",
    "write_histogram",
    "write_report",
]

HISTOGRAM_BINS = 20


@dataclasses.dataclass
class _AnnotatorTally:
    tasks: int = 0
    annotations: int = 0
    pair_scores: list[float] = dataclasses.field(default_factory=list)
    ground_truth: list[float] = dataclasses.field(default_factory=list)

    def row(self, annotator: str) -> AnnotatorRow:
        return AnnotatorRow(
            annotator=annotator,
            tasks=self.tasks,
            annotations=self.annotations,
            pairs=len(self.pair_scores),
            agreement=_mean(self.pair_scores),
            ground_truth_tasks=len(self.ground_truth),
            ground_truth=_mean(self.ground_truth),
        )


def _mean(numbers: Sequence[float]) -> float:
    return math.fsum(numbers) / len(numbers) if numbers else math.nan


def _humans(task: ExportTask, config: ScoringConfig) -> list[tuple[str, str, Mapping[str, Any]]]:
    """``(annotation key, annotator, annotation)`` of the task's counted annotations that
    have an annotator, keyed as :func:`agreement.score_task` keys them."""
    counted = []
    for annotation in task.annotations:
        annotator = annotator_of(annotation)
        if annotation.get("was_cancelled") or annotator is None:
            continue
        if annotation.get("ground_truth") and not config.include_ground_truth:
            continue
        counted.append((str(annotation.get("id")), annotator, annotation))
    return counted


class _ReportBuilder:
    """Accumulates the report task by task (one pass over the export)."""

    def __init__(self, config: ScoringConfig) -> None:
        self.config = config
        self.rows: list[TaskRow] = []
        self.people: dict[str, _AnnotatorTally] = defaultdict(_AnnotatorTally)
        self.matrix = AnnotatorMatrix()
        self.tags = StatisticsTally()
        self.cancelled = 0
        self.ground_truth_tasks = 0
        self._gt_config: ScoringConfig | None = None

    def add(self, task: ExportTask) -> None:
        score = score_task([*task.annotations, *task.predictions], self.config)
        humans = _humans(task, self.config)
        owner = {key: annotator for key, annotator, _ in humans}
        self.cancelled += sum(1 for a in task.annotations if a.get("was_cancelled"))
        for annotator in {annotator for _, annotator, _ in humans}:
            self.people[annotator].tasks += 1
        for _, annotator, _ in humans:
            self.people[annotator].annotations += 1
        for pair, value in _annotator_pairs(score.pairs, owner):
            self.matrix.add(*pair, value)
            self.people[pair[0]].pair_scores.append(value)
            self.people[pair[1]].pair_scores.append(value)
        # Values first: they create the tag's tally that the pair scores go to.
        self.tags.add_task(str(task.id), [(annotator, a) for _, annotator, a in humans])
        for tag, pairs in score.dimension_pairs.items():
            for pair, value in _annotator_pairs(pairs, owner):
                self.tags.add_pair(tag, *pair, value)
        self._ground_truth(task, score, humans)
        self.rows.append(
            TaskRow(
                id=task.id,
                score=score.overall,
                dimensions=dict(score.dimensions),
                annotations=score.annotation_count,
                annotators=tuple(sorted(set(owner.values()), key=annotator_order)),
                pairs=dict(score.pairs),
            )
        )

    def _ground_truth(
        self, task: ExportTask, score: TaskScore, humans: list[tuple[str, str, Mapping[str, Any]]]
    ) -> None:
        truth = next(
            (a for a in task.annotations if a.get("ground_truth") and not a.get("was_cancelled")),
            None,
        )
        if truth is None:
            return
        self.ground_truth_tasks += 1
        truth_key, truth_author = str(truth.get("id")), annotator_of(truth)
        for key, annotator, annotation in humans:
            if key == truth_key or annotator == truth_author:
                continue
            pair = (min(key, truth_key), max(key, truth_key))
            value = score.pairs.get(pair)
            if value is None:  # ground truth is not counted in task scores: score the pair
                value = next(
                    iter(score_task([annotation, truth], self._truth_config()).pairs.values())
                )
            self.people[annotator].ground_truth.append(value)

    def _truth_config(self) -> ScoringConfig:
        if self._gt_config is None:
            self._gt_config = dataclasses.replace(self.config, include_ground_truth=True)
        return self._gt_config

    def report(self, threshold: float | None) -> ProjectReport:
        scored = [row.score for row in self.rows if row.scored and row.score is not None]
        summary = Summary(
            tasks=len(self.rows),
            scored_tasks=len(scored),
            annotations=sum(row.annotations for row in self.rows),
            cancelled=self.cancelled,
            annotators=len(self.people),
            mean=_mean(scored),
            median=statistics.median(scored) if scored else math.nan,
            threshold=threshold,
            below_threshold=None if threshold is None else sum(s < threshold for s in scored),
            ground_truth_tasks=self.ground_truth_tasks,
        )
        return ProjectReport(
            summary=summary,
            tasks=tuple(self.rows),
            annotators=tuple(
                self.people[a].row(a) for a in sorted(self.people, key=annotator_order)
            ),
            matrix=AgreementMatrix.of(self.matrix),
            tags=self.tags.statistics(),
            scoring=self.config.to_dict(),
        )


def _annotator_pairs(
    pairs: Mapping[tuple[str, str], float], owner: Mapping[str, str]
) -> Iterable[tuple[tuple[str, str], float]]:
    """Pair scores as annotator pairs; predictions and same-annotator pairs left out."""
    for (key_a, key_b), value in pairs.items():
        annotator_a, annotator_b = owner.get(key_a), owner.get(key_b)
        if annotator_a is not None and annotator_b is not None and annotator_a != annotator_b:
            yield (annotator_a, annotator_b), value


def build_report(
    tasks: Sequence[ExportTask],
    config: ScoringConfig,
    *,
    threshold: float | None = None,
    on_task: Callable[[], None] | None = None,
) -> ProjectReport:
    """Score every task of an export and gather the project's agreement figures.

    Parameters
    ----------
    tasks
        What :func:`agreement.read_export` returns; task ids must be unique.
    config
        The project's scoring configuration (metrics, weights, methodology).
    threshold
        Agreement in [0, 1]; the summary counts the scored tasks below it.
    on_task
        Called after each task (a progress bar).

    Returns
    -------
    ProjectReport
        Task rows in export order; each task's ``score`` and ``dimensions`` equal
        :func:`agreement.score_export` with the same config.

    Raises
    ------
    ValueError
        Two tasks share an id, an annotation is malformed (from ``score_task``), or the
        threshold is outside [0, 1].
    """
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
    seen: set[str] = set()
    builder = _ReportBuilder(config)
    for task in tasks:
        if str(task.id) in seen:
            raise ValueError(f"the export lists task {task.id!r} twice; export the project again")
        seen.add(str(task.id))
        builder.add(task)
        if on_task is not None:
            on_task()
    return builder.report(threshold)


def _plain(value: Any) -> Any:
    """``value`` as JSON: NaN and infinities as null, tuples as lists, keys as strings."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _task_json(row: TaskRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "score": row.score,
        "dimensions": row.dimensions,
        "annotations": row.annotations,
        "annotators": row.annotators,
        "pairs": [{"a": a, "b": b, "score": value} for (a, b), value in row.pairs.items()],
    }


def report_to_json(report: ProjectReport) -> dict[str, Any]:
    """The report as plain JSON types: every figure, NaN (undefined) as None.

    Keys: ``summary``, ``scoring`` (the config used), ``tasks`` (export order),
    ``annotators``, ``agreement_matrix`` (``annotators`` and ``values``, shape (A, A)),
    ``tags`` (per control tag: alpha by level, Fleiss' kappa, Cohen's kappa per pair,
    per-label agreement, the tag's agreement matrix, skipped annotations, ``reasons``
    for every null statistic).
    """
    return _plain(
        {
            "summary": dataclasses.asdict(report.summary),
            "scoring": report.scoring,
            "tasks": [_task_json(row) for row in report.tasks],
            "annotators": [dataclasses.asdict(row) for row in report.annotators],
            "agreement_matrix": dataclasses.asdict(report.matrix),
            "tags": {name: dataclasses.asdict(tag) for name, tag in report.tags.items()},
        }
    )


def write_report(report: ProjectReport, path: Path, *, export: str | None = None) -> None:
    """Write :func:`report_to_json` to ``path`` (indented JSON), naming the ``export``."""
    body = {"export": export, **report_to_json(report)}
    path.write_bytes(orjson.dumps(body, option=orjson.OPT_INDENT_2))


def write_histogram(report: ProjectReport, path: Path, title: str) -> None:
    """Write a PNG histogram of the scored tasks' agreement: 20 bins over [0, 1].

    ``title`` (the export's name) is followed by the number of tasks shown; the
    threshold, if the report has one, is drawn as a vertical line.
    """
    # Imported here: matplotlib takes about a second to import, and only this needs it.
    # The figure is drawn on an Agg canvas directly, so no GUI backend or pyplot state.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    scores = [row.score for row in report.tasks if row.scored and row.score is not None]
    figure = Figure(figsize=(8, 4.5), dpi=100, layout="tight")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.hist(scores, bins=HISTOGRAM_BINS, range=(0.0, 1.0), color="#4c72b0", edgecolor="white")
    threshold = report.summary.threshold
    if threshold is not None:
        axes.axvline(threshold, color="#c44e52", linestyle="--", label=f"threshold {threshold:g}")
        axes.legend(loc="best")
    axes.set_xlim(0.0, 1.0)
    axes.set_xlabel("task agreement")
    axes.set_ylabel("tasks")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of tasks: no 0.5 ticks
    axes.set_title(f"{title}: agreement of {len(scores)} tasks with 2+ annotations")
    figure.savefig(path, format="png")
