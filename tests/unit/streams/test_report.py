"""build_report on a hand-made export: task scores, annotators, per-tag statistics, writers.

The export: 3 annotators, 5 tasks, a Choices tag ``sentiment`` (one annotation chooses
two labels) and a Rating tag ``quality`` (5 stars: range 4, so a pair scores
1 - |a - b| / 4). Expected figures are worked out by hand in the comments, or come from
a reference implementation named where it is used.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa as statsmodels_fleiss_kappa

from agreement import (
    ScoringConfig,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha,
    read_export,
    score_export,
)
from streams.report import (
    ProjectReport,
    build_report,
    report_to_json,
    write_histogram,
    write_report,
)
from streams.report_statistics import REPEATED, SEVERAL_VALUES, UNREADABLE, tag_value

LABEL_CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Choices name="sentiment" toName="text" choice="multiple">
    <Choice value="pos"/><Choice value="neg"/><Choice value="neu"/>
  </Choices>
  <Rating name="quality" toName="text" maxRating="5"/>
</View>"""

# task id -> (annotation id, annotator, sentiment choices, quality rating)
HAND: dict[int, list[tuple[int, int, list[str], int]]] = {
    1: [(11, 1, ["pos"], 4), (12, 2, ["pos"], 4), (13, 3, ["neg"], 2)],
    2: [(21, 1, ["neg"], 1), (22, 2, ["neg"], 2), (23, 3, ["neg"], 1)],
    3: [(31, 1, ["pos"], 5), (32, 2, ["neu"], 3)],
    4: [(41, 1, ["pos", "neu"], 3), (42, 2, ["pos"], 3), (43, 3, ["pos"], 4)],
    5: [(51, 3, ["neu"], 5)],
}
# Task scores by hand, pair score = mean of (sentiment, quality):
# 1: (1,2) 1; (1,3) and (2,3) (0 + 0.5) / 2 = 0.25           -> 1.5 / 3 = 0.5
# 2: (1,2) (1 + 0.75) / 2 = 0.875; (1,3) 1; (2,3) 0.875      -> 2.75 / 3
# 3: (1,2) (0 + 0.5) / 2 = 0.25                             -> 0.25
# 4: (1,2) Jaccard 1/2 and 1 -> 0.75; (1,3) (0.5 + 0.75) / 2 = 0.625; (2,3) 0.875
#                                                            -> 2.25 / 3 = 0.75
# 5: one annotation                                          -> 1.0
TASK_SCORES: dict[int | str, float] = {1: 0.5, 2: 2.75 / 3, 3: 0.25, 4: 0.75, 5: 1.0}
PAIR_SCORES = {  # annotator -> their pair scores with the others, all tasks
    "1": [1.0, 0.25, 0.875, 1.0, 0.25, 0.75, 0.625],
    "2": [1.0, 0.25, 0.875, 0.875, 0.25, 0.75, 0.875],
    "3": [0.25, 0.25, 1.0, 0.875, 0.625, 0.875],
}


def annotation(
    annotation_id: int,
    annotator: int | dict[str, Any],
    result: list[dict[str, Any]],
    **flags: Any,
) -> dict[str, Any]:
    return {"id": annotation_id, "completed_by": annotator, "result": result, **flags}


def choices(labels: Sequence[str], tag: str = "sentiment") -> dict[str, Any]:
    value = {"choices": list(labels)}
    return {"from_name": tag, "to_name": "text", "type": "choices", "value": value}


def rating(stars: int | float | str) -> dict[str, Any]:
    return {"from_name": "quality", "to_name": "text", "type": "rating", "value": {"rating": stars}}


def hand_export(**flags_by_annotation: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": task_id,
            "annotations": [
                annotation(
                    a_id, who, [choices(labels), rating(stars)],
                    **flags_by_annotation.get(str(a_id), {}),
                )
                for a_id, who, labels, stars in rows
            ],
        }
        for task_id, rows in HAND.items()
    ]  # fmt: skip


CONFIG = ScoringConfig.from_label_studio(LABEL_CONFIG)


def report_of(
    export: list[dict[str, Any]], config: ScoringConfig = CONFIG, **kw: Any
) -> ProjectReport:
    return build_report(read_export(export), config, **kw)


def reliability(tag: str) -> np.ndarray:
    """Annotators 1-3 x tasks 1-5 of the hand export, built by hand from HAND."""
    data = np.full((3, 5), np.nan, dtype=object)
    for column, rows in enumerate(HAND.values()):
        for _, who, labels, stars in rows:
            if tag == "quality":
                data[who - 1, column] = stars
            elif len(labels) == 1:  # the two-label annotation is skipped
                data[who - 1, column] = labels[0]
    return data


def test_task_scores_are_hand_checked_and_equal_score_export() -> None:
    export = hand_export()
    report = report_of(export)
    assert [row.id for row in report.tasks] == list(HAND)
    for row in report.tasks:
        assert row.score == pytest.approx(TASK_SCORES[row.id], abs=1e-12)
    # Task 1 per tag: sentiment (1 + 0 + 0) / 3, quality (1 + 0.5 + 0.5) / 3.
    assert report.tasks[0].dimensions == pytest.approx({"sentiment": 1 / 3, "quality": 2 / 3})
    expected = score_export(export, CONFIG)
    for row in report.tasks:
        assert row.score == expected[row.id].overall
        assert row.dimensions == expected[row.id].dimensions
        assert row.pairs == expected[row.id].pairs
    assert report.tasks[0].annotators == ("1", "2", "3")
    assert report.tasks[4].annotators == ("3",)


def test_summary_is_over_tasks_with_two_annotations() -> None:
    summary = report_of(hand_export(), threshold=0.6).summary
    assert (summary.tasks, summary.scored_tasks, summary.annotations) == (5, 4, 12)
    assert summary.annotators == 3
    # Tasks 1-4 (task 5 has one annotation): 0.5, 0.9167, 0.25, 0.75.
    assert summary.mean == pytest.approx((0.5 + 2.75 / 3 + 0.25 + 0.75) / 4)
    assert summary.median == pytest.approx((0.5 + 0.75) / 2)
    assert summary.below_threshold == 2  # 0.5 and 0.25
    assert report_of(hand_export()).summary.below_threshold is None


def test_per_annotator_mean_pair_agreement() -> None:
    rows = {row.annotator: row for row in report_of(hand_export()).annotators}
    assert list(rows) == ["1", "2", "3"]
    for annotator, scores in PAIR_SCORES.items():
        assert rows[annotator].agreement == pytest.approx(sum(scores) / len(scores))
        assert rows[annotator].pairs == len(scores)
        assert (rows[annotator].tasks, rows[annotator].annotations) == (4, 4)
        assert math.isnan(rows[annotator].ground_truth)


@pytest.mark.parametrize("include", [True, False])
def test_agreement_with_ground_truth(include: bool) -> None:
    # Annotator 2's annotation of task 1 is ground truth: 1 agrees with it fully (pair
    # score 1.0), 3 scores 0.25; 2 is not scored against their own ground truth.
    config = ScoringConfig.from_label_studio(LABEL_CONFIG, include_ground_truth=include)
    report = report_of(hand_export(**{"12": {"ground_truth": True}}), config)
    rows = {row.annotator: row for row in report.annotators}
    assert (rows["1"].ground_truth, rows["1"].ground_truth_tasks) == (1.0, 1)
    assert (rows["3"].ground_truth, rows["3"].ground_truth_tasks) == (0.25, 1)
    assert rows["2"].ground_truth_tasks == 0 and math.isnan(rows["2"].ground_truth)
    assert report.summary.ground_truth_tasks == 1
    # Left out of task scores, task 1 is the one pair (1, 3).
    assert report.tasks[0].score == (0.5 if include else 0.25)


def test_agreement_matrices_overall_and_per_tag() -> None:
    report = report_of(hand_export())
    assert report.matrix.annotators == ("1", "2", "3")
    # (1, 2) over tasks 1-4: 1, 0.875, 0.25, 0.75.
    assert report.matrix.values[0][1] == pytest.approx(2.875 / 4)
    assert report.matrix.values[1][0] == report.matrix.values[0][1]
    assert report.matrix.values[0][0] == 1.0
    sentiment = report.tags["sentiment"].matrix
    # Sentiment (1, 2): 1, 1, 0, Jaccard 1/2.
    assert sentiment.values[0][1] == pytest.approx(2.5 / 4)
    # Quality (2, 3) over tasks 1, 2, 4: 0.5, 0.75, 0.75.
    assert report.tags["quality"].matrix.values[1][2] == pytest.approx(2.0 / 3)


def test_krippendorff_alpha_equals_the_batch_function_and_the_reference() -> None:
    tags = report_of(hand_export()).tags
    sentiment, quality = reliability("sentiment"), reliability("quality")
    assert tags["sentiment"].alpha == {"nominal": krippendorff_alpha(sentiment)}
    assert set(tags["quality"].alpha) == {"nominal", "ordinal", "interval", "ratio"}
    for level, value in tags["quality"].alpha.items():
        assert value == krippendorff_alpha(quality, level)
        # Reference implementation: krippendorff.alpha (PyPI "krippendorff").
        reference = krippendorff.alpha(
            reliability_data=quality.astype(float),
            level_of_measurement=cast(krippendorff.LevelOfMeasurement, level),
        )
        assert value == pytest.approx(reference, abs=1e-9)
    codes = {"pos": 0.0, "neg": 1.0, "neu": 2.0}
    coded = np.vectorize(lambda cell: codes.get(cell, np.nan), otypes=[float])(sentiment)
    reference = krippendorff.alpha(reliability_data=coded, level_of_measurement="nominal")
    assert tags["sentiment"].alpha["nominal"] == pytest.approx(reference, abs=1e-9)


def test_cohen_kappa_of_each_pair_over_co_rated_tasks() -> None:
    tags = report_of(hand_export())
    sentiment = {(p.annotator_a, p.annotator_b): p for p in tags.tags["sentiment"].cohen}
    # 1 and 2 both chose one label on tasks 1, 2, 3 (task 4: 1 chose two, skipped).
    assert sentiment[("1", "2")].units == 3
    labels_1, labels_2 = ["pos", "neg", "pos"], ["pos", "neg", "neu"]
    assert sentiment[("1", "2")].kappa == {"unweighted": cohen_kappa(labels_1, labels_2)}
    # Reference implementation: scikit-learn's cohen_kappa_score.
    assert sentiment[("1", "2")].kappa["unweighted"] == pytest.approx(
        cohen_kappa_score(labels_1, labels_2)
    )
    quality = {(p.annotator_a, p.annotator_b): p for p in tags.tags["quality"].cohen}
    stars_1, stars_3 = [4, 1, 3], [2, 1, 4]  # tasks 1, 2, 4
    assert quality[("1", "3")].units == 3
    assert quality[("1", "3")].kappa == {
        "unweighted": cohen_kappa(stars_1, stars_3),
        "linear": cohen_kappa(stars_1, stars_3, "linear"),
        "quadratic": cohen_kappa(stars_1, stars_3, "quadratic"),
    }
    assert quality[("1", "3")].kappa["quadratic"] == pytest.approx(
        cohen_kappa_score(stars_1, stars_3, weights="quadratic")
    )


def test_fleiss_is_null_with_a_reason_when_raters_differ() -> None:
    sentiment = report_of(hand_export()).tags["sentiment"]
    assert math.isnan(sentiment.fleiss_kappa)
    assert "same number on every task" in sentiment.reasons["fleiss"]
    assert "1 to 3" in sentiment.reasons["fleiss"]
    assert report_to_json(report_of(hand_export()))["tags"]["sentiment"]["fleiss_kappa"] is None


def test_fleiss_with_equal_raters_equals_statsmodels() -> None:
    # Tasks 1 and 2 only, and a task 6 where all three pick "neu": 3 raters everywhere.
    unanimous = [annotation(60 + i, i, [choices(["neu"])]) for i in (1, 2, 3)]
    export = [*hand_export()[:2], {"id": 6, "annotations": unanimous}]
    sentiment = report_of(export).tags["sentiment"]
    counts = [[2, 1, 0], [0, 3, 0], [0, 0, 3]]  # pos, neg, neu per task, by hand
    assert sentiment.fleiss_kappa == fleiss_kappa(counts)
    # Reference implementation: statsmodels.stats.inter_rater.fleiss_kappa.
    assert sentiment.fleiss_kappa == pytest.approx(statsmodels_fleiss_kappa(np.array(counts)))
    assert "fleiss" not in sentiment.reasons


def test_multi_choice_annotations_are_skipped_and_counted() -> None:
    sentiment = report_of(hand_export()).tags["sentiment"]
    assert sentiment.skipped == {SEVERAL_VALUES: 1}
    assert sentiment.values == 11 and sentiment.units == 5
    assert report_of(hand_export()).tags["quality"].skipped == {}


def test_per_label_agreement() -> None:
    labels = {row.value: row for row in report_of(hand_export()).tags["sentiment"].labels}
    assert {value: row.uses for value, row in labels.items()} == {"neg": 4, "neu": 2, "pos": 5}
    # neu on task 5 has no partner: not pairable. pos: o_pos,pos = 1 (task 1, two of
    # three raters) + 2 (task 4) over n_pos = 5; neg: 3 (task 2) over 4.
    assert labels["neu"].pairable == 1 and labels["neu"].agreement == 0.0
    assert labels["pos"].agreement == pytest.approx(3 / 5)
    assert labels["neg"].agreement == pytest.approx(3 / 4)
    # The label's alpha is nominal alpha of the data recoded "label" / "other"
    # (reference implementation: krippendorff.alpha on that recoding).
    data = reliability("sentiment")
    for value, row in labels.items():
        recoded = np.vectorize(
            lambda cell, v=value: np.nan if cell is np.nan else float(cell == v), otypes=[float]
        )(data)
        reference = krippendorff.alpha(reliability_data=recoded, level_of_measurement="nominal")
        assert row.alpha == pytest.approx(reference, abs=1e-9)


def test_other_result_types_get_no_statistics() -> None:
    text = {"from_name": "summary", "to_name": "text", "type": "textarea", "value": {"text": ["x"]}}
    export = [{"id": 1, "annotations": [annotation(1, 1, [text]), annotation(2, 2, [text])]}]
    summary = report_of(export, ScoringConfig()).tags["summary"]
    assert summary.kind == "other" and summary.alpha == {} and summary.cohen == ()
    assert "task agreement only" in summary.reasons["statistics"]
    assert summary.matrix.values == ((1.0, 1.0), (1.0, 1.0))


def test_repeated_annotator_keeps_the_first_annotation() -> None:
    export = [
        {
            "id": 1,
            "annotations": [
                annotation(1, 1, [choices(["pos"])]),
                annotation(2, 1, [choices(["neg"])]),
                annotation(3, 2, [choices(["pos"])]),
            ],
        }
    ]
    report = report_of(export, ScoringConfig())
    sentiment = report.tags["sentiment"]
    assert sentiment.skipped == {REPEATED: 1}
    assert [(p.annotator_a, p.annotator_b, p.units) for p in sentiment.cohen] == [("1", "2", 1)]
    # Task scores count all three annotations; annotator rows never pair 1 with 1.
    assert report.tasks[0].annotations == 3
    rows = {row.annotator: row for row in report.annotators}
    assert (rows["1"].annotations, rows["1"].tasks, rows["1"].pairs) == (2, 1, 2)


def test_unicode_labels_and_annotators_by_email() -> None:
    zoe = {"email": "zoë@example.com"}  # older exports: completed_by is an object
    export = [
        {"id": "tâche-1", "annotations": [
            annotation(1, zoe, [choices(["😀 joie"])]), annotation(2, 7, [choices(["😀 joie"])]),
        ]},
        {"id": "tâche-2", "annotations": [
            annotation(3, zoe, [choices(["café"])]), annotation(4, 7, [choices(["thé"])]),
        ]},
    ]  # fmt: skip
    report = report_of(export, ScoringConfig())
    assert [row.annotator for row in report.annotators] == ["7", "zoë@example.com"]
    labels = ["😀 joie", "café"], ["😀 joie", "thé"]
    assert report.tags["sentiment"].cohen[0].kappa["unweighted"] == cohen_kappa(*labels)
    body = json.loads(json.dumps(report_to_json(report), ensure_ascii=False, allow_nan=False))
    assert body["tasks"][0]["id"] == "tâche-1"


def test_empty_export_and_one_annotator() -> None:
    empty = report_of([])
    assert (empty.summary.tasks, empty.summary.annotations, empty.tags) == (0, 0, {})
    assert math.isnan(empty.summary.mean) and math.isnan(empty.summary.median)
    alone = report_of([{"id": 1, "annotations": [annotation(1, 1, [choices(["pos"])])]}])
    assert alone.tasks[0].score == 1.0 and alone.summary.scored_tasks == 0
    assert alone.lowest(5) == []
    assert alone.tags["sentiment"].cohen == ()
    assert "pairable" in alone.tags["sentiment"].reasons["alpha.nominal"]


def test_predictions_count_in_task_scores_only() -> None:
    prediction = {"id": 9, "model_version": "v1", "result": [choices(["neg"])]}
    export = [
        {
            "id": 1,
            "annotations": [annotation(1, 1, [choices(["pos"])])],
            "predictions": [prediction],
        }
    ]
    report = report_of(export, ScoringConfig(include_predictions=True))
    assert report.tasks[0].score == 0.0 and report.tasks[0].annotations == 2
    assert [row.annotator for row in report.annotators] == ["1"]
    assert report.annotators[0].pairs == 0 and report.tags["sentiment"].values == 1


def test_consensus_methodology_equals_score_export() -> None:
    config = ScoringConfig.from_label_studio(LABEL_CONFIG, methodology="consensus")
    export = hand_export()
    expected = score_export(export, config)
    for row in report_of(export, config).tasks:
        assert row.score == expected[row.id].overall


def test_lowest_tasks_in_order() -> None:
    report = report_of(hand_export())
    assert [row.id for row in report.lowest(3)] == [3, 1, 4]
    assert [row.id for row in report.lowest(10)] == [3, 1, 4, 2]  # task 5: one annotation


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="task 1 twice"):
        report_of(hand_export()[:1] * 2)
    with pytest.raises(ValueError, match="threshold"):
        report_of(hand_export(), threshold=1.5)


@pytest.mark.parametrize(
    ("result_type", "items", "expected"),
    [
        ("choices", [choices(["pos"])], ("pos", None)),
        ("choices", [choices(["pos", "neg"])], (None, SEVERAL_VALUES)),
        ("choices", [choices([])], (None, None)),
        ("choices", [choices(["pos"]), choices(["pos"])], (None, SEVERAL_VALUES)),  # per region
        ("taxonomy", [{"type": "taxonomy", "value": {"taxonomy": [["Eukarya", "Human"]]}}],
         ("Eukarya / Human", None)),
        ("taxonomy", [{"type": "taxonomy", "value": {"taxonomy": [["A"], ["B"]]}}],
         (None, SEVERAL_VALUES)),
        ("pairwise", [{"type": "pairwise", "value": {"selected": "left"}}], ("left", None)),
        ("datetime", [{"type": "datetime", "value": {"datetime": "2026-01-02"}}],
         ("2026-01-02", None)),
        ("rating", [rating(4)], (4, None)),
        ("rating", [rating(4.0)], (4, None)),
        ("number", [{"type": "number", "value": {"number": 2.5}}], (2.5, None)),
        ("rating", [rating("four")], (None, UNREADABLE)),
        ("rating", [rating(math.nan)], (None, UNREADABLE)),
        ("choices", [rating(3)], (None, UNREADABLE)),  # a type that is not the tag's
    ],
)  # fmt: skip
def test_tag_value(result_type: str, items: list[dict[str, Any]], expected: tuple) -> None:
    value = tag_value(result_type, items)
    assert value == expected
    assert type(value[0]) is type(expected[0])  # 4.0 is read as the int 4


def test_json_report_has_every_figure_and_null_for_nan(tmp_path: Path) -> None:
    report = report_of(hand_export())
    path = tmp_path / "report.json"
    write_report(report, path, export="hand.json")
    body = json.loads(path.read_text(encoding="utf-8"))
    # Strict JSON: no NaN token anywhere.
    json.dumps(body, allow_nan=False)
    assert body["export"] == "hand.json"
    assert [task["score"] for task in body["tasks"]] == [row.score for row in report.tasks]
    assert body["tasks"][0]["pairs"][0] == {"a": "11", "b": "12", "score": 1.0}
    assert body["annotators"][0]["ground_truth"] is None
    assert body["summary"]["mean"] == report.summary.mean
    assert body["tags"]["quality"]["alpha"] == report.tags["quality"].alpha
    assert body["tags"]["sentiment"]["skipped"] == {SEVERAL_VALUES: 1}
    assert body["agreement_matrix"]["annotators"] == ["1", "2", "3"]
    assert body["scoring"]["tags"]["quality"]["params"] == {"range": 4.0}


def test_histogram_is_a_png(tmp_path: Path) -> None:
    path = tmp_path / "histogram.png"
    write_histogram(report_of(hand_export(), threshold=0.6), path, "hand.json")
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    empty = tmp_path / "empty.png"
    write_histogram(report_of([]), empty, "empty.json")  # no task: an empty chart
    assert empty.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
