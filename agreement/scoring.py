"""A project's scoring configuration, and task scores from Label Studio annotations.

:class:`ScoringConfig` says, per control tag, which metric (with which parameters and
weight) scores it, which methodology turns pair scores into a task score, and which
annotations count. Build it from Label Studio (labeling config and project JSON), from
a plain dict (Quorum's project configuration event), or not at all (defaults by result
type). :func:`score_task` and :func:`score_export` apply it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from types import MappingProxyType
from typing import Any

from .label_studio import (
    ControlWeight,
    check_weight,
    metric_accepts,
    parse_label_config,
    read_export,
    read_project,
)
from .methodology import (
    DEFAULT_CONSENSUS_THRESHOLD,
    Methodology,
    check_threshold,
    methodology_of,
    task_score,
)
from .metrics import DEFAULT_METRIC, Metric, ResultItem, make_metric
from .pair import _clip, score_pair

CustomMetric = Callable[[Mapping[str, Any], Mapping[str, Any]], float]
"""``(annotation_1, annotation_2) -> score in [0, 1]`` over two whole annotations, as in
Label Studio Enterprise's custom agreement metric."""


class CustomMetricError(ValueError):
    """A project's custom metric raised, or returned something other than a number: the
    user's code failed on these two annotations, not the input or the infrastructure."""


@dataclass(frozen=True, slots=True)
class TagScoring:
    """How one control tag is scored: a registered metric, its parameters and weights.

    ``weight`` is the tag's weight in the overall score (0 removes the tag);
    ``label_weights`` (per label, Label Studio's ``control_weights[tag]["labels"]``) are
    passed to the metric as its ``label_weights`` parameter.
    """

    metric: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    weight: float = 1.0
    label_weights: Mapping[str, float] | None = None

    def bind(self) -> Metric | None:
        """The metric bound to its parameters; ``None`` when the tag keeps its result
        type's default metric (only its weight is set); ``ValueError`` if it cannot be."""
        if self.metric is None:
            if self.params or self.label_weights is not None:
                raise ValueError("parameters and label weights need a metric name")
            return None
        params = dict(self.params)
        if self.label_weights is not None:
            params["label_weights"] = dict(self.label_weights)
        return make_metric(self.metric, **params)


def load_custom_metric(path: str) -> CustomMetric:
    """Import a custom metric named ``"package.module:function"`` or ``"package.module.function"``.

    Raises
    ------
    ValueError
        If the module cannot be imported, has no such attribute, or it is not callable.
    """
    if not isinstance(path, str):
        raise ValueError(f"custom metric must be a dotted path string, got {path!r}")
    module_name, colon, attribute = path.partition(":")
    if not colon:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise ValueError(
            f"custom metric {path!r} is not 'package.module:function' or "
            "'package.module.function'; name the module and the function"
        )
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a user's module may fail to import in any way
        raise ValueError(
            f"custom metric {path!r}: cannot import module {module_name!r} "
            f"({type(exc).__name__}: {exc}); install it or put it on PYTHONPATH"
        ) from exc
    function = getattr(module, attribute, None)
    if function is None:
        raise ValueError(f"custom metric {path!r}: module {module_name!r} has no {attribute!r}")
    if not callable(function):
        raise ValueError(f"custom metric {path!r} is not callable")
    return function


@dataclass(frozen=True, slots=True)
class ScoringConfig:
    """How a project's tasks are scored (DESIGN.md, "Agreement").

    Attributes
    ----------
    tags
        :class:`TagScoring` by control tag name. A tag not listed is scored with its
        result type's default metric and weight 1.
    methodology
        ``"pairwise"`` or ``"consensus"`` (see :mod:`agreement.methodology`).
    consensus_threshold
        Pair score in [0, 1] at which two annotations agree under consensus.
    include_predictions
        Whether predictions (``model_version``) are scored like annotations.
    include_ground_truth
        Whether ground truth annotations count, as normal annotations.
    custom_metric
        Dotted path of a :data:`CustomMetric`; when set, it scores each pair of whole
        annotations in place of the per-tag metrics, and there are no dimensions.

    Every metric is bound and the custom metric imported when the config is built, so a
    wrong name fails here with a clear ``ValueError``, not while scoring.
    """

    tags: Mapping[str, TagScoring] = field(default_factory=dict)
    methodology: Methodology = Methodology.PAIRWISE
    consensus_threshold: float = DEFAULT_CONSENSUS_THRESHOLD
    include_predictions: bool = False
    include_ground_truth: bool = True
    custom_metric: str | None = None
    _metrics: dict[str, Metric] = field(init=False, repr=False, compare=False)
    # Built once: every task record the stream loads asks for them.
    _weights: Mapping[str, float] = field(init=False, repr=False, compare=False)
    _custom: CustomMetric | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_field = object.__setattr__  # frozen: normalise once, here
        set_field(self, "methodology", methodology_of(self.methodology))
        set_field(self, "consensus_threshold", check_threshold(self.consensus_threshold))
        for flag in ("include_predictions", "include_ground_truth"):
            if not isinstance(getattr(self, flag), bool):
                raise ValueError(f"{flag} must be true or false, got {getattr(self, flag)!r}")
        metrics: dict[str, Metric] = {}
        for name, scoring in self.tags.items():
            check_weight(f"weight of control tag {name!r}", scoring.weight)
            for label, weight in (scoring.label_weights or {}).items():
                check_weight(f"label weight of {label!r} in control tag {name!r}", weight)
            try:
                metric = scoring.bind()
            except ValueError as exc:
                raise ValueError(f"control tag {name!r}: {exc}") from None
            if metric is not None:
                metrics[name] = metric
        set_field(self, "_metrics", metrics)
        weights = {name: scoring.weight for name, scoring in self.tags.items()}
        set_field(self, "_weights", MappingProxyType(weights))
        custom = self.custom_metric
        set_field(self, "_custom", None if custom is None else load_custom_metric(custom))

    @property
    def weights(self) -> Mapping[str, float]:
        """Weight by control tag, for the tags this config lists (read-only)."""
        return self._weights

    @property
    def metrics(self) -> Mapping[str, Metric]:
        """Bound metric by control tag, for the tags this config lists."""
        return self._metrics

    @property
    def custom(self) -> CustomMetric | None:
        """The imported custom metric, if any."""
        return self._custom

    @classmethod
    def from_label_studio(
        cls,
        label_config: str | None = None,
        project: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> ScoringConfig:
        """The configuration Label Studio Enterprise would apply to a project.

        Parameters
        ----------
        label_config
            The labeling config XML; defaults to ``project["label_config"]``.
        project
            The project as ``GET /api/projects/{id}`` returns it: its
            ``control_weights`` give each tag's weight and label weights.
        **options
            Any other field of :class:`ScoringConfig` (``methodology``...).

        Each control tag gets its type's default metric with the config's parameters
        (the numeric range of a Rating or Number). Label weights reach metrics that take
        ``label_weights``; all-1 label weights are the same as none and are dropped.
        """
        read = read_project(project) if project is not None else None
        if label_config is not None:
            controls = parse_label_config(label_config)
        else:
            controls = dict(read.controls) if read is not None else {}
        weights = dict(read.control_weights) if read is not None else {}
        tags: dict[str, TagScoring] = {}
        for name, control in controls.items():
            metric, params = control.default_metric()
            tags[name] = _tag_scoring(metric, params, weights.get(name))
        # control_weights may name tags the XML lacks (edited since): keep their weight.
        for name, weight in weights.items():
            if name not in tags:
                # Without the XML, the type named in control_weights picks the metric;
                # with no type either, the result type decides when scoring.
                default = DEFAULT_METRIC.get((weight.tag or "").lower())
                tags[name] = _tag_scoring(default, {}, weight)
        return cls(tags=tags, **options)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, read back by :meth:`from_dict`."""
        return {
            "methodology": self.methodology.value,
            "consensus_threshold": self.consensus_threshold,
            "include_predictions": self.include_predictions,
            "include_ground_truth": self.include_ground_truth,
            "custom_metric": self.custom_metric,
            "tags": {
                name: {
                    "metric": s.metric,
                    "params": dict(s.params),
                    "weight": s.weight,
                    "label_weights": None if s.label_weights is None else dict(s.label_weights),
                }
                for name, s in self.tags.items()
            },
        }

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> ScoringConfig:
        """Read :meth:`to_dict` output. Absent fields take their defaults; unknown ones are
        ignored (forward compatibility). ``ValueError`` names the field that is wrong."""
        if not isinstance(body, Mapping):
            raise ValueError(f"the scoring config must be an object, got {body!r}")
        raw_tags = body.get("tags")
        raw_tags = {} if raw_tags is None else raw_tags
        if not isinstance(raw_tags, Mapping):
            raise ValueError(f"scoring config field 'tags' must be an object, got {raw_tags!r}")
        options = {
            key: body[key]
            for key in (
                "methodology",
                "consensus_threshold",
                "include_predictions",
                "include_ground_truth",
                "custom_metric",
            )
            if body.get(key) is not None
        }
        return cls(tags={name: _tag_from_dict(name, s) for name, s in raw_tags.items()}, **options)


def _tag_scoring(
    metric: str | None, params: dict[str, Any], weight: ControlWeight | None
) -> TagScoring:
    if weight is None:
        return TagScoring(metric, params)
    labels = weight.labels
    uniform = all(w == 1.0 for w in labels.values())
    keep = (
        labels and not uniform and metric is not None and metric_accepts(metric, "label_weights")
    )
    return TagScoring(metric, params, weight.overall, dict(labels) if keep else None)


def _tag_from_dict(name: str, spec: object) -> TagScoring:
    where = f"scoring config tags[{name!r}]"
    if not isinstance(spec, Mapping):
        raise ValueError(f"{where} must be an object ('metric', 'weight'...), got {spec!r}")
    metric = spec.get("metric")
    if metric is not None and not isinstance(metric, str):
        raise ValueError(f"{where}.metric must be a metric name or null, got {metric!r}")
    params = spec.get("params")
    params = {} if params is None else params
    label_weights = spec.get("label_weights")
    for key, value in (("params", params), ("label_weights", label_weights or {})):
        if not isinstance(value, Mapping):
            raise ValueError(f"{where}.{key} must be an object, got {value!r}")
    return TagScoring(
        metric=metric,
        params=dict(params),
        weight=check_weight(f"{where}.weight", spec.get("weight", 1.0)),
        label_weights=None if label_weights is None else dict(label_weights),
    )


_DEFAULT_CONFIG = ScoringConfig()


@dataclass(frozen=True, slots=True)
class TaskScore:
    """Agreement of one task's counted annotations.

    Attributes
    ----------
    overall
        Task score in [0, 1] by the config's methodology; None when nothing is counted.
    dimensions
        Task score per control tag present in a counted annotation (weight-0 tags
        excepted), by the same methodology. A pair in which neither annotation has the
        tag agrees on it (1.0): two annotators who left it empty agree.
    pairs
        Overall score of each pair, keyed by the sorted pair of annotation ids.
    dimension_pairs
        Per control tag, the score of each pair, keyed like ``pairs``.
    annotation_ids
        Ids of the counted annotations, sorted; predictions are ``"prediction:<id>"``.
    annotation_count
        ``len(annotation_ids)``.
    """

    overall: float | None
    dimensions: dict[str, float | None]
    pairs: dict[tuple[str, str], float]
    dimension_pairs: dict[str, dict[tuple[str, str], float]]
    annotation_ids: tuple[str, ...]
    annotation_count: int


def _counted(
    annotations: Iterable[Mapping[str, Any]], config: ScoringConfig
) -> dict[str, Mapping[str, Any]]:
    counted: dict[str, Mapping[str, Any]] = {}
    for position, annotation in enumerate(annotations):
        if not isinstance(annotation, Mapping):
            raise ValueError(f"annotation {position} is not an object: {annotation!r}")
        # Skipped (cancelled) annotations hold no answer, whatever the config says.
        if annotation.get("was_cancelled"):
            continue
        prediction = "model_version" in annotation and "completed_by" not in annotation
        if prediction and not config.include_predictions:
            continue
        if not prediction and annotation.get("ground_truth") and not config.include_ground_truth:
            continue
        if prediction:
            # Predictions and annotations are numbered apart in Label Studio.
            key = f"prediction:{annotation.get('id', annotation['model_version'])}"
        elif annotation.get("id") is None:
            raise ValueError(f"annotation {position} has no 'id'; pass Label Studio's annotation")
        else:
            key = str(annotation["id"])
        if key in counted:
            raise ValueError(f"two annotations of the task have the id {key!r}")
        if not isinstance(annotation.get("result", []), list):
            raise ValueError(f"annotation {key!r}: 'result' must be a list of result items")
        counted[key] = annotation
    return counted


def custom_pair_score(
    config: ScoringConfig, custom: CustomMetric, a: Mapping[str, Any], b: Mapping[str, Any]
) -> float:
    """A custom metric's score of two annotations, checked and clipped to [0, 1];
    :class:`CustomMetricError` when the metric fails."""
    try:
        value = custom(a, b)
    except Exception as exc:  # the user's code: anything it raises is its failure
        raise CustomMetricError(
            f"custom metric {config.custom_metric!r} raised {type(exc).__name__}: {exc} "
            f"(scoring annotations {a.get('id')!r} and {b.get('id')!r}); fix the metric"
        ) from exc
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CustomMetricError(
            f"custom metric {config.custom_metric!r} returned {value!r}; it must return a "
            "float in [0, 1]"
        )
    return _clip(float(value))


def score_task(
    annotations: Iterable[Mapping[str, Any]], config: ScoringConfig | None = None
) -> TaskScore:
    """Score one task's annotations as Label Studio Enterprise would.

    Parameters
    ----------
    annotations
        Label Studio annotation dicts (``id``, ``result``, optional ``was_cancelled``,
        ``ground_truth``), and optionally predictions (dicts with ``model_version``).
        Cancelled (skipped) annotations never count; predictions count only if
        ``config.include_predictions``; ground truth counts unless
        ``config.include_ground_truth`` is False.
    config
        The project's :class:`ScoringConfig`; None scores every tag with its result
        type's default metric, weight 1, pairwise.

    Returns
    -------
    TaskScore
        With the pairwise methodology and no config, ``overall`` equals
        :func:`agreement.recompute` of the same results.

    Raises
    ------
    ValueError
        If an annotation has no id, two share one, or a result is not a list.
    """
    config = _DEFAULT_CONFIG if config is None else config
    counted = _counted(annotations, config)
    ids = sorted(counted)
    results: dict[str, list[ResultItem]] = {i: counted[i].get("result") or [] for i in ids}
    custom = config.custom
    weights = config.weights or None
    metrics = config.metrics or None
    if custom is None:
        tags = {item["from_name"] for r in results.values() for item in r if "from_name" in item}
        tags.discard(None)
        dimension_tags = sorted(t for t in tags if weights is None or weights.get(t, 1.0) != 0)
    else:
        dimension_tags = []
    pairs: dict[tuple[str, str], float] = {}
    dimension_pairs: dict[str, dict[tuple[str, str], float]] = {t: {} for t in dimension_tags}
    # Pairs in id order, first id first: the same call a recompute or the stream makes.
    for pair in combinations(ids, 2):
        id_a, id_b = pair
        if custom is not None:
            pairs[pair] = custom_pair_score(config, custom, counted[id_a], counted[id_b])
            continue
        scored = score_pair(results[id_a], results[id_b], metrics, weights)
        pairs[pair] = scored.overall
        for tag in dimension_tags:
            dimension_pairs[tag][pair] = scored.dimensions.get(tag, 1.0)
    count = len(ids)
    method, threshold = config.methodology, config.consensus_threshold
    return TaskScore(
        overall=task_score(pairs, count, method, threshold),
        dimensions={
            t: task_score(dimension_pairs[t], count, method, threshold) for t in dimension_tags
        },
        pairs=pairs,
        dimension_pairs=dimension_pairs,
        annotation_ids=tuple(ids),
        annotation_count=count,
    )


def score_export(export: object, config: ScoringConfig | None = None) -> dict[Any, TaskScore]:
    """Score every task of a Label Studio JSON export; :class:`TaskScore` by task id.

    ``export`` is the decoded export file (a list of tasks); each task's annotations and
    predictions go to :func:`score_task`, which counts predictions only if the config
    says so.
    """
    return {
        task.id: score_task([*task.annotations, *task.predictions], config)
        for task in read_export(export)
    }
