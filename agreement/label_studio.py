"""Label Studio's own formats, read as it writes them: labeling config, project, export.

The labeling config is the project's XML (``<View>...</View>``); every control tag (an
element with ``name`` and ``toName``) produces result items whose ``type`` is the tag name
in lower case and whose ``from_name`` is the tag's ``name``. The project JSON is
``GET /api/projects/{id}`` as it comes; the export is Label Studio's JSON export (a list of
tasks, each with ``annotations`` and ``predictions``).
"""

from __future__ import annotations

import inspect
import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .metrics import DEFAULT_METRIC, REGISTRY

# Label Studio's spelling of its control tags. The frontend matches tag names without
# regard to case, so a config may say <rectanglelabels>; we report the canonical name.
_CANONICAL = {
    name.lower(): name
    for name in (
        "Choices", "Taxonomy", "DateTime", "Pairwise", "Number", "Rating", "TextArea",
        "Ranker", "Labels", "HyperTextLabels", "ParagraphLabels", "TimeSeriesLabels",
        "TimelineLabels", "RectangleLabels", "Rectangle", "PolygonLabels", "Polygon",
        "EllipseLabels", "Ellipse", "KeyPointLabels", "KeyPoint", "BrushLabels", "Brush",
        "BitmaskLabels", "Bitmask", "VectorLabels", "Vector", "VideoRectangle", "MagicWand",
    )
}  # fmt: skip
# Visual tags that also carry name and toName but produce no result.
_NOT_CONTROLS = frozenset({"filter"})
_RATING_MAX_DEFAULT = 5  # Label Studio's default maxRating


@dataclass(frozen=True, slots=True)
class ControlTag:
    """One control tag of a labeling config.

    ``type`` is the ``type`` of the result items it produces (the tag name in lower
    case). ``labels`` are its ``Label``/``Choice`` values (the ``alias`` where one is
    set, since results carry the alias), nested ``Taxonomy`` choices included, or the
    ``Bucket`` names of a ``Ranker``. ``value_range`` is the width of a numeric tag's
    scale: ``maxRating - 1`` for Rating (default 5 stars, so 4), ``max - min`` for a
    Number with both bounds, else None.
    """

    name: str
    tag: str
    type: str
    to_name: tuple[str, ...]
    labels: tuple[str, ...] = ()
    multiple: bool = False
    per_region: bool = False
    value_range: float | None = None

    def default_metric(self) -> tuple[str, dict[str, Any]]:
        """The Label Studio Enterprise default metric of this tag and its parameters.

        The metric is :data:`agreement.metrics.DEFAULT_METRIC` for the tag's type
        (``exact_match`` for a type without one); the numeric range is passed as ``range``
        when that metric takes it.
        """
        metric = DEFAULT_METRIC.get(self.type, "exact_match")
        params: dict[str, Any] = {}
        # A one-point scale (maxRating="1") has nothing to disagree on and no width to
        # divide by, so it keeps the metric's own default.
        if self.value_range and metric_accepts(metric, "range"):
            params["range"] = self.value_range
        return metric, params


@dataclass(frozen=True, slots=True)
class ControlWeight:
    """One entry of Label Studio's ``control_weights``: the tag's and each label's weight.

    ``tag`` is the control tag's Label Studio name (the entry's ``type``, e.g. "Choices").
    """

    overall: float = 1.0
    labels: Mapping[str, float] = field(default_factory=dict)
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class LabelStudioProject:
    """What scoring needs from ``GET /api/projects/{id}``."""

    id: int | str | None
    label_config: str | None
    controls: Mapping[str, ControlTag]
    control_weights: Mapping[str, ControlWeight]
    maximum_annotations: int | None


def metric_accepts(metric: str, param: str) -> bool:
    """Whether the registered metric ``metric`` takes the keyword parameter ``param``."""
    factory = REGISTRY.get(metric)
    if factory is None:
        return False
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        return False
    return any(p.name == param or p.kind is p.VAR_KEYWORD for p in parameters)


def _local(name: str) -> str:
    # "{namespace}Tag" -> "Tag": configs are namespace-less, but a pasted one may not be.
    return name.rpartition("}")[2]


def _attributes(element: ET.Element) -> dict[str, str]:
    return {_local(key).lower(): value for key, value in element.attrib.items()}


def _number(control: str, attributes: Mapping[str, str], key: str) -> float | None:
    text = attributes.get(key.lower())
    if text is None or text.strip() == "":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(
            f"control tag {control!r}: {key}={text!r} is not a number; fix the labeling config"
        )
    return value


def _labels(control: ET.Element, kind: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}  # ordered set: config order, no duplicates
    for element in control.iter():
        if element is control:
            continue
        child = _local(element.tag).lower()
        attributes = _attributes(element)
        if kind == "ranker":
            label = attributes.get("name") if child == "bucket" else None
        elif child in ("label", "choice"):
            label = attributes.get("alias") or attributes.get("value")
        else:
            label = None
        if label is not None:
            seen[label] = None
    return tuple(seen)


def _value_range(name: str, kind: str, attributes: Mapping[str, str]) -> float | None:
    if kind == "rating":
        top = _number(name, attributes, "maxRating")
        return (_RATING_MAX_DEFAULT if top is None else top) - 1.0
    if kind == "number":
        low = _number(name, attributes, "min")
        high = _number(name, attributes, "max")
        if low is not None and high is not None:
            if high < low:
                raise ValueError(f"control tag {name!r}: max={high} is below min={low}")
            return high - low
    return None


def parse_label_config(label_config: str) -> dict[str, ControlTag]:
    """The control tags of a Label Studio labeling config, by name, in config order.

    Parameters
    ----------
    label_config
        The XML as Label Studio stores it (``project["label_config"]``).

    Returns
    -------
    dict[str, ControlTag]
        Every element with ``name`` and ``toName`` (except the visual ``Filter``),
        keyed by ``name``. Tags Quorum has no metric for are included too; they are
        scored by exact match.

    Raises
    ------
    ValueError
        If the XML is malformed, or two control tags share a name.
    """
    if not isinstance(label_config, str) or not label_config.strip():
        raise ValueError("the labeling config is empty; pass the project's label_config XML")
    try:
        root = ET.fromstring(label_config)
    except ET.ParseError as exc:
        line, column = exc.position
        raise ValueError(
            f"the labeling config is not well-formed XML (line {line}, column {column + 1}): "
            f"{exc}; check it in Label Studio's labeling interface editor"
        ) from None
    controls: dict[str, ControlTag] = {}
    for element in root.iter():
        attributes = _attributes(element)
        written = _local(element.tag)
        kind = written.lower()
        name = attributes.get("name")
        to_name = attributes.get("toname")
        if name is None or to_name is None or kind in _NOT_CONTROLS:
            continue
        if name in controls:
            raise ValueError(
                f"two control tags are named {name!r}; Label Studio needs unique names"
            )
        controls[name] = ControlTag(
            name=name,
            tag=_CANONICAL.get(kind, written),
            type=kind,
            to_name=tuple(part.strip() for part in to_name.split(",") if part.strip()),
            labels=_labels(element, kind),
            multiple=attributes.get("choice", "").lower() == "multiple",
            per_region=attributes.get("perregion", "").lower() == "true",
            value_range=_value_range(name, kind, attributes),
        )
    return controls


def check_weight(where: str, value: object) -> float:
    """``value`` as a weight (a finite number >= 0); ``ValueError`` naming ``where`` if not."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} must be a number >= 0, got {value!r}")
    weight = float(value)
    if not (weight >= 0.0 and math.isfinite(weight)):
        raise ValueError(f"{where} must be a finite number >= 0, got {value!r}")
    return weight


def read_control_weights(raw: object) -> dict[str, ControlWeight]:
    """Label Studio's ``control_weights``: ``{tag: {"overall": w, "type": ..., "labels": {...}}}``.

    A bare number stands for ``{"overall": number}``. Missing weights are 1.0.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"control_weights must be an object by control tag, got {raw!r}")
    weights: dict[str, ControlWeight] = {}
    for tag, spec in raw.items():
        where = f"control_weights[{tag!r}]"
        if not isinstance(spec, Mapping):
            weights[tag] = ControlWeight(overall=check_weight(where, spec))
            continue
        labels = spec.get("labels")
        labels = {} if labels is None else labels
        if not isinstance(labels, Mapping):
            raise ValueError(f"{where}.labels must be an object by label, got {labels!r}")
        kind = spec.get("type")
        weights[tag] = ControlWeight(
            tag=kind if isinstance(kind, str) else None,
            overall=check_weight(f"{where}.overall", spec.get("overall", 1.0)),
            labels={
                label: check_weight(f"{where}.labels[{label!r}]", w) for label, w in labels.items()
            },
        )
    return weights


def read_project(project: Mapping[str, Any]) -> LabelStudioProject:
    """Read a project as ``GET /api/projects/{id}`` returns it (other fields are ignored).

    Raises
    ------
    ValueError
        If ``label_config``, ``control_weights`` or ``maximum_annotations`` is malformed.
    """
    if not isinstance(project, Mapping):
        raise ValueError(f"a Label Studio project must be a JSON object, got {project!r}")
    label_config = project.get("label_config")
    controls = parse_label_config(label_config) if label_config else {}
    maximum = project.get("maximum_annotations")
    if maximum is not None and (isinstance(maximum, bool) or not isinstance(maximum, int)):
        raise ValueError(f"maximum_annotations must be an integer, got {maximum!r}")
    return LabelStudioProject(
        id=project.get("id"),
        label_config=label_config,
        controls=controls,
        control_weights=read_control_weights(project.get("control_weights")),
        maximum_annotations=maximum,
    )


@dataclass(frozen=True, slots=True)
class ExportTask:
    """One task of a Label Studio JSON export: its annotations and predictions, unchanged."""

    id: int | str
    annotations: tuple[Mapping[str, Any], ...]
    predictions: tuple[Mapping[str, Any], ...]


def _records(task_id: object, task: Mapping[str, Any], key: str) -> tuple[Mapping[str, Any], ...]:
    records = task.get(key)
    records = [] if records is None else records
    if key == "predictions" and isinstance(records, list):
        # Label Studio's export endpoint lists predictions by id only (1.23.2: `[1, 2]`),
        # with nothing to score: those are left out (`quorum label-studio connect` asks
        # for them whole).
        records = [r for r in records if not (isinstance(r, int) and not isinstance(r, bool))]
    if not isinstance(records, list) or not all(isinstance(r, Mapping) for r in records):
        raise ValueError(f"task {task_id!r}: {key!r} must be a list of objects")
    return tuple(records)


def read_export(export: object) -> list[ExportTask]:
    """The tasks of a Label Studio JSON export (``Export > JSON``), in file order.

    Parameters
    ----------
    export
        The decoded file: a list of tasks, each with ``id``, ``annotations`` and
        optionally ``predictions``. The JSON-MIN and CSV exports flatten the
        annotations away and cannot be scored.

    Raises
    ------
    ValueError
        If ``export`` is not a list of tasks with ids and annotation lists.
    """
    if not isinstance(export, list):
        raise ValueError(
            "a Label Studio JSON export is a list of tasks; export the project as JSON "
            "(not JSON-MIN or CSV), which keeps every annotation"
        )
    tasks: list[ExportTask] = []
    for position, task in enumerate(export):
        if not isinstance(task, Mapping) or "id" not in task:
            raise ValueError(f"export item {position} is not a task with an 'id'")
        task_id = task["id"]
        tasks.append(
            ExportTask(
                id=task_id,
                annotations=_records(task_id, task, "annotations"),
                predictions=_records(task_id, task, "predictions"),
            )
        )
    return tasks


def annotator_of(annotation: Mapping[str, Any]) -> str | None:
    """The annotator of an annotation as a string id; None for a prediction.

    ``completed_by`` is a user id in current exports and webhooks, and an object with
    ``id`` and ``email`` in some older exports; both give the same id.
    """
    author = annotation.get("completed_by")
    if isinstance(author, Mapping):
        author = author.get("id", author.get("email"))
    if author is None or isinstance(author, bool):
        return None
    return str(author)
