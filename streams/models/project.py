"""A project's quality configuration, read from the compacted ``quorum.projects`` topic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from agreement import Methodology, ScoringConfig
from assignment.consensus import ConsensusPolicy
from assignment.distribution_policy import (
    DEFAULT_RESERVATION_TTL,
    DistributionPolicy,
    in_overlap_cohort,
    parse_assignment_mode,
)
from assignment.evaluation import EvaluationSettings
from assignment.model_settings import ModelEvaluationSettings
from assignment.review_events import ReviewCriteria
from assignment.review_settings import ReviewSettings, member
from assignment.skips import RejectMode, SkipMode, parse_reject_mode, parse_skip_mode
from streams.models.invalid import InvalidEvent, decode_object, kind_of, require_str_id
from streams.quality_settings import QualitySettings, evaluation_from_dict, evaluation_to_dict

PROJECT_SCHEMA = "quorum.project/v1"
_DEFAULT_POLICY = ConsensusPolicy()
_DEFAULT_DISTRIBUTION = DistributionPolicy()
_DEFAULT_EVALUATION = EvaluationSettings()
_DEFAULT_MODEL_EVALUATION = ModelEvaluationSettings()
# The settings of a ``model_evaluation`` object, as ModelEvaluationSettings names them.
MODEL_EVALUATION_FIELDS = tuple(_DEFAULT_MODEL_EVALUATION.to_dict())
# The settings of a ``review`` object. The reject mode is ReviewSettings' too, but a project
# sets it once, with the top-level ``reject_mode`` that the workflow already reads.
REVIEW_FIELDS = ("criteria",)
_DEFAULT_REJECT_MODE = RejectMode.REQUEUE_TO_ANNOTATOR
_DEFAULT_REVIEW = ReviewSettings(requeue_mode=_DEFAULT_REJECT_MODE)

# Fields that describe scoring the Label Studio way; ``scoring`` describes it Quorum's way.
_LABEL_STUDIO_FIELDS = ("methodology", "control_weights", "label_config")

__all__ = [
    "MODEL_EVALUATION_FIELDS",
    "PROJECT_SCHEMA",
    "REVIEW_FIELDS",
    "Methodology",
    "ProjectConfig",
    "parse_project_config",
]


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """What a project asks of its tasks. Defaults apply to projects with no configuration.

    ``annotations_per_task`` is Label Studio's overlap (``maximum_annotations``);
    ``scoring`` says how tasks are scored: per control tag metric and weight,
    methodology, custom metric (:class:`agreement.ScoringConfig`).

    Quorum hands out the project's tasks only with ``distribute``. ``track_quality`` keeps
    annotator quality, model evaluation and the review stream live for a project whose
    tasks Quorum does not hand out (a distributing project always has them): each
    annotation event then also becomes a workflow fact. The other distribution
    settings are :class:`assignment.DistributionPolicy`'s (Label Studio Enterprise's
    defaults), ``reservation_ttl_s`` in seconds and ``skip_mode`` a
    :class:`assignment.SkipMode` value. ``assignment_mode`` is ``pull`` (annotators ask
    the label stream) or ``push`` (Quorum reserves ``push_depth`` tasks ahead for each
    annotator, least-loaded first, and announces them on the assignments topic).

    Annotator quality: ``evaluation`` (ground-truth evaluation, Label Studio Enterprise's
    "Annotator Evaluation", :class:`assignment.EvaluationSettings`) and ``reliability``
    (estimate annotator reliability and consensus labels). Model versions:
    ``model_evaluation`` (time buckets and the regression alert,
    :class:`assignment.ModelEvaluationSettings`).

    Reviews: ``reject_mode`` (an :class:`assignment.skips.RejectMode` value) says where a
    rejected annotation's task goes, ``review`` when a task counts as reviewed
    (:class:`assignment.ReviewSettings`). ``review.requeue_mode`` is always
    ``reject_mode``: the project sets its reject mode once, so a ``review`` passed in
    keeps its criteria and takes the project's reject mode.
    """

    project_id: str
    annotations_per_task: int = _DEFAULT_POLICY.overlap
    agreement_threshold: float = _DEFAULT_POLICY.threshold
    max_additional_annotators: int = _DEFAULT_POLICY.max_additional
    scoring: ScoringConfig = field(default_factory=ScoringConfig)
    distribute: bool = False
    track_quality: bool = False
    overlap_cohort_percentage: float = _DEFAULT_DISTRIBUTION.overlap_cohort_percentage
    show_overlap_first: bool = _DEFAULT_DISTRIBUTION.show_overlap_first
    max_tasks_per_annotator: int | None = _DEFAULT_DISTRIBUTION.max_tasks_per_annotator
    max_share_per_annotator: float | None = _DEFAULT_DISTRIBUTION.max_share_per_annotator
    reservation_ttl_s: float = DEFAULT_RESERVATION_TTL
    skip_mode: str = _DEFAULT_DISTRIBUTION.skip_mode.value
    assignment_mode: str = _DEFAULT_DISTRIBUTION.assignment_mode.value
    push_depth: int = _DEFAULT_DISTRIBUTION.push_depth
    evaluation: EvaluationSettings = _DEFAULT_EVALUATION
    reliability: bool = True
    # Where a task goes when a reviewer rejects an annotation (assignment.RejectMode):
    # Label Studio Enterprise's default sends it back to the annotator.
    reject_mode: str = _DEFAULT_REJECT_MODE.value
    model_evaluation: ModelEvaluationSettings = _DEFAULT_MODEL_EVALUATION
    review: ReviewSettings = _DEFAULT_REVIEW

    def __post_init__(self) -> None:
        mode = parse_reject_mode(self.reject_mode)  # ValueError naming the choices
        if self.review.requeue_mode is not mode:
            # Frozen: set once here, so that the two can never disagree.
            object.__setattr__(self, "review", replace(self.review, requeue_mode=mode))

    @property
    def methodology(self) -> Methodology:
        """How pair scores become a task score."""
        return self.scoring.methodology

    @property
    def control_weights(self) -> Mapping[str, float]:
        """Weight per control tag, for the tags the scoring config lists."""
        return self.scoring.weights

    @property
    def policy(self) -> ConsensusPolicy:
        """The consensus policy that ``assignment`` applies to this project's tasks."""
        return ConsensusPolicy(
            overlap=self.annotations_per_task,
            threshold=self.agreement_threshold,
            max_additional=self.max_additional_annotators,
        )

    @property
    def skips_count(self) -> bool:
        """Whether a skip takes its seat toward the overlap (``skip_mode``
        ``count_as_done``, Label Studio's "ignore skipped")."""
        return self.skip_mode == SkipMode.COUNT_AS_DONE.value

    @property
    def emits_facts(self) -> bool:
        """Whether the annotations core tells the workflow agent about this project's
        tasks (``streams.facts``): it distributes them, or tracks their quality."""
        return self.distribute or self.track_quality

    @property
    def outside_cohort_policy(self) -> ConsensusPolicy | None:
        """The consensus of a task outside the overlap cohort: one annotation wanted, the
        same threshold and budget (Label Studio gives such a task overlap 1). ``None``
        when every task wants the project's overlap."""
        if self.overlap_cohort_percentage >= 100.0 or self.annotations_per_task == 1:
            return None
        return ConsensusPolicy(overlap=1, threshold=self.agreement_threshold,
                               max_additional=self.max_additional_annotators)

    def in_overlap_cohort(self, task_id: str, tool_overlap: int | None = None) -> bool:
        """Whether a task wants the project's overlap. The labeling tool's word when it
        gave one (Label Studio picks its cohort at random and gives the other tasks
        overlap 1), else Quorum's rule, the one its own distribution follows."""
        if tool_overlap is not None:
            return tool_overlap > 1
        return in_overlap_cohort(task_id, self.overlap_cohort_percentage)

    @property
    def distribution_policy(self) -> DistributionPolicy:
        """How ``assignment.Distribution`` hands out this project's tasks (``ValueError``
        for settings that were not validated by :func:`project_config_from_dict`)."""
        return DistributionPolicy(
            consensus=self.policy,
            overlap_cohort_percentage=self.overlap_cohort_percentage,
            show_overlap_first=self.show_overlap_first,
            max_tasks_per_annotator=self.max_tasks_per_annotator,
            max_share_per_annotator=self.max_share_per_annotator,
            reservation_ttl=self.reservation_ttl_s,
            skip_mode=parse_skip_mode(self.skip_mode),
            assignment_mode=parse_assignment_mode(self.assignment_mode),
            push_depth=self.push_depth,
        )

    @property
    def quality_settings(self) -> QualitySettings:
        """How ``streams.quality.ProjectQuality`` measures this project's annotators."""
        return QualitySettings(evaluation=self.evaluation, reliability=self.reliability)

    def to_dict(self) -> dict[str, Any]:
        """The event body, as ``quorum project set`` sends it."""
        return {
            "schema": PROJECT_SCHEMA,
            "project_id": self.project_id,
            "annotations_per_task": self.annotations_per_task,
            "agreement_threshold": self.agreement_threshold,
            "max_additional_annotators": self.max_additional_annotators,
            "scoring": self.scoring.to_dict(),
            "distribute": self.distribute,
            "track_quality": self.track_quality,
            "overlap_cohort_percentage": self.overlap_cohort_percentage,
            "show_overlap_first": self.show_overlap_first,
            "max_tasks_per_annotator": self.max_tasks_per_annotator,
            "max_share_per_annotator": self.max_share_per_annotator,
            "reservation_ttl_s": self.reservation_ttl_s,
            "skip_mode": self.skip_mode,
            "assignment_mode": self.assignment_mode,
            "push_depth": self.push_depth,
            "reject_mode": self.reject_mode,
            "evaluation": evaluation_to_dict(self.evaluation),
            "reliability": self.reliability,
            "model_evaluation": self.model_evaluation.to_dict(),
            "review": {"criteria": self.review.criteria.value},
        }


def parse_project_config(raw: bytes) -> ProjectConfig:
    """Decode and validate a ``quorum.project/v1`` event; raise ``InvalidEvent``."""
    return project_config_from_dict(decode_object(raw))


def project_config_from_dict(body: dict[str, Any]) -> ProjectConfig:
    """Validate a decoded configuration. Absent fields take the documented defaults."""
    if body.get("schema") != PROJECT_SCHEMA:
        raise InvalidEvent(
            f"unknown schema {body.get('schema')!r}: the projects topic carries {PROJECT_SCHEMA!r}"
        )
    project_id = require_str_id(body, "project_id")
    overlap = _int(body, "annotations_per_task", _DEFAULT_POLICY.overlap)
    threshold = _number(body, "agreement_threshold", _DEFAULT_POLICY.threshold)
    max_additional = _int(body, "max_additional_annotators", _DEFAULT_POLICY.max_additional)
    try:
        ConsensusPolicy(overlap=overlap, threshold=threshold, max_additional=max_additional)
    except ValueError as exc:
        raise InvalidEvent(str(exc)) from None
    reject_mode = _str(body, "reject_mode", _DEFAULT_REJECT_MODE.value)
    try:
        parse_reject_mode(reject_mode)
    except ValueError as exc:
        raise InvalidEvent(f"field 'reject_mode': {exc}") from None
    config = ProjectConfig(
        project_id=project_id,
        annotations_per_task=overlap,
        agreement_threshold=threshold,
        max_additional_annotators=max_additional,
        scoring=_scoring(body),
        distribute=_bool(body, "distribute", False),
        track_quality=_bool(body, "track_quality", False),
        overlap_cohort_percentage=_number(
            body, "overlap_cohort_percentage", _DEFAULT_DISTRIBUTION.overlap_cohort_percentage
        ),
        show_overlap_first=_bool(
            body, "show_overlap_first", _DEFAULT_DISTRIBUTION.show_overlap_first
        ),
        max_tasks_per_annotator=_optional_int(body, "max_tasks_per_annotator"),
        max_share_per_annotator=_optional_number(body, "max_share_per_annotator"),
        reservation_ttl_s=_number(body, "reservation_ttl_s", DEFAULT_RESERVATION_TTL),
        skip_mode=_str(body, "skip_mode", _DEFAULT_DISTRIBUTION.skip_mode.value),
        assignment_mode=_str(body, "assignment_mode",
                             _DEFAULT_DISTRIBUTION.assignment_mode.value),
        push_depth=_int(body, "push_depth", _DEFAULT_DISTRIBUTION.push_depth),
        evaluation=_evaluation(body),
        reliability=_bool(body, "reliability", True),
        reject_mode=reject_mode,
        model_evaluation=_model_evaluation(body),
        review=_review(body),
    )
    try:
        config.distribution_policy  # noqa: B018 - built to validate the settings
    except ValueError as exc:
        # The policy names its TTL `reservation_ttl`; the configuration field has a unit.
        reason = str(exc).replace("reservation_ttl ", "reservation_ttl_s ", 1)
        raise InvalidEvent(reason) from None
    return config


def _scoring(body: dict[str, Any]) -> ScoringConfig:
    """The scoring config: Quorum's ``scoring`` object, or Label Studio's fields
    (``label_config`` XML, ``control_weights``, ``methodology``), not both."""
    given = [name for name in _LABEL_STUDIO_FIELDS if body.get(name) is not None]
    scoring = body.get("scoring")
    try:
        if scoring is not None:
            if given:
                raise InvalidEvent(
                    f"give either 'scoring' or Label Studio's {', '.join(given)}, not both"
                )
            if not isinstance(scoring, dict):
                raise InvalidEvent(f"field 'scoring' must be an object, got {kind_of(scoring)}")
            return ScoringConfig.from_dict(scoring)
        if not given:
            return ScoringConfig()
        options: dict[str, Any] = {}
        if body.get("methodology") is not None:
            options["methodology"] = body["methodology"]
        label_config = body.get("label_config")
        if label_config is not None and not isinstance(label_config, str):
            raise InvalidEvent(
                f"field 'label_config' must be Label Studio's XML as a string, "
                f"got {kind_of(label_config)}"
            )
        project = {"control_weights": body.get("control_weights")}
        return ScoringConfig.from_label_studio(label_config, project, **options)
    except ValueError as exc:
        raise InvalidEvent(str(exc)) from None


def _evaluation(body: dict[str, Any]) -> EvaluationSettings:
    """The optional ``evaluation`` object: absent or null keeps every default."""
    value = body.get("evaluation")
    if value is None:
        return _DEFAULT_EVALUATION
    if not isinstance(value, dict):
        raise InvalidEvent(f"field 'evaluation' must be an object, got {kind_of(value)}")
    try:
        return evaluation_from_dict(value)
    except ValueError as exc:
        raise InvalidEvent(f"field 'evaluation': {exc}") from None


def _model_evaluation(body: dict[str, Any]) -> ModelEvaluationSettings:
    """The optional ``model_evaluation`` object: absent or null keeps every default, an
    absent field its own."""
    value = body.get("model_evaluation")
    if value is None:
        return _DEFAULT_MODEL_EVALUATION
    if not isinstance(value, dict):
        raise InvalidEvent(f"field 'model_evaluation' must be an object, got {kind_of(value)}")
    unknown = sorted(set(value) - set(MODEL_EVALUATION_FIELDS))
    if unknown:
        raise InvalidEvent(
            f"field 'model_evaluation': unknown setting {', '.join(map(repr, unknown))}; the "
            f"settings are {', '.join(MODEL_EVALUATION_FIELDS)}"
        )
    settings = dict(value)
    metrics = settings.get("regression_metrics")
    # A single name would otherwise be read letter by letter.
    if metrics is not None and not isinstance(metrics, list):
        raise InvalidEvent(
            "field 'model_evaluation': regression_metrics must be a list of metric names, "
            f"got {kind_of(metrics)}"
        )
    try:
        parsed = ModelEvaluationSettings(**settings)
    except ValueError as exc:
        raise InvalidEvent(f"field 'model_evaluation': {exc}") from None
    # Seconds and margins are floats whatever JSON number was sent, as elsewhere here.
    return replace(parsed, bucket_seconds=float(parsed.bucket_seconds),
                   regression_margin=float(parsed.regression_margin))


def _review(body: dict[str, Any]) -> ReviewSettings:
    """The optional ``review`` object (``criteria``: ``one_accepted``, the default, or
    ``all_reviewed``); absent or null keeps the default. Its ``requeue_mode`` is set from
    ``reject_mode`` by :class:`ProjectConfig`."""
    value = body.get("review")
    if value is None:
        return _DEFAULT_REVIEW
    if not isinstance(value, dict):
        raise InvalidEvent(f"field 'review' must be an object, got {kind_of(value)}")
    if "requeue_mode" in value:
        raise InvalidEvent(
            "field 'review': a project's reject mode is the top-level field 'reject_mode'; "
            "send 'requeue_mode' as 'reject_mode' instead"
        )
    unknown = sorted(set(value) - set(REVIEW_FIELDS))
    if unknown:
        raise InvalidEvent(
            f"field 'review': unknown setting {', '.join(map(repr, unknown))}; the settings "
            f"are {', '.join(REVIEW_FIELDS)}"
        )
    criteria = value.get("criteria")
    if criteria is None:
        return _DEFAULT_REVIEW
    try:
        return replace(_DEFAULT_REVIEW, criteria=member(ReviewCriteria, criteria, "criteria"))
    except ValueError as exc:
        raise InvalidEvent(f"field 'review': {exc}") from None


def _int(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidEvent(f"field {name!r} must be an integer, got {kind_of(value)}")
    return value


def _number(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent(f"field {name!r} must be a number, got {kind_of(value)}")
    return float(value)


# The per-annotator limits are optional: absent or null means no limit.
def _optional_int(body: dict[str, Any], name: str) -> int | None:
    return None if body.get(name) is None else _int(body, name, 0)


def _optional_number(body: dict[str, Any], name: str) -> float | None:
    return None if body.get(name) is None else _number(body, name, 0.0)


def _bool(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise InvalidEvent(f"field {name!r} must be true or false, got {kind_of(value)}")
    return value


def _str(body: dict[str, Any], name: str, default: str) -> str:
    value = body.get(name, default)
    if not isinstance(value, str):
        raise InvalidEvent(f"field {name!r} must be a string, got {kind_of(value)}")
    return value
