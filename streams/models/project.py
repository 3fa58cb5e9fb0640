"""A project's quality configuration, read from the compacted ``quorum.projects`` topic."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from assignment.consensus import ConsensusPolicy
from streams.models.invalid import InvalidEvent, kind_of, require_str_id

PROJECT_SCHEMA = "quorum.project/v1"
_DEFAULT_POLICY = ConsensusPolicy()


class Methodology(StrEnum):
    """How pair scores become a task score (DESIGN.md, "Agreement")."""

    PAIRWISE = "pairwise"


@dataclass(frozen=True, slots=True)
class ProjectConfig:
    """What a project asks of its tasks. Defaults apply to projects with no configuration.

    ``annotations_per_task`` is Label Studio's overlap (``maximum_annotations``);
    ``control_weights`` is Label Studio's project field of the same name (per control tag
    an ``overall`` weight; 0 removes the tag from the score).
    """

    project_id: str
    annotations_per_task: int = _DEFAULT_POLICY.overlap
    agreement_threshold: float = _DEFAULT_POLICY.threshold
    max_additional_annotators: int = _DEFAULT_POLICY.max_additional
    methodology: Methodology = Methodology.PAIRWISE
    control_weights: dict[str, float] = field(default_factory=dict)

    @property
    def policy(self) -> ConsensusPolicy:
        """The consensus policy that ``assignment`` applies to this project's tasks."""
        return ConsensusPolicy(
            overlap=self.annotations_per_task,
            threshold=self.agreement_threshold,
            max_additional=self.max_additional_annotators,
        )

    def to_dict(self) -> dict[str, Any]:
        """The event body, as ``quorum project set`` sends it."""
        return {
            "schema": PROJECT_SCHEMA,
            "project_id": self.project_id,
            "annotations_per_task": self.annotations_per_task,
            "agreement_threshold": self.agreement_threshold,
            "max_additional_annotators": self.max_additional_annotators,
            "methodology": self.methodology.value,
            "control_weights": {name: {"overall": w} for name, w in self.control_weights.items()},
        }


def parse_project_config(raw: bytes) -> ProjectConfig:
    """Decode and validate a ``quorum.project/v1`` event; raise ``InvalidEvent``."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidEvent(f"the configuration must be a JSON object, got {kind_of(body)}")
    return project_config_from_dict(body)


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
    methodology_text = body.get("methodology", Methodology.PAIRWISE.value)
    try:
        methodology = Methodology(methodology_text)
    except ValueError:
        allowed = ", ".join(m.value for m in Methodology)
        raise InvalidEvent(
            f"field 'methodology' must be one of {allowed}; got {methodology_text!r}"
        ) from None
    try:
        ConsensusPolicy(overlap=overlap, threshold=threshold, max_additional=max_additional)
    except ValueError as exc:
        raise InvalidEvent(str(exc)) from None
    return ProjectConfig(
        project_id=project_id,
        annotations_per_task=overlap,
        agreement_threshold=threshold,
        max_additional_annotators=max_additional,
        methodology=methodology,
        control_weights=_control_weights(body.get("control_weights")),
    )


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


def _control_weights(raw: object) -> dict[str, float]:
    """Label Studio's ``control_weights``: ``{tag: {"overall": w, ...}}``; a bare number too."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidEvent(f"field 'control_weights' must be an object, got {kind_of(raw)}")
    weights: dict[str, float] = {}
    for tag, spec in raw.items():
        weight = spec.get("overall", 1.0) if isinstance(spec, dict) else spec
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise InvalidEvent(f"control_weights[{tag!r}].overall must be a number >= 0")
        weights[tag] = float(weight)
    return weights
