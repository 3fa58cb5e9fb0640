"""A project's review settings, with Label Studio Enterprise's defaults and names.

Label Studio Enterprise (docs: guide/project_settings_lse.md, "Review"): "Reviewing
Options" set when a task counts as reviewed, "Reject Options" what a reject does. The
defaults are the ``review_settings`` Label Studio serves for a fresh project
(``review_criteria="one"``, ``requeue_rejected_tasks_mode="remove"``), in line with its
older docs (guide/quality.md): "Rejecting an annotation does not return it to annotators
to re-label".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .review_events import ReviewCriteria
from .skips import RejectMode

# Label Studio's API values for the two settings.
_LS_CRITERIA = {"one": ReviewCriteria.ONE_ACCEPTED, "all": ReviewCriteria.ALL_REVIEWED}
_LS_REQUEUE = {
    "requeue": RejectMode.REQUEUE_TO_ANNOTATOR,
    "remove": RejectMode.REMOVE,
    "flexible": RejectMode.REVIEWER_CHOICE,
}


def member(kind: type[Any], value: object, name: str) -> Any:
    """``kind(value)`` for a :class:`StrEnum`, or a ``ValueError`` naming the options."""
    try:
        return kind(value)
    except ValueError:
        options = ", ".join(repr(option.value) for option in kind)
        raise ValueError(f"{name} must be one of {options}; got {value!r}") from None


@dataclass(frozen=True)
class ReviewSettings:
    """A project's review settings.

    Attributes
    ----------
    requeue_mode
        What a reject does: ``requeue_to_annotator``, ``remove`` (default) or
        ``reviewer_choice``.
    criteria
        When a task is reviewed: ``one_accepted`` (default) or ``all_reviewed``.

    Either may be given as its string value.
    """

    requeue_mode: RejectMode = RejectMode.REMOVE
    criteria: ReviewCriteria = ReviewCriteria.ONE_ACCEPTED

    def __post_init__(self) -> None:
        set_field = object.__setattr__  # frozen: normalise strings to members once
        set_field(self, "requeue_mode", member(RejectMode, self.requeue_mode, "requeue_mode"))
        set_field(self, "criteria", member(ReviewCriteria, self.criteria, "criteria"))

    @classmethod
    def from_label_studio(cls, project: Mapping[str, Any]) -> ReviewSettings:
        """Settings from a Label Studio project (``GET /api/projects/{id}``), read from
        its ``review_settings``; absent fields keep their defaults."""
        review = project.get("review_settings") or {}
        options: dict[str, Any] = {}
        if review.get("review_criteria") is not None:
            options["criteria"] = _member_of(_LS_CRITERIA, review["review_criteria"])
        mode = review.get("requeue_rejected_tasks_mode")
        if mode is not None:
            options["requeue_mode"] = _member_of(_LS_REQUEUE, mode)
        elif review.get("requeue_rejected_tasks_to_annotator") is not None:
            # Projects from before the three-way mode had only this flag.
            requeue = review["requeue_rejected_tasks_to_annotator"]
            options["requeue_mode"] = (
                RejectMode.REQUEUE_TO_ANNOTATOR if requeue else RejectMode.REMOVE
            )
        return cls(**options)


def _member_of(table: Mapping[str, Any], value: object) -> Any:
    if not isinstance(value, str) or value not in table:
        raise ValueError(f"Label Studio value {value!r} is not one of {sorted(table)}")
    return table[value]
