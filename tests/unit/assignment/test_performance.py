"""Annotator performance: the Members dashboard's numbers, incremental equal to recompute.

Semantics from Label Studio Enterprise's docs (guide/dashboard_members.md, "Annotation
Summary"; guide/dashboard_annotator.md, "Annotation performance summaries"): Acceptance
Score "Accepted annotations (including Fix + Accepted) divided by total reviewed
annotations. Uses the latest review outcome per annotation"; Performance Score sums the
scores of all review actions over their number, with the docs' two worked examples;
average and median lead time of submitted annotations.
"""

from __future__ import annotations

import json
import math
import statistics
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agreement import TaskAgreement, pair_score
from assignment.ground_truth import GroundTruth
from assignment.lead_time import LeadTimes
from assignment.performance import AnnotatorPerformance, AnnotatorSummary, pairs_with
from assignment.review_events import ReviewAction
from tests.unit.agreement.strategies import choices_item, results

POS = [choices_item("sentiment", ["pos"])]
NEG = [choices_item("sentiment", ["neg"])]
TOPICS_A = [choices_item("topics", ["a"])]
ACCEPT, REJECT, FIX = ReviewAction.ACCEPT, ReviewAction.REJECT, ReviewAction.FIX_AND_ACCEPT


def submitted_alone(performance: AnnotatorPerformance, annotation: str, annotator: str) -> None:
    """Submit an annotation as the only one of its own task."""
    performance.submit(f"task-{annotation}", annotation, annotator, 0.0, {})


# Review scores: Label Studio's worked examples.


def test_performance_score_rejected_twice_then_accepted() -> None:
    # "If an annotation is rejected twice and then accepted once, the Performance Score
    # would be (0 + 0 + 1) / 3 = 33%."
    performance = AnnotatorPerformance()
    submitted_alone(performance, "a1", "ann")
    performance.review("a1", REJECT, 0.0)
    submitted_alone(performance, "a1", "ann")  # requeued and resubmitted
    performance.review("a1", REJECT, 0.0)
    submitted_alone(performance, "a1", "ann")
    performance.review("a1", ACCEPT, 1.0)
    summary = performance.summary("ann")
    assert summary.performance_score == 1 / 3
    # Acceptance uses the latest outcome of each annotation: one reviewed, accepted.
    assert (summary.reviewed, summary.accepted, summary.rejected) == (1, 1, 0)
    assert summary.acceptance_score == 1.0


def test_performance_score_rejected_then_fixed() -> None:
    # "If an annotation is rejected once and then fixed+accepted with an agreement score
    # of 42%, the Performance Score would be (0 + 0.42) / 2 = 21%."
    performance = AnnotatorPerformance()
    submitted_alone(performance, "a1", "ann")
    performance.review("a1", REJECT, 0.0)
    submitted_alone(performance, "a1", "ann")
    performance.review("a1", FIX, 0.42)
    summary = performance.summary("ann")
    assert summary.performance_score == 0.21
    assert (summary.fixed, summary.acceptance_score) == (1, 1.0)


def test_acceptance_score_counts_fixes_as_accepted() -> None:
    performance = AnnotatorPerformance()
    for annotation, action, score in [("a1", ACCEPT, 1.0), ("a2", FIX, 0.5), ("a3", REJECT, 0.0)]:
        submitted_alone(performance, annotation, "ann")
        performance.review(annotation, action, score)
    submitted_alone(performance, "a4", "ann")  # not reviewed: not in either score
    summary = performance.summary("ann")
    assert (summary.submitted, summary.reviewed) == (4, 3)
    assert (summary.accepted, summary.fixed, summary.rejected) == (1, 1, 1)
    assert summary.acceptance_score == 2 / 3
    assert summary.performance_score == 1.5 / 3


def test_no_reviews_is_no_score_not_zero() -> None:
    performance = AnnotatorPerformance()
    submitted_alone(performance, "a1", "ann")
    summary = performance.summary("ann")
    assert summary.acceptance_score is None and summary.performance_score is None
    assert summary.reviewed == 0 and summary.agreement is None
    # Someone never seen has an all-empty row.
    assert performance.summary("nobody") == AnnotatorSummary(
        "nobody", 0, 0, None, None, 0, 0, 0, 0, 0, None, None, 0.0, None, None, None
    )


def test_review_scores_are_checked() -> None:
    performance = AnnotatorPerformance()
    submitted_alone(performance, "a1", "ann")
    with pytest.raises(ValueError, match=r"accept scores 1\.0"):
        performance.review("a1", ACCEPT, 0.5)
    with pytest.raises(ValueError, match=r"reject scores 0\.0"):
        performance.review("a1", REJECT, 1.0)
    with pytest.raises(ValueError, match="not in"):
        performance.review("a1", FIX, 1.5)
    with pytest.raises(ValueError, match="not a submitted annotation"):
        performance.review("a9", ACCEPT, 1.0)
    performance.skip("t2", "s1", "ann", 1.0)
    with pytest.raises(ValueError, match="not a submitted annotation"):
        performance.review("s1", ACCEPT, 1.0)
    # Refused reviews left nothing behind.
    assert performance.summary("ann").performance_score is None


# Agreement with others and the matrix.


def test_agreement_with_others_and_the_matrix() -> None:
    performance = AnnotatorPerformance()
    agreement = TaskAgreement()
    for annotation, annotator, result in [
        ("a1", "ann", POS),
        ("a2", "bob", POS),
        ("a3", "cy", NEG),
    ]:
        agreement.upsert(annotation, result)
        performance.submit("t1", annotation, annotator, 0.0, pairs_with(agreement, annotation))
    # Reference: agreement.pair_score of each pair; ann's pairs are (ann, bob) 1 and
    # (ann, cy) 0.
    assert performance.summary("ann").agreement == 0.5
    assert performance.summary("cy").agreement == pair_score(NEG, POS) == 0.0
    assert performance.agreement_between("ann", "bob") == 1.0
    assert performance.agreement_between("ann", "dé") is None
    annotators, matrix = performance.matrix()
    assert annotators == ["ann", "bob", "cy"]
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [1, 1, 0], [0, 0, 1]])


def test_rejected_annotation_leaves_the_agreement_until_resubmitted() -> None:
    performance = AnnotatorPerformance()
    agreement = TaskAgreement()
    for annotation, annotator, result in [("a1", "ann", POS), ("a2", "bob", NEG)]:
        agreement.upsert(annotation, result)
        performance.submit("t1", annotation, annotator, 0.0, pairs_with(agreement, annotation))
    performance.review("a2", REJECT, 0.0)
    agreement.remove("a2")
    assert performance.summary("ann").agreement is None
    assert performance.matrix()[0] == []
    # Still submitted and reviewed: rejected work was done.
    assert performance.summary("bob").submitted == 1
    assert performance.summary("bob").rejected == 1
    agreement.upsert("a2", POS)  # requeued, fixed by its annotator, resubmitted
    performance.submit("t1", "a2", "bob", 5.0, pairs_with(agreement, "a2"))
    assert performance.summary("ann").agreement == 1.0


def test_a_reviewer_fix_rescores_the_pairs() -> None:
    performance = AnnotatorPerformance()
    agreement = TaskAgreement()
    for annotation, annotator, result in [("a1", "ann", POS), ("a2", "bob", NEG)]:
        agreement.upsert(annotation, result)
        performance.submit("t1", annotation, annotator, 0.0, pairs_with(agreement, annotation))
    performance.review("a2", FIX, pair_score(NEG, POS))
    agreement.upsert("a2", POS)  # the ReplaceResult instruction
    performance.rescore("a2", pairs_with(agreement, "a2"))
    assert performance.agreement_between("ann", "bob") == 1.0
    with pytest.raises(ValueError, match="only a counted annotation"):
        performance.rescore("a9", {})


def test_pairs_must_name_every_other_counted_annotation() -> None:
    performance = AnnotatorPerformance()
    performance.submit("t1", "a1", "ann", 0.0, {})
    with pytest.raises(ValueError, match=r"missing \['a1'\]"):
        performance.submit("t1", "a2", "bob", 0.0, {})
    with pytest.raises(ValueError, match=r"unknown \['zz'\]"):
        performance.submit("t1", "a2", "bob", 0.0, {"a1": 1.0, "zz": 1.0})
    with pytest.raises(ValueError, match="pair score"):
        performance.submit("t1", "a2", "bob", 0.0, {"a1": float("nan")})
    with pytest.raises(ValueError, match="unique in the project"):
        performance.submit("t2", "a1", "ann", 0.0, {})
    assert performance.summary("bob").submitted == 0  # nothing half-applied


def test_pairs_with_leaves_predictions_out() -> None:
    agreement = TaskAgreement()
    agreement.upsert("a1", POS)
    agreement.upsert("prediction:7", NEG)
    agreement.upsert("a2", NEG)
    assert pairs_with(agreement, "a2") == {"a1": 0.0}


def test_two_annotations_by_one_annotator_are_not_agreement_with_others() -> None:
    performance = AnnotatorPerformance()
    performance.submit("t1", "a1", "ann", 0.0, {})
    performance.submit("t1", "a2", "ann", 0.0, {"a1": 1.0})
    assert performance.summary("ann").agreement is None


# Counts, skips, deletes, lead time.


def test_skips_deletes_and_lead_times() -> None:
    performance = AnnotatorPerformance()
    for n, seconds in enumerate([30.0, 10.0, 20.0, 40.0]):
        performance.submit(f"t{n}", f"a{n}", "ann", float(n), {}, lead_time=seconds)
    performance.skip("t9", "s1", "ann", now=9.0)
    summary = performance.summary("ann")
    assert (summary.submitted, summary.skipped, summary.last_active) == (4, 1, 9.0)
    # Reference: statistics.median and math.fsum.
    assert summary.lead_time_median == statistics.median([30.0, 10.0, 20.0, 40.0]) == 25.0
    assert summary.lead_time_mean == 25.0 and summary.lead_time_total == 100.0
    performance.submit("t0", "a0", "ann", 10.0, {}, lead_time=35.0)  # cumulative lead time
    assert performance.summary("ann").lead_time_median == statistics.median([35, 10, 20, 40])
    assert performance.delete("a3") and not performance.delete("a3")
    summary = performance.summary("ann")
    assert summary.submitted == 3 and summary.lead_time_median == 20.0
    # An annotation skipped after a submit leaves the lead times too.
    performance.skip("t1", "a1", "ann", now=11.0)
    assert performance.summary("ann").lead_time_median == statistics.median([35.0, 20.0])
    assert performance.annotators() == ["ann"]
    with pytest.raises(ValueError, match="lead time"):
        performance.submit("t5", "a5", "ann", 0.0, {}, lead_time=-1.0)


def test_lead_times_refuse_what_was_not_added() -> None:
    times = LeadTimes()
    assert times.mean is None and times.median is None and times.total == 0.0
    times.add(3.0)
    with pytest.raises(ValueError, match="never added"):
        times.remove(4.0)
    with pytest.raises(ValueError, match="finite"):
        times.add(math.inf)


def test_ground_truth_agreement_comes_from_the_ground_truth() -> None:
    performance = AnnotatorPerformance()
    truth = GroundTruth()
    truth.mark("t1", "gt", {"gt": ("lead", POS), "a1": ("ann", NEG)}, now=0.0)
    performance.submit("t1", "a1", "ann", 0.0, {})
    summary = performance.summary("ann", truth)
    assert (summary.ground_truth_agreement, summary.ground_truth_tasks) == (0.0, 1)
    assert performance.summary("ann").ground_truth_agreement is None


# Incremental equals recompute, under every event.

# Few tasks and annotators, so that events keep landing on the same annotations.
TASKS = ["t1", "t2"]
ANNOTATORS = ["ann", "bob", "积极"]
# (event, task, annotator, result, lead time); the annotator's annotation of the task is
# "<task>/<annotator>".
events = st.lists(
    st.tuples(
        st.sampled_from(
            ["submit", "submit", "submit", "skip", "accept", "reject", "fix", "delete"]
        ),
        st.sampled_from(TASKS),
        st.sampled_from(ANNOTATORS),
        # Mostly a few fixed answers, so that annotations agree, disagree and tie often.
        st.sampled_from([POS, NEG, TOPICS_A, []]) | results,
        st.none() | st.floats(0, 3600, allow_nan=False) | st.sampled_from([1.0, 2.0]),
    ),
    min_size=20,
    max_size=60,
)


def replay(
    ops: list[tuple[str, str, str, list[Any], float | None]],
) -> tuple[AnnotatorPerformance, dict[str, dict[str, Any]]]:
    """Apply the events as a stream would; also keep the plain facts for a recompute."""
    performance = AnnotatorPerformance()
    agreements = {task: TaskAgreement() for task in TASKS}
    facts: dict[str, dict[str, Any]] = {}
    for now, (event, task, annotator, result, lead_time) in enumerate(ops):
        annotation, agreement = f"{task}/{annotator}", agreements[task]
        fact = facts.get(annotation)
        if event == "submit":
            agreement.upsert(annotation, result)
            pairs = pairs_with(agreement, annotation)
            performance.submit(task, annotation, annotator, float(now), pairs, lead_time)
            facts[annotation] = {
                "task": task,
                "annotator": annotator,
                "result": result,
                "skipped": False,
                "lead_time": lead_time,
                "counted": True,
                "reviews": fact["reviews"] if fact else [],
                "outcome": fact and fact["outcome"],
            }
        elif event == "skip":
            agreement.remove(annotation)
            performance.skip(task, annotation, annotator, float(now))
            facts[annotation] = {
                **(fact or {"reviews": [], "outcome": None, "result": []}),
                "task": task,
                "annotator": annotator,
                "skipped": True,
                "lead_time": None,
                "counted": False,
            }
        elif event == "delete" and fact:
            agreement.remove(annotation)
            assert performance.delete(annotation)
            del facts[annotation]
        elif event in ("accept", "reject", "fix") and fact and fact["counted"]:
            action = {"accept": ACCEPT, "reject": REJECT, "fix": FIX}[event]
            fixed = pair_score(fact["result"], result)
            score = {"accept": 1.0, "reject": 0.0, "fix": fixed}[event]
            performance.review(annotation, action, score)
            fact["reviews"].append(score)
            fact["outcome"] = action
            if event == "reject":
                agreement.remove(annotation)
                fact["counted"] = False
            elif event == "fix":
                agreement.upsert(annotation, result)
                performance.rescore(annotation, pairs_with(agreement, annotation))
                fact["result"] = result
    return performance, facts


def recompute(facts: dict[str, dict[str, Any]], annotator: str) -> dict[str, Any]:
    """The annotator's numbers from the facts alone, by their definitions."""
    mine = [f for f in facts.values() if f["annotator"] == annotator]
    submitted = [f for f in mine if not f["skipped"]]
    reviewed = [f for f in mine if f["outcome"] is not None]
    accepted = [f for f in reviewed if f["outcome"] in (ACCEPT, FIX)]
    reviews = [score for f in mine for score in f["reviews"]]
    lead_times = [f["lead_time"] for f in submitted if f["lead_time"] is not None]
    pair_scores = [
        pair_score(f["result"], other["result"])
        for f in mine
        if f["counted"]
        for other in facts.values()
        if other["counted"] and other["task"] == f["task"] and other["annotator"] != annotator
    ]
    return {
        "submitted": len(submitted),
        "skipped": len(mine) - len(submitted),
        "agreement": math.fsum(pair_scores) / len(pair_scores) if pair_scores else None,
        "reviewed": len(reviewed),
        "rejected": sum(f["outcome"] is REJECT for f in reviewed),
        "acceptance_score": len(accepted) / len(reviewed) if reviewed else None,
        "performance_score": math.fsum(reviews) / len(reviews) if reviews else None,
        "lead_time_total": math.fsum(lead_times),
        "lead_time_mean": math.fsum(lead_times) / len(lead_times) if lead_times else None,
        "lead_time_median": statistics.median(lead_times) if lead_times else None,
    }


@settings(max_examples=120, deadline=None)
@given(events)
def test_incremental_equals_recompute(
    ops: list[tuple[str, str, str, list[Any], float | None]],
) -> None:
    performance, facts = replay(ops)
    for annotator in ANNOTATORS:
        summary = performance.summary(annotator)
        expected = recompute(facts, annotator)
        # Exact: sums are exact, so the order of updates leaves no trace.
        assert {key: getattr(summary, key) for key in expected} == expected
    annotators, matrix = performance.matrix()
    for i, a in enumerate(annotators):
        for j, b in enumerate(annotators):
            if a != b:
                shared = [
                    pair_score(f["result"], g["result"])
                    for f in facts.values()
                    for g in facts.values()
                    if f["counted"]
                    and g["counted"]
                    and f["task"] == g["task"]
                    and (f["annotator"], g["annotator"]) == (a, b)
                ]
                if shared:
                    assert matrix[i, j] == math.fsum(shared) / len(shared)
                else:
                    assert math.isnan(matrix[i, j])
    state = performance.to_state()
    for encoded in (orjson.dumps(state), json.dumps(state).encode()):
        restored = AnnotatorPerformance.from_state(orjson.loads(encoded))
        assert restored.to_state() == state
        for annotator in ANNOTATORS:
            assert restored.summary(annotator) == performance.summary(annotator)
        np.testing.assert_array_equal(restored.matrix()[1], matrix)


def test_state_is_checked() -> None:
    with pytest.raises(ValueError, match="version"):
        AnnotatorPerformance.from_state({"version": 9})
    performance = AnnotatorPerformance()
    performance.submit("t1", "a1", "ann", 0.0, {})
    performance.submit("t1", "a2", "bob", 0.0, {"a1": 1.0})
    state = performance.to_state()
    state["ledger"]["pairs"]["t1"] = []
    with pytest.raises(ValueError, match="lacks pair scores"):
        AnnotatorPerformance.from_state(state)
