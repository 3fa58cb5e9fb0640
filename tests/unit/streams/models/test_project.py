"""Project configuration: defaults, Label Studio's control_weights, refusals, roundtrip."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from agreement import ScoringConfig, TagScoring
from assignment.consensus import ConsensusPolicy
from streams.models.invalid import InvalidEvent
from streams.models.project import Methodology, ProjectConfig, parse_project_config

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "label-studio"


def weights_only(**weights: float) -> ScoringConfig:
    return ScoringConfig(tags={tag: TagScoring(weight=w) for tag, w in weights.items()})


def config_bytes(**fields: Any) -> bytes:
    return orjson.dumps({"schema": "quorum.project/v1", "project_id": 1, **fields})


def refusal(raw: bytes) -> str:
    with pytest.raises(InvalidEvent) as caught:
        parse_project_config(raw)
    return str(caught.value).lower()


def test_defaults_for_absent_fields() -> None:
    config = parse_project_config(config_bytes())
    assert config == ProjectConfig("1")
    assert config.annotations_per_task == 1
    assert config.agreement_threshold == 0.0
    assert config.max_additional_annotators == 0
    assert config.methodology is Methodology.PAIRWISE
    assert config.control_weights == {}
    assert config.policy == ConsensusPolicy(overlap=1, threshold=0.0, max_additional=0)


def test_full_configuration() -> None:
    config = parse_project_config(
        config_bytes(
            annotations_per_task=3,
            agreement_threshold=0.7,
            max_additional_annotators=2,
            methodology="pairwise",
            unknown_field=[1],
        )
    )
    assert config.policy == ConsensusPolicy(overlap=3, threshold=0.7, max_additional=2)
    assert config.policy.max_annotators == 5


def test_integer_threshold_becomes_float() -> None:
    config = parse_project_config(config_bytes(agreement_threshold=1))
    assert config.agreement_threshold == 1.0
    assert isinstance(config.agreement_threshold, float)


def test_label_studio_control_weights() -> None:
    # The shape of Label Studio 1.23.2's project.control_weights (webhook fixture).
    weights = {
        "sentiment": {"overall": 1.0, "type": "Choices", "labels": {"neg": 1.0, "pos": 1.0}},
        "topics": {"overall": 0.5, "type": "Taxonomy", "labels": {}},
        "comment": {"overall": 0, "type": "TextArea", "labels": {}},
        "stars": {"type": "Rating", "labels": {}},  # no overall: weighs 1
    }
    config = parse_project_config(config_bytes(control_weights=weights))
    assert config.control_weights == {"sentiment": 1.0, "topics": 0.5, "comment": 0.0, "stars": 1.0}
    # The type named in control_weights picks the tag's default metric.
    assert config.scoring.tags["stars"].metric == "numeric_difference"
    assert config.scoring.tags["sentiment"].metric == "choices"


def test_label_studio_label_config_picks_metrics() -> None:
    template = FIXTURES / "templates" / "object-detection-with-bounding-boxes.xml"
    xml = template.read_text(encoding="utf-8")
    config = parse_project_config(
        config_bytes(label_config=xml, methodology="consensus", annotations_per_task=3)
    )
    assert config.methodology is Methodology.CONSENSUS
    assert {s.metric for s in config.scoring.tags.values()} == {"bbox_iou"}


def test_quorum_scoring_object() -> None:
    scoring = ScoringConfig(
        tags={"box": TagScoring("bbox_iou_threshold", {"threshold": 0.7}, weight=2.0)},
        methodology=Methodology.CONSENSUS,
        consensus_threshold=0.6,
    )
    config = parse_project_config(config_bytes(scoring=scoring.to_dict()))
    assert config.scoring == scoring


def test_bare_number_weights() -> None:
    config = parse_project_config(config_bytes(control_weights={"sentiment": 2}))
    assert config.control_weights == {"sentiment": 2.0}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"not json", ["not valid json"]),
        (b"[]", ["json object", "a list"]),
        (orjson.dumps({"project_id": 1}), ["schema", "quorum.project/v1"]),
        (orjson.dumps({"schema": "quorum.annotation/v1", "project_id": 1}), ["schema"]),
        (orjson.dumps({"schema": "quorum.project/v1"}), ["missing", "project_id"]),
        (config_bytes(agreement_threshold=1.5), ["threshold", "1.5"]),
        (config_bytes(agreement_threshold=-0.1), ["threshold"]),
        (config_bytes(agreement_threshold="0.7"), ["agreement_threshold", "a string"]),
        (config_bytes(agreement_threshold=True), ["agreement_threshold", "a boolean"]),
        (config_bytes(annotations_per_task=0), ["overlap", "at least 1"]),
        (config_bytes(annotations_per_task=2.0), ["annotations_per_task", "integer"]),
        (config_bytes(max_additional_annotators=-1), ["max_additional", "-1"]),
        (config_bytes(methodology="majority"), ["methodology", "pairwise", "'majority'"]),
        (config_bytes(scoring={}, methodology="consensus"), ["either 'scoring'", "methodology"]),
        (config_bytes(scoring=[1]), ["scoring", "a list"]),
        (config_bytes(scoring={"tags": {"s": {"metric": "nope"}}}), ["unknown metric 'nope'"]),
        (config_bytes(label_config="<View><Choices"), ["xml"]),
        (config_bytes(label_config=3), ["label_config", "string"]),
        (
            config_bytes(control_weights={"sentiment": {"overall": -1.0}}),
            ["control_weights['sentiment']", "-1.0"],
        ),
        (config_bytes(control_weights={"sentiment": {"overall": "1"}}), ["control_weights"]),
        (config_bytes(control_weights={"sentiment": True}), ["control_weights"]),
        (config_bytes(control_weights=[1.0]), ["control_weights", "[1.0]"]),
    ],
)
def test_refusals(raw: bytes, words: list[str]) -> None:
    reason = refusal(raw)
    for word in words:
        assert word in reason


@pytest.mark.parametrize(
    "config",
    [
        ProjectConfig("1"),
        ProjectConfig(
            "projét",
            annotations_per_task=3,
            agreement_threshold=0.7,
            max_additional_annotators=1,
            scoring=weights_only(sentiment=1.0, topics=0.25),
        ),
        ProjectConfig("p", agreement_threshold=1.0, scoring=weights_only(comment=0.0)),
        ProjectConfig(
            "q",
            scoring=ScoringConfig(
                tags={"box": TagScoring("bbox_iou", label_weights={"Car": 2.0})},
                methodology=Methodology.CONSENSUS,
            ),
        ),
    ],
)
def test_to_dict_parses_back_equal(config: ProjectConfig) -> None:
    assert parse_project_config(orjson.dumps(config.to_dict())) == config
