"""Workflow facts: what the annotations core tells the workflow agent about the tasks of
projects that Quorum distributes (``distribute: true``) or whose quality it tracks
(``track_quality: true``: annotator quality, model evaluation and the review stream
without the distribution).

The workflow agent keys its state by project, so facts go to ``workflow`` keyed by
project id: a person's submission, skip or deletion, a reviewer's verdict, the decision
the consensus just made (``collecting`` when it went back to collecting annotations, e.g.
after a deletion), and the scores of the task's predictions (model evaluation). Like
every output of the core, a fact's id is ``<partition>:<offset>:<rank>`` of the input
that caused it, so a replayed batch writes the same facts.
"""

from __future__ import annotations

from typing import Any

from assignment.performance import pairs_with
from assignment.prediction_scores import Prediction, PredictionScore, score_predictions
from streams.models.annotation import AnnotationEvent, AnnotationKind
from streams.models.outputs import (
    REASSIGN_REQUESTED,
    REVIEW_REQUESTED,
    TASK_COMPLETED,
    TOPIC_OF_SCHEMA,
    OutputEvent,
    event_id,
    output,
)
from streams.models.review import ReviewEvent
from streams.models.workflow import fact_body
from streams.state.task import COUNTED, PREDICTION, TaskRecord

REVIEWED = "reviewed"  # the task-quality and workflow-fact kind of an applied review
GROUND_TRUTH = "ground-truth"  # a task's ground truth marked or unmarked
MODEL_SCORES = "model-scores"
# The consensus went back to collecting (no decision event of its own): the distribution
# reopens the task if it had closed it.
COLLECTING = "collecting"

_WORKFLOW_TOPIC = "workflow"
# Module globals: reading an enum member from its class costs about 0.1 us, per event here.
_SKIPPED = AnnotationKind.SKIPPED
_DELETED_KIND = AnnotationKind.DELETED

# By the topic of the decision event: each decision schema has a topic of its own, and
# the output's body is encoded already.
_FACT_OF_TOPIC = {
    TOPIC_OF_SCHEMA[REASSIGN_REQUESTED]: "reassign",
    TOPIC_OF_SCHEMA[TASK_COMPLETED]: "completed",
    TOPIC_OF_SCHEMA[REVIEW_REQUESTED]: "review",
}


# A fact before its body: kind, annotator, counted annotators, the kind's own fields.
_Fact = tuple[str, str | None, int | None, dict[str, Any] | None]


def emit_facts(
    outputs: list[OutputEvent],
    causes: list[int],
    partition: int,
    offset: int,
    event: AnnotationEvent,
    record: TaskRecord,
    *,
    predicted: bool = False,
    truth_before: tuple[str, Any] | None = None,
    collecting: bool = False,
) -> None:
    """Append the workflow facts of an applied annotation event (each with ``offset`` as
    its cause): a person's submission, skip or deletion (with the task's ``agreement``
    after it, for the review queue), the decision the core just made, then the task's
    prediction scores if it has predictions, then ``collecting`` if the consensus went
    back to collecting on this event.

    ``predicted``: the task had predictions before the event, so that deleting its last
    one sends empty scores once (the evaluation then drops the task). ``truth_before``:
    the record's ground truth before the event (the same object when the event left it
    alone). ``collecting``: the
    event took the task's decision back to COLLECTING (a counted annotation was deleted
    or skipped), so that the distribution reopens a task it had closed.
    """
    facts: list[_Fact] = []
    annotation = event.annotation_id
    # The task's agreement after the event orders the review queue; null while no
    # annotation counts.
    agreement = record.agreement.score
    if event.kind is _DELETED_KIND:
        facts.append(("deleted", _seat_holder(record, annotation), None,
                      {"annotation_id": annotation, "agreement": agreement}))
    elif event.completed_by is not None:
        if event.kind is _SKIPPED:
            facts.append(("skipped", event.completed_by, None,
                          {"annotation_id": annotation, "agreement": agreement}))
        else:
            # What annotator performance, evaluation and reliability need, computed here
            # where the task's agreement is at hand.
            facts.append(("submitted", event.completed_by, None, {
                "annotation_id": annotation,
                "pairs": pairs_with(record.agreement, annotation),
                "ground_truth_score": record.ground_truth_agreement(annotation),
                "label": _single_label(event.result),
                "lead_time": event.lead_time,
                "agreement": agreement,
            }))
    truth = record.ground_truth
    if truth is not truth_before:
        # The task's ground truth moved: marked (the task becomes a honeypot for the
        # distribution), replaced, changed, or unmarked. Every other counted annotation's
        # ground-truth score moves with it, not only at its next submission.
        facts.append((GROUND_TRUTH, None, None, {
            "marked": truth is not None,
            "was_marked": truth_before is not None,
            "ground_truth_scores": {
                aid: record.ground_truth_agreement(aid)
                for aid, entry in record.entries.items()
                if entry.status == COUNTED and aid != annotation
            },
        }))
    models = _model_fact(record) if predicted or record.predictions else None
    _append_facts(outputs, causes, partition, offset, event, record, facts, models,
                  collecting=collecting)


def _seat_holder(record: TaskRecord, annotation: str) -> str | None:
    """The annotator whose seat on the task the deletion of ``annotation`` frees: its
    author, as the task record kept it (Label Studio's delete webhooks do not say who
    wrote the annotation). ``None`` when it frees none: a prediction's or an unknown
    annotation's (no author), or one whose author still has another annotation counted on
    the task (their seat is still taken)."""
    author = record.entries[annotation].author
    if not author or author in record.annotators:
        return None
    return author


def emit_review_facts(
    outputs: list[OutputEvent],
    causes: list[int],
    partition: int,
    offset: int,
    review: ReviewEvent,
    record: TaskRecord,
) -> None:
    """Append the ``reviewed`` fact of an applied review (for the annotation's author's
    performance, the reject's requeue and, with the task's ``agreement`` after the
    verdict, the review queue), then the decision ``_emit`` just made, then the
    task's prediction scores if it has predictions (a review can change the people's
    results they are scored against, never the predictions themselves)."""
    entry = record.entries[review.annotation_id]
    verdict = record.verdicts[review.annotation_id]
    facts: list[_Fact] = [(REVIEWED, entry.author, None, {
        "annotation_id": review.annotation_id,
        "reviewer": review.reviewer,
        "action": review.action.value,
        "score": verdict.score,
        "requeue": review.requeue,
        "agreement": record.agreement.score,  # after the verdict: a reject or fix moves it
    })]
    models = _model_fact(record) if record.predictions else None
    _append_facts(outputs, causes, partition, offset, review, record, facts, models)


def prediction_scores(record: TaskRecord) -> dict[str, PredictionScore]:
    """The task's predictions scored against its people (prediction id -> scores):
    :func:`assignment.prediction_scores.score_predictions` on the counted annotations as
    the agreement holds them (a fix-and-accept's fixed result; no rejected, skipped or
    left-out ground-truth annotation), the ground truth's result, and the project's
    scoring config. Empty for a task without predictions."""
    if not record.predictions:
        return {}
    agreement = record.agreement
    annotations = {}
    for annotation_id, entry in record.entries.items():
        if entry.status == COUNTED:
            result = agreement.result_of(annotation_id)
            if result is not None:  # ground truth the project leaves out of the agreement
                annotations[annotation_id] = result
    predictions = {}
    for key, result in record.predictions.items():
        made = record.entries.get(key)
        # A prediction's entry names its model version; an id a person's annotation has
        # taken over since is not a prediction any more.
        if made is not None and made.status == PREDICTION:
            predictions[key] = Prediction(made.author, result)
    truth = record.ground_truth
    return score_predictions(
        predictions, annotations, ground_truth=None if truth is None else truth[1],
        config=agreement.scoring,
    )


def _model_fact(record: TaskRecord) -> _Fact:
    """The ``model-scores`` fact of the task as it stands (empty scores without
    predictions)."""
    scores = {
        key: {"model_version": score.model_version, "annotators": score.annotators,
              "consensus": score.consensus, "ground_truth": score.ground_truth}
        for key, score in prediction_scores(record).items()
    }
    return (MODEL_SCORES, None, None, scores)


def _append_facts(
    outputs: list[OutputEvent],
    causes: list[int],
    partition: int,
    offset: int,
    event: AnnotationEvent | ReviewEvent,
    record: TaskRecord,
    facts: list[_Fact],
    models: _Fact | None = None,
    *,
    collecting: bool = False,
) -> None:
    """Append ``facts``, then the fact of the decision ``_emit`` just made, if any, then
    ``models`` (the prediction scores) if given, then ``collecting`` if asked.

    Their ids continue the input's ranks after the outputs ``_emit`` appended. The model
    fact comes after the others so that every other fact keeps the id it had before model
    facts, and ``collecting`` last so that every fact keeps the id it had before it.
    """
    made = [o for o, cause in zip(outputs[-2:], causes[-2:], strict=True) if cause == offset]
    rank = len(made)
    if made and made[-1].topic in _FACT_OF_TOPIC:
        kind = _FACT_OF_TOPIC[made[-1].topic]
        facts.append((kind, None, len(record.annotators) if kind == "reassign" else None, None))
    if models is not None:
        facts.append(models)
    if collecting:
        facts.append((COLLECTING, None, None, None))
    for kind, annotator, annotators, fields in facts:
        body = fact_body(
            event_id=event_id(partition, offset, rank), project_id=event.project_id,
            occurred_at=event.occurred_at, kind=kind, task_id=event.task_id,
            annotator=annotator, annotators=annotators,
            quality=None if kind in (REVIEWED, MODEL_SCORES) else fields,
            review=fields if kind == REVIEWED else None,
            scores=fields if kind == MODEL_SCORES else None,
        )
        outputs.append(output(_WORKFLOW_TOPIC, event.project_id, body))
        causes.append(offset)
        rank += 1


def _single_label(result: list[dict[str, Any]]) -> str | None:
    """The label of the first Choices tag when exactly one choice is made: what a
    classification reliability model (Dawid-Skene) counts. ``None`` otherwise."""
    for item in result:
        if item.get("type") == "choices":
            value = item.get("value")
            choices = value.get("choices") if isinstance(value, dict) else None
            if isinstance(choices, list) and len(choices) == 1 and isinstance(choices[0], str):
                return choices[0]
            return None
    return None


__all__ = [
    "COLLECTING",
    "MODEL_SCORES",
    "REVIEWED",
    "emit_facts",
    "emit_review_facts",
    "prediction_scores",
]
