"""The report of ``quorum score`` as rich tables for a terminal (pure: builds renderables).

Tables stay short enough to read: the N lowest tasks, at most :data:`MAX_ROWS` Cohen
pairs and labels per tag, the agreement matrix up to :data:`MAX_MATRIX` annotators.
The JSON report has everything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from .report_model import AgreementMatrix, ProjectReport, TagStatistics
from .report_statistics import NUMERIC, OTHER, WEIGHTINGS_BY_KIND

MAX_ROWS = 15
MAX_MATRIX = 12
_NONE = "-"


def figure(value: float | None) -> str:
    """A figure with 3 decimals; "-" when undefined (None or NaN)."""
    return _NONE if value is None or math.isnan(value) else f"{value:.3f}"


def summary_table(report: ProjectReport, export: str) -> Table:
    """Project totals and mean/median task agreement."""
    summary = report.summary
    table = Table("", "", title=f"Agreement of {export}", show_header=False)
    rows = [
        ("tasks", str(summary.tasks)),
        ("tasks with 2+ annotations", str(summary.scored_tasks)),
        ("annotations (counted)", str(summary.annotations)),
        ("skipped (cancelled) annotations", str(summary.cancelled)),
        ("annotators", str(summary.annotators)),
        ("mean task agreement", figure(summary.mean)),
        ("median task agreement", figure(summary.median)),
        ("methodology", str(report.scoring.get("methodology"))),
    ]
    if summary.threshold is not None:
        rows.append((f"tasks below {summary.threshold:g}", str(summary.below_threshold)))
    if summary.ground_truth_tasks:
        rows.append(("tasks with ground truth", str(summary.ground_truth_tasks)))
    for label, value in rows:
        table.add_row(label, value)
    return table


def lowest_table(report: ProjectReport, count: int) -> Table:
    """The ``count`` scored tasks of lowest agreement, with per-tag scores and annotators."""
    table = Table("task", "agreement", "per tag", "annotators", title=f"{count} lowest tasks")
    for row in report.lowest(count):
        dimensions = ", ".join(f"{tag} {figure(v)}" for tag, v in sorted(row.dimensions.items()))
        table.add_row(str(row.id), figure(row.score), dimensions, ", ".join(row.annotators))
    return table


def annotators_table(report: ProjectReport) -> Table:
    """Per annotator: tasks, annotations, mean pair agreement (and with ground truth)."""
    truth = report.summary.ground_truth_tasks > 0
    columns = ["annotator", "tasks", "annotations", "pairs", "agreement"]
    if truth:
        columns += ["GT tasks", "vs GT"]
    title = "Annotators: mean pair agreement with the others" + (
        " and with ground truth (GT)" if truth else ""
    )
    table = Table(*columns, title=title)
    for row in report.annotators:
        cells = [row.annotator, str(row.tasks), str(row.annotations), str(row.pairs)]
        cells.append(figure(row.agreement))
        if truth:
            cells += [str(row.ground_truth_tasks), figure(row.ground_truth)]
        table.add_row(*cells)
    return table


def matrix_table(matrix: AgreementMatrix, title: str) -> RenderableType:
    """The annotator x annotator matrix, or a note when it is too wide for a terminal."""
    if len(matrix.annotators) > MAX_MATRIX:
        return Text(f"{title}: {len(matrix.annotators)} annotators, see the JSON report")
    table = Table("", *matrix.annotators, title=title)
    for annotator, values in zip(matrix.annotators, matrix.values, strict=True):
        table.add_row(annotator, *(figure(value) for value in values))
    return table


def statistics_table(report: ProjectReport) -> Table:
    """One row per control tag: values, skipped, Krippendorff's alpha by level, Fleiss."""
    table = Table(title="Project statistics per control tag: Krippendorff's alpha, Fleiss' kappa")
    table.add_column("tag", no_wrap=True)
    for column in ("type", "values", "tasks", "skipped"):
        table.add_column(column)
    table.add_column("alpha", no_wrap=True)
    table.add_column("Fleiss", no_wrap=True)
    for tag in report.tags.values():
        # One line per level in one cell keeps the table narrow enough for 80 columns.
        alphas = "\n".join(f"{level} {figure(value)}" for level, value in tag.alpha.items())
        if tag.kind == OTHER:  # no statistics: the reason is printed below the table
            table.add_row(tag.tag, tag.type, "", "", "", "", "")
            continue
        counts = (str(tag.values), str(tag.units), str(sum(tag.skipped.values())))
        table.add_row(tag.tag, tag.type, *counts, alphas, figure(tag.fleiss_kappa))
    return table


def cohen_table(tag: TagStatistics) -> Table:
    """Cohen's kappa of the tag's most co-rated annotator pairs."""
    weightings = WEIGHTINGS_BY_KIND[tag.kind]
    table = Table(
        "annotators", "tasks", *(f"kappa {w}" for w in weightings),
        title=f"{tag.tag}: Cohen's kappa per annotator pair",
    )  # fmt: skip
    pairs = sorted(tag.cohen, key=lambda pair: -pair.units)
    for pair in pairs[:MAX_ROWS]:
        kappas = (figure(pair.kappa[w]) for w in weightings)
        table.add_row(f"{pair.annotator_a} / {pair.annotator_b}", str(pair.units), *kappas)
    if len(pairs) > MAX_ROWS:
        table.caption = f"{len(pairs) - MAX_ROWS} more pairs in the JSON report"
    return table


def labels_table(tag: TagStatistics) -> Table:
    """Per-label agreement of the tag's most used labels."""
    table = Table("label", "uses", "pairable", "agreement", "alpha", title=f"{tag.tag}: per label")
    # Numbers read best in scale order; labels most used first.
    labels = list(tag.labels) if tag.kind == NUMERIC else sorted(tag.labels, key=lambda r: -r.uses)
    for label in labels[:MAX_ROWS]:
        table.add_row(
            str(label.value), str(label.uses), str(label.pairable),
            figure(label.agreement), figure(label.alpha),
        )  # fmt: skip
    if len(labels) > MAX_ROWS:
        table.caption = f"{len(labels) - MAX_ROWS} more labels in the JSON report"
    return table


def reasons(report: ProjectReport) -> Iterable[Text]:
    """Why each undefined tag statistic is undefined, one line each."""
    for tag in report.tags.values():
        for key, reason in tag.reasons.items():
            yield Text(f"{tag.tag} {key}: {reason}", style="dim")


def report_tables(report: ProjectReport, export: str, lowest: int) -> list[RenderableType]:
    """Everything to print, in order: summary, lowest tasks, annotators, statistics."""
    tables: list[RenderableType] = [summary_table(report, export)]
    if lowest > 0 and report.summary.scored_tasks:
        tables.append(lowest_table(report, lowest))
    tables.append(annotators_table(report))
    if report.matrix.annotators:
        tables.append(matrix_table(report.matrix, "Annotator x annotator agreement"))
    if report.tags:
        tables.append(statistics_table(report))
        tables.extend(reasons(report))
    for tag in report.tags.values():
        if tag.cohen:
            tables.append(cohen_table(tag))
        if tag.labels:
            tables.append(labels_table(tag))
    return tables
