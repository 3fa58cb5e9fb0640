"""One workflow partition's projects in memory: distribution ops, applied and replayed.

The workflow agent (``streams.agents.workflow``) turns each input batch, and each
label-stream request, into a list of *ops*, applies them here, and journals them in
Redis with the outputs they caused. Recovery replays the journal on top of the last
snapshot through the same :meth:`WorkflowPartition.apply`, so the rebuilt state is the
state the live worker had, whatever the clock says at replay time: every op carries the
``now`` it was applied at.

Ops are JSON lists, first element the op name, second the project id:

* ``["policy", project, policy_state, distributed]``: the project's distribution settings
  (first use, or changed configuration), and whether Quorum hands out its tasks
  (``distribute``; a project that only tracks its quality has facts but no distribution:
  its facts change the annotator quality, the model evaluation and the review desk, never
  seats or reservations). An op journaled without ``distributed`` is of a distributing
  project: facts came only from those;
* ``["quality", project, settings]``: its annotator-quality settings (evaluation,
  reliability), likewise;
* ``["reviews", project, settings, now]``: its review criteria and reject mode;
* ``["models", project, settings]``: its model-evaluation settings (first use, or
  changed configuration: they apply to the predictions scored before, too);
* ``["task", project, kind, task, now]``: ``imported`` or ``deleted``;
* ``["annotator", project, kind, annotator, now]``: ``joined``, ``left``, ``paused`` or
  ``resumed``;
* ``["fact", project, kind, task, detail, now, source, quality]``: from the annotations
  agent: ``submitted``/``skipped``/``deleted``/``reviewed`` (detail: the annotator;
  for ``reviewed``, ``quality`` is the verdict plus the project's reject mode), ``reassign``
  (detail: the counted annotators), ``completed``/``review``/``collecting`` (detail:
  null); for ``deleted``, detail is the annotator whose seat is freed, or null; ``source``
  is the fact's ``[partition, offset, rank]`` in the annotations topic, for
  deduplication; ``quality`` the annotation's fields for annotator quality (or null);
* ``["next", project, annotator, now, low_agreement_last]``: a label-stream request
  (``low_agreement_last``: the annotator is among the less reliable, see
  :meth:`WorkflowPartition.low_agreement_last`);
* ``["expire", project, now]``: reservations due at ``now`` return to the pool.

In push mode (the project's ``assignment_mode``), every ``task``, ``annotator``,
``fact``, ``next`` and ``expire`` op is followed, within the same op, by a push round
(:meth:`assignment.Distribution.push` at the op's ``now``): tasks are reserved ahead for
the annotators with room, and the assignments are among the op's outcomes. Settings ops
(``policy``, ``quality``, ``reviews``, ``models``) push nothing themselves: the agent
applies them just before an event op of the same project, and sends every project an
``expire`` op each second, whose round takes the new settings into account.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from assignment import (
    AnnotatorPaused,
    AnnotatorUnpaused,
    Assignment,
    Distribution,
    DistributionPolicy,
)
from assignment.distribution_policy import AssignmentMode
from assignment.model_settings import ModelEvaluationSettings
from assignment.prediction_scores import PredictionScore
from assignment.review_events import ReviewRequested, TaskReviewed
from assignment.review_settings import ReviewSettings
from assignment.seats import DistributionEvent
from streams.fact_positions import FactPositions
from streams.model_quality import ModelEvent, ProjectModels
from streams.quality import ProjectQuality, QualityEvent, QualitySettings
from streams.review_desk import ReviewDesk

Op = list[Any]
Outcome = (Assignment | DistributionEvent | QualityEvent | ModelEvent | ReviewRequested
           | TaskReviewed)

STATE_VERSION = 1

_ANNOTATOR_KINDS = ("joined", "left", "paused", "resumed")
# The event ops, with where their `now` is: each carries one, and a push-mode project
# gets a push round after each.
_NOW_AT = {"task": 4, "annotator": 4, "fact": 5, "next": 3, "expire": 2}

_FACT_KINDS = frozenset({"submitted", "skipped", "deleted", "reviewed", "model-scores",
                         "reassign", "completed", "review", "ground-truth", "collecting"})


def op_time(op: Op) -> float:
    """The ``now`` of a ``task``, ``annotator``, ``fact``, ``next`` or ``expire`` op
    (not always its last element: a ``next`` op ends with ``low_agreement_last``)."""
    return float(op[_NOW_AT[op[0]]])


@dataclass(slots=True)
class ProjectWorkflow:
    """One project's distribution, quality, models and review desk, and the facts applied
    per annotations partition.

    ``distributed``: Quorum hands out the project's tasks. When it does not (the project
    only tracks its quality), facts leave the distribution alone and no push round runs.

    Facts reach the workflow topic at least once (the annotations agent republishes its
    outbox after a crash), in order per annotations partition within one run of the
    annotations agent: :class:`streams.fact_positions.FactPositions` tells copies from new
    facts, including those a rebuild's replay emits where the earlier run emitted none.
    """

    distribution: Distribution
    facts_seen: dict[int, FactPositions] = field(default_factory=dict)
    quality: ProjectQuality = field(default_factory=ProjectQuality)
    models: ProjectModels = field(default_factory=ProjectModels)
    reviews: ReviewDesk = field(default_factory=ReviewDesk)
    distributed: bool = True

    def to_json(self) -> bytes:
        return orjson.dumps({
            "version": STATE_VERSION,
            "distribution": self.distribution.to_state(),
            "facts_seen": {str(p): seen.to_state() for p, seen in self.facts_seen.items()},
            "quality": self.quality.to_state(),
            "models": self.models.to_state(),
            "reviews": self.reviews.to_state(),
            "review_settings": _review_settings(self.reviews.settings),
            "distributed": self.distributed,
        })

    @classmethod
    def from_json(cls, raw: bytes) -> ProjectWorkflow:
        state = orjson.loads(raw)
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"workflow state version {state.get('version')!r} is not "
                             f"{STATE_VERSION}; rebuild the state with `quorum rebuild`")
        return cls(
            Distribution.from_state(state["distribution"]),
            {int(p): FactPositions.from_state(seen) for p, seen in state["facts_seen"].items()},
            ProjectQuality.from_state(state["quality"]),
            ProjectModels.from_state(state["models"]),
            ReviewDesk.from_state(state["reviews"], ReviewSettings(**state["review_settings"])),
            # Snapshots from before quality tracking held distributing projects only.
            state.get("distributed", True),
        )


class WorkflowPartition:
    """The projects of one workflow partition, changed only through :meth:`apply`."""

    def __init__(self, projects: Mapping[str, ProjectWorkflow] | None = None) -> None:
        self.projects: dict[str, ProjectWorkflow] = dict(projects or {})
        self.dirty: set[str] = set()  # projects changed since the last snapshot
        self._changes: dict[str, int] = {}  # facts applied per project (cache stamps)
        self._reliable: dict[str, tuple[int, dict[str, float], float | None]] = {}

    @classmethod
    def restore(cls, snapshot: Mapping[str, bytes], journal: list[bytes]) -> WorkflowPartition:
        """The state a snapshot and the journal entries written after it describe."""
        partition = cls({p: ProjectWorkflow.from_json(raw) for p, raw in snapshot.items()})
        for entry in journal:
            for op in decode_entry(entry):
                partition.apply(op)
        return partition

    def policy_op(self, project: str, policy: DistributionPolicy, distributed: bool = True
                  ) -> Op | None:
        """The op that gives ``project`` this policy (and says whether Quorum hands out
        its tasks), or ``None`` if it has both already."""
        current = self.projects.get(project)
        state = policy.to_state()
        if (current is not None and current.distributed is distributed
                and current.distribution.policy.to_state() == state):
            return None
        return ["policy", project, state, distributed]

    def quality_op(self, project: str, settings: QualitySettings, now: float) -> Op | None:
        """The op that gives ``project`` these quality settings, or ``None`` if it has them."""
        current = self.projects.get(project)
        wanted = settings.to_dict()
        if current is not None and current.quality.settings.to_dict() == wanted:
            return None
        return ["quality", project, wanted, now]

    def models_op(self, project: str, settings: ModelEvaluationSettings) -> Op | None:
        """The op that gives ``project`` these model-evaluation settings, or ``None`` if
        it has them."""
        current = self.projects.get(project)
        wanted = settings.to_dict()
        if current is not None and current.models.settings.to_dict() == wanted:
            return None
        return ["models", project, wanted]

    def low_agreement_last(self, project: str, annotator: str) -> bool:
        """Whether ``annotator`` should get low-agreement tasks only when nothing else is
        left for them: their estimated reliability is below the median of the project's
        estimates (an annotator without one ranks last). Low-agreement tasks then go
        first to the more reliable half (issue 4, "most reliable first")."""
        workflow = self.projects.get(project)
        if workflow is None:
            return False
        stamp = self._changes.get(project, 0)
        cached = self._reliable.get(project)
        if cached is None or cached[0] != stamp:
            # Read on every label-stream request, changed only by facts: kept until the
            # next fact of the project (all reliabilities cost ~0.3 ms per 200 annotators).
            known = workflow.quality.reliabilities()
            median = statistics.median(known.values()) if len(known) >= 2 else None
            cached = self._reliable[project] = (stamp, known, median)
        _, known, median = cached
        if median is None:
            return False
        mine = known.get(annotator)
        return mine is None or mine < median

    def reviews_op(self, project: str, settings: ReviewSettings, now: float) -> Op | None:
        """The op that gives ``project`` these review settings, or ``None`` if it has them."""
        current = self.projects.get(project)
        wanted = _review_settings(settings)
        if current is not None and _review_settings(current.reviews.settings) == wanted:
            return None
        return ["reviews", project, wanted, now]

    def next_review(self, project: str, reviewer: str) -> str | None:
        """The task ``reviewer`` should review next: lowest agreement first, never one
        whose waiting annotations are all their own. Reads only."""
        workflow = self.projects.get(project)
        return None if workflow is None else workflow.reviews.next_for(reviewer)

    def apply(self, op: Op) -> list[Outcome]:
        """Apply one op; what it caused: assignments, releases, shortfalls, annotator
        quality, pauses, consensus labels. In push mode, then the op's push round."""
        outcomes = self._apply(op)
        at = _NOW_AT.get(op[0])
        if at is None:
            return outcomes
        project = op[1]
        workflow = self.projects[project]
        distribution = workflow.distribution
        if workflow.distributed and distribution.policy.assignment_mode is AssignmentMode.PUSH:
            outcomes += distribution.push(
                op[at], lambda annotator: self.low_agreement_last(project, annotator))
            # An op that changed nothing (a republished fact) did not expire reservations
            # due at its time: the round did, and their releases belong to this op.
            outcomes += distribution.take_events()
        return outcomes

    def _apply(self, op: Op) -> list[Outcome]:
        name, project = op[0], op[1]
        if name == "policy":
            distributed = op[3] if len(op) > 3 else True
            return self._set_policy(project, DistributionPolicy.from_state(op[2]), distributed)
        workflow = self.projects.get(project)
        if name == "models" and workflow is not None:
            self.dirty.add(project)
            return list(workflow.models.reconfigure(ModelEvaluationSettings(**op[2])))
        if name == "reviews" and workflow is not None:
            self.dirty.add(project)
            return list(workflow.reviews.reconfigure(ReviewSettings(**op[2]), op[3]))
        if name == "quality" and workflow is not None:
            self.dirty.add(project)
            self._changes[project] = self._changes.get(project, 0) + 1
            now = op[3]
            wanted = QualitySettings.from_dict(op[2])
            workflow.distribution.set_evaluation(wanted.evaluation)  # honeypots
            changed = workflow.quality.reconfigure(wanted, now)
            return self._follow(workflow, changed, now)
        if workflow is None:
            # Ops of a project always follow its policy op; replaying a journal that
            # lost it must fail loudly, not invent defaults.
            raise ValueError(f"op {name!r} for project {project!r} before its policy")
        self.dirty.add(project)
        distribution = workflow.distribution
        if name == "next":
            low_agreement_last = len(op) > 4 and bool(op[4])
            assignment = distribution.next_task(op[2], op[3],
                                                low_agreement_last=low_agreement_last)
            events: list[Outcome] = list(distribution.take_events())
            return events if assignment is None else [*events, assignment]
        if name == "expire":
            return list(distribution.expire(op[2]))
        if name == "task":
            kind, task, now = op[2], op[3], op[4]
            if kind == "imported":
                return list(distribution.task_imported(task, now))
            return list(distribution.task_deleted(task, now))
        if name == "annotator":
            return list(_annotator_op(distribution, op[2], op[3], op[4]))
        if name == "fact":
            return self._fact(workflow, op)
        raise ValueError(f"unknown workflow op {name!r}")

    def _set_policy(self, project: str, policy: DistributionPolicy, distributed: bool
                    ) -> list[Outcome]:
        self.dirty.add(project)
        current = self.projects.get(project)
        if current is None:
            self.projects[project] = ProjectWorkflow(Distribution(policy), distributed=distributed)
            return []
        current.distributed = distributed
        state = current.distribution.to_state()
        state["policy"] = policy.to_state()
        current.distribution = Distribution.from_state(state)
        return []

    def _fact(self, workflow: ProjectWorkflow, op: Op) -> list[Outcome]:
        _, _, kind, task, detail, now, source = op[:7]
        if kind not in _FACT_KINDS:
            raise ValueError(f"unknown workflow fact {kind!r}")  # before anything changes
        self._changes[op[1]] = self._changes.get(op[1], 0) + 1
        partition, offset, rank = source
        seen = workflow.facts_seen.get(partition)
        if seen is None:
            seen = workflow.facts_seen[partition] = FactPositions()
        if not seen.take((offset, rank)):
            return []  # a republished fact, or one replayed after a rebuild
        distribution = workflow.distribution
        # A project that only tracks its quality: its facts change no seat.
        seats = workflow.distributed
        quality = op[7] if len(op) > 7 else None
        if kind == "submitted":
            outcomes: list[Outcome] = (list(distribution.annotation_submitted(task, detail, now))
                                       if seats else [])
            if quality is not None:
                events = workflow.quality.submitted(
                    task, quality["annotation_id"], detail, now, pairs=quality["pairs"],
                    ground_truth_score=quality["ground_truth_score"], label=quality["label"],
                    lead_time=quality["lead_time"])
                outcomes += self._follow(workflow, events, now)
                outcomes += workflow.reviews.submitted(
                    task, quality["annotation_id"], detail, _agreement(quality), now)
                # Quorum's evaluation option: a submission that disagrees with the task's
                # ground truth is put in front of a reviewer right away.
                below = workflow.quality.settings.evaluation.review_below
                score = quality["ground_truth_score"]
                if below is not None and score is not None and score < below:
                    outcomes += workflow.reviews.review_requested(
                        task, "ground_truth_disagreement", now, quality["annotation_id"], score)
            return outcomes
        if kind == "skipped":
            outcomes = list(distribution.annotation_skipped(task, detail, now)) if seats else []
            if quality is not None:
                events = workflow.quality.skipped(task, quality["annotation_id"], detail, now)
                outcomes += self._follow(workflow, events, now)
                workflow.reviews.rescore(task, _agreement(quality))
                outcomes += workflow.reviews.skipped(task, quality["annotation_id"], now)
            return outcomes
        if kind == "deleted":
            # As in Label Studio, the task needs the annotation again and its annotator may
            # get it again. No annotator: no seat to free (a prediction's, or its author
            # still has another annotation counted on the task).
            outcomes = ([] if detail is None or not seats
                        else list(distribution.annotation_deleted(task, detail, now)))
            if quality is None:
                return outcomes
            deleted = workflow.quality.deleted(task, quality["annotation_id"], detail, now)
            workflow.reviews.rescore(task, _agreement(quality))
            return [*outcomes, *self._follow(workflow, deleted, now),
                    *workflow.reviews.deleted(task, quality["annotation_id"], now)]
        if kind == "ground-truth":
            return self._ground_truth_moved(workflow, task, op[7], now)
        if kind == "model-scores":
            return list(workflow.models.scores(task, _prediction_scores(op[7]), now))
        if kind == "reviewed":
            review = op[7]
            outcomes = []
            if review["action"] == "reject" and seats:
                outcomes += distribution.annotation_rejected(
                    task, detail, review["reject_mode"], now, requeue=review["requeue"])
            verdict = workflow.quality.reviewed(task, review["annotation_id"],
                                                review["action"], review["score"], now)
            desk = workflow.reviews.reviewed(task, review["annotation_id"], review["action"],
                                             review["score"], _agreement(review), now)
            return outcomes + self._follow(workflow, verdict, now) + list(desk)
        if kind == "reassign":
            return list(distribution.one_more_needed(task, detail, now)) if seats else []
        if kind == "completed":
            return list(distribution.task_completed(task, now)) if seats else []
        if kind == "collecting":
            # A deletion took the consensus back to collecting: a task it had closed wants
            # the freed seat filled again.
            return list(distribution.task_reopened(task, now)) if seats else []
        if kind == "review":
            # The annotations core published the low-agreement review request itself;
            # the desk only queues the task (its own copy of the request is dropped).
            closed: list[Outcome] = (list(distribution.task_sent_to_review(task, now))
                                     if seats else [])
            workflow.reviews.review_requested(task, "low_agreement_budget_exhausted", now)
            return closed
        raise ValueError(f"unknown workflow fact {kind!r}")

    def _ground_truth_moved(self, workflow: ProjectWorkflow, task: str,
                            fields: dict[str, Any], now: float) -> list[Outcome]:
        """The task's ground truth was marked, replaced, changed or unmarked.

        A ground-truth task is a honeypot: outside the overlap, offered by the project's
        evaluation settings (onboarding, continuous share). The other annotations are
        scored against the new ground truth at once, and one that now disagrees below the
        evaluation's ``review_below`` goes to a reviewer, as a submission would.
        """
        marked = fields["marked"]
        # A fact from before ``was_marked`` was written only when the mark flipped.
        was_marked = fields.get("was_marked")
        if was_marked is None:
            was_marked = not marked
        outcomes: list[Outcome] = []
        if not workflow.distributed:
            pass  # no honeypots to offer: the tool hands out the tasks
        elif marked and not was_marked:
            outcomes += workflow.distribution.ground_truth_marked(task, now)
        elif was_marked and not marked:
            outcomes += workflow.distribution.ground_truth_unmarked(task, now)
        scores = fields.get("scores")
        if not scores:
            return outcomes
        outcomes += self._follow(workflow, workflow.quality.ground_truth_moved(task, scores, now),
                                 now)
        below = workflow.quality.settings.evaluation.review_below
        if below is not None:
            for annotation, score in sorted(scores.items()):
                if score is not None and score < below and workflow.quality.holds(annotation):
                    outcomes += workflow.reviews.review_requested(
                        task, "ground_truth_disagreement", now, annotation, score)
        return outcomes

    @staticmethod
    def _follow(workflow: ProjectWorkflow, events: list[QualityEvent], now: float
                ) -> list[Outcome]:
        """Quality events, and what the distribution does about them: an annotator the
        evaluation paused gets no more tasks (their reservations end), one it unpaused
        may work again. A project Quorum does not distribute gets the events only (the
        labeling tool acts on ``annotator-paused``)."""
        outcomes: list[Outcome] = []
        for event in events:
            outcomes.append(event)
            if not workflow.distributed:
                continue
            if isinstance(event, AnnotatorPaused):
                outcomes += workflow.distribution.annotator_paused(event.annotator, now)
            elif isinstance(event, AnnotatorUnpaused):
                outcomes += workflow.distribution.annotator_resumed(event.annotator, now)
        return outcomes


def _agreement(fields: dict[str, Any]) -> float | None:
    value = fields.get("agreement")
    return None if value is None else float(value)


def _review_settings(settings: ReviewSettings) -> dict[str, str]:
    return {"requeue_mode": settings.requeue_mode.value, "criteria": settings.criteria.value}


def _prediction_scores(scores: dict[str, Any]) -> dict[str, PredictionScore]:
    return {key: PredictionScore(value["model_version"], value["annotators"],
                                 value["consensus"], value["ground_truth"])
            for key, value in scores.items()}


def _annotator_op(distribution: Distribution, kind: str, annotator: str, now: float
                  ) -> list[DistributionEvent]:
    if kind == "joined":
        return distribution.annotator_joined(annotator, now)
    if kind == "left":
        return distribution.annotator_left(annotator, now)
    if kind == "paused":
        return distribution.annotator_paused(annotator, now)
    if kind == "resumed":
        return distribution.annotator_resumed(annotator, now)
    raise ValueError(f"unknown annotator event kind {kind!r}; one of {', '.join(_ANNOTATOR_KINDS)}")


def encode_entry(ops: list[Op]) -> bytes:
    """A journal entry: the ops of one batch or one request, in the order applied."""
    return orjson.dumps(ops)


def decode_entry(entry: bytes) -> list[Op]:
    ops: list[Op] = orjson.loads(entry)
    return ops


__all__ = [
    "Op",
    "Outcome",
    "ProjectWorkflow",
    "WorkflowPartition",
    "decode_entry",
    "encode_entry",
    "op_time",
]
