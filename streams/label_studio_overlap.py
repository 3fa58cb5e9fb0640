"""Quorum's reassignments carried out in Label Studio: one more annotator on a task.

Label Studio Community has no low-agreement strategy: a task is done once it holds its
overlap of annotations (the project's ``maximum_annotations``), and Label Studio stops
offering it. When Quorum asks for one more annotator (``quorum.reassign-requested/v1``
on the assignments topic), ``quorum label-studio reassign`` raises that task's overlap
to the annotators counted plus those asked for and marks it unlabeled: Label Studio's
next-task then offers it to someone who has not annotated it yet, and marks it labeled
again when the annotation comes (checked against Label Studio 1.23.2). Quorum scores the
new annotation as it arrives by webhook, and asks again, or sends the task to review,
as the project's budget says.

Pure: what to ask of Label Studio. :mod:`streams.label_studio_reassign` reads the topic
and calls Label Studio.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from streams.models.outputs import REASSIGN_REQUESTED


@dataclass(frozen=True, slots=True)
class OverlapRaise:
    """A Label Studio task that needs ``overlap`` annotations now."""

    task_id: int
    overlap: int
    agreement: float | None  # the task's agreement when Quorum asked


def overlap_raise(event: Mapping[str, Any], project_id: str) -> OverlapRaise | None:
    """What a Quorum output event asks of Label Studio: a reassign request of
    ``project_id`` for a Label Studio task (an integer id); ``None`` for anything else."""
    if event.get("schema") != REASSIGN_REQUESTED or event.get("project_id") != project_id:
        return None
    task = str(event.get("task_id"))
    annotators = event.get("annotators")
    if not task.isdigit() or not isinstance(annotators, list):
        return None
    more = event.get("additional_annotators", 1)
    agreement = event.get("agreement")
    return OverlapRaise(int(task), len(annotators) + (more if isinstance(more, int) else 1),
                        agreement if isinstance(agreement, int | float) else None)


def still_needed(change: OverlapRaise, task: Mapping[str, Any]) -> bool:
    """Whether Label Studio's task (``GET /api/tasks/<id>/``) still needs the raise: it
    holds fewer annotations than the overlap asked for, and is not already open for
    them. A request read again (a restart, a new consumer) after the annotator came, or
    after the raise, changes nothing."""
    done = task.get("total_annotations")
    if not isinstance(done, int) or done >= change.overlap:
        return False
    return task.get("overlap") != change.overlap or bool(task.get("is_labeled"))


def labeled_meanwhile(change: OverlapRaise, task: Mapping[str, Any]) -> bool:
    """Whether the task, read again right after the raise, already holds the overlap it
    was raised to but is marked unlabeled: an annotation landed between the read and the
    raise (Label Studio marked the task labeled, and the raise undid that). It must be
    marked labeled again, or Label Studio offers it to one annotator too many. An
    annotation that lands after the raise needs nothing: Label Studio recounts on save."""
    done = task.get("total_annotations")
    return isinstance(done, int) and done >= change.overlap and not task.get("is_labeled")
