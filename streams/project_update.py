"""An update of a project's configuration, as ``quorum project set`` makes it: the settings
given laid over the configuration in force, and what that changes.

Pure: the CLI reads the configuration in force
(:func:`streams.operations.latest_project_config`) and publishes the result.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from streams.models.project import PROJECT_SCHEMA, ProjectConfig, project_config_from_dict

# Settings that describe scoring the Label Studio way. A configuration in force has them
# folded into its ``scoring`` object, so they update that object instead of sitting
# beside it (the parser refuses the two together).
SCORING_SETTINGS = ("methodology", "label_config", "control_weights")
_LABEL_STUDIO_SETTINGS = ("label_config", "control_weights")


class _Absent:
    """A setting one side of a change does not have (a control tag added or removed)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True, slots=True)
class SettingChange:
    """One setting that an update changes; ``name`` is its path in the event body
    (``scoring.tags.box.weight``), ``old`` or ``new`` :data:`ABSENT` where there is none."""

    name: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.name}: {_shown(self.old)} -> {_shown(self.new)}"


def updated_config(stored: ProjectConfig | None, project_id: str,
                   given: Mapping[str, Any]) -> ProjectConfig:
    """``stored`` with the ``given`` settings in its own's place; over the documented
    defaults when ``stored`` is None (a project without configuration, or a reset).

    ``given`` holds only the settings the user gave, by their ``quorum.project/v1`` field
    names: a setting not given keeps its stored value. A null limit
    (``max_tasks_per_annotator``, ``max_share_per_annotator``) removes the limit.
    ``label_config`` and ``control_weights`` give the control tags' metrics and weights
    afresh; the rest of the stored scoring (methodology unless given, consensus threshold,
    include flags, custom metric) stays. Raises ``InvalidEvent`` naming a bad setting.
    """
    return project_config_from_dict(updated_body(stored, project_id, given))


def updated_body(stored: ProjectConfig | None, project_id: str,
                 given: Mapping[str, Any]) -> dict[str, Any]:
    """The ``quorum.project/v1`` body of :func:`updated_config`, not validated yet."""
    body: dict[str, Any] = {"schema": PROJECT_SCHEMA} if stored is None else stored.to_dict()
    body["project_id"] = project_id
    body.update({name: value for name, value in given.items() if name not in SCORING_SETTINGS})
    scoring = {name: given[name] for name in SCORING_SETTINGS if name in given}
    if scoring and "scoring" in body:
        body["scoring"] = _scoring_with(body["scoring"], project_id, scoring)
    else:
        body.update(scoring)  # no stored scoring: the parser reads Label Studio's fields
    return body


def setting_changes(old: ProjectConfig, new: ProjectConfig) -> list[SettingChange]:
    """Every setting whose value differs between two configurations, in the event body's
    order; within objects both have (``scoring``, its tags), the settings that differ,
    so a new weight is one line and a control tag added or removed is one."""
    return list(_differences(old.to_dict(), new.to_dict(), ""))


def _scoring_with(scoring: Mapping[str, Any], project_id: str,
                  given: Mapping[str, Any]) -> dict[str, Any]:
    """A stored ``scoring`` object with the given methodology and the control tags that
    the given Label Studio fields imply; its other settings stay."""
    updated = dict(scoring)
    if "methodology" in given:
        updated["methodology"] = given["methodology"]
    label_studio = {name: given[name] for name in _LABEL_STUDIO_SETTINGS if name in given}
    if label_studio:
        # Tags as the parser derives them for a configuration sent with these fields.
        derived = project_config_from_dict(
            {"schema": PROJECT_SCHEMA, "project_id": project_id, **label_studio})
        updated["tags"] = derived.scoring.to_dict()["tags"]
    return updated


def _differences(old: Mapping[str, Any], new: Mapping[str, Any],
                 prefix: str) -> Iterator[SettingChange]:
    for name in dict.fromkeys([*old, *new]):
        before, after = old.get(name, ABSENT), new.get(name, ABSENT)
        if before == after:
            continue
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            yield from _differences(before, after, f"{prefix}{name}.")
        else:
            yield SettingChange(f"{prefix}{name}", before, after)


def _shown(value: Any) -> str:
    if value is ABSENT:
        return "(not set)"
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()  # null, true, 0.8, lists as the event has them
