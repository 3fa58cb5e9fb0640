"""Event schemas: parsing and strict validation of what comes in, builders of what goes out."""

from streams.models.annotation import AnnotationEvent, AnnotationKind, parse_annotation
from streams.models.invalid import InvalidEvent
from streams.models.project import ProjectConfig, parse_project_config
from streams.models.workflow import WorkflowEvent, parse_workflow_event

__all__ = [
    "AnnotationEvent",
    "AnnotationKind",
    "InvalidEvent",
    "ProjectConfig",
    "WorkflowEvent",
    "parse_annotation",
    "parse_project_config",
    "parse_workflow_event",
]
