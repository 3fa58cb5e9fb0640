"""Ground truth: one per task, annotators scored against it, honeypots, evaluation pauses.

Semantics from Label Studio Enterprise's docs: guide/quality.md ("A task can only have
one annotation set as the ground truth [...] If you set a new annotation for a task as
a ground truth, the previous annotation [...] is updated to no longer be a ground
truth"; deleting a ground truth keeps the annotation) and guide/project_settings_lse.md
("Annotator Evaluation": onboarding tasks first, pause below "Score required to pass
evaluation" after "Number of tasks for evaluation"; relaxing the settings unpauses).
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from typing import Any, cast

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agreement import ScoringConfig, TaskAgreement, pair_score
from assignment.evaluation import (
    PAUSE_REASON,
    UNPAUSE_REASON,
    AnnotatorPaused,
    AnnotatorUnpaused,
    EvaluationSettings,
    ground_truth_due,
)
from assignment.ground_truth import GroundTruth
from assignment.pair_agreement import pair_agreement
from assignment.review_events import ReviewReason, ReviewRequested
from tests.unit.agreement.strategies import choices_item, results

CUSTOM = "tests.unit.agreement.custom_metric"
POS = [choices_item("sentiment", ["pos"])]
NEG = [choices_item("sentiment", ["neg"])]
TOPICS_AB = [choices_item("topics", ["a", "b"])]
TOPICS_A = [choices_item("topics", ["a"])]

EVALUATING = EvaluationSettings(
    enabled=True, pause_on_failure=True, minimum_score=0.6, minimum_tasks=3
)


# pair_agreement is the task agreement's own pair score.


@pytest.mark.parametrize(
    "scoring",
    [
        None,
        ScoringConfig(),
        ScoringConfig.from_dict({"tags": {"sentiment": {"weight": 0.0}, "topics": {"weight": 2}}}),
        ScoringConfig.from_dict(
            {"tags": {"stars": {"metric": "numeric_difference", "params": {"range": 2.0}}}}
        ),
        ScoringConfig(custom_metric=f"{CUSTOM}:same_region_count"),
    ],
)
@given(result_a=results, result_b=results)
def test_pair_agreement_equals_the_task_agreement_pair_score(
    scoring: ScoringConfig | None, result_a: list[Any], result_b: list[Any]
) -> None:
    # Reference: agreement.TaskAgreement, which the stream scores tasks with.
    task = TaskAgreement(scoring=scoring)
    task.upsert("gt-1", result_a)
    task.upsert("7", result_b)
    expected = task.pair_scores[("7", "gt-1")]
    assert pair_agreement(scoring, "gt-1", result_a, "7", result_b) == expected
    assert pair_agreement(scoring, "7", result_b, "gt-1", result_a) == expected


# Mark, replace, unmark.


def annotations_of(*rows: tuple[str, str, list[Any]]) -> dict[str, tuple[str, list[Any]]]:
    return {annotation: (annotator, result) for annotation, annotator, result in rows}


def test_mark_scores_the_other_annotations_against_the_truth() -> None:
    truth = GroundTruth()
    task = annotations_of(("a1", "lead", TOPICS_AB), ("a2", "ann", TOPICS_A), ("a3", "bob", POS))
    assert truth.mark("t1", "a1", task, now=0.0) == []
    assert truth.truth("t1") == "a1"
    # Reference: agreement.pair_score (Jaccard 1/2 for the topics; no shared tag for a3).
    assert truth.scores("t1") == {"a2": 0.5, "a3": 0.0}
    assert truth.scores("t1")["a2"] == pair_score(TOPICS_AB, TOPICS_A)
    assert truth.score("ann") == 0.5 and truth.tasks("ann") == 1
    assert truth.score("lead") is None and truth.tasks("lead") == 0  # the truth itself


def test_marking_another_annotation_replaces_the_truth() -> None:
    truth = GroundTruth()
    task = annotations_of(("a1", "lead", TOPICS_AB), ("a2", "ann", TOPICS_A), ("a3", "bob", POS))
    truth.mark("t1", "a1", task, now=0.0)
    truth.mark("t1", "a2", task, now=1.0)
    assert truth.truth("t1") == "a2"
    # One truth per task: a1 is now an ordinary annotation scored against a2.
    assert truth.scores("t1") == {"a1": 0.5, "a3": 0.0}
    assert truth.score("ann") is None and truth.score("lead") == 0.5


def test_unmark_leaves_the_task_unscored() -> None:
    truth = GroundTruth()
    truth.mark("t1", "a1", annotations_of(("a1", "lead", POS), ("a2", "ann", NEG)), now=0.0)
    truth.unmark("t1", now=1.0)
    assert truth.truth("t1") is None and truth.scores("t1") == {}
    assert truth.score("ann") is None and truth.tasks("ann") == 0
    # Submissions to a task without ground truth are not scored.
    assert truth.submit("t1", "a3", "bob", POS, now=2.0) == []
    assert truth.tasks("bob") == 0
    assert truth.unmark("t1", now=3.0) == []  # twice is harmless


def test_mark_needs_the_truth_among_the_annotations() -> None:
    with pytest.raises(ValueError, match="not among the annotations"):
        GroundTruth().mark("t1", "a9", annotations_of(("a1", "ann", POS)), now=0.0)


def test_submissions_are_scored_as_they_arrive() -> None:
    truth = GroundTruth()
    truth.mark("t1", "gt", annotations_of(("gt", "lead", POS)), now=0.0)
    truth.submit("t1", "a1", "ann", POS, now=1.0)
    truth.submit("t1", "a2", "ann", NEG, now=2.0)
    assert truth.score("ann") == 0.5 and truth.tasks("ann") == 2
    truth.submit("t1", "a2", "ann", POS, now=3.0)  # an update replaces the score
    assert truth.score("ann") == 1.0 and truth.tasks("ann") == 2
    with pytest.raises(ValueError, match="not 'bob'"):
        truth.submit("t1", "a2", "bob", POS, now=4.0)


def test_updating_the_truth_rescores_the_task() -> None:
    truth = GroundTruth()
    task = annotations_of(("gt", "lead", POS), ("a1", "ann", POS), ("a2", "bob", NEG))
    truth.mark("t1", "gt", task, now=0.0)
    assert truth.scores("t1") == {"a1": 1.0, "a2": 0.0}
    truth.submit("t1", "gt", "lead", NEG, now=1.0)
    assert truth.scores("t1") == {"a1": 0.0, "a2": 1.0}
    with pytest.raises(ValueError, match="is by 'lead'"):
        truth.submit("t1", "gt", "ann", NEG, now=2.0)


def test_removing_annotations_and_the_truth() -> None:
    truth = GroundTruth()
    task = annotations_of(("gt", "lead", POS), ("a1", "ann", POS), ("a2", "bob", NEG))
    truth.mark("t1", "gt", task, now=0.0)
    truth.remove("t1", "a2", now=1.0)  # deleted or skipped
    assert truth.scores("t1") == {"a1": 1.0} and truth.tasks("bob") == 0
    assert truth.remove("t1", "a2", now=1.0) == []  # idempotent
    truth.remove("t1", "gt", now=2.0)  # deleting the truth unmarks the task
    assert truth.truth("t1") is None and truth.tasks("ann") == 0


# Evaluation and pauses.


def test_pause_once_below_the_minimum_after_the_minimum_tasks() -> None:
    truth = GroundTruth(EVALUATING)
    for task in ("t1", "t2", "t3", "t4"):
        truth.mark(task, f"gt-{task}", annotations_of((f"gt-{task}", "lead", POS)), now=0.0)
    # Two wrong answers: below 0.6, but fewer than 3 ground-truth tasks.
    assert truth.submit("t1", "a1", "ann", NEG, now=1.0) == []
    assert truth.submit("t2", "a2", "ann", NEG, now=2.0) == []
    events = truth.submit("t3", "a3", "ann", POS, now=3.0)
    assert events == [AnnotatorPaused("ann", 1 / 3, 3, PAUSE_REASON, 3.0)]
    assert truth.is_paused("ann")
    # Once: still failing, no second event.
    assert truth.submit("t4", "a4", "ann", NEG, now=4.0) == []


def test_no_pause_when_pausing_is_off_or_evaluation_disabled() -> None:
    for evaluation in (
        EvaluationSettings(enabled=True, pause_on_failure=False, minimum_tasks=1),
        EvaluationSettings(enabled=False, pause_on_failure=True, minimum_tasks=1),
    ):
        truth = GroundTruth(evaluation)
        truth.mark("t1", "gt", annotations_of(("gt", "lead", POS)), now=0.0)
        assert truth.submit("t1", "a1", "ann", NEG, now=1.0) == []
        # The score is computed either way (Label Studio's Members dashboard shows it).
        assert truth.score("ann") == 0.0 and not truth.is_paused("ann")


def test_passing_at_exactly_the_minimum_score() -> None:
    truth = GroundTruth(
        EvaluationSettings(enabled=True, pause_on_failure=True, minimum_score=0.5, minimum_tasks=2)
    )
    for task in ("t1", "t2"):
        truth.mark(task, f"gt-{task}", annotations_of((f"gt-{task}", "lead", POS)), now=0.0)
    truth.submit("t1", "a1", "ann", POS, now=1.0)
    assert truth.submit("t2", "a2", "ann", NEG, now=2.0) == []  # 0.5 is not below 0.5


def test_marking_ground_truth_can_pause_existing_annotators() -> None:
    truth = GroundTruth(EvaluationSettings(enabled=True, pause_on_failure=True, minimum_tasks=1))
    events = truth.mark("t1", "gt", annotations_of(("gt", "lead", POS), ("a1", "ann", NEG)), 5.0)
    assert events == [AnnotatorPaused("ann", 0.0, 1, PAUSE_REASON, 5.0)]


def test_paused_stays_paused_until_settings_relax() -> None:
    truth = GroundTruth(EVALUATING)
    for n, result in enumerate([NEG, NEG, POS, POS, POS]):
        task = f"t{n}"
        truth.mark(task, f"gt{n}", annotations_of((f"gt{n}", "lead", POS)), now=0.0)
        truth.submit(task, f"a{n}", "ann", result, now=1.0)
        truth.submit(task, f"b{n}", "bob", POS, now=1.0)
    # Paused at 1/3 after three tasks; 3/5 = 0.6 passes now, but Label Studio keeps an
    # evaluated annotator paused until the settings are relaxed.
    assert truth.score("ann") == 0.6 and truth.is_paused("ann") and not truth.is_paused("bob")
    relaxed = EvaluationSettings(
        enabled=True, pause_on_failure=True, minimum_score=0.5, minimum_tasks=3
    )
    assert truth.reconfigure(relaxed, now=2.0) == [
        AnnotatorUnpaused("ann", 0.6, 5, UNPAUSE_REASON, 2.0)
    ]
    assert not truth.is_paused("ann")
    stricter = EvaluationSettings(
        enabled=True, pause_on_failure=True, minimum_score=1.0, minimum_tasks=3
    )
    assert truth.reconfigure(stricter, now=3.0) == [
        AnnotatorPaused("ann", 0.6, 5, PAUSE_REASON, 3.0)
    ]
    # Turning pausing off unpauses everyone.
    off = EvaluationSettings(enabled=True, pause_on_failure=False)
    # Every event here is about an annotator (there are no review requests to make).
    events = cast("list[AnnotatorPaused | AnnotatorUnpaused]", truth.reconfigure(off, now=4.0))
    assert [e.annotator for e in events] == ["ann"]


def test_disagreement_requests_a_review_once_per_fall() -> None:
    truth = GroundTruth(EvaluationSettings(review_below=0.5))
    truth.mark("t1", "gt", annotations_of(("gt", "lead", TOPICS_AB)), now=0.0)
    reason = ReviewReason.GROUND_TRUTH_DISAGREEMENT
    assert truth.submit("t1", "a1", "ann", POS, now=1.0) == [
        ReviewRequested("t1", reason, 1.0, "a1", 0.0)
    ]
    assert truth.submit("t1", "a1", "ann", POS, now=2.0) == []  # still below: no news
    assert truth.submit("t1", "a1", "ann", TOPICS_A, now=3.0) == []  # 0.5 is not below
    assert truth.submit("t1", "a1", "ann", NEG, now=4.0) == [
        ReviewRequested("t1", reason, 4.0, "a1", 0.0)
    ]
    # Without a threshold, no review is requested.
    quiet = GroundTruth()
    quiet.mark("t1", "gt", annotations_of(("gt", "lead", TOPICS_AB)), now=0.0)
    assert quiet.submit("t1", "a1", "ann", POS, now=1.0) == []


# Honeypots.


def test_onboarding_tasks_come_first() -> None:
    onboarding = EvaluationSettings(enabled=True, onboarding_tasks=2)
    assert [ground_truth_due(onboarding, g, t) for g, t in [(0, 0), (1, 1), (2, 2), (2, 9)]] == [
        True,
        True,
        False,
        False,
    ]
    # Onboarding counts ground-truth tasks done, whenever they were done.
    assert ground_truth_due(onboarding, 1, 5)


def test_every_tenth_task_is_a_honeypot_at_share_one_tenth() -> None:
    share = EvaluationSettings(enabled=True, continuous_share=0.1)
    served: list[int] = []
    for task in range(30):  # the annotator has done `task` tasks before this one
        if ground_truth_due(share, len(served), task):
            served.append(task)
    assert served == [9, 19, 29]


def test_share_is_the_decimal_written() -> None:
    # 0.29 * 100 is 28.999999999999996 in floats; the schedule must still serve 29.
    share = EvaluationSettings(enabled=True, continuous_share=0.29)
    assert share.exact_share == Fraction(29, 100)
    ground_truth = 0
    for done in range(100):
        ground_truth += ground_truth_due(share, ground_truth, done)
    assert ground_truth == 29


@settings(max_examples=60)
@given(
    onboarding=st.integers(0, 5),
    share=st.sampled_from([0.0, 0.05, 0.1, 0.25, 1 / 3, 0.5, 0.99, 1.0]),
    tasks=st.integers(0, 120),
)
def test_honeypot_count_follows_the_share(onboarding: int, share: float, tasks: int) -> None:
    evaluation = EvaluationSettings(
        enabled=True, onboarding_tasks=onboarding, continuous_share=share
    )
    ground_truth = 0
    for done in range(tasks):
        ground_truth += ground_truth_due(evaluation, ground_truth, done)
    # Reference: the onboarding tasks, then floor(share * n) of n tasks, never more.
    exact = Fraction(repr(share))
    assert ground_truth == max(min(onboarding, tasks), math.floor(exact * tasks))


def test_honeypots_need_evaluation_and_sane_counts() -> None:
    assert not ground_truth_due(EvaluationSettings(continuous_share=1.0), 0, 0)
    assert not ground_truth_due(EvaluationSettings(enabled=True), 0, 50)  # share 0
    with pytest.raises(ValueError, match="cannot exceed"):
        ground_truth_due(EvaluationSettings(enabled=True), 3, 2)
    with pytest.raises(ValueError, match="tasks must be a whole number"):
        ground_truth_due(EvaluationSettings(enabled=True), 0, -1)
    truth = GroundTruth(EvaluationSettings(enabled=True, onboarding_tasks=1))
    assert truth.due("ann", tasks=0)
    truth.mark("t1", "gt", annotations_of(("gt", "lead", POS), ("a1", "ann", POS)), now=0.0)
    assert not truth.due("ann", tasks=1)


# Settings.


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"enabled": 1}, "enabled"),
        ({"onboarding_tasks": -1}, "onboarding_tasks"),
        ({"minimum_tasks": 2.0}, "minimum_tasks"),
        ({"minimum_score": 95}, "minimum_score"),
        ({"continuous_share": float("nan")}, "continuous_share"),
        ({"review_below": 1.5}, "review_below"),
    ],
)
def test_settings_are_validated(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EvaluationSettings(**kwargs)


def test_settings_from_label_studio_project() -> None:
    # Field names and the percentage score as Label Studio Enterprise's API sends them.
    project = {
        "annotator_evaluation_enabled": True,
        "annotator_evaluation_onboarding_tasks": 5,
        "pause_on_failed_annotator_evaluation": True,
        "annotator_evaluation_minimum_score": "80.00",
        "annotator_evaluation_minimum_tasks": 20,
    }
    read = EvaluationSettings.from_label_studio(project, continuous_share=0.1)
    assert read == EvaluationSettings(True, 5, 0.1, True, 0.8, 20)
    # Label Studio's defaults: off, 95 %, 10 tasks.
    assert EvaluationSettings.from_label_studio({}) == EvaluationSettings()
    assert EvaluationSettings().minimum_score == 0.95 and EvaluationSettings().minimum_tasks == 10
    with pytest.raises(ValueError, match="percentage"):
        EvaluationSettings.from_label_studio({"annotator_evaluation_minimum_score": "high"})


# Incremental equals recompute; state.

# Few tasks and annotators, so that events keep landing on the same annotations.
TASKS = ["t1", "t2"]
ANNOTATORS = ["ann", "bob", "dé"]
# (operation, task, annotator, result): submit, delete, mark (the annotator's annotation
# becomes the truth), unmark.
operations = st.lists(
    st.tuples(
        st.sampled_from(["submit", "submit", "delete", "mark", "mark", "unmark"]),
        st.sampled_from(TASKS),
        st.sampled_from(ANNOTATORS),
        st.sampled_from([POS, NEG, TOPICS_A, TOPICS_AB, []]) | results,
    ),
    min_size=20,
    max_size=60,
)


Live = dict[str, dict[str, tuple[str, list[Any]]]]


def replay(
    ops: list[tuple[str, str, str, list[Any]]], scoring: ScoringConfig | None
) -> tuple[GroundTruth, Live, dict[str, str]]:
    truth = GroundTruth(
        EvaluationSettings(enabled=True, pause_on_failure=True, minimum_tasks=2, review_below=0.5),
        scoring,
    )
    live: Live = {task: {} for task in TASKS}
    truths: dict[str, str] = {}
    for now, (operation, task, annotator, result) in enumerate(ops):
        annotation = f"{task}/{annotator}"  # one annotation per annotator and task
        if operation == "submit":
            live[task][annotation] = (annotator, result)
            truth.submit(task, annotation, annotator, result, float(now))
        elif operation == "delete" and annotation in live[task]:
            del live[task][annotation]
            truth.remove(task, annotation, float(now))
            if truths.get(task) == annotation:
                del truths[task]
        elif operation == "mark" and annotation in live[task]:
            truth.mark(task, annotation, live[task], float(now))
            truths[task] = annotation
        elif operation == "unmark":
            truth.unmark(task, float(now))
            truths.pop(task, None)
    return truth, live, truths


@pytest.mark.parametrize(
    "scoring", [None, ScoringConfig(custom_metric=f"{CUSTOM}:same_region_count")]
)
@settings(max_examples=80, deadline=None)
@given(ops=operations)
def test_incremental_equals_recompute(
    scoring: ScoringConfig | None, ops: list[tuple[str, str, str, list[Any]]]
) -> None:
    truth, live, truths = replay(ops, scoring)
    # Reference: score every live annotation of every marked task from scratch.
    scores: dict[str, list[float]] = {}
    for task, truth_id in truths.items():
        truth_result = live[task][truth_id][1]
        expected = {}
        for annotation, (annotator, result) in live[task].items():
            if annotation != truth_id:
                score = pair_agreement(scoring, truth_id, truth_result, annotation, result)
                expected[annotation] = score
                scores.setdefault(annotator, []).append(score)
        assert truth.scores(task) == expected
    for task in set(TASKS) - set(truths):
        assert truth.truth(task) is None and truth.scores(task) == {}
    for annotator in ANNOTATORS:
        held = scores.get(annotator, [])
        assert truth.tasks(annotator) == len(held)
        assert truth.score(annotator) == (math.fsum(held) / len(held) if held else None)
    state = truth.to_state()
    for encoded in (orjson.dumps(state), json.dumps(state).encode()):
        restored = GroundTruth.from_state(orjson.loads(encoded), truth.settings, scoring)
        assert restored.to_state() == state
        for annotator in ANNOTATORS:
            assert restored.score(annotator) == truth.score(annotator)
            assert restored.is_paused(annotator) == truth.is_paused(annotator)


def test_unicode_ids_and_state_version() -> None:
    truth = GroundTruth()
    truth.mark("задача", "真", annotations_of(("真", "积极", POS), ("é", "dé", POS)), now=0.0)
    restored = GroundTruth.from_state(json.loads(json.dumps(truth.to_state())))
    assert restored.score("dé") == 1.0 and restored.truth("задача") == "真"
    with pytest.raises(ValueError, match="version"):
        GroundTruth.from_state({"version": 0})
