"""``quorum label-studio reassign``: one project's reassign requests carried out in Label
Studio as they come (:mod:`streams.label_studio_overlap` says what to ask of it).

It reads ``<prefix>.assignments`` in a consumer group of its own and commits a fetch only
once Label Studio has done everything it asked, retrying with backoff while Label Studio
cannot be reached or refuses (:mod:`streams.label_studio_follow`). So a crash, a restart
or an outage of Label Studio loses no request: they are read again, and those already
carried out change nothing (:func:`streams.label_studio_overlap.still_needed`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from streams import topics
from streams.label_studio_api import LabelStudio
from streams.label_studio_follow import follow_topic
from streams.label_studio_overlap import (
    OverlapRaise,
    labeled_meanwhile,
    overlap_raise,
    still_needed,
)
from streams.settings import Settings

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


def consumer_group(settings: Settings, project_id: str) -> str:
    """The follower's own consumer group: its position is independent of the workers'."""
    return f"{settings.consumer_group}-label-studio-{project_id}"


async def follow_reassignments(
    settings: Settings,
    project_id: str,
    carry: Callable[[OverlapRaise], str],
    *,
    stopping: asyncio.Event,
    on_outcome: Callable[[OverlapRaise, str], None],
    on_retry: Callable[[Exception, float], None],
) -> None:
    """Carry out ``project_id``'s reassign requests with ``carry`` (a blocking call, run
    in a thread) until ``stopping`` is set; each outcome goes to ``on_outcome``, each
    failed attempt to ``on_retry`` with the seconds until the next."""
    await follow_topic(settings, topics.ASSIGNMENTS, consumer_group(settings, project_id),
                       lambda event: overlap_raise(event, project_id), carry, stopping=stopping,
                       on_outcome=on_outcome, on_retry=on_retry)

