"""What `ensure_topics` changes on a topic that exists: the configs that differ."""

from __future__ import annotations

from streams.kafka import config_changes

WANTED = {"retention.ms": "-1", "retention.bytes": "-1"}


def test_a_topic_with_the_brokers_retention_gets_both_values() -> None:
    current = {"retention.ms": "604800000", "retention.bytes": "1073741824",
               "segment.ms": "3600000"}
    assert config_changes(current, WANTED) == {
        "retention.ms": ("604800000", "-1"), "retention.bytes": ("1073741824", "-1")}


def test_a_topic_that_has_the_configs_is_left_alone() -> None:
    assert config_changes({**WANTED, "segment.ms": "3600000"}, WANTED) == {}


def test_a_config_the_broker_did_not_describe_is_changed() -> None:
    assert config_changes({"retention.ms": "-1"}, WANTED) == {"retention.bytes": (None, "-1")}
