"""Redis keys: one hash tag per input partition, and no two tasks on one key."""

from __future__ import annotations

import fnmatch

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from streams.state.keys import Keys

KEYS = Keys("q")


def hash_tag(key: str) -> str:
    """The part of ``key`` Redis Cluster hashes (cluster spec, "Hash tags")."""
    start = key.find("{")
    if start == -1:
        return key
    end = key.find("}", start + 1)
    if end == -1 or end == start + 1:
        return key
    return key[start + 1 : end]


def partition_keys(keys: Keys, partition: int, project_id: str, task_id: str) -> list[str]:
    return [
        keys.tasks(partition),
        keys.offset(partition),
        keys.owner(partition),
        keys.outbox(partition),
        keys.agreement_index(partition, project_id),
        keys.projects_seen(partition),
    ]


def test_layout() -> None:
    assert KEYS.tasks(7) == "q:{p7}:tasks"
    assert KEYS.task_field("12", "345") == "12:345"
    assert KEYS.offset(7) == "q:{p7}:offset"
    assert KEYS.owner(7) == "q:{p7}:owner"
    assert KEYS.outbox(7) == "q:{p7}:outbox"
    assert KEYS.agreement_index(7, "12") == "q:{p7}:agreement:12"
    assert KEYS.projects_seen(7) == "q:{p7}:projects"
    assert KEYS.project_configs() == "q:projects:config"


@pytest.mark.parametrize(
    ("project_id", "task_id"),
    [("12", "345"), ("{p9}", "}{"), ("projét", "t:1"), ("", "")],
)
def test_one_hash_tag_per_partition(project_id: str, task_id: str) -> None:
    # Ids after the tag, braces included, never move a key to another slot.
    for partition in (0, 7, 31):
        tags = {hash_tag(k) for k in partition_keys(KEYS, partition, project_id, task_id)}
        assert tags == {f"p{partition}"}


def test_partitions_have_distinct_tags() -> None:
    assert hash_tag(KEYS.offset(1)) != hash_tag(KEYS.offset(11))


def test_prefixes_separate_deployments() -> None:
    mine = set(partition_keys(Keys("test-a"), 0, "1", "2")) | {Keys("test-a").project_configs()}
    other = set(partition_keys(Keys("test-b"), 0, "1", "2")) | {Keys("test-b").project_configs()}
    assert not mine & other


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("a:b", "c"), ("a", "b:c")),
        (("a%3Ab", "c"), ("a:b", "c")),
        (("1", "2:3"), ("1:2", "3")),
    ],
)
def test_distinct_tasks_never_share_a_field(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    assert KEYS.task_field(*first) != KEYS.task_field(*second)


@given(project_id=st.text(), task_id=st.text())
@example(project_id="%3A", task_id="t")  # an escape's text in an id
@example(project_id="a:b%", task_id="c:d")
@example(project_id="%25", task_id="")
def test_a_field_gives_its_task_back(project_id: str, task_id: str) -> None:
    assert KEYS.task_ref(KEYS.task_field(project_id, task_id)) == (project_id, task_id)


def test_partition_pattern_matches_every_partition() -> None:
    pattern = KEYS.partition_pattern("projects")
    # SCAN MATCH uses glob rules, where braces are plain characters.
    assert fnmatch.fnmatchcase(KEYS.projects_seen(0), pattern)
    assert fnmatch.fnmatchcase(KEYS.projects_seen(123), pattern)
    assert not fnmatch.fnmatchcase(KEYS.offset(0), pattern)
    assert not fnmatch.fnmatchcase(Keys("other").projects_seen(0), pattern)
