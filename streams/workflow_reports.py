"""What the read API says about a project: its annotators and its model versions, as plain
JSON types. Pure: built from one :class:`~streams.workflow.ProjectWorkflow`, no I/O.

The workflow agent keeps both up to date one fact at a time; these functions only read
them, for ``GET /projects/{project}/annotators`` and ``GET /projects/{project}/models``
(and ``quorum annotators report`` / ``quorum models report``, which print them).

Field names follow the output events (``quorum.annotator-quality/v1``,
``quorum.model-quality/v1``, ``quorum.model-regressed/v1``) where they say the same
thing, so a consumer reads one vocabulary. Times are ISO 8601 in UTC; an undefined
figure (nothing to average) is ``null``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from assignment.model_settings import METRICS, ModelScores
from streams.model_quality import ProjectModels
from streams.quality import ProjectQuality
from streams.report_model import annotator_order
from streams.workflow import ProjectWorkflow


def annotators_report(project: str, workflow: ProjectWorkflow) -> dict[str, Any]:
    """Every annotator's performance now, and the annotator agreement matrix.

    Returns ``{"project_id", "annotators": [row, ...], "matrix": {...}}``: a row per
    annotator with a submitted or skipped annotation (numeric ids in numeric order), see
    :func:`annotator_row`; the matrix as :func:`agreement_matrix` gives it.
    """
    quality = workflow.quality
    annotators = sorted(quality.annotators(), key=annotator_order)
    return {
        "project_id": project,
        "annotators": [annotator_row(quality, annotator) for annotator in annotators],
        "matrix": agreement_matrix(quality),
    }


def annotator_row(quality: ProjectQuality, annotator: str) -> dict[str, Any]:
    """One annotator's Members-dashboard numbers (:class:`assignment.AnnotatorSummary`:
    agreement with others, ground-truth agreement, acceptance and performance scores,
    submitted, skipped, reviews, lead times in seconds, ``last_active``), plus the
    estimated ``reliability`` (``null`` while unknown or with reliability off) and
    ``paused`` (the evaluation paused them for their ground-truth score)."""
    row = dataclasses.asdict(quality.summary(annotator))
    row["last_active"] = _iso(row["last_active"])
    row["reliability"] = quality.quality(annotator).reliability
    row["paused"] = quality.is_paused(annotator)
    return row


def agreement_matrix(quality: ProjectQuality) -> dict[str, Any]:
    """The annotator x annotator agreement matrix, sparse.

    ``annotators``: everyone with a pair score, in :func:`annotator_order`; ``pairs``: one
    entry per two annotators who share a scored task, ``a`` before ``b`` in that order,
    with ``agreement`` (the mean pair score of their annotations of shared tasks, in
    [0, 1]) and ``tasks`` (how many pair scores it is over: the tasks both annotated).
    Pairs without a shared task are left out (the dense matrix has NaN there, and would
    be A x A for A annotators).
    """
    found = quality.agreement_pairs()  # not matrix(): that is dense, A x A floats
    order = {name: annotator_order(name) for a, b, _, _ in found for name in (a, b)}
    ordered = [
        (min(a, b, key=order.__getitem__), max(a, b, key=order.__getitem__), tasks, mean)
        for a, b, tasks, mean in found
    ]
    ordered.sort(key=lambda pair: (order[pair[0]], order[pair[1]]))
    return {
        "annotators": sorted(order, key=order.__getitem__),
        "pairs": [{"a": a, "b": b, "agreement": mean, "tasks": tasks}
                  for a, b, tasks, mean in ordered],
    }


def models_report(project: str, workflow: ProjectWorkflow) -> dict[str, Any]:
    """Every model version's figures and timeline, and the current regressions.

    Returns ``{"project_id", "settings", "versions": [...], "regressions": [...]}``:
    ``settings`` the project's model evaluation settings (bucket length, regression
    margin and minimum); versions in first-seen order, see :func:`model_version_row`;
    each regression as a ``quorum.model-regressed/v1`` event says it.
    """
    models = workflow.models
    evaluation = models.evaluation
    return {
        "project_id": project,
        "settings": evaluation.settings.to_dict(),
        "versions": [model_version_row(models, version) for version in evaluation.versions()],
        "regressions": regressions(models),
    }


def model_version_row(models: ProjectModels, version: str) -> dict[str, Any]:
    """A version's figures over all its predictions (:func:`model_figures`), the version
    seen before it (``previous_version``), and its ``timeline``: the figures per time
    bucket with a prediction, oldest first (``start``: the bucket's start)."""
    evaluation = models.evaluation
    overall = evaluation.scores(version)
    return {
        "model_version": version,
        "previous_version": evaluation.previous_version(version),
        "first_seen": _iso(overall.start),
        **model_figures(overall),
        "timeline": [{"start": _iso(bucket.start), **model_figures(bucket)}
                     for bucket in evaluation.timeline(version)],
    }


def model_figures(scores: ModelScores) -> dict[str, Any]:
    """``predictions`` and, per metric (annotators, consensus, ground_truth), the mean
    ``<metric>_agreement`` in [0, 1] (``null`` with none scored) over ``<metric>_tasks``
    scored predictions: the fields of ``quorum.model-quality/v1``."""
    figures: dict[str, Any] = {"predictions": scores.predictions}
    for metric in METRICS:
        mean = getattr(scores, metric.value)
        figures[f"{metric.value}_agreement"] = mean.mean
        figures[f"{metric.value}_tasks"] = mean.count
    return figures


def regressions(models: ProjectModels) -> list[dict[str, Any]]:
    """Each (version, metric) regressed now against the version before it, with both
    means and the margin, sorted by version and metric."""
    evaluation = models.evaluation
    found = []
    for version, metric in evaluation.regressions():
        previous = evaluation.previous_version(version)
        found.append({
            "model_version": version,
            "previous_version": previous,
            "metric": metric.value,
            "agreement": getattr(evaluation.scores(version), metric.value).mean,
            "previous_agreement": None if previous is None
            else getattr(evaluation.scores(previous), metric.value).mean,
            "margin": evaluation.settings.regression_margin,
        })
    return found


def _iso(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


__all__ = [
    "agreement_matrix",
    "annotator_row",
    "annotators_report",
    "model_figures",
    "model_version_row",
    "models_report",
    "regressions",
]
