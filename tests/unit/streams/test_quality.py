"""Annotator quality from the workflow facts: evaluation, performance, reliability, state.

Expected numbers are computed by hand, or taken from the pure core fed the same events
(``AnnotatorPerformance``, ``ReliabilityEstimator``): ``ProjectQuality`` must give exactly
their answers, never its own.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assignment import (
    AnnotatorPaused,
    AnnotatorPerformance,
    AnnotatorUnpaused,
    ConsensusChanged,
    EvaluationSettings,
    ReliabilityEstimator,
    ReliabilitySettings,
)
from assignment.evaluation import PAUSE_REASON, UNPAUSE_REASON
from streams.quality import (
    AnnotatorQuality,
    ProjectQuality,
    QualityEvent,
    QualitySettings,
    evaluation_from_dict,
    evaluation_to_dict,
)

EVALUATED = EvaluationSettings(enabled=True, pause_on_failure=True, minimum_score=0.75,
                               minimum_tasks=3)


def quality(evaluation: EvaluationSettings = EVALUATED, **options: Any) -> ProjectQuality:
    return ProjectQuality(QualitySettings(evaluation, **options))


def submit(q: ProjectQuality, task: str, annotation: str, annotator: str, now: float = 1.0,
           *, pairs: dict[str, float] | None = None, score: float | None = None,
           label: str | None = None, lead_time: float | None = None) -> list[QualityEvent]:
    return q.submitted(task, annotation, annotator, now, pairs=pairs or {},
                       ground_truth_score=score, label=label, lead_time=lead_time)


def of_type(events: list[QualityEvent], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def qualities(events: list[QualityEvent]) -> dict[str, AnnotatorQuality]:
    return {e.annotator: e for e in of_type(events, AnnotatorQuality)}


# -- evaluation against ground truth --------------------------------------------------


def test_paused_once_after_the_minimum_of_scored_tasks_not_before() -> None:
    q = quality()
    # 0.5, 0.25, 0.75: mean 0.5 < 0.75, but only the third scored task makes it count.
    assert of_type(submit(q, "t1", "a1", "ann", 1.0, score=0.5), AnnotatorPaused) == []
    assert of_type(submit(q, "t2", "a2", "ann", 2.0, score=0.25), AnnotatorPaused) == []
    assert not q.is_paused("ann")
    events = submit(q, "t3", "a3", "ann", 3.0, score=0.75)
    assert of_type(events, AnnotatorPaused) == [AnnotatorPaused("ann", 0.5, 3, PAUSE_REASON, 3.0)]
    assert events[0] == AnnotatorPaused("ann", 0.5, 3, PAUSE_REASON, 3.0)  # pauses come first
    assert qualities(events)["ann"].paused is True
    assert q.is_paused("ann")
    # Still failing: no second event.
    assert of_type(submit(q, "t4", "a4", "ann", 4.0, score=0.0), AnnotatorPaused) == []
    assert q.summary("ann").ground_truth_tasks == 4


def test_unscored_submissions_do_not_count_toward_the_minimum() -> None:
    q = quality()
    for i in range(5):
        submit(q, f"t{i}", f"a{i}", "ann", score=None)
    submit(q, "t9", "a9", "ann", score=0.0)
    assert not q.is_paused("ann")
    assert q.quality("ann").ground_truth_tasks == 1


def test_mean_equal_to_the_minimum_passes() -> None:
    q = quality()
    for i, score in enumerate([0.5, 1.0, 0.75]):  # mean 0.75 exactly
        submit(q, f"t{i}", f"a{i}", "ann", score=score)
    assert not q.is_paused("ann")


@pytest.mark.parametrize("evaluation", [
    EvaluationSettings(enabled=True, pause_on_failure=False, minimum_tasks=1),
    # Label Studio's pause is part of annotator evaluation: without it, no pause.
    EvaluationSettings(enabled=False, pause_on_failure=True, minimum_tasks=1),
])
def test_no_pause_unless_evaluation_and_pause_are_on(evaluation: EvaluationSettings) -> None:
    q = quality(evaluation)
    events = submit(q, "t1", "a1", "ann", score=0.0)
    assert of_type(events, AnnotatorPaused) == []
    assert qualities(events)["ann"].ground_truth_score == 0.0


def test_an_update_replaces_its_score() -> None:
    q = quality()
    submit(q, "t1", "a1", "ann", 1.0, score=0.25)
    submit(q, "t2", "a2", "ann", 2.0, score=0.5)
    # Without the update a third score of 1.0 would give (0.25 + 0.5 + 1.0) / 3 < 0.75.
    events = submit(q, "t1", "a1", "ann", 3.0, score=1.0)  # a1 updated, rescored
    assert qualities(events)["ann"].ground_truth_score == 0.75
    assert qualities(events)["ann"].ground_truth_tasks == 2
    submit(q, "t3", "a3", "ann", 4.0, score=0.5)  # (1.0 + 0.5 + 0.5) / 3 < 0.75
    assert q.is_paused("ann")
    assert q.summary("ann").ground_truth_agreement == 2.0 / 3


def test_an_update_without_a_score_unscores_it() -> None:
    q = quality()
    submit(q, "t1", "a1", "ann", score=0.25)
    submit(q, "t1", "a1", "ann", score=None)  # the ground truth was unmarked, say
    assert (q.quality("ann").ground_truth_score, q.quality("ann").ground_truth_tasks) == (None, 0)


def test_deleting_a_scored_annotation_removes_its_score() -> None:
    q = quality()
    submit(q, "t1", "a1", "ann", score=1.0)
    submit(q, "t2", "a2", "ann", score=0.0)
    events = q.deleted("t2", "a2", "ann", 5.0)
    assert qualities(events)["ann"].ground_truth_score == 1.0
    assert qualities(events)["ann"].ground_truth_tasks == 1
    assert q.summary("ann").submitted == 1


def test_a_ground_truth_marked_later_scores_the_annotations_already_there() -> None:
    q = quality()
    for i in range(3):  # three tasks, no ground truth yet: nothing scored
        submit(q, f"t{i}", f"a{i}", "ann", score=None)
        submit(q, f"t{i}", f"b{i}", "bob", score=None)
    assert not q.is_paused("ann")
    events = q.ground_truth_moved("t0", {"a0": 0.0, "b0": 1.0}, 5.0)
    assert qualities(events)["ann"].ground_truth_score == 0.0
    assert qualities(events)["bob"].ground_truth_score == 1.0
    q.ground_truth_moved("t1", {"a1": 0.5, "b1": 1.0}, 6.0)
    events = q.ground_truth_moved("t2", {"a2": 0.25, "b2": 1.0}, 7.0)
    # ann: (0 + 0.5 + 0.25) / 3 < 0.75 over the minimum of 3 scored tasks: paused, first.
    assert events[0] == AnnotatorPaused("ann", 0.25, 3, PAUSE_REASON, 7.0)
    assert q.is_paused("ann") and not q.is_paused("bob")
    # As if the annotations had been submitted with those scores.
    direct = quality()
    for i, (a, b) in enumerate([(0.0, 1.0), (0.5, 1.0), (0.25, 1.0)]):
        submit(direct, f"t{i}", f"a{i}", "ann", score=a)
        submit(direct, f"t{i}", f"b{i}", "bob", score=b)
    for annotator in ("ann", "bob"):
        assert q.summary(annotator) == direct.summary(annotator)


def test_a_ground_truth_unmarked_or_moved_rescores_and_leaves_the_rest_alone() -> None:
    q = quality()
    submit(q, "t1", "a1", "ann", score=0.5)
    q.skipped("t1", "s1", "sam", 2.0)
    # Unmarked: a1 unscored; a skip and an annotation never reported are left alone.
    events = q.ground_truth_moved("t1", {"a1": None, "s1": 0.0, "zz": 1.0}, 3.0)
    assert list(qualities(events)) == ["ann"]
    assert (q.quality("ann").ground_truth_score, q.quality("ann").ground_truth_tasks) == (None, 0)
    assert q.quality("sam").ground_truth_tasks == 0
    # Nothing moved: no event.
    assert q.ground_truth_moved("t1", {"a1": None}, 4.0) == []
    with pytest.raises(ValueError, match="ground-truth score of 'a1'"):
        q.ground_truth_moved("t1", {"a1": 1.5}, 5.0)


def test_a_removal_that_makes_the_mean_fail_pauses() -> None:
    q = quality(EvaluationSettings(enabled=True, pause_on_failure=True, minimum_score=0.75,
                                   minimum_tasks=2))
    for i, score in enumerate([1.0, 0.75, 0.5]):  # means 1.0, 0.875, 0.75: passing
        submit(q, f"t{i}", f"a{i}", "ann", score=score)
    assert not q.is_paused("ann")
    events = q.deleted("t0", "a0", "ann", 7.0)  # (0.75 + 0.5) / 2 = 0.625
    assert of_type(events, AnnotatorPaused) == [
        AnnotatorPaused("ann", 0.625, 2, PAUSE_REASON, 7.0)
    ]


def test_relaxed_settings_unpause_and_stricter_ones_pause() -> None:
    q = quality()
    for i, score in enumerate([0.5, 0.5, 0.5]):
        submit(q, f"t{i}", f"a{i}", "ann", score=score)
    for i, score in enumerate([0.75, 0.75, 0.75]):
        submit(q, f"u{i}", f"b{i}", "bob", score=score)
    assert q.is_paused("ann") and not q.is_paused("bob")
    relaxed = QualitySettings(EvaluationSettings(enabled=True, pause_on_failure=True,
                                                 minimum_score=0.5, minimum_tasks=3))
    assert q.reconfigure(relaxed, 9.0) == [AnnotatorUnpaused("ann", 0.5, 3, UNPAUSE_REASON, 9.0)]
    stricter = QualitySettings(EvaluationSettings(enabled=True, pause_on_failure=True,
                                                  minimum_score=0.8, minimum_tasks=3))
    assert q.reconfigure(stricter, 10.0) == [
        AnnotatorPaused("ann", 0.5, 3, PAUSE_REASON, 10.0),
        AnnotatorPaused("bob", 0.75, 3, PAUSE_REASON, 10.0),
    ]
    assert q.reconfigure(stricter, 11.0) == []  # unchanged settings: nothing


# -- annotator performance ------------------------------------------------------------


def test_agreement_is_annotator_performances() -> None:
    q = quality()
    performance = AnnotatorPerformance()
    facts = [
        ("t1", "a1", "ann", {}),
        ("t1", "a2", "bob", {"a1": 0.5}),
        ("t1", "a3", "cy", {"a1": 0.25, "a2": 0.75}),
        ("t2", "a4", "bob", {}),
        ("t2", "a5", "ann", {"a4": 1.0}),
        ("t1", "a2", "bob", {"a1": 0.0, "a3": 0.5}),  # bob updates a2
    ]
    for task, annotation, annotator, pairs in facts:
        submit(q, task, annotation, annotator, pairs=pairs)
        performance.submit(task, annotation, annotator, 1.0, pairs)
    for annotator in ("ann", "bob", "cy"):
        assert q.summary(annotator) == performance.summary(annotator)
    names, matrix = q.matrix()
    expected_names, expected = performance.matrix()
    assert names == expected_names
    np.testing.assert_array_equal(matrix, expected)
    # By hand: ann pairs 0.0 (a2, updated), 0.25 (a3), 1.0 (a4); bob 0.0, 0.5, 1.0; cy 0.25, 0.5.
    assert q.quality("ann").agreement == pytest.approx(1.25 / 3)
    assert q.quality("bob").agreement == 0.5
    assert q.quality("cy").agreement == 0.375


def test_quality_is_reported_for_the_submitter_and_the_pair_authors() -> None:
    q = quality()
    submit(q, "t1", "a1", "ann")
    submit(q, "t2", "a2", "dee")
    submit(q, "t1", "a2b", "cy", pairs={"a1": 1.0})
    events = submit(q, "t1", "a3", "bob", pairs={"a1": 0.5, "a2b": 0.0})
    assert [e.annotator for e in of_type(events, AnnotatorQuality)] == ["bob", "ann", "cy"]
    assert qualities(events)["ann"].agreement == 0.75


def test_a_person_twice_on_a_task_is_reported_once_and_not_paired_with_themselves() -> None:
    q = quality()
    submit(q, "t1", "a1", "ann")
    events = submit(q, "t1", "a2", "ann", pairs={"a1": 0.5})
    assert [e.annotator for e in of_type(events, AnnotatorQuality)] == ["ann"]
    assert qualities(events)["ann"].agreement is None


def test_skips_are_counted_and_a_skip_leaves_the_agreement() -> None:
    q = quality()
    submit(q, "t1", "a1", "ann", score=0.5, label="x", lead_time=4.0)
    submit(q, "t1", "a2", "bob", pairs={"a1": 0.5})
    events = q.skipped("t1", "a1", "ann", 3.0)  # ann cancels a1
    assert [e.annotator for e in of_type(events, AnnotatorQuality)] == ["ann", "bob"]
    ann = qualities(events)["ann"]
    assert (ann.submitted, ann.skipped, ann.agreement, ann.lead_time_mean) == (0, 1, None, None)
    assert (ann.ground_truth_score, ann.ground_truth_tasks) == (None, 0)
    assert qualities(events)["bob"].agreement is None
    q.skipped("t2", "a3", "ann", 4.0)  # a plain skip
    assert (q.quality("ann").submitted, q.quality("ann").skipped) == (0, 2)
    assert q.summary("ann").last_active == 4.0


def test_lead_times_mean_and_median() -> None:
    q = quality()
    for i, seconds in enumerate([10.0, 2.0, 4.0]):
        submit(q, f"t{i}", f"a{i}", "ann", lead_time=seconds)
    submit(q, "t3", "a3", "ann", lead_time=None)  # unknown: not in the lead times
    ann = q.quality("ann")
    assert (ann.submitted, ann.lead_time_mean, ann.lead_time_median) == (4, 16.0 / 3, 4.0)


def test_deleting_an_annotation_takes_its_pairs_and_counts() -> None:
    q = quality()
    submit(q, "t1", "a1", "ann", lead_time=5.0)
    submit(q, "t1", "a2", "bob", pairs={"a1": 0.25})
    events = q.deleted("t1", "a1", None, 2.0)  # a deleted fact may not name the annotator
    assert [e.annotator for e in of_type(events, AnnotatorQuality)] == ["ann", "bob"]
    assert qualities(events)["ann"].submitted == 0
    assert qualities(events)["bob"].agreement is None
    assert q.deleted("t1", "a1", None, 3.0) == []  # already gone
    assert q.deleted("t9", "nope", "ann", 3.0) == []
    # bob's next annotation of t1 pairs with nobody: a1 is gone.
    assert qualities(submit(q, "t1", "a3", "cy", pairs={"a2": 1.0}))["cy"].agreement == 1.0


# -- facts that disagree with what was reported before ----------------------------------


def test_pairs_with_unreported_annotations_are_left_out() -> None:
    q = quality()
    submit(q, "t1", "a1", "ann")
    # "old" was counted before the project distributed its tasks: its author is unknown.
    events = submit(q, "t1", "a2", "bob", pairs={"a1": 0.5, "old": 0.0, "a2": 1.0})
    assert qualities(events)["bob"].agreement == 0.5


def test_an_annotation_missing_from_the_pairs_is_detached_until_resubmitted() -> None:
    q = quality()
    submit(q, "t1", "a1", "ann", label="x", lead_time=3.0, score=0.5)
    submit(q, "t1", "a2", "bob", pairs={"a1": 0.5}, label="x")
    # The agreement no longer counts a1 (rejected, say): cy's pairs leave it out.
    events = submit(q, "t1", "a3", "cy", 5.0, pairs={"a2": 1.0}, label="y")
    assert [e.annotator for e in of_type(events, AnnotatorQuality)] == ["cy", "ann", "bob"]
    ann = qualities(events)["ann"]
    # Still submitted, with its lead time and ground-truth score; out of the agreement.
    assert (ann.submitted, ann.agreement, ann.lead_time_mean) == (1, None, 3.0)
    assert ann.ground_truth_score == 0.5
    assert q.summary("ann").last_active == 1.0
    assert qualities(events)["bob"].agreement == 1.0
    # And out of the reliability labels.
    assert "ann" not in q.reliabilities()
    # Resubmitted, it counts again.
    events = submit(q, "t1", "a1", "ann", 6.0, pairs={"a2": 0.0, "a3": 0.0}, label="x")
    assert qualities(events)["ann"].agreement == 0.0
    assert qualities(events)["ann"].submitted == 1
    assert "ann" in q.reliabilities()
    q.skipped("t1", "a3", "cy", 7.0)
    q.deleted("t1", "a1", None, 8.0)
    assert q.summary("ann").submitted == 0


def test_a_detached_annotation_can_be_skipped_and_deleted() -> None:
    q = quality()
    submit(q, "t1", "a1", "ann")
    submit(q, "t1", "a2", "bob")  # a1 detached
    q.skipped("t1", "a1", "ann", 2.0)
    assert (q.quality("ann").submitted, q.quality("ann").skipped) == (0, 1)
    submit(q, "t1", "a3", "cy")  # a2 detached
    assert q.deleted("t1", "a2", "bob", 3.0)
    assert q.quality("bob").submitted == 0


def test_a_known_id_with_another_annotator_replaces_the_old_annotation() -> None:
    q = quality()
    submit(q, "t1", "a1", "ann", score=0.5)
    events = submit(q, "t1", "a1", "bob", score=1.0)
    assert [e.annotator for e in of_type(events, AnnotatorQuality)] == ["ann", "bob"]
    assert (q.quality("ann").submitted, q.quality("ann").ground_truth_tasks) == (0, 0)
    assert (q.quality("bob").submitted, q.quality("bob").ground_truth_score) == (1, 1.0)
    submit(q, "t2", "a1", "bob")  # and another task
    assert q.to_state()["tasks"].keys() == {"t2"}


@pytest.mark.parametrize(("options", "words"), [
    ({"pairs": {"a1": 1.5}}, "pair score with 'a1'"),
    ({"pairs": {"a1": math.nan}}, "pair score"),
    ({"score": 1.01}, "ground_truth_score"),
    ({"score": -0.1}, "ground_truth_score"),
    ({"lead_time": -1.0}, "lead_time"),
    ({"lead_time": math.inf}, "lead_time"),
    ({"now": math.nan}, "now"),
    ({"label": 3}, "label"),
])
def test_values_the_parser_refuses_are_refused_before_anything_changes(
    options: dict[str, Any], words: str
) -> None:
    q = quality()
    submit(q, "t1", "a1", "ann")
    before = q.to_state()
    with pytest.raises(ValueError, match=words):
        submit(q, "t1", "a2", "bob", **{"pairs": {"a1": 0.5}, **options})
    assert q.to_state() == before


def test_ids_must_be_strings() -> None:
    with pytest.raises(ValueError, match="annotator must be a str"):
        quality().skipped("t1", "a1", 7, 1.0)  # type: ignore[arg-type]


# -- reliability ----------------------------------------------------------------------


def test_consensus_and_reliability_follow_the_estimator() -> None:
    reliability = ReliabilitySettings(refresh_tasks_per_label=1)
    q = quality(reliability_settings=reliability)
    estimator = ReliabilityEstimator(reliability)
    facts = [("t1", "a1", "ann", "x"), ("t1", "a2", "bob", "y"), ("t1", "a3", "cy", "x"),
             ("t2", "a4", "ann", "y"), ("t2", "a5", "bob", "y"), ("t3", "a6", "cy", "x"),
             ("t3", "a7", "bob", "y"), ("t3", "a8", "ann", None)]
    changes: list[ConsensusChanged] = []
    expected: list[ConsensusChanged] = []
    members: dict[str, list[str]] = {}
    for task, annotation, annotator, label in facts:
        pairs = {other: 0.5 for other in members.setdefault(task, [])}
        events = submit(q, task, annotation, annotator, pairs=pairs, label=label)
        members[task].append(annotation)
        changes += of_type(events, ConsensusChanged)
        if label is not None:
            expected += estimator.add_label(task, annotator, label)
    # A deleted label leaves the estimator too.
    changes += of_type(q.deleted("t1", "a3", "cy", 2.0), ConsensusChanged)
    expected += estimator.remove_label("t1", "cy")
    assert changes == expected
    for task in ("t1", "t2", "t3", "t4"):
        found = estimator.consensus(task)
        assert q.consensus(task) == (None if found is None else (found.label, found.posterior))
    assert q.reliabilities() == estimator.reliabilities()
    assert q.quality("bob").reliability == estimator.reliability("bob")
    assert q.quality("nobody").reliability is None


def test_reliability_after_a_changed_label_is_a_fresh_estimators() -> None:
    # The estimator caches what it derives from its counts (the class prior): a read
    # before a fact must not leak into the numbers after it.
    q = quality()
    submit(q, "t1", "a1", "ann", label="x")
    submit(q, "t1", "a2", "bob", pairs={"a1": 1.0}, label="x")
    submit(q, "t2", "a3", "ann", label="y")
    assert q.quality("bob").reliability is not None  # fills the cache
    steps = [lambda: submit(q, "t1", "a2", "bob", 2.0, pairs={"a1": 0.0}, label="y"),
             lambda: submit(q, "t2", "a4", "bob", 3.0, pairs={"a3": 0.0}, label="z"),
             lambda: q.skipped("t1", "a1", "ann", 4.0),
             lambda: q.deleted("t2", "a3", None, 5.0)]
    for step in steps:
        events = qualities(step())
        fresh = ProjectQuality.from_state(orjson.loads(orjson.dumps(q.to_state())))
        for annotator, event in events.items():
            assert event.reliability == fresh.quality(annotator).reliability, annotator
            assert q.quality(annotator) == fresh.quality(annotator)


def test_a_persons_latest_labelled_annotation_is_their_label() -> None:
    q = quality()
    estimator = ReliabilityEstimator()
    submit(q, "t1", "a1", "ann", label="x")
    submit(q, "t1", "a2", "ann", pairs={"a1": 0.0}, label="y")  # ann again, another label
    estimator.add_label("t1", "ann", "x")
    estimator.add_label("t1", "ann", "y")
    q.deleted("t1", "a2", None, 2.0)  # back to a1's label
    estimator.add_label("t1", "ann", "x")
    assert q.to_state()["reliability"] == estimator.to_state()
    submit(q, "t1", "a3", "ann", pairs={"a1": 0.0}, label="y")
    submit(q, "t1", "a1", "ann", pairs={"a3": 0.0}, label="z")  # a1 updated: now the latest
    estimator.add_label("t1", "ann", "y")
    estimator.add_label("t1", "ann", "z")
    assert q.to_state()["reliability"] == estimator.to_state()


def test_reliability_off() -> None:
    q = quality(reliability=False)
    events = submit(q, "t1", "a1", "ann", label="x")
    assert of_type(events, ConsensusChanged) == []
    assert qualities(events)["ann"].reliability is None
    assert (q.consensus("t1"), q.reliabilities()) == (None, {})
    assert q.to_state()["reliability"] is None


def test_turning_reliability_on_estimates_from_the_counted_labels() -> None:
    q = quality(reliability=False)
    submit(q, "t2", "a1", "ann", label="x")
    submit(q, "t1", "a2", "bob", label="y")
    submit(q, "t1", "a3", "ann", pairs={"a2": 0.0}, label="x")
    submit(q, "t3", "a4", "cy")  # no label
    events = q.reconfigure(QualitySettings(EVALUATED), 5.0)
    fresh = ReliabilityEstimator()
    expected = [*fresh.add_label("t1", "ann", "x"), *fresh.add_label("t1", "bob", "y"),
                *fresh.add_label("t2", "ann", "x")]  # tasks, then annotators, in id order
    assert events == expected
    assert q.to_state()["reliability"] == fresh.to_state()
    assert q.quality("ann").reliability == fresh.reliability("ann")
    q.reconfigure(QualitySettings(EVALUATED, reliability=False), 6.0)
    assert q.reliabilities() == {}


# -- state ----------------------------------------------------------------------------


def test_a_new_projects_state_round_trips() -> None:
    q = quality()
    assert ProjectQuality.from_state(orjson.loads(orjson.dumps(q.to_state()))).to_state() == (
        q.to_state()
    )


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s.update(version=2), "version 2"),
    (lambda s: s.pop("performance"), "malformed"),
    (lambda s: s.update(reliability=None), "does not match"),
    (lambda s: s["tasks"]["t1"][0].__setitem__(2, "lost"), "status 'lost'"),
    (lambda s: s["settings"]["evaluation"].update(minimum_score=2), "minimum_score"),
])
def test_bad_states_are_refused(change: Any, message: str) -> None:
    q = quality()
    submit(q, "t1", "a1", "ann", label="x")
    state = orjson.loads(orjson.dumps(q.to_state()))
    change(state)
    with pytest.raises(ValueError, match=message):
        ProjectQuality.from_state(state)


def test_evaluation_settings_round_trip_and_refuse_unknown_fields() -> None:
    assert evaluation_from_dict(evaluation_to_dict(EVALUATED)) == EVALUATED
    assert evaluation_from_dict({}) == EvaluationSettings()
    with pytest.raises(ValueError, match="unknown evaluation setting 'minimum'"):
        evaluation_from_dict({"minimum": 1})
    with pytest.raises(ValueError, match="must be an object"):
        evaluation_from_dict([1])


def test_quality_settings_refuse_wrong_types() -> None:
    with pytest.raises(ValueError, match="reliability must be true or false"):
        QualitySettings(reliability=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="evaluation must be EvaluationSettings"):
        QualitySettings(evaluation={})  # type: ignore[arg-type]


# A fact sequence from a simulated annotations agent: each step is (kind, annotation
# number, annotator, score, flags). Annotation i belongs to task i % 3; its author may
# change when an id is reused. The agent's view of each task decides the pairs; flags
# drop one counted annotation from the agreement (a reject the facts do not tell) or
# add a pair with an annotation never reported.
steps = st.lists(
    st.tuples(
        st.sampled_from(["submit", "submit", "submit", "skip", "delete"]),
        st.integers(0, 6),
        st.sampled_from(["ann", "bob", "cy"]),
        st.sampled_from([None, 0.0, 0.25, 0.5, 0.8, 1.0]),
        st.sampled_from(["", "", "", "reject", "ghost"]),
    ),
    max_size=30,
)


Step = tuple[str, int, str, float | None, str]


def facts_of(sequence: list[Step]) -> list[tuple[str, tuple[Any, ...], dict[str, Any]]]:
    counted: dict[str, list[str]] = {}  # the agent's agreement per task
    facts: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    for i, (kind, number, annotator, score, flag) in enumerate(sequence):
        task, annotation, now = f"t{number % 3}", f"a{number}", float(i)
        members = counted.setdefault(task, [])
        if annotation in members:
            members.remove(annotation)
        if kind == "delete":
            facts.append(("deleted", (task, annotation, None, now), {}))
        elif kind == "skip":
            facts.append(("skipped", (task, annotation, annotator, now), {}))
        else:
            if flag == "reject" and members:
                members.pop(0)
            pairs = {other: (number * 7 + len(other) * 3 + i) % 5 / 4 for other in members}
            if flag == "ghost":
                pairs["ghost"] = 0.5
            members.append(annotation)
            label = None if score is None else "xy"[number % 2 if score < 0.5 else i % 2]
            facts.append(("submitted", (task, annotation, annotator, now), {
                "pairs": pairs, "ground_truth_score": score, "label": label,
                "lead_time": None if score is None else score * 10}))
    return facts


@settings(max_examples=60, deadline=None)
@given(steps, st.integers(0, 30))
def test_a_state_round_trip_anywhere_changes_nothing(sequence: list[Step], at: int) -> None:
    evaluation = EvaluationSettings(enabled=True, pause_on_failure=True, minimum_score=0.6,
                                    minimum_tasks=2)
    settings_ = QualitySettings(evaluation, reliability_settings=ReliabilitySettings(
        refresh_tasks_per_label=1))
    straight, resumed = ProjectQuality(settings_), ProjectQuality(settings_)
    facts = facts_of(sequence)
    for i, (method, args, options) in enumerate(facts):
        if i == at:
            resumed = ProjectQuality.from_state(orjson.loads(orjson.dumps(resumed.to_state())))
        assert getattr(resumed, method)(*args, **options) == getattr(straight, method)(
            *args, **options)
    assert resumed.to_state() == straight.to_state()
    # Ground-truth means and counts, recomputed from the latest fact of each annotation.
    latest: dict[str, tuple[str, str, float | None]] = {}  # annotation -> author, kind, score
    for method, (_, annotation, annotator, _), options in facts:
        if method == "deleted":
            latest.pop(annotation, None)
        else:
            latest[annotation] = (annotator, method, options.get("ground_truth_score"))
    for annotator in ("ann", "bob", "cy"):
        mine = [entry for entry in latest.values() if entry[0] == annotator]
        scores = [s for _, _, s in mine if s is not None]
        row = straight.quality(annotator)
        assert row.submitted == sum(kind == "submitted" for _, kind, _ in mine)
        assert row.skipped == sum(kind == "skipped" for _, kind, _ in mine)
        assert row.ground_truth_tasks == len(scores)
        assert row.ground_truth_score == (math.fsum(scores) / len(scores) if scores else None)
        fails = len(scores) >= 2 and math.fsum(scores) / len(scores) < 0.6
        if fails:  # once failed, paused for good (the settings never relax here)
            assert row.paused
