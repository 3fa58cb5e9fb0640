"""What ``quorum score`` reports: plain frozen dataclasses, built by :mod:`streams.report`.

A task row per task, an annotator row per annotator, the annotator x annotator agreement
matrix, and per control tag its chance-corrected statistics. NaN marks a figure that is
undefined (no data, or a statistic that does not apply); the report gives the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agreement.stats import AnnotatorMatrix, Value


@dataclass(frozen=True, slots=True)
class AgreementMatrix:
    """Mean pair score of every two annotators over the tasks they share.

    ``values`` has shape (A, A) for the A ``annotators``: NaN where two annotators
    share no scored task, 1.0 on the diagonal (see :class:`agreement.AnnotatorMatrix`).
    """

    annotators: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]

    @classmethod
    def of(cls, matrix: AnnotatorMatrix) -> AgreementMatrix:
        """The matrix of ``matrix``, annotators in :func:`annotator_order`."""
        names, values = matrix.matrix()
        order = sorted(range(len(names)), key=lambda i: annotator_order(names[i]))
        return cls(
            tuple(names[i] for i in order),
            tuple(tuple(float(values[i, j]) for j in order) for i in order),
        )


def annotator_order(annotator: str) -> tuple[int, int, str]:
    """Sort key: numeric user ids in numeric order ("2" before "10"), then other ids."""
    return (
        (0, int(annotator), "")
        if annotator.isascii() and annotator.isdigit()
        else (1, 0, annotator)
    )


@dataclass(frozen=True, slots=True)
class CohenPair:
    """Cohen's kappa of two annotators over the ``units`` tasks both gave a value.

    ``kappa`` by weighting (``"unweighted"``; ``"linear"`` and ``"quadratic"`` for
    numeric tags), NaN where undefined, with the reason in ``reasons``.
    """

    annotator_a: str
    annotator_b: str
    units: int
    kappa: dict[str, float]
    reasons: dict[str, str]


@dataclass(frozen=True, slots=True)
class LabelRow:
    """One value of a tag: ``uses`` (all values given), and from the pairable ones
    (:class:`agreement.LabelAgreement`) ``pairable``, ``agreement`` in [0, 1] and the
    binary ``alpha`` (NaN when undefined, or when the value is never pairable)."""

    value: Value
    uses: int
    pairable: int
    agreement: float
    alpha: float


@dataclass(frozen=True, slots=True)
class TagStatistics:
    """The project statistics of one control tag.

    ``kind`` is ``"categorical"``, ``"numeric"`` or ``"other"`` (no statistics: its
    results are not one value per annotation). ``values`` counts the values that entered
    the statistics, ``units`` the tasks with at least one. ``alpha`` is Krippendorff's
    alpha by level; ``fleiss_kappa`` NaN unless every unit has the same number of
    raters; every NaN has its reason in ``reasons`` (keyed ``"alpha.<level>"``,
    ``"fleiss"`` or ``"statistics"``). ``matrix`` is from the tag's pair scores.
    """

    tag: str
    type: str
    kind: str
    values: int
    units: int
    skipped: dict[str, int]
    alpha: dict[str, float]
    fleiss_kappa: float
    cohen: tuple[CohenPair, ...]
    labels: tuple[LabelRow, ...]
    matrix: AgreementMatrix
    reasons: dict[str, str]


@dataclass(frozen=True, slots=True)
class TaskRow:
    """One task: its :class:`agreement.TaskScore` figures and who annotated it.

    ``score`` (None without a counted annotation) and ``dimensions`` are the task
    score's ``overall`` and ``dimensions``; ``pairs`` its pair scores by annotation ids;
    ``annotators`` the distinct annotators of its counted annotations, in
    :func:`~streams.report_statistics.annotator_order`.
    """

    id: int | str
    score: float | None
    dimensions: dict[str, float | None]
    annotations: int
    annotators: tuple[str, ...]
    pairs: dict[tuple[str, str], float]

    @property
    def scored(self) -> bool:
        """Whether the task has two or more counted annotations (a real agreement)."""
        return self.annotations >= 2 and self.score is not None


@dataclass(frozen=True, slots=True)
class AnnotatorRow:
    """One annotator's agreement.

    ``agreement`` is the mean of the pair scores of their annotations with other
    annotators' (``pairs`` of them), in [0, 1], NaN with none; ``ground_truth`` the mean
    pair score with the ground truth annotation of the ``ground_truth_tasks`` tasks
    that have one by someone else, NaN with none.
    """

    annotator: str
    tasks: int
    annotations: int
    pairs: int
    agreement: float
    ground_truth_tasks: int
    ground_truth: float


@dataclass(frozen=True, slots=True)
class Summary:
    """Project totals. ``mean`` and ``median`` task agreement are over the
    ``scored_tasks`` (two or more counted annotations), NaN when there is none;
    ``below_threshold`` counts scored tasks under ``threshold`` (None without one)."""

    tasks: int
    scored_tasks: int
    annotations: int
    cancelled: int
    annotators: int
    mean: float
    median: float
    threshold: float | None
    below_threshold: int | None
    ground_truth_tasks: int


@dataclass(frozen=True, slots=True)
class ProjectReport:
    """Everything ``quorum score`` reports; ``scoring`` is the config's ``to_dict()``."""

    summary: Summary
    tasks: tuple[TaskRow, ...]
    annotators: tuple[AnnotatorRow, ...]
    matrix: AgreementMatrix
    tags: dict[str, TagStatistics]
    scoring: dict[str, Any]

    def lowest(self, count: int) -> list[TaskRow]:
        """The ``count`` scored tasks of lowest agreement, lowest first (ties by id)."""
        scored = [row for row in self.tasks if row.scored]
        scored.sort(key=lambda row: (row.score, str(row.id)))
        return scored[: max(count, 0)]
