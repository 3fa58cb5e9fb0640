"""Event schemas: parsing and strict validation of what comes in, builders of what goes out."""

from streams.models.annotation import AnnotationEvent, AnnotationKind, parse_annotation
from streams.models.invalid import InvalidEvent
from streams.models.project import ProjectConfig, parse_project_config

__all__ = [
    "AnnotationEvent",
    "AnnotationKind",
    "InvalidEvent",
    "ProjectConfig",
    "parse_annotation",
    "parse_project_config",
]
