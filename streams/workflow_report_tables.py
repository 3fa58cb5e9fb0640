"""``quorum annotators report`` and ``quorum models report`` as rich tables (pure: builds
renderables from the JSON the read API answers, :mod:`streams.workflow_reports`).

As in ``quorum score`` (:mod:`streams.report_tables`): figures with 3 decimals, "-" when
undefined, the agreement matrix in full up to :data:`~streams.report_tables.MAX_MATRIX`
annotators; past that, the most and least agreeing pairs. ``--json`` prints everything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from .report_model import AgreementMatrix
from .report_tables import MAX_MATRIX, MAX_ROWS, figure, matrix_table

EXTREME_PAIRS = 10
"""Pairs listed at each end (most, least agreeing) when the matrix is too wide."""

_NONE = "-"
_METRICS = (("annotators", "annotators"), ("consensus", "consensus"), ("ground_truth", "GT"))


def annotators_tables(report: Mapping[str, Any]) -> list[RenderableType]:
    """Everything ``quorum annotators report`` prints, in order."""
    project = report["project_id"]
    rows = report["annotators"]
    if not rows:
        return [Text(f"project {project}: no annotation submitted or skipped yet")]
    tables: list[RenderableType] = [performance_table(project, rows)]
    matrix = report["matrix"]
    if matrix["pairs"]:
        tables.append(pairs_view(matrix))
    else:
        tables.append(Text("no two annotators share a scored task yet: no agreement matrix"))
    return tables


def performance_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """Best first: performance score (review), then agreement with ground truth, then
    with others, each higher first and undefined last; then the annotator id."""
    def high_first(value: float | None) -> tuple[bool, float]:
        return (value is None, 0.0 if value is None else -value)

    return (high_first(row["performance_score"]), high_first(row["ground_truth_agreement"]),
            high_first(row["agreement"]), row["annotator"])


def performance_table(project: str, rows: list[Mapping[str, Any]]) -> Table:
    """One row per annotator, sorted by :func:`performance_key`; narrow enough for 80
    columns (abbreviations explained in the caption)."""
    table = _table(f"Annotators of {project}, best first (by perf, then GT, then agree)",
                   ["annotator"],
                   ["subm", "skip", "agree", "GT", "accept", "perf", "lead time", "reliab"])
    table.caption = ("agree: mean agreement with the others; GT: with ground truth (tasks); "
                     "accept: acceptance score (reviewed); perf: performance score; lead "
                     "time in seconds, mean / median; reliab: estimated accuracy; paused: by "
                     "the ground-truth evaluation")
    for row in sorted(rows, key=performance_key):
        name = Text(row["annotator"])
        if row["paused"]:
            name.append(" paused", style="red")
        table.add_row(
            name, str(row["submitted"]), str(row["skipped"]),
            figure(row["agreement"]),
            _with_count(row["ground_truth_agreement"], row["ground_truth_tasks"]),
            _with_count(row["acceptance_score"], row["reviewed"]),
            figure(row["performance_score"]),
            f"{_seconds(row['lead_time_mean'])} / {_seconds(row['lead_time_median'])}",
            figure(row["reliability"]),
        )  # fmt: skip
    return table


def pairs_view(matrix: Mapping[str, Any]) -> RenderableType:
    """The matrix in full up to ``MAX_MATRIX`` annotators, else the extreme pairs."""
    annotators = matrix["annotators"]
    pairs = matrix["pairs"]
    if len(annotators) <= MAX_MATRIX:
        table = matrix_table(dense(matrix), "Annotator x annotator agreement")
        if isinstance(table, Table):
            table.caption = "mean pair agreement over shared tasks (counts: --json)"
        return table
    ranked = sorted(pairs, key=lambda p: (-p["agreement"], -p["tasks"], p["a"], p["b"]))
    table = _table(f"Annotator pairs: {len(pairs)} pairs of {len(annotators)} annotators "
                   "share tasks", ["annotators"], ["agreement", "shared tasks"])
    if len(ranked) <= 2 * EXTREME_PAIRS:
        shown = [("", ranked)]
    else:
        shown = [("most agreeing", ranked[:EXTREME_PAIRS]),
                 ("least agreeing", ranked[-EXTREME_PAIRS:])]
    for heading, rows in shown:
        if heading:
            table.add_row(Text(heading, style="bold"), "", "")
        for pair in rows:
            table.add_row(f"{pair['a']} / {pair['b']}", figure(pair["agreement"]),
                          str(pair["tasks"]))
    if len(ranked) > 2 * EXTREME_PAIRS:
        table.caption = f"{len(ranked) - 2 * EXTREME_PAIRS} more pairs: --json"
    return table


def dense(matrix: Mapping[str, Any]) -> AgreementMatrix:
    """The sparse pairs as the dense matrix of ``quorum score`` (NaN: no shared task,
    1.0 on the diagonal)."""
    names = tuple(matrix["annotators"])
    position = {name: i for i, name in enumerate(names)}
    values = [[1.0 if i == j else math.nan for j in range(len(names))]
              for i in range(len(names))]
    for pair in matrix["pairs"]:
        i, j = position[pair["a"]], position[pair["b"]]
        values[i][j] = values[j][i] = pair["agreement"]
    return AgreementMatrix(names, tuple(tuple(row) for row in values))


def models_tables(report: Mapping[str, Any]) -> list[RenderableType]:
    """Everything ``quorum models report`` prints: versions, regressions, timelines."""
    project = report["project_id"]
    versions = report["versions"]
    if not versions:
        return [Text(f"project {project}: no prediction scored yet (predictions are "
                     "scored when people annotate their tasks)")]
    day = float(report["settings"]["bucket_seconds"]) % 86_400 == 0
    tables: list[RenderableType] = [versions_table(project, versions, report["regressions"])]
    if report["regressions"]:
        tables.append(regressions_table(report["regressions"]))
    tables.extend(timeline_table(version, day) for version in versions)
    return tables


def versions_table(project: str, versions: list[Mapping[str, Any]],
                   regressed: list[Mapping[str, Any]]) -> Table:
    """One row per model version, first seen first: its figures over all predictions."""
    flagged = {regression["model_version"] for regression in regressed}
    table = _table(f"Model versions of {project}: mean agreement with the annotators, "
                   "their consensus and ground truth (scored predictions)",
                   ["version", "first seen (UTC)"],
                   ["predictions", *(header for _, header in _METRICS)])
    for row in versions:
        name = Text(row["model_version"])
        if row["model_version"] in flagged:
            name.append(" regressed", style="red")
        table.add_row(name, _time(row["first_seen"], day=False), str(row["predictions"]),
                      *_metric_cells(row))
    return table


def regressions_table(regressed: list[Mapping[str, Any]]) -> Table:
    """Each version doing worse than the one before it, by more than the margin."""
    table = _table("Regressions: more than the margin below the version before",
                   ["version", "before", "metric"], ["agreement", "before's", "margin"])
    for row in regressed:
        table.add_row(Text(row["model_version"], style="red"), str(row["previous_version"]),
                      row["metric"], figure(row["agreement"]),
                      figure(row["previous_agreement"]), figure(row["margin"]))
    return table


def timeline_table(version: Mapping[str, Any], day: bool) -> Table:
    """The version's figures per time bucket, the latest :data:`MAX_ROWS` buckets."""
    buckets = version["timeline"]
    table = _table(f"{version['model_version']} over time", ["from (UTC)"],
                   ["predictions", *(header for _, header in _METRICS)])
    for bucket in buckets[-MAX_ROWS:]:
        table.add_row(_time(bucket["start"], day=day), str(bucket["predictions"]),
                      *_metric_cells(bucket))
    if len(buckets) > MAX_ROWS:
        table.caption = f"{len(buckets) - MAX_ROWS} earlier buckets: --json"
    return table


def _table(title: str, names: list[str], figures: list[str]) -> Table:
    """A compact table (fits 80 columns): names left, figures right-aligned."""
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for header in names:
        table.add_column(header)
    for header in figures:
        table.add_column(header, justify="right", no_wrap=True)
    return table


def _metric_cells(row: Mapping[str, Any]) -> list[str]:
    return [_with_count(row[f"{metric}_agreement"], row[f"{metric}_tasks"])
            for metric, _ in _METRICS]


def _with_count(value: float | None, count: int) -> str:
    return _NONE if value is None else f"{figure(value)} ({count})"


def _seconds(value: float | None) -> str:
    return _NONE if value is None else f"{value:.1f}"


def _time(iso: str, *, day: bool) -> str:
    """``2026-11-28`` for a day bucket, else ``2026-11-28 06:00`` (UTC)."""
    moment = datetime.fromisoformat(iso)
    return moment.strftime("%Y-%m-%d" if day else "%Y-%m-%d %H:%M")
