"""The annotations agent's consumer settings (the agent itself runs against real Kafka
and Redis: tests/integration/streams)."""

from streams.agents.annotations import consumer_options
from streams.settings import Settings


def test_the_broker_holds_a_fetch_to_fill_it() -> None:
    options = consumer_options(Settings(fetch_hold_ms=5))
    assert options["fetch_max_wait_ms"] == 5
    assert options["fetch_min_bytes"] == options["max_partition_fetch_bytes"] == 1024 * 1024


def test_no_hold_answers_with_the_first_event() -> None:
    options = consumer_options(Settings(fetch_hold_ms=0))
    assert options["fetch_min_bytes"] == 1
    # Not 0: an empty fetch would come back at once, and the worker would poll in a loop.
    assert options["fetch_max_wait_ms"] == 500


def test_offsets_are_not_committed_by_aiokafka() -> None:
    options = consumer_options(Settings(consumer_group="g"))
    assert options["enable_auto_commit"] is False
    assert options["group_id"] == "g"


def test_record_batch_crcs_are_checked_only_when_asked() -> None:
    # Off by default, as librdkafka has it: the broker checked them on produce.
    assert consumer_options(Settings())["check_crcs"] is False
    assert consumer_options(Settings(kafka_check_crcs=True))["check_crcs"] is True
