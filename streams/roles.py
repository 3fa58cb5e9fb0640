"""Which batch agents a worker runs: ``quorum worker --agents``."""

from __future__ import annotations

from enum import StrEnum


class WorkerAgents(StrEnum):
    """``all`` (the default) runs both batch agents in one process. ``annotations`` and
    ``workflow`` split them over two processes (or machines): the label stream's answers
    then no longer wait behind the annotation hot path's cycles, and each agent gets a
    core of its own. The projects agent runs in every worker."""

    ALL = "all"
    ANNOTATIONS = "annotations"
    WORKFLOW = "workflow"

    @property
    def runs_annotations(self) -> bool:
        return self is not WorkerAgents.WORKFLOW

    @property
    def runs_workflow(self) -> bool:
        """The workflow agent, and with it the HTTP API (label stream, reviews, reports)."""
        return self is not WorkerAgents.ANNOTATIONS
