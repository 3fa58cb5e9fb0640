"""Project statistics per control tag for ``quorum score``: alpha, kappas, per-label agreement.

Chance-corrected statistics need one value per annotator and task, so they are computed
for the tags whose annotations carry one label or number: single choice, single-path
taxonomy, pairwise, datetime (categorical) and rating, number (numeric). An annotation
holding several values of such a tag (multi-choice, several taxonomy paths, per-region
ratings) cannot be placed in the reliability matrix: it is skipped and counted. Units
are tasks; annotators are Label Studio's ``completed_by``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from itertools import combinations
from typing import Any

from agreement.metrics.fields import number, strings
from agreement.stats import (
    AnnotatorMatrix,
    CohenAccumulator,
    FleissAccumulator,
    KrippendorffAccumulator,
    Value,
)

from .report_model import AgreementMatrix, CohenPair, LabelRow, TagStatistics

CATEGORICAL = "categorical"
NUMERIC = "numeric"
OTHER = "other"

# Result type -> (field of ``value`` holding the answer, kind of the answer).
_FIELDS: dict[str, tuple[str, str]] = {
    "choices": ("choices", CATEGORICAL),
    "taxonomy": ("taxonomy", CATEGORICAL),
    "pairwise": ("selected", CATEGORICAL),
    "datetime": ("datetime", CATEGORICAL),
    "rating": ("rating", NUMERIC),
    "number": ("number", NUMERIC),
}
LEVELS_BY_KIND = {CATEGORICAL: ("nominal",), NUMERIC: ("nominal", "ordinal", "interval", "ratio")}
WEIGHTINGS_BY_KIND = {CATEGORICAL: ("unweighted",), NUMERIC: ("unweighted", "linear", "quadratic")}

SEVERAL_VALUES = "several_values"
UNREADABLE = "unreadable_value"
REPEATED = "repeated_annotator"
"""Why an annotation's value of a tag is left out of the statistics (keys of ``skipped``)."""

TAXONOMY_SEPARATOR = " / "  # a taxonomy path as one label: "Eukarya / Human"


def _entries(field: str, raw: Any) -> list[Any] | None:
    """The answers in one item's ``value[field]``; ``None`` if malformed."""
    if field == "choices":
        return strings(raw)
    if field == "taxonomy":
        if not isinstance(raw, list):
            return None
        paths = [strings(path) for path in raw]
        if any(path is None for path in paths):
            return None
        return [TAXONOMY_SEPARATOR.join(path) for path in paths if path is not None]
    if field in ("rating", "number"):
        read = number(raw)
        if read is None:
            return None
        # Integral ratings stay ints, so the labels read 4, not 4.0.
        return [int(read) if read.is_integer() else read]
    return [raw] if isinstance(raw, str) else None


def tag_value(
    result_type: str, items: Sequence[Mapping[str, Any]]
) -> tuple[Value | None, str | None]:
    """The one value an annotation gives a tag, or why it has none usable.

    Parameters
    ----------
    result_type
        The tag's result type (``"choices"``, ``"rating"``...; a key of the table above).
    items
        The annotation's result items of the tag (at least one).

    Returns
    -------
    (value, reason)
        ``(value, None)`` for one value; ``(None, None)`` for no value (an empty
        choice: the annotation does not rate the unit); ``(None, reason)`` when skipped,
        ``reason`` one of :data:`SEVERAL_VALUES`, :data:`UNREADABLE`.
    """
    field = _FIELDS[result_type][0]
    found: list[Any] = []
    for item in items:
        value = item.get("value")
        entries = (
            _entries(field, value.get(field))
            if isinstance(value, Mapping) and item.get("type") == result_type
            else None
        )
        if entries is None:
            return None, UNREADABLE
        found.extend(entries)
    if len(found) > 1:
        return None, SEVERAL_VALUES
    return (found[0], None) if found else (None, None)


class TagTally:
    """The values of one tag, task by task, in the accumulators of :mod:`agreement.stats`."""

    def __init__(self, tag: str, result_type: str) -> None:
        self.tag = tag
        self.type = result_type
        self.kind = _FIELDS[result_type][1] if result_type in _FIELDS else OTHER
        self.alpha = KrippendorffAccumulator()
        self.fleiss = FleissAccumulator()
        self.cohen = CohenAccumulator()
        self.raters: Counter[int] = Counter()  # values per unit -> units
        self.co_rated: Counter[tuple[str, str]] = Counter()
        self.uses: Counter[Value] = Counter()
        self.skipped: Counter[str] = Counter()
        self.matrix = AnnotatorMatrix()

    def add_unit(self, task: str, values: Mapping[str, Value]) -> None:
        """Count one task's values, by annotator."""
        if not values:
            return
        for value in values.values():
            self.alpha.add(task, value)
            self.fleiss.add(task, value)
            self.uses[value] += 1
        self.raters[len(values)] += 1
        for annotator_a, annotator_b in combinations(sorted(values), 2):
            self.cohen.add(annotator_a, values[annotator_a], annotator_b, values[annotator_b])
            self.co_rated[(annotator_a, annotator_b)] += 1

    def statistics(self) -> TagStatistics:
        """The tag's :class:`TagStatistics` from what was counted."""
        reasons: dict[str, str] = {}
        alpha: dict[str, float] = {}
        fleiss = math.nan
        if self.kind == OTHER:
            reasons["statistics"] = (
                f"{self.type} results are not one label or number per annotation; "
                "this tag is measured by task agreement only"
            )
        else:
            for level in LEVELS_BY_KIND[self.kind]:
                alpha[level] = _figure(partial(self.alpha.alpha, level), f"alpha.{level}", reasons)
            fleiss = self._fleiss(reasons)
        return TagStatistics(
            tag=self.tag,
            type=self.type,
            kind=self.kind,
            values=sum(self.uses.values()),
            units=sum(self.raters.values()),
            skipped=dict(sorted(self.skipped.items())),
            alpha=alpha,
            fleiss_kappa=fleiss,
            cohen=tuple(self._cohen()) if self.kind != OTHER else (),
            labels=self._labels(),
            matrix=AgreementMatrix.of(self.matrix),
            reasons=reasons,
        )

    def _fleiss(self, reasons: dict[str, str]) -> float:
        if len(self.raters) > 1:
            # The generalized form exists, but "Fleiss' kappa" in a report should mean
            # Fleiss (1971), which assumes a fixed number of raters per subject.
            reasons["fleiss"] = (
                f"tasks have {min(self.raters)} to {max(self.raters)} values of this tag; "
                "Fleiss' kappa needs the same number on every task (see Krippendorff's alpha)"
            )
            return math.nan
        return _figure(self.fleiss.kappa, "fleiss", reasons)

    def _cohen(self) -> Iterable[CohenPair]:
        for (annotator_a, annotator_b), units in sorted(self.co_rated.items()):
            kappa: dict[str, float] = {}
            reasons: dict[str, str] = {}
            for weighting in WEIGHTINGS_BY_KIND[self.kind]:
                weights = None if weighting == "unweighted" else weighting
                compute = partial(self.cohen.kappa, annotator_a, annotator_b, weights)
                kappa[weighting] = _figure(compute, weighting, reasons)
            yield CohenPair(annotator_a, annotator_b, units, kappa, reasons)

    def _labels(self) -> tuple[LabelRow, ...]:
        pairable = self.alpha.labels()
        rows = []
        for value, uses in self.uses.items():
            label = pairable.get(value)
            rows.append(
                LabelRow(
                    value=value,
                    uses=uses,
                    pairable=0 if label is None else label.pairable,
                    agreement=math.nan if label is None else label.agreement,
                    alpha=math.nan if label is None else label.alpha,
                )
            )
        # Numbers ascending, then labels by name: a stable order for tables and diffs.
        return tuple(sorted(rows, key=lambda row: (isinstance(row.value, str), row.value)))


def _figure(compute: Callable[[], float], key: str, reasons: dict[str, str]) -> float:
    """``compute()``, or NaN with the ``ValueError`` message kept as the reason."""
    try:
        return float(compute())
    except ValueError as exc:
        reasons[key] = str(exc)
        return math.nan


class StatisticsTally:
    """Every tag's :class:`TagTally`, fed one task at a time."""

    def __init__(self) -> None:
        self.tags: dict[str, TagTally] = {}

    def _tally(self, tag: str, result_type: str) -> TagTally:
        tally = self.tags.get(tag)
        if tally is None:
            tally = self.tags[tag] = TagTally(tag, result_type)
        return tally

    def add_task(self, task: str, annotations: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Count a task's counted human annotations, as ``(annotator, annotation)``.

        An annotator with two annotations of the task keeps the first (export order);
        the second is skipped as :data:`REPEATED`, since a reliability matrix has one
        cell per annotator and unit.
        """
        values: dict[str, dict[str, Value]] = {}
        seen: set[tuple[str, str]] = set()  # (tag, annotator) with items on this task
        for annotator, annotation in annotations:
            for tag, items in _by_tag(annotation.get("result")).items():
                tally = self._tally(tag, str(items[0].get("type")))
                if tally.kind == OTHER:
                    continue
                unit = values.setdefault(tag, {})
                value, reason = tag_value(tally.type, items)
                if (tag, annotator) in seen:
                    reason = REPEATED
                seen.add((tag, annotator))
                if reason is not None:
                    tally.skipped[reason] += 1
                elif value is not None:
                    unit[annotator] = value
        for tag, unit in values.items():
            self.tags[tag].add_unit(task, unit)

    def add_pair(self, tag: str, annotator_a: str, annotator_b: str, score: float) -> None:
        """Count one task's pair score of ``tag`` for two (different) annotators."""
        tally = self.tags.get(tag)
        if tally is not None:  # a tag only predictions have: no annotator statistics
            tally.matrix.add(annotator_a, annotator_b, score)

    def statistics(self) -> dict[str, TagStatistics]:
        """:class:`TagStatistics` of every tag seen, by tag name, sorted."""
        return {tag: self.tags[tag].statistics() for tag in sorted(self.tags)}


def _by_tag(result: Any) -> dict[str, list[Mapping[str, Any]]]:
    tags: dict[str, list[Mapping[str, Any]]] = {}
    if not isinstance(result, list):
        return tags
    for item in result:
        # Relations carry no from_name and are no tag's answer (as in agreement.pair).
        if isinstance(item, Mapping) and isinstance(item.get("from_name"), str):
            tags.setdefault(item["from_name"], []).append(item)
    return tags
