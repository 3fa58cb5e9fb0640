"""``quorum label-studio reassign``: one project's reassign requests carried out in Label
Studio as they come (:mod:`streams.label_studio_overlap` says what to ask of it).

It reads ``<prefix>.assignments`` in a consumer group of its own and commits a fetch only
once Label Studio has done everything it asked, retrying with backoff while Label Studio
cannot be reached or refuses (:func:`streams.label_studio_follow.follow` with
:data:`REASSIGN`). So a crash, a restart
or an outage of Label Studio loses no request: they are read again, and those already
carried out change nothing (:func:`streams.label_studio_overlap.still_needed`).
"""

from __future__ import annotations

from streams import topics
from streams.label_studio_api import LabelStudio
from streams.label_studio_follow import Follower
from streams.label_studio_overlap import (
    OverlapRaise,
    labeled_meanwhile,
    overlap_raise,
    still_needed,
)

RAISED, DONE, DELETED = "raised", "done", "deleted"


def carry_out(studio: LabelStudio, change: OverlapRaise) -> str:
    """Raise the task's overlap in Label Studio if it still needs it: ``raised``,
    ``done`` (it has the annotations already, or is open for them), ``deleted``.

    The task is read again after the raise: an annotation that landed in between is
    caught there (:func:`streams.label_studio_overlap.labeled_meanwhile`)."""
    task = studio.task(change.task_id)
    if task is None:
        return DELETED
    if not still_needed(change, task):
        return DONE
    studio.raise_overlap(change.task_id, change.overlap)
    after = studio.task(change.task_id)
    if after is not None and labeled_meanwhile(change, after):
        studio.mark_labeled(change.task_id)
        return DONE
    return RAISED


REASSIGN = Follower(topics.ASSIGNMENTS, overlap_raise)
"""The reassign requests of ``<prefix>.assignments`` (it also carries the label stream's
assignments, which are nobody's here)."""
