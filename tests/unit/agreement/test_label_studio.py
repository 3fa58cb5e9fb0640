"""Task agreement over real Label Studio 1.23.2 webhook payloads."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import orjson
import pytest

from agreement import Methodology, TaskAgreement, recompute
from agreement.label_studio import (
    ControlWeight,
    annotator_of,
    parse_label_config,
    read_control_weights,
    read_export,
    read_project,
)
from agreement.scoring import ScoringConfig, TagScoring, score_task

# Real webhook payloads captured from Label Studio 1.23.2 (project tokens redacted).
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "label-studio"
THREE_ANNOTATORS = FIXTURES / "webhooks-label-studio-1.23.2-three-annotators.jsonl"

# Worked out by reading the capture (one Choices tag "sentiment": pos/neg/neu):
# - task 16: annotations 6, 7, 8 chose pos, pos, neg (pairs 1, 0, 0: 1/3), then
#   ANNOTATION_UPDATED turns 8 into pos: 1.0.
# - task 17: 9, 10, 11 chose pos, neg, neu (0.0); ANNOTATIONS_DELETED drops 11: pos vs neg, 0.0.
# - task 19: 14 neg, 15 neu (0.0); 15 is deleted, leaving one annotation: 1.0.
# - tasks 22 (pos, pos, neg) 1/3; 23 (pos, neg, neu) and 25 (neg, neu) 0.0; 15 and 21
#   (pos x3), 18 and 24 (neg x2), 20 and 26 (one annotation each) 1.0.
EXPECTED_FINAL = {
    15: 1.0,
    16: 1.0,
    17: 0.0,
    18: 1.0,
    19: 1.0,
    20: 1.0,
    21: 1.0,
    22: 1 / 3,
    23: 0.0,
    24: 1.0,
    25: 0.0,
    26: 1.0,
}


def _events() -> list[dict[str, Any]]:
    if not THREE_ANNOTATORS.exists():
        pytest.fail(f"fixture {THREE_ANNOTATORS} is missing from the checkout")
    return [orjson.loads(line) for line in THREE_ANNOTATORS.read_bytes().splitlines() if line]


def test_replay_matches_hand_checked_scores() -> None:
    tasks: dict[int, TaskAgreement] = {}
    task_of: dict[str, int] = {}
    scores_seen: dict[int, list[float | None]] = {}
    for event in _events():
        action = event["action"]
        if action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
            annotation = event["annotation"]
            annotation_id = str(annotation["id"])
            task_id = annotation["task"]
            task_of[annotation_id] = task_id
            task = tasks.setdefault(task_id, TaskAgreement())
            task.upsert(annotation_id, annotation["result"])
        elif action == "ANNOTATIONS_DELETED":
            # A delete payload names annotations only, so find each one's task.
            for deleted in event["annotations"]:
                annotation_id = str(deleted["id"])
                task_id = task_of[annotation_id]
                task = tasks[task_id]
                assert task.remove(annotation_id)
        else:
            continue
        score = task.score
        assert score is not None
        assert 0.0 <= score <= 1.0
        scores_seen.setdefault(task_id, []).append(score)

    assert {task_id: task.score for task_id, task in tasks.items()} == pytest.approx(EXPECTED_FINAL)
    # Task 16 before the update: pos, pos, neg.
    assert scores_seen[16] == pytest.approx([1.0, 1.0, 1 / 3, 1.0])
    for task in tasks.values():
        state = task.to_state()
        assert task.score == recompute(state["results"])


# --- Labeling configs of Label Studio's templates ------------------------------------------
#
# The XML files are Label Studio's own templates (label_studio/annotation_templates/*/
# config.yml and the tag docs at labelstud.io/tags), written as Label Studio writes them.
# Expected metrics: the Label Studio Enterprise defaults by tag (agreement_metrics.md,
# "Default metric reference"), under Quorum's metric names.

TEMPLATES = FIXTURES / "templates"

# file, control name, Label Studio tag, toName, labels, default metric, its params
Case = tuple[str, str, str, tuple[str, ...], tuple[str, ...], str, dict[str, Any]]
TEMPLATE_CASES: list[Case] = [
    ("text-classification", "sentiment", "Choices", ("text",),
     ("Positive", "Negative", "Neutral"), "choices", {}),
    ("named-entity-recognition", "label", "Labels", ("text",),
     ("PER", "ORG", "LOC", "MISC"), "span_overlap", {}),
    ("object-detection-with-bounding-boxes", "label", "RectangleLabels", ("image",),
     ("Airplane", "Car"), "bbox_iou", {}),
    ("semantic-segmentation-with-polygons", "label", "PolygonLabels", ("image",),
     ("Airplane", "Car"), "polygon_iou", {}),
    ("keypoints", "kp-1", "KeyPointLabels", ("img-1",), ("Face", "Nose"), "keypoint_distance", {}),
    # maxRating="10": ratings 1..10, a range of 9.
    ("rating", "rating", "Rating", ("txt",), (), "numeric_difference", {"range": 9.0}),
    # Only max="10": without min the scale's width is unknown; the metric's default applies.
    ("number", "number", "Number", ("txt",), (), "numeric_difference", {}),
    ("text-summarization", "answer", "TextArea", ("text",), (), "text_edit_distance", {}),
    ("taxonomy", "taxonomy", "Taxonomy", ("text",),
     ("Archaea", "Bacteria", "Eukarya", "Human", "Oppossum", "Extraterrestial"), "taxonomy", {}),
    ("llm-ranker", "rank", "Ranker", ("answers",),
     ("relevant_results", "biased_results"), "ranker_kendall", {}),
    ("pairwise-classification", "pw", "Pairwise", ("text1", "text2"), (), "pairwise_exact", {}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("template", "name", "tag", "to_name", "labels", "metric", "params"), TEMPLATE_CASES
)
def test_template_configs_parse_to_their_control_tags(
    template: str,
    name: str,
    tag: str,
    to_name: tuple[str, ...],
    labels: tuple[str, ...],
    metric: str,
    params: dict[str, Any],
) -> None:
    controls = parse_label_config(_read(template))
    # Object tags (Text, Image, List...), Header, Style and View are no control tags.
    assert list(controls) == [name]
    control = controls[name]
    assert (control.tag, control.type, control.to_name, control.labels) == (
        tag,
        tag.lower(),
        to_name,
        labels,
    )
    assert control.default_metric() == (metric, params)
    # The scoring configuration binds the metric with those parameters.
    config = ScoringConfig.from_label_studio(_read(template))
    assert config.tags[name] == TagScoring(metric, params)


def _read(template: str) -> str:
    return (TEMPLATES / f"{template}.xml").read_text(encoding="utf-8")


def test_numeric_ranges() -> None:
    controls = parse_label_config(
        '<View><Text name="t" value="$t"/>'
        '<Rating name="stars" toName="t"/>'
        '<Rating name="single" toName="t" maxRating="1"/>'
        '<Number name="age" toName="t" min="18" max="99.5"/>'
        '<Number name="free" toName="t"/></View>'
    )
    # Label Studio's default maxRating is 5: ratings 1..5, a range of 4.
    assert controls["stars"].value_range == 4.0
    assert controls["stars"].default_metric() == ("numeric_difference", {"range": 4.0})
    assert controls["single"].value_range == 0.0
    assert controls["single"].default_metric() == ("numeric_difference", {})
    assert controls["age"].value_range == 81.5
    assert controls["age"].default_metric() == ("numeric_difference", {"range": 81.5})
    assert controls["free"].value_range is None


def test_choice_attributes_alias_and_case() -> None:
    controls = parse_label_config(
        "<view>"
        '<text name="t" value="$t"/>'
        '<choices name="topics" toname="t" choice="multiple" perRegion="true">'
        '<choice value="Sports" alias="sport"/><choice value="Politics"/></choices>'
        '<DateTime name="when" toName="t" only="date"/>'
        '<BrushLabels name="mask" toName="t"><Label value="Sky"/></BrushLabels>'
        '<Filter name="filter" toName="topics" minlength="0"/>'
        "</view>"
    )
    assert list(controls) == ["topics", "when", "mask"]
    topics = controls["topics"]
    # Label Studio matches tag names without case; results carry an alias when one is set.
    assert (topics.tag, topics.type, topics.labels) == ("Choices", "choices", ("sport", "Politics"))
    assert topics.multiple and topics.per_region
    assert controls["when"].default_metric() == ("datetime_exact", {})
    # No Quorum metric for brush masks: exact match, as Label Studio Enterprise does.
    assert controls["mask"].default_metric() == ("exact_match", {})


def test_namespaced_config_and_unicode_labels() -> None:
    controls = parse_label_config(
        '<View xmlns="urn:example"><Text name="t" value="$t"/>'
        '<Choices name="情感" toName="t"><Choice value="积极"/><Choice value="négatif"/></Choices>'
        "</View>"
    )
    assert controls["情感"].labels == ("积极", "négatif")
    assert controls["情感"].tag == "Choices"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("", "empty"),
        ("<View><Choices name='a' toName='t'></View>", r"not well-formed XML \(line 1"),
        ("<View><Text name='t' value='$t'/>", "not well-formed XML"),
        (
            '<View><Choices name="a" toName="t"/><Rating name="a" toName="t"/></View>',
            "two control tags are named 'a'",
        ),
        ('<View><Rating name="r" toName="t" maxRating="ten"/></View>', "maxRating='ten'"),
        ('<View><Number name="n" toName="t" min="5" max="1"/></View>', "below min"),
    ],
)
def test_bad_configs_are_clear_errors(config: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_label_config(config)


# --- Project JSON and export ---------------------------------------------------------------


def test_project_api_json() -> None:
    project = read_project(orjson.loads((FIXTURES / "project-api.json").read_bytes()))
    assert project.id == 7
    assert project.maximum_annotations == 3
    assert list(project.controls) == ["sentiment", "taxonomy", "quality"]
    assert project.controls["quality"].value_range == 9.0
    assert project.control_weights["taxonomy"] == ControlWeight(
        overall=3.0,
        labels={"Archaea": 1.0, "Bacteria": 1.0, "Eukarya": 1.0, "Human": 1.0},
        tag="Taxonomy",
    )
    assert project.control_weights["quality"].overall == 0.0


@pytest.mark.parametrize(
    ("project", "message"),
    [
        ([], "must be a JSON object"),
        ({"control_weights": [1]}, "control_weights must be an object"),
        ({"control_weights": {"a": {"overall": -1}}}, r"control_weights\['a'\]\.overall"),
        ({"control_weights": {"a": {"labels": {"x": "1"}}}}, r"labels\['x'\]"),
        ({"control_weights": {"a": {"labels": [1]}}}, r"control_weights\['a'\]\.labels"),
        ({"maximum_annotations": "3"}, "maximum_annotations"),
    ],
)
def test_bad_projects_are_clear_errors(project: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_project(project)


def test_control_weights_as_numbers() -> None:
    assert read_control_weights({"a": 2}) == {"a": ControlWeight(overall=2.0)}
    assert read_control_weights(None) == {}


def test_export_tasks_and_annotators() -> None:
    tasks = read_export(orjson.loads((FIXTURES / "export-label-studio-json.json").read_bytes()))
    assert [task.id for task in tasks] == [101, 102, 103, 104]
    first = tasks[0]
    assert [annotator_of(a) for a in first.annotations] == ["1", "2", "3", "4"]
    # A prediction has no annotator.
    assert [annotator_of(p) for p in first.predictions] == [None]
    assert annotator_of({"completed_by": {"email": "ana@example.com"}}) == "ana@example.com"


# --- Webhook captures score ------------------------------------------------------------------


def _final_annotations(path: Path) -> tuple[dict[int, dict[str, Any]], dict[str, Any]]:
    """Each task's annotations after replaying a capture, and the last project seen."""
    by_task: dict[int, dict[str, Any]] = {}
    task_of: dict[Any, int] = {}
    project: dict[str, Any] = {}
    for line in path.read_bytes().splitlines():
        event = orjson.loads(line)
        project = event.get("project", project)
        if event["action"] in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
            annotation = event["annotation"]
            task_of[annotation["id"]] = annotation["task"]
            by_task.setdefault(annotation["task"], {})[annotation["id"]] = annotation
        elif event["action"] == "ANNOTATIONS_DELETED":
            for deleted in event["annotations"]:
                by_task[task_of[deleted["id"]]].pop(deleted["id"])
    return by_task, project


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.jsonl")), ids=lambda p: p.name)
def test_webhook_captures_score(path: Path) -> None:
    by_task, project = _final_annotations(path)
    assert by_task
    for methodology in ("pairwise", "consensus"):
        config = ScoringConfig.from_label_studio(project=project, methodology=methodology)
        for task_annotations in by_task.values():
            score = score_task(list(task_annotations.values()), config)
            if score.annotation_count:
                assert score.overall is not None
                assert 0.0 <= score.overall <= 1.0


def test_webhook_capture_scores_by_hand() -> None:
    by_task, project = _final_annotations(THREE_ANNOTATORS)
    pairwise = ScoringConfig.from_label_studio(project=project)
    scores = {task: score_task(list(a.values()), pairwise) for task, a in by_task.items()}
    assert {task: score.overall for task, score in scores.items()} == pytest.approx(EXPECTED_FINAL)
    assert all(score.dimensions.keys() == {"sentiment"} for score in scores.values())
    consensus = dataclasses.replace(pairwise, methodology=Methodology.CONSENSUS)
    # 22: pos, pos, neg; 23: pos, neg, neu; 17 after the delete: pos, neg; 21: pos x3.
    by_hand = {22: 2 / 3, 23: 1 / 3, 17: 1 / 2, 21: 1.0}
    for task, expected in by_hand.items():
        assert score_task(list(by_task[task].values()), consensus).overall == pytest.approx(
            expected
        )
