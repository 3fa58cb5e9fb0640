"""Topic names, in one place. Short names here; ``Settings.topic`` adds the prefix."""

from __future__ import annotations

from streams.settings import Settings

ANNOTATIONS = "annotations"
PROJECTS = "projects"  # compacted: the latest configuration per project id
WORKFLOW = "workflow"  # key = project: tasks, annotators, the annotations agent's facts
TASK_QUALITY = "task-quality"
ASSIGNMENTS = "assignments"
REVIEW_REQUESTS = "review-requests"
TASK_COMPLETED = "task-completed"
DEAD_LETTER = "dead-letter"

INPUTS = (ANNOTATIONS, PROJECTS, WORKFLOW)
# The inputs the state is rebuilt from (`quorum rebuild`): their history is the source of
# truth. PROJECTS is not replayed this way: configurations survive a rebuild in Redis.
REPLAYED = (ANNOTATIONS, WORKFLOW)
ANNOTATOR_QUALITY = "annotator-quality"  # key = project:annotator
CONSENSUS_LABELS = "consensus-labels"  # key = project:task
MODEL_QUALITY = "model-quality"  # key = project:model_version
OUTPUTS = (TASK_QUALITY, ASSIGNMENTS, REVIEW_REQUESTS, TASK_COMPLETED, DEAD_LETTER,
           ANNOTATOR_QUALITY, CONSENSUS_LABELS, MODEL_QUALITY)


def all_topics(settings: Settings) -> dict[str, dict[str, str]]:
    """Every topic Quorum uses, full name -> topic configs, for creating them up front."""
    configs: dict[str, dict[str, str]] = {}
    for name in (*INPUTS, *OUTPUTS):
        config: dict[str, str] = {}
        if name == PROJECTS:
            # Compaction alone deletes nothing by age or size (retention.* apply to the
            # "delete" policy only): the latest configuration of every project stays.
            config["cleanup.policy"] = "compact"
        if name in REPLAYED:
            # Kept forever: the broker's defaults (7 days, 1 GiB per partition in
            # infra/kafka/server.properties) would drop old events, and a rebuild would
            # then silently score only what is left.
            config["retention.ms"] = "-1"
            config["retention.bytes"] = "-1"
        if name in (ANNOTATIONS, DEAD_LETTER):
            # The dead-letter topic keeps up to 64 KiB of each refused message, and the
            # annotations topic must accept an oversize one to be able to refuse it.
            config["max.message.bytes"] = str(16 * 1024 * 1024)
        configs[settings.topic(name)] = config
    return configs


def worker_app_id(settings: Settings) -> str:
    """The worker's faust app id, which is also its consumer group (the projects agent's)."""
    return f"{settings.topic_prefix}-worker"
