"""`quorum project set`'s update: the settings given over the configuration in force, the
others kept (those no option sets too), and the changes it reports."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agreement import Methodology
from assignment.review_events import ReviewCriteria
from streams.models.invalid import InvalidEvent
from streams.models.project import PROJECT_SCHEMA, ProjectConfig, project_config_from_dict
from streams.project_update import ABSENT, SettingChange, setting_changes, updated_config

LABEL_CONFIG = (Path(__file__).resolve().parents[2] / "fixtures" / "label-studio"
                / "score-labeling-config.xml").read_text(encoding="utf-8")

# A configuration with a setting in every part `project set` has no option for.
CONFIGURED = project_config_from_dict({
    "schema": PROJECT_SCHEMA, "project_id": "p", "annotations_per_task": 3,
    "agreement_threshold": 0.7, "max_additional_annotators": 2,
    "scoring": {"methodology": "consensus", "consensus_threshold": 0.6,
                "include_predictions": True, "include_ground_truth": False,
                "custom_metric": "tests.unit.agreement.custom_metric:same_region_count",
                "tags": {"box": {"metric": "bbox_iou_threshold", "params": {"threshold": 0.7},
                                 "weight": 2.0},
                         "comment": {"weight": 0}}},
    "distribute": True, "overlap_cohort_percentage": 50, "max_tasks_per_annotator": 40,
    "reject_mode": "remove",
    "evaluation": {"enabled": True, "onboarding_tasks": 2, "minimum_score": 0.8},
    "reliability": False,
    "model_evaluation": {"bucket_seconds": 3600, "min_scored_tasks": 10},
    "review": {"criteria": "all_reviewed"},
})


def test_a_setting_given_changes_only_that_setting() -> None:
    updated = updated_config(CONFIGURED, "p", {"agreement_threshold": 0.8})
    assert updated == replace(CONFIGURED, agreement_threshold=0.8)
    assert updated.reject_mode == "remove" and updated.evaluation.enabled
    assert updated.review.criteria is ReviewCriteria.ALL_REVIEWED
    assert updated.scoring.custom_metric is not None


def test_nothing_given_changes_nothing() -> None:
    assert updated_config(CONFIGURED, "p", {}) == CONFIGURED


def test_without_a_stored_configuration_the_given_settings_go_over_the_defaults() -> None:
    given: dict[str, Any] = {"annotations_per_task": 2, "distribute": True,
                             "methodology": "consensus", "label_config": LABEL_CONFIG}
    expected = project_config_from_dict({"schema": PROJECT_SCHEMA, "project_id": "p", **given})
    assert updated_config(None, "p", given) == expected
    assert updated_config(None, "p", {}) == ProjectConfig("p")


def test_a_methodology_given_keeps_the_rest_of_the_scoring() -> None:
    updated = updated_config(CONFIGURED, "p", {"methodology": "pairwise"})
    assert updated.scoring == replace(CONFIGURED.scoring, methodology=Methodology.PAIRWISE)


def test_a_labeling_config_gives_the_tags_afresh_and_keeps_the_rest_of_the_scoring() -> None:
    updated = updated_config(CONFIGURED, "p", {"label_config": LABEL_CONFIG})
    from_xml = updated_config(None, "p", {"label_config": LABEL_CONFIG}).scoring.tags
    assert updated.scoring.tags == from_xml and "box" not in from_xml
    assert updated.scoring == replace(CONFIGURED.scoring, tags=from_xml)
    assert replace(updated, scoring=CONFIGURED.scoring) == CONFIGURED


def test_control_weights_give_the_weights_of_the_tags() -> None:
    weights = {"sentiment": {"overall": 0.5, "type": "Choices", "labels": {}}}
    updated = updated_config(CONFIGURED, "p", {"label_config": LABEL_CONFIG,
                                               "control_weights": weights})
    assert updated.scoring.weights["sentiment"] == 0.5
    assert updated.scoring.methodology is Methodology.CONSENSUS


def test_a_null_limit_removes_it_and_a_limit_not_given_stays() -> None:
    assert updated_config(CONFIGURED, "p", {}).max_tasks_per_annotator == 40
    removed = updated_config(CONFIGURED, "p", {"max_tasks_per_annotator": None})
    assert removed.max_tasks_per_annotator is None


@pytest.mark.parametrize(("given", "reason"), [
    ({"agreement_threshold": 1.5}, "threshold must be between 0 and 1"),
    ({"methodology": "majority"}, "majority"),
    ({"push_depth": 0}, "push_depth must be a whole number of tasks >= 1"),
])
def test_a_bad_setting_is_refused_with_the_reason(given: dict[str, Any], reason: str) -> None:
    for stored in (None, CONFIGURED):
        with pytest.raises(InvalidEvent, match=reason):
            updated_config(stored, "p", given)


def test_the_changes_name_each_setting_with_its_old_and_new_value() -> None:
    updated = updated_config(CONFIGURED, "p", {"agreement_threshold": 0.8,
                                               "max_tasks_per_annotator": None})
    changes = setting_changes(CONFIGURED, updated)
    assert changes == [SettingChange("agreement_threshold", 0.7, 0.8),
                       SettingChange("max_tasks_per_annotator", 40, None)]
    assert [str(c) for c in changes] == ["agreement_threshold: 0.7 -> 0.8",
                                         "max_tasks_per_annotator: 40 -> null"]


def test_no_change_gives_no_changes() -> None:
    assert setting_changes(CONFIGURED, updated_config(CONFIGURED, "p", {})) == []


def test_a_reset_reports_what_goes_back_to_its_default() -> None:
    changes = {c.name: c for c in setting_changes(CONFIGURED, ProjectConfig("p"))}
    assert str(changes["reject_mode"]) == "reject_mode: remove -> requeue_to_annotator"
    assert str(changes["review.criteria"]) == "review.criteria: all_reviewed -> one_accepted"
    assert str(changes["evaluation.enabled"]) == "evaluation.enabled: true -> false"
    assert str(changes["scoring.custom_metric"]).endswith("same_region_count -> null")


def test_a_tag_added_or_removed_is_one_change_and_a_tag_setting_another() -> None:
    reweighed = replace(CONFIGURED, scoring=replace(CONFIGURED.scoring, tags={
        "box": replace(CONFIGURED.scoring.tags["box"], weight=1.0),
        "label": CONFIGURED.scoring.tags["comment"]}))
    changes = setting_changes(CONFIGURED, reweighed)
    assert [c.name for c in changes] == ["scoring.tags.box.weight", "scoring.tags.comment",
                                         "scoring.tags.label"]
    assert str(changes[0]) == "scoring.tags.box.weight: 2.0 -> 1.0"
    assert changes[1].new is ABSENT and changes[2].old is ABSENT
    assert str(changes[2]).startswith('scoring.tags.label: (not set) -> {"metric":null,')
