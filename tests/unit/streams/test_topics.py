"""Topic configs: the replayed inputs keep their history, the others keep the broker's."""

from __future__ import annotations

from streams import topics
from streams.settings import Settings

SETTINGS = Settings(topic_prefix="q")
CONFIGS = topics.all_topics(SETTINGS)


def test_the_replayed_inputs_are_kept_forever() -> None:
    for name in (topics.ANNOTATIONS, topics.WORKFLOW):
        config = CONFIGS[f"q.{name}"]
        assert config["retention.ms"] == "-1" and config["retention.bytes"] == "-1"
        assert config.get("cleanup.policy", "delete") == "delete"  # nothing compacted away


def test_the_projects_topic_is_only_compacted() -> None:
    # "compact" without "delete": retention.* do not apply, the latest value per key stays.
    assert CONFIGS["q.projects"] == {"cleanup.policy": "compact"}


def test_outputs_keep_the_brokers_retention() -> None:
    for name in topics.OUTPUTS:
        assert "retention.ms" not in CONFIGS[f"q.{name}"]
        assert "retention.bytes" not in CONFIGS[f"q.{name}"]


def test_the_annotations_topic_still_accepts_oversize_events_to_refuse_them() -> None:
    assert CONFIGS["q.annotations"]["max.message.bytes"] == str(16 * 1024 * 1024)


def test_every_topic_is_listed_once_with_the_prefix() -> None:
    assert sorted(CONFIGS) == sorted(f"q.{name}" for name in (*topics.INPUTS, *topics.OUTPUTS))
