"""The read API's reports, built from one ProjectWorkflow: annotator performance with the
agreement matrix, and model versions with their timelines and regressions.

Expected numbers are worked out by hand from the facts fed in.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson
import pytest

from assignment import AnnotatorSummary, Distribution, DistributionPolicy, EvaluationSettings
from assignment.model_settings import ModelEvaluationSettings, ModelMetric
from assignment.prediction_scores import PredictionScore
from streams.model_quality import ProjectModels
from streams.quality import ProjectQuality, QualitySettings
from streams.workflow import ProjectWorkflow
from streams.workflow_reports import annotators_report, models_report

DAY = 86_400.0
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def workflow(quality: ProjectQuality | None = None,
             models: ProjectModels | None = None) -> ProjectWorkflow:
    return ProjectWorkflow(Distribution(DistributionPolicy()),
                           quality=quality or ProjectQuality(),
                           models=models or ProjectModels())


def submit(q: ProjectQuality, task: str, annotator: str, now: float = T0, *,
           pairs: dict[str, float] | None = None, label: str | None = None,
           score: float | None = None, lead_time: float | None = None) -> None:
    q.submitted(task, f"{task}-{annotator}", annotator, now, pairs=pairs or {},
                ground_truth_score=score, label=label, lead_time=lead_time)


def three_annotators() -> ProjectQuality:
    """t1: u1 and u2 agree, u3 disagrees with both; t2: u1 and u2 half agree."""
    q = ProjectQuality()
    submit(q, "t1", "u1", label="pos", lead_time=10.0)
    submit(q, "t1", "u2", pairs={"t1-u1": 1.0}, label="pos", lead_time=20.0)
    submit(q, "t1", "u3", pairs={"t1-u1": 0.0, "t1-u2": 0.0}, label="neg", lead_time=30.0)
    submit(q, "t2", "u1", T0 + 60, lead_time=40.0)
    submit(q, "t2", "u2", T0 + 90, pairs={"t2-u1": 0.5})
    return q


def by_annotator(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["annotator"]: row for row in report["annotators"]}


# Annotators ---------------------------------------------------------------------------------


def test_the_matrix_holds_each_pairs_mean_agreement_and_shared_tasks() -> None:
    report = annotators_report("p1", workflow(three_annotators()))
    assert report["project_id"] == "p1"
    assert report["matrix"] == {
        "annotators": ["u1", "u2", "u3"],
        "pairs": [
            {"a": "u1", "b": "u2", "agreement": 0.75, "tasks": 2},  # (1 + 0.5) / 2
            {"a": "u1", "b": "u3", "agreement": 0.0, "tasks": 1},
            {"a": "u2", "b": "u3", "agreement": 0.0, "tasks": 1},
        ],
    }


def test_each_annotator_has_the_summary_fields_reliability_and_paused() -> None:
    rows = by_annotator(annotators_report("p1", workflow(three_annotators())))
    assert list(rows) == ["u1", "u2", "u3"]
    summary_fields = {f.name for f in fields(AnnotatorSummary)}
    for row in rows.values():
        assert set(row) == summary_fields | {"reliability", "paused"}
    u1 = rows["u1"]
    assert (u1["submitted"], u1["skipped"]) == (2, 0)
    assert u1["agreement"] == pytest.approx((1.0 + 0.0 + 0.5) / 3)
    assert (u1["lead_time_mean"], u1["lead_time_median"], u1["lead_time_total"]) == \
        (25.0, 25.0, 50.0)
    assert u1["last_active"] == "2027-01-15T08:01:00+00:00"
    assert rows["u3"]["agreement"] == 0.0
    assert rows["u2"]["lead_time_mean"] == 20.0  # its t2 annotation has no lead time
    # Nothing reviewed and no ground truth: undefined, not zero.
    assert (u1["acceptance_score"], u1["performance_score"], u1["ground_truth_agreement"]) == \
        (None, None, None)
    assert u1["paused"] is False


def test_reliability_is_known_for_annotators_with_a_label_only() -> None:
    q = three_annotators()
    rows = by_annotator(annotators_report("p1", workflow(q)))
    assert rows["u1"]["reliability"] == pytest.approx(q.reliabilities()["u1"])
    assert 0.0 <= rows["u3"]["reliability"] <= 1.0
    submit(q, "t3", "u4")  # no label: nothing for the estimator
    assert by_annotator(annotators_report("p1", workflow(q)))["u4"]["reliability"] is None
    off = ProjectQuality(QualitySettings(reliability=False))
    submit(off, "t1", "u1", label="pos")
    assert by_annotator(annotators_report("p1", workflow(off)))["u1"]["reliability"] is None


def test_reviews_and_ground_truth_show_in_the_scores() -> None:
    q = three_annotators()
    q.reviewed("t1", "t1-u1", "accept", 1.0, T0 + 100)
    q.reviewed("t1", "t1-u3", "reject", 0.0, T0 + 100)
    submit(q, "t4", "u2", T0 + 200, score=0.5)
    rows = by_annotator(annotators_report("p1", workflow(q)))
    assert (rows["u1"]["acceptance_score"], rows["u1"]["performance_score"]) == (1.0, 1.0)
    assert (rows["u3"]["acceptance_score"], rows["u3"]["reviewed"]) == (0.0, 1)
    assert (rows["u2"]["ground_truth_agreement"], rows["u2"]["ground_truth_tasks"]) == (0.5, 1)


def test_an_annotator_the_evaluation_paused_is_flagged() -> None:
    evaluation = EvaluationSettings(enabled=True, pause_on_failure=True, minimum_score=0.75,
                                    minimum_tasks=1)
    q = ProjectQuality(QualitySettings(evaluation))
    submit(q, "t1", "u1", score=0.0)
    submit(q, "t2", "u2", score=1.0)
    rows = by_annotator(annotators_report("p1", workflow(q)))
    assert (rows["u1"]["paused"], rows["u2"]["paused"]) == (True, False)


def test_a_skipping_annotator_is_listed_without_a_matrix_entry() -> None:
    q = three_annotators()
    q.skipped("t5", "t5-u9", "u9", T0)
    report = annotators_report("p1", workflow(q))
    u9 = by_annotator(report)["u9"]
    assert (u9["submitted"], u9["skipped"], u9["agreement"]) == (0, 1, None)
    assert "u9" not in report["matrix"]["annotators"]


def test_numeric_annotator_ids_come_in_numeric_order_in_rows_and_pairs() -> None:
    q = ProjectQuality()
    submit(q, "t1", "10")
    submit(q, "t1", "2", pairs={"t1-10": 0.25})
    submit(q, "t1", "x", pairs={"t1-10": 1.0, "t1-2": 1.0})
    report = annotators_report("p1", workflow(q))
    assert [row["annotator"] for row in report["annotators"]] == ["2", "10", "x"]
    assert report["matrix"]["annotators"] == ["2", "10", "x"]
    assert [(p["a"], p["b"]) for p in report["matrix"]["pairs"]] == \
        [("2", "10"), ("2", "x"), ("10", "x")]


def test_a_deleted_annotation_leaves_the_matrix() -> None:
    q = three_annotators()
    q.deleted("t2", "t2-u2", "u2", T0 + 300)
    pairs = annotators_report("p1", workflow(q))["matrix"]["pairs"]
    assert pairs[0] == {"a": "u1", "b": "u2", "agreement": 1.0, "tasks": 1}


def test_a_project_without_annotations_reports_empty_lists() -> None:
    report = annotators_report("p1", workflow())
    assert report == {"project_id": "p1", "annotators": [],
                      "matrix": {"annotators": [], "pairs": []}}


def test_reports_are_plain_json() -> None:
    q = three_annotators()
    report = annotators_report("p1", workflow(q))
    assert orjson.loads(orjson.dumps(report)) == report


# Models -------------------------------------------------------------------------------------

STRICT = ModelEvaluationSettings(regression_margin=0.1, min_scored_tasks=2,
                                 regression_metrics=(ModelMetric.ANNOTATORS,))


def score(version: str, annotators: float | None, ground_truth: float | None = None
          ) -> PredictionScore:
    return PredictionScore(version, annotators, None, ground_truth)


def two_versions() -> ProjectModels:
    """v1 on day 0 (1.0, 1.0) and day 1 (0.5); v2 from day 1: 0.0 twice."""
    models = ProjectModels(STRICT)
    models.scores("t1", {"p1": score("v1", 1.0, ground_truth=1.0)}, T0)
    models.scores("t2", {"p2": score("v1", 1.0)}, T0 + 60)
    models.scores("t3", {"p3": score("v1", 0.5), "p4": score("v2", 0.0)}, T0 + DAY)
    models.scores("t4", {"p5": score("v2", 0.0)}, T0 + DAY + 60)
    return models


def test_each_version_has_its_figures_and_timeline() -> None:
    report = models_report("p1", workflow(models=two_versions()))
    assert report["settings"] == STRICT.to_dict()
    v1, v2 = report["versions"]
    assert v1["model_version"] == "v1" and v1["previous_version"] is None
    assert v1["first_seen"] == "2027-01-15T08:00:00+00:00"
    assert (v1["predictions"], v1["annotators_agreement"], v1["annotators_tasks"]) == \
        (3, pytest.approx(2.5 / 3), 3)
    assert (v1["ground_truth_agreement"], v1["ground_truth_tasks"]) == (1.0, 1)
    assert (v1["consensus_agreement"], v1["consensus_tasks"]) == (None, 0)
    # Buckets are UTC days: T0 is 08:00 on the 15th, so day 0 starts at midnight.
    assert [(b["start"], b["predictions"], b["annotators_agreement"])
            for b in v1["timeline"]] == [
        ("2027-01-15T00:00:00+00:00", 2, 1.0),
        ("2027-01-16T00:00:00+00:00", 1, 0.5),
    ]
    assert v2["previous_version"] == "v1"
    assert (v2["predictions"], v2["annotators_agreement"]) == (2, 0.0)
    assert [b["start"] for b in v2["timeline"]] == ["2027-01-16T00:00:00+00:00"]


def test_a_regressed_version_is_listed_with_both_means() -> None:
    report = models_report("p1", workflow(models=two_versions()))
    assert report["regressions"] == [{
        "model_version": "v2", "previous_version": "v1", "metric": "annotators",
        "agreement": 0.0, "previous_agreement": pytest.approx(2.5 / 3), "margin": 0.1,
    }]
    models = two_versions()
    models.scores("t4", {"p5": score("v2", 1.0)}, T0 + DAY + 120)
    models.scores("t5", {"p6": score("v2", 1.0)}, T0 + DAY + 180)
    # (0 + 1 + 1) / 3 = 0.667 against 0.833: still more than 0.1 below.
    assert len(models_report("p1", workflow(models=models))["regressions"]) == 1
    models.scores("t6", {"p7": score("v2", 1.0)}, T0 + DAY + 240)
    assert models_report("p1", workflow(models=models))["regressions"] == []  # 0.75


def test_a_project_without_predictions_has_no_version() -> None:
    report = models_report("p1", workflow())
    assert (report["versions"], report["regressions"]) == ([], [])
    assert orjson.loads(orjson.dumps(report)) == report
