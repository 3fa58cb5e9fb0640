"""Model-scores facts: emitted by the processing core for the predicted tasks of distributed
projects, equal to ``score_predictions`` on the task's data, parsed back by the workflow
agent's parser (and refused with a reason when malformed)."""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streams.facts
from agreement import ScoringConfig
from assignment.prediction_scores import Prediction, PredictionScore, score_predictions
from streams.batch import BatchOutcome, InputRecord, TaskRef, apply_batch, parse_batch
from streams.facts import MODEL_SCORES, prediction_scores
from streams.models.invalid import InvalidEvent
from streams.models.outputs import TASK_COMPLETED, TASK_QUALITY
from streams.models.project import ProjectConfig
from streams.models.review import review_event
from streams.models.workflow import FACT_SCHEMA, fact_body, parse_workflow_event
from streams.state.task import TaskRecord

from .events import OCCURRED_AT, annotation_bytes, choice

PARTITION = 2
TOPIC = "quorum.annotations"
MAX_BYTES = 4096
DISTRIBUTED = ProjectConfig("1", annotations_per_task=3, agreement_threshold=0.5,
                            max_additional_annotators=1, distribute=True)
LOCAL = ProjectConfig("1", annotations_per_task=3, agreement_threshold=0.5,
                      max_additional_annotators=1)


def vote(annotator: int, label: str = "pos", *, revision: int = 1, task: str = "2",
         ground_truth: bool = False) -> bytes:
    """Annotator ``annotator``'s annotation ``a<annotator>``."""
    return annotation_bytes(annotation_id=f"a{annotator}", completed_by=annotator,
                            revision=revision, task_id=task, result=choice(label),
                            event_id=f"ev-{annotator}-{revision}", ground_truth=ground_truth)


def predict(number: int, version: str, label: str = "pos", *, revision: int = 1,
            task: str = "2") -> bytes:
    """Model ``version``'s prediction ``p<number>``."""
    return annotation_bytes(annotation_id=f"p{number}", completed_by=None, model_version=version,
                            revision=revision, task_id=task, result=choice(label),
                            event_id=f"pr-{number}-{revision}")


def delete(annotation_id: str, *, revision: int = 9, task: str = "2") -> bytes:
    return annotation_bytes(annotation_id=annotation_id, completed_by=None, kind="deleted",
                            revision=revision, task_id=task, result=None,
                            event_id=f"del-{annotation_id}-{revision}")


def verdict(annotator: int, action: str, *, revision: int = 1, task: str = "2") -> bytes:
    body = review_event("1", task, f"a{annotator}", "boss", action, revision=revision,
                        event_id=f"rv-{annotator}-{revision}", occurred_at=OCCURRED_AT)
    return orjson.dumps(body)


def records_of(values: list[bytes], first: int = 100) -> list[InputRecord]:
    return [InputRecord(first + i, value) for i, value in enumerate(values)]


def run(records: list[InputRecord], stored: dict[TaskRef, bytes] | None = None,
        config: ProjectConfig = DISTRIBUTED, *, after_offset: int | None = None) -> BatchOutcome:
    batch = parse_batch(PARTITION, TOPIC, records, max_bytes=MAX_BYTES)
    stored = stored or {}
    return apply_batch(batch, {ref: stored.get(ref) for ref in batch.task_refs},
                       {"1": config}, after_offset=after_offset)


def store_of(outcome: BatchOutcome) -> dict[TaskRef, bytes]:
    return {ref: record.to_json() for ref, record in outcome.records.items()}


def model_facts(outcome: BatchOutcome) -> list[dict[str, Any]]:
    return [o.body for o in outcome.outputs
            if o.topic == "workflow" and o.body["kind"] == MODEL_SCORES]


def as_wire(scores: dict[str, PredictionScore]) -> dict[str, dict[str, Any]]:
    return {key: {"model_version": s.model_version, "annotators": s.annotators,
                  "consensus": s.consensus, "ground_truth": s.ground_truth}
            for key, s in scores.items()}


# When the core emits them -------------------------------------------------------------------


def test_every_applied_event_of_a_predicted_task_sends_its_scores() -> None:
    outcome = run(records_of([predict(1, "v1"), vote(1), vote(2, "neg")]))
    emitted = model_facts(outcome)
    assert [f["event_id"].split(":")[1] for f in emitted] == ["100", "101", "102"]
    first, second, third = emitted
    assert first == {
        "schema": FACT_SCHEMA,
        "event_id": f"{PARTITION}:100:1",  # after the prediction's task-quality event
        "project_id": "1",
        "occurred_at": OCCURRED_AT,
        "kind": "model-scores",
        "task_id": "2",
        "scores": {"p1": {"model_version": "v1", "annotators": None, "consensus": None,
                          "ground_truth": None}},  # nobody to compare with yet
    }
    assert second["scores"]["p1"]["annotators"] == 1.0
    # One pos, one neg: half agreement with the people, and no majority to agree with.
    assert third["scores"] == {"p1": {"model_version": "v1", "annotators": 0.5,
                                      "consensus": None, "ground_truth": None}}
    assert all(o.key == "1" for o in outcome.outputs if o.topic == "workflow")


def test_the_scores_are_score_predictions_on_the_same_data() -> None:
    messages = [vote(1), vote(2, "neg"), vote(3), predict(1, "v1"), predict(2, "v2", "neg"),
                vote(4, "neg", ground_truth=True)]
    outcome = run(records_of(messages))
    people = {"a1": choice("pos"), "a2": choice("neg"), "a3": choice("pos"),
              "a4": choice("neg")}
    expected = score_predictions(
        {"p1": Prediction("v1", choice("pos")), "p2": Prediction("v2", choice("neg"))},
        people, ground_truth=choice("neg"), config=DISTRIBUTED.scoring)
    last = model_facts(outcome)[-1]
    assert last["scores"] == as_wire(expected)
    assert expected["p1"] == PredictionScore("v1", 0.5, None, 0.0)  # no majority of 4
    assert expected["p2"].ground_truth == 1.0
    # And what the workflow agent reads back.
    assert parse_workflow_event(orjson.dumps(last)).model_scores == expected
    record = outcome.records["1", "2"]
    assert prediction_scores(record) == expected


def test_a_ground_truth_left_out_of_the_agreement_is_scored_only_as_ground_truth() -> None:
    config = ProjectConfig("1", distribute=True,
                           scoring=ScoringConfig(include_ground_truth=False))
    outcome = run(records_of([vote(1), vote(2, "neg", ground_truth=True), predict(1, "v1")]),
                  config=config)
    expected = score_predictions({"p1": Prediction("v1", choice("pos"))},
                                 {"a1": choice("pos")}, ground_truth=choice("neg"),
                                 config=config.scoring)
    assert model_facts(outcome)[-1]["scores"] == as_wire(expected)
    assert expected["p1"] == PredictionScore("v1", 1.0, 1.0, 0.0)


def test_the_model_fact_comes_after_the_decision_and_keeps_the_others_ids() -> None:
    with_model = run(records_of([predict(1, "v1"), vote(1), vote(2), vote(3)]))
    without = run(records_of([vote(1), vote(2), vote(3)], first=101))
    # The third vote completes the task: task-quality, task-completed, then the facts.
    caused = [o.body for o in with_model.outputs if o.body["event_id"].startswith("2:103:")]
    assert [(b["schema"], b.get("kind")) for b in caused] == [
        (TASK_QUALITY, "created"), (TASK_COMPLETED, None), (FACT_SCHEMA, "submitted"),
        (FACT_SCHEMA, "completed"), (FACT_SCHEMA, "model-scores")]
    assert [b["event_id"] for b in caused] == [f"2:103:{rank}" for rank in range(5)]
    others = [o.body for o in with_model.outputs
              if o.topic == "workflow" and o.body["kind"] != MODEL_SCORES]
    assert others == [o.body for o in without.outputs if o.topic == "workflow"]


def test_a_review_of_a_predicted_task_rescores_its_predictions() -> None:
    outcome = run(records_of([predict(1, "v1"), vote(1), vote(2, "neg"), vote(3, "neg"),
                              verdict(1, "reject")]))
    reviewed = [o.body for o in outcome.outputs if o.body["event_id"].startswith("2:104:")]
    assert [b.get("kind") for b in reviewed] == ["reviewed", "reviewed", "model-scores"]
    # The rejected pos leaves the people: the prediction now disagrees with everyone.
    assert reviewed[-1]["scores"]["p1"] == {"model_version": "v1", "annotators": 0.0,
                                            "consensus": 0.0, "ground_truth": None}


def test_deleting_the_last_prediction_sends_empty_scores_once() -> None:
    first = run(records_of([predict(1, "v1"), predict(2, "v2"), vote(1)]))
    outcome = run(records_of([delete("p1"), delete("p2"), vote(2), delete("a1")], first=103),
                  store_of(first), after_offset=102)
    emitted = model_facts(outcome)
    assert [f["event_id"] for f in emitted] == ["2:103:2", "2:104:2"]  # after 'deleted'
    assert list(emitted[0]["scores"]) == ["p2"]
    assert emitted[1]["scores"] == {}
    assert parse_workflow_event(orjson.dumps(emitted[1])).model_scores == {}


def test_no_model_fact_for_a_task_without_predictions(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("score_predictions called for a task without predictions")

    monkeypatch.setattr(streams.facts, "score_predictions", refuse)
    # A deleted prediction never seen, on a task that never had one, is no reason either.
    outcome = run(records_of([vote(1), vote(2, "neg"), delete("p7"), verdict(1, "accept"),
                              vote(1, "neg", task="other")]))
    assert [o.body["kind"] for o in outcome.outputs if o.topic == "workflow"] == [
        "submitted", "submitted", "deleted", "reviewed", "submitted"]
    assert model_facts(outcome) == []


def test_a_project_that_does_not_distribute_pays_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("score_predictions called for a project that does not distribute")

    monkeypatch.setattr(streams.facts, "score_predictions", refuse)
    outcome = run(records_of([predict(1, "v1"), vote(1), delete("p1"), verdict(1, "accept")]),
                  config=LOCAL)
    assert [o.topic for o in outcome.outputs] == ["task-quality"] * 4


def test_an_id_a_person_took_over_is_no_prediction() -> None:
    # A person's newer revision under a prediction's id: the record keeps the old
    # prediction's result, but its entry now names the person, not a model version.
    taken = annotation_bytes(annotation_id="p1", completed_by=5, revision=2,
                             result=choice("neg"), event_id="ev-5")
    outcome = run(records_of([predict(1, "v1"), predict(2, "v2"), taken]))
    record = outcome.records["1", "2"]
    assert "p1" in record.predictions
    assert list(prediction_scores(record)) == ["p2"]
    assert model_facts(outcome)[-1]["scores"] == {"p2": {
        "model_version": "v2", "annotators": 0.0, "consensus": 0.0, "ground_truth": None}}


# Batch boundaries and replays ----------------------------------------------------------------

message = st.one_of(
    st.builds(vote, st.sampled_from((1, 2, 3)), st.sampled_from(["pos", "neg"]),
              revision=st.integers(1, 3)),
    st.builds(predict, st.sampled_from((1, 2)), st.sampled_from(["v1", "v2"]),
              st.sampled_from(["pos", "neg"]), revision=st.integers(1, 3)),
    st.builds(delete, st.sampled_from(["p1", "p2", "a1"]), revision=st.integers(1, 4)),
    st.builds(verdict, st.sampled_from((1, 2, 3)), st.sampled_from(["accept", "reject"]),
              revision=st.integers(1, 3)),
)


def process(records: list[InputRecord], cuts: list[int], back: int = 0) -> list[Any]:
    """Outputs of batches cut at ``cuts``, each fetched from ``back`` messages earlier."""
    store: dict[TaskRef, bytes] = {}
    published: list[Any] = []
    applied: int | None = None
    for start, end in pairwise([0, *cuts, len(records)]):
        outcome = run(records[max(0, start - back):end], store, after_offset=applied)
        store.update(store_of(outcome))
        published += [(o.topic, o.key, o.body) for o in outcome.outputs]
        applied = records[end - 1].offset if end > start else applied
    return published


@settings(max_examples=100, deadline=None)
@given(messages=st.lists(message, min_size=3, max_size=25),
       cuts=st.lists(st.integers(1, 24), max_size=4), back=st.integers(0, 3))
def test_model_facts_do_not_depend_on_batches_or_replays(
    messages: list[bytes], cuts: list[int], back: int
) -> None:
    records = records_of(list(messages))
    whole = process(records, [])
    assert process(records, sorted({c for c in cuts if c < len(records)}), back) == whole
    # Sent exactly for the events after which the task has, or just lost, predictions.
    store: dict[TaskRef, bytes] = {}
    for record in records:
        before = TaskRecord.from_json(store.get(("1", "2")), scoring=ScoringConfig())
        outcome = run([record], store, after_offset=record.offset - 1)
        store.update(store_of(outcome))
        if not outcome.applied:
            assert model_facts(outcome) == []
            continue
        after = outcome.records["1", "2"]
        expected = bool(before.predictions) or bool(after.predictions)
        assert len(model_facts(outcome)) == int(expected)
        if expected:
            assert model_facts(outcome)[0]["scores"] == as_wire(prediction_scores(after))


# Parsing --------------------------------------------------------------------------------------

BASE: dict[str, Any] = {"event_id": "3:7:4", "project_id": "p", "occurred_at": OCCURRED_AT,
        "kind": "model-scores", "task_id": "t"}


def model_fact(**scores: Any) -> bytes:
    return orjson.dumps(fact_body(**BASE, scores=scores))


def test_a_model_scores_fact_parses_to_prediction_scores() -> None:
    event = parse_workflow_event(model_fact(
        p1={"model_version": "v1", "annotators": 1, "consensus": None, "ground_truth": 0.25},
        p2={"model_version": 7, "annotators": 0, "future_metric": 0.5},
    ))
    assert (event.kind, event.task_id, event.annotator) == ("model-scores", "t", None)
    assert event.model_scores == {"p1": PredictionScore("v1", 1.0, None, 0.25),
                                  "p2": PredictionScore("7", 0.0, None, None)}
    assert isinstance(event.model_scores["p1"].annotators, float)
    assert (event.quality, event.review) == (None, None)


def test_only_a_model_scores_fact_has_model_scores() -> None:
    body = fact_body(**{**BASE, "kind": "completed"}, scores={"p": {"model_version": "v"}})
    assert parse_workflow_event(orjson.dumps(body)).model_scores is None


@pytest.mark.parametrize(("raw", "words"), [
    (orjson.dumps(fact_body(**BASE)), "a model-scores fact needs 'scores'"),
    (orjson.dumps({**fact_body(**BASE), "scores": [1]}), "needs 'scores', an object"),
    (model_fact(p1=[0.5]), "scores['p1'] must be an object, got a list"),
    (model_fact(p1={"annotators": 0.5}), "scores['p1']: missing field 'model_version'"),
    (model_fact(p1={"model_version": ""}), "scores['p1']: field 'model_version'"),
    (model_fact(p1={"model_version": "v", "annotators": 1.5}),
     "scores['p1'].annotators must be a number in [0, 1] or null, got 1.5"),
    (model_fact(p1={"model_version": "v", "consensus": True}), "scores['p1'].consensus"),
    (model_fact(p1={"model_version": "v", "ground_truth": "0.5"}), "scores['p1'].ground_truth"),
    (model_fact(p1={"model_version": "v", "ground_truth": -0.1}), "got -0.1"),
    (orjson.dumps({**fact_body(**BASE, scores={}), "scores": {"": {"model_version": "v"}}}),
     "empty prediction id"),
    (orjson.dumps({k: v for k, v in fact_body(**BASE, scores={}).items() if k != "task_id"}),
     "'model-scores' event needs task_id"),
])
def test_a_bad_model_scores_fact_is_refused(raw: bytes, words: str) -> None:
    with pytest.raises(InvalidEvent, match=re.escape(words)):
        parse_workflow_event(raw)
