"""The workflow partition's ops: live application, journal replay, fact deduplication."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from assignment import Assignment, ConsensusPolicy, DistributionPolicy, Queue, ReservationReleased
from assignment.distribution_policy import AssignmentMode
from streams.workflow import (
    Op,
    ProjectWorkflow,
    WorkflowPartition,
    decode_entry,
    encode_entry,
    op_time,
)

POLICY = DistributionPolicy(consensus=ConsensusPolicy(overlap=2, threshold=0.7,
                                                      max_additional=1),
                            reservation_ttl=30.0)
PUSH_POLICY = DistributionPolicy(consensus=POLICY.consensus, reservation_ttl=30.0,
                                 assignment_mode=AssignmentMode.PUSH, push_depth=2)


def _session(seed: int, policy: DistributionPolicy = POLICY) -> list[Op]:
    """A random but valid sequence of ops over two projects, with time moving on."""
    rng = random.Random(seed)
    ops: list[Op] = []
    now = 1_000.0
    for project in ("p1", "p2"):
        ops.append(["policy", project, policy.to_state()])
        ops.append(["models", project, {"bucket_seconds": 60.0, "regression_margin": 0.05,
                                        "min_scored_tasks": 2,
                                        "regression_metrics": ["annotators"]}])
        for number in range(12):
            ops.append(["task", project, "imported", f"t{number}", now])
        for annotator in ("a", "b", "c", "d"):
            ops.append(["annotator", project, "joined", annotator, now])
    fact = 0
    labeled: dict[tuple[str, str], set[str]] = defaultdict(set)
    for _ in range(120):
        now += rng.uniform(0, 8)
        project = rng.choice(("p1", "p2"))
        roll = rng.random()
        annotator = rng.choice("abcd")
        task = f"t{rng.randrange(12)}"
        if roll < 0.45:
            ops.append(["next", project, annotator, now])
        elif roll < 0.7:
            fact += 1
            # As the annotations agent reports it: pair scores with the task's earlier
            # annotations, a ground-truth score now and then, a single label.
            mine = f"{task}-{annotator}"
            pairs = {a: round(rng.random(), 3) for a in sorted(labeled[project, task])
                     if a != mine}
            labeled[project, task].add(mine)
            quality = {"annotation_id": mine, "pairs": pairs,
                       "ground_truth_score": rng.choice((None, 0.0, 1.0)),
                       "label": rng.choice(("pos", "neg")), "lead_time": None}
            ops.append(["fact", project, "submitted", task, annotator, now, [0, fact, 0],
                        quality])
        elif roll < 0.74:
            fact += 1
            version = rng.choice(("m1", "m2"))
            scores = {f"pred-{task}-{version}": {
                "model_version": version, "annotators": round(rng.random(), 2),
                "consensus": None, "ground_truth": rng.choice((None, 1.0))}}
            ops.append(["fact", project, "model-scores", task, None, now, [2, fact, 0],
                        scores])
        elif roll < 0.76:
            fact += 1
            ops.append(["fact", project, "skipped", task, annotator, now, [1, fact, 0]])
        elif roll < 0.78:
            fact += 1
            deleted = {"annotation_id": f"{task}-{annotator}", "agreement": None}
            ops.append(["fact", project, "deleted", task, annotator, now, [1, fact, 0],
                        deleted])
        elif roll < 0.85:
            fact += 1
            ops.append(["fact", project, "reassign", task, 2, now, [0, fact, 1]])
        elif roll < 0.9:
            fact += 1
            ops.append(["fact", project, "completed", task, None, now, [1, fact, 1]])
        elif roll < 0.92:
            fact += 1  # a deletion took the consensus back to collecting
            ops.append(["fact", project, "collecting", task, None, now, [1, fact, 2]])
        elif roll < 0.95:
            ops.append(["annotator", project, rng.choice(("paused", "resumed")), annotator, now])
        else:
            ops.append(["expire", project, now])
    return ops


def _states(partition: WorkflowPartition) -> dict[str, dict[str, object]]:
    return {p: orjson.loads(w.to_json()) for p, w in partition.projects.items()}


@pytest.mark.parametrize("policy", [POLICY, PUSH_POLICY], ids=["pull", "push"])
@pytest.mark.parametrize("seed", range(8))
def test_snapshot_plus_journal_rebuilds_the_live_state(seed: int,
                                                      policy: DistributionPolicy) -> None:
    ops = _session(seed, policy)
    live = WorkflowPartition()
    answers = [live.apply(op) for op in ops]
    assert any(isinstance(o, Assignment) for outs in answers for o in outs)
    assert any(type(o).__name__ == "AnnotatorQuality" for outs in answers for o in outs)
    assert any(type(o).__name__ == "ModelQuality" for outs in answers for o in outs)
    pushed = [o for outs in answers for o in outs
              if isinstance(o, Assignment) and o.queue is Queue.PUSHED]
    assert bool(pushed) is (policy is PUSH_POLICY)

    cut = len(ops) // 2
    first = WorkflowPartition()
    for op in ops[:cut]:
        first.apply(op)
    snapshot = {p: w.to_json() for p, w in first.projects.items()}
    # The rest as journal entries of a few ops each, as batches and requests write them.
    journal = [encode_entry(ops[i:i + 3]) for i in range(cut, len(ops), 3)]
    rebuilt = WorkflowPartition.restore(snapshot, journal)
    assert _states(rebuilt) == _states(live)

    replayed = WorkflowPartition()
    replay_answers = [replayed.apply(op) for op in ops]
    assert replay_answers == answers  # deterministic: the same ops give the same outputs


def test_an_ops_time_is_its_now_wherever_the_op_keeps_it() -> None:
    assert op_time(["next", "p", "alice", 1795870000.5, True]) == 1795870000.5
    assert op_time(["expire", "p", 1795870001.0]) == 1795870001.0
    assert op_time(["task", "p", "imported", "t1", 1795870002.0]) == 1795870002.0
    assert op_time(["fact", "p", "submitted", "t1", "alice", 1795870003.0, [0, 1, 0],
                    None]) == 1795870003.0


def test_a_republished_fact_changes_nothing() -> None:
    partition = WorkflowPartition()
    partition.apply(["policy", "p", POLICY.to_state()])
    partition.apply(["annotator", "p", "joined", "a", 1.0])
    partition.apply(["task", "p", "imported", "t", 1.0])
    partition.apply(["fact", "p", "completed", "t", None, 2.0, [3, 8, 0]])
    submitted = ["fact", "p", "submitted", "t", "a", 2.0, [3, 10, 1]]
    partition.apply(submitted)
    before = _states(partition)
    assert partition.apply(["fact", "p", "skipped", "t", "a", 3.0, [3, 10, 1]]) == []
    # Between two facts applied in order: a copy (the run emitted nothing else there).
    assert partition.apply(["fact", "p", "skipped", "t", "a", 3.0, [3, 9, 0]]) == []
    assert _states(partition) == before
    # A later fact of the same partition, or any fact of another, is applied.
    partition.apply(["fact", "p", "reassign", "t", 1, 4.0, [2, 1, 0]])
    assert _states(partition) != before


def test_policy_op_only_when_the_policy_changes() -> None:
    partition = WorkflowPartition()
    op = partition.policy_op("p", POLICY)
    assert op == ["policy", "p", POLICY.to_state(), True]
    partition.apply(op)
    assert partition.policy_op("p", POLICY) is None
    wider = DistributionPolicy(consensus=ConsensusPolicy(overlap=3), reservation_ttl=30.0)
    changed = partition.policy_op("p", wider)
    assert changed is not None
    partition.apply(["task", "p", "imported", "t", 1.0])
    partition.apply(changed)
    assert partition.projects["p"].distribution.policy == wider
    assert partition.projects["p"].distribution.task_view("t") is not None


def test_an_op_before_its_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="before its policy"):
        WorkflowPartition().apply(["task", "p", "imported", "t", 1.0])


def test_state_version_is_checked() -> None:
    with pytest.raises(ValueError, match="quorum rebuild"):
        ProjectWorkflow.from_json(b'{"version": 99}')


def test_entries_round_trip() -> None:
    ops: list[Op] = [["next", "p", "a", 1.5], ["expire", "p", 2.0]]
    assert decode_entry(encode_entry(ops)) == ops


def test_a_submission_below_the_ground_truth_bar_asks_for_a_review_once() -> None:
    from assignment import EvaluationSettings
    from assignment.review_events import ReviewReason, ReviewRequested
    from streams.quality import QualitySettings

    partition = WorkflowPartition()
    partition.apply(["policy", "p", POLICY.to_state()])
    wanted = QualitySettings(evaluation=EvaluationSettings(review_below=0.5)).to_dict()
    partition.apply(["quality", "p", wanted, 1.0])

    def submitted(annotation: str, score: float | None, offset: int) -> Sequence[object]:
        quality: dict[str, Any] = {
            "annotation_id": annotation, "pairs": {}, "ground_truth_score": score,
            "label": None, "lead_time": None, "agreement": 1.0}
        return partition.apply(["fact", "p", "submitted", "t", annotation.split("-")[0],
                                2.0, [0, offset, 0], quality])

    def requests(outcomes: Sequence[object]) -> list[ReviewRequested]:
        return [o for o in outcomes if isinstance(o, ReviewRequested)]

    assert requests(submitted("a-1", 0.9, 1)) == []  # above the bar
    assert requests(submitted("b-1", None, 2)) == []  # nothing to compare with
    asked = requests(submitted("c-1", 0.25, 3))
    assert [(r.reason, r.annotation, r.score) for r in asked] == \
        [(ReviewReason.GROUND_TRUTH_DISAGREEMENT, "c-1", 0.25)]
    assert requests(submitted("c-1", 0.25, 4)) == []  # once per annotation until reviewed


def test_a_ground_truth_marked_later_rescores_and_asks_for_reviews_below_the_bar() -> None:
    from assignment import EvaluationSettings
    from assignment.review_events import ReviewReason, ReviewRequested
    from streams.quality import QualitySettings

    partition = WorkflowPartition()
    partition.apply(["policy", "p", POLICY.to_state()])
    wanted = QualitySettings(evaluation=EvaluationSettings(review_below=0.5)).to_dict()
    partition.apply(["quality", "p", wanted, 1.0])
    for offset, (annotation, annotator) in enumerate([("a1", "ann"), ("b1", "bob")], 1):
        partition.apply(["fact", "p", "submitted", "t", annotator, 2.0, [0, offset, 0], {
            "annotation_id": annotation, "pairs": {}, "ground_truth_score": None,
            "label": None, "lead_time": None, "agreement": 1.0}])

    def truth_moved(fields: dict[str, Any], offset: int) -> Sequence[object]:
        return partition.apply(["fact", "p", "ground-truth", "t", None, 3.0, [0, offset, 1],
                                fields])

    outcomes = truth_moved({"marked": True, "was_marked": False,
                            "scores": {"a1": 0.25, "b1": 1.0}}, 3)
    asked = [o for o in outcomes if isinstance(o, ReviewRequested)]
    assert [(r.reason, r.annotation, r.score) for r in asked] == \
        [(ReviewReason.GROUND_TRUTH_DISAGREEMENT, "a1", 0.25)]
    quality = partition.projects["p"].quality
    assert quality.quality("ann").ground_truth_score == 0.25
    assert quality.quality("bob").ground_truth_score == 1.0
    assert partition.projects["p"].distribution.is_ground_truth("t")
    # Unmarked: the scores go, and the task is no honeypot any more.
    truth_moved({"marked": False, "was_marked": True, "scores": {"a1": None, "b1": None}}, 4)
    assert quality.quality("ann").ground_truth_tasks == 0
    assert not partition.projects["p"].distribution.is_ground_truth("t")
    # A fact journaled before the scores were added: the mark flips, nothing is rescored.
    truth_moved({"marked": True}, 5)
    assert partition.projects["p"].distribution.is_ground_truth("t")
    assert quality.quality("ann").ground_truth_tasks == 0


def test_model_settings_changed_after_scoring_apply_once_and_replay() -> None:
    from assignment import ModelEvaluationSettings, ModelMetric, ModelRegressed

    def rule(margin: float) -> ModelEvaluationSettings:
        return ModelEvaluationSettings(regression_margin=margin, min_scored_tasks=2,
                                       regression_metrics=(ModelMetric.ANNOTATORS,))

    def scored(task: str, version: str, value: float, offset: int) -> Op:
        scores = {f"{task}-{version}": {"model_version": version, "annotators": value,
                                        "consensus": None, "ground_truth": None}}
        return ["fact", "p", "model-scores", task, None, 10.0 + offset, [2, offset, 0], scores]

    live = WorkflowPartition()
    ops: list[Op] = [["policy", "p", POLICY.to_state()]]
    live.apply(ops[0])
    assert live.models_op("p", ModelEvaluationSettings()) is None  # the defaults already
    loose = live.models_op("p", rule(0.2))
    assert loose == ["models", "p", rule(0.2).to_dict()]
    ops.append(loose)
    ops += [scored("t0", "v1", 1.0, 1), scored("t1", "v1", 1.0, 2),
            scored("t2", "v2", 0.9, 3), scored("t3", "v2", 0.9, 4)]
    answers = [live.apply(op) for op in ops[1:]]
    assert not any(isinstance(o, ModelRegressed) for outs in answers for o in outs)
    assert live.models_op("p", rule(0.2)) is None
    tight = live.models_op("p", rule(0.05))
    assert tight is not None
    # The tighter margin applies to the predictions scored before it: v2 is 0.1 below.
    assert live.apply(tight) == [ModelRegressed("v2", "v1", ModelMetric.ANNOTATORS, 0.9, 1.0,
                                                0.05)]
    assert live.models_op("p", rule(0.05)) is None
    assert live.apply(tight) == []  # the same settings again: nothing new
    ops += [tight, scored("t4", "v2", 0.9, 5)]
    live.apply(ops[-1])

    # A snapshot taken before the change plus the journal rebuilds the same state...
    before = WorkflowPartition()
    for op in ops[:6]:
        before.apply(op)
    snapshot = {p: w.to_json() for p, w in before.projects.items()}
    rebuilt = WorkflowPartition.restore(snapshot, [encode_entry(ops[6:])])
    assert _states(rebuilt) == _states(live)
    # ...and replaying every op gives the same outputs, the regression once.
    replayed = WorkflowPartition()
    outputs = [o for op in ops for o in replayed.apply(op)]
    assert [o for o in outputs if isinstance(o, ModelRegressed)] == [
        ModelRegressed("v2", "v1", ModelMetric.ANNOTATORS, 0.9, 1.0, 0.05)]


def _push_partition(depth: int = 1) -> WorkflowPartition:
    partition = WorkflowPartition()
    policy = DistributionPolicy(consensus=ConsensusPolicy(overlap=1), reservation_ttl=30.0,
                                assignment_mode=AssignmentMode.PUSH, push_depth=depth)
    partition.apply(["policy", "p", policy.to_state()])
    return partition


def _assigned(outcomes: Sequence[object]) -> list[tuple[str, str, Queue]]:
    return [(o.annotator, o.task, o.queue) for o in outcomes if isinstance(o, Assignment)]


def test_push_mode_assigns_on_import_and_join() -> None:
    partition = _push_partition()
    assert partition.apply(["annotator", "p", "joined", "a", 1.0]) == []  # no task yet
    assert _assigned(partition.apply(["task", "p", "imported", "t1", 2.0])) == \
        [("a", "t1", Queue.PUSHED)]
    assert _assigned(partition.apply(["task", "p", "imported", "t2", 3.0])) == []  # a is full
    assert _assigned(partition.apply(["annotator", "p", "joined", "b", 4.0])) == \
        [("b", "t2", Queue.PUSHED)]
    # A submission frees a: the next task goes to them in the same op.
    partition.apply(["task", "p", "imported", "t3", 5.0])
    outcomes = partition.apply(["fact", "p", "submitted", "t1", "a", 6.0, [0, 1, 0]])
    assert _assigned(outcomes) == [("a", "t3", Queue.PUSHED)]
    # The label stream answers with the pushed task, and pushes nothing more.
    assert _assigned(partition.apply(["next", "p", "b", 7.0])) == [("b", "t2", Queue.RESERVED)]


def test_pull_mode_pushes_nothing() -> None:
    partition = WorkflowPartition()
    partition.apply(["policy", "p", POLICY.to_state()])
    partition.apply(["annotator", "p", "joined", "a", 1.0])
    assert _assigned(partition.apply(["task", "p", "imported", "t1", 2.0])) == []


def test_push_mode_replaces_an_expired_reservation_in_the_expire_op() -> None:
    partition = _push_partition()
    partition.apply(["annotator", "p", "joined", "a", 1.0])
    partition.apply(["task", "p", "imported", "t1", 1.0])  # a holds it until 31.0
    partition.apply(["annotator", "p", "joined", "b", 10.0])
    assert _assigned(partition.apply(["task", "p", "imported", "t2", 10.0])) == \
        [("b", "t2", Queue.PUSHED)]
    assert _assigned(partition.apply(["fact", "p", "submitted", "t2", "b", 20.0,
                                      [0, 1, 0]])) == []  # b has room, nothing is free
    outcomes = partition.apply(["expire", "p", 31.0])
    assert [(o.task, o.annotator) for o in outcomes if isinstance(o, ReservationReleased)] \
        == [("t1", "a")]
    assert _assigned(outcomes) == [("b", "t1", Queue.PUSHED)]


def test_a_deleted_annotation_frees_the_seat_and_a_push_fills_it() -> None:
    partition = _push_partition()
    partition.apply(["annotator", "p", "joined", "a", 1.0])
    partition.apply(["task", "p", "imported", "t1", 1.0])
    partition.apply(["fact", "p", "submitted", "t1", "a", 2.0, [0, 1, 0]])
    distribution = partition.projects["p"].distribution
    assert distribution.annotator_load("a") == 1
    deleted = ["fact", "p", "deleted", "t1", "a", 3.0, [0, 2, 0],
               {"annotation_id": "t1-a", "agreement": None}]
    assert _assigned(partition.apply(deleted)) == [("a", "t1", Queue.PUSHED)]
    before = _states(partition)
    assert partition.apply(deleted) == []  # republished: nothing changes
    assert _states(partition) == before


def test_a_deleted_prediction_frees_nothing() -> None:
    partition = WorkflowPartition()
    partition.apply(["policy", "p", POLICY.to_state()])
    partition.apply(["task", "p", "imported", "t1", 1.0])
    before = orjson.loads(partition.projects["p"].to_json())["distribution"]
    partition.apply(["fact", "p", "deleted", "t1", None, 3.0, [0, 2, 0],
                     {"annotation_id": "pred-1", "agreement": None}])
    assert orjson.loads(partition.projects["p"].to_json())["distribution"] == before


def test_a_deletion_after_completion_reopens_the_task_from_core_to_distribution() -> None:
    """The processing core's facts, as the workflow agent reads and turns them into ops:
    two annotators complete a task, one annotation is deleted by a webhook that does not
    say who wrote it, and a third annotator is offered the task. Replayed, the same."""
    from streams.agents.workflow import _op_of
    from streams.batch import InputRecord, apply_batch, parse_batch
    from streams.models.project import ProjectConfig
    from streams.models.workflow import parse_workflow_event

    from .events import annotation_bytes, choice

    config = ProjectConfig("p", annotations_per_task=2, agreement_threshold=0.7,
                           distribute=True)
    values = [annotation_bytes(project_id="p", task_id="t1", annotation_id=f"a-{who}",
                               completed_by=who, result=choice("pos"), event_id=f"ev-{who}")
              for who in ("u1", "u2")]
    values.append(annotation_bytes(project_id="p", task_id="t1", annotation_id="a-u2",
                                   completed_by=None, kind="deleted", revision=2, result=None,
                                   event_id="del"))
    batch = parse_batch(3, "quorum.annotations",
                        [InputRecord(10 + i, v) for i, v in enumerate(values)], max_bytes=4096)
    outcome = apply_batch(batch, dict.fromkeys(batch.task_refs), {"p": config},
                          after_offset=None)
    facts = [parse_workflow_event(orjson.dumps(o.body)) for o in outcome.outputs
             if o.topic == "workflow"]
    assert [f.kind for f in facts] == ["submitted", "submitted", "completed", "deleted",
                                       "collecting"]

    ops: list[Op] = [["policy", "p", config.distribution_policy.to_state()],
                     ["task", "p", "imported", "t1", 1.0], ["task", "p", "imported", "t2", 1.0]]
    ops += [["annotator", "p", "joined", who, 1.0] for who in ("u1", "u2", "u3")]
    ops += [["next", "p", "u1", 2.0], ["next", "p", "u2", 2.0]]
    ops += [_op_of(fact, 3.0 + i, config) for i, fact in enumerate(facts)]
    ops.append(["next", "p", "u3", 9.0])
    live = WorkflowPartition()
    answers = [live.apply(op) for op in ops]
    assert _assigned(answers[-1]) == [("u3", "t1", Queue.SEQUENCE)]  # not t2
    view = live.projects["p"].distribution.task_view("t1")
    assert view is not None and view.done == ("u1",) and view.reserved == ("u3",)
    assert live.projects["p"].distribution.annotator_load("u2") == 0

    replayed = WorkflowPartition()
    assert [replayed.apply(op) for op in ops] == answers
    assert _states(replayed) == _states(live)
    cut = 8
    first = WorkflowPartition()
    for op in ops[:cut]:
        first.apply(op)
    rebuilt = WorkflowPartition.restore({p: w.to_json() for p, w in first.projects.items()},
                                        [encode_entry(ops[cut:])])
    assert _states(rebuilt) == _states(live)


def test_a_policy_op_journaled_before_quality_tracking_is_of_a_distributing_project() -> None:
    partition = WorkflowPartition()
    partition.apply(["policy", "p", POLICY.to_state()])  # as older workers journaled it
    assert partition.projects["p"].distributed
    assert partition.policy_op("p", POLICY, True) is None
    assert partition.policy_op("p", POLICY, False) == ["policy", "p", POLICY.to_state(), False]
    state = orjson.loads(partition.projects["p"].to_json())
    del state["distributed"]  # a snapshot written before quality tracking
    assert ProjectWorkflow.from_json(orjson.dumps(state)).distributed


def _tracked_facts(config: Any) -> list[Any]:
    """The workflow facts the processing core emits for three annotators of task t1 (two
    agree, one does not, the last one is the task's ground truth) and a prediction."""
    from streams.batch import InputRecord, apply_batch, parse_batch
    from streams.models.workflow import parse_workflow_event

    from .events import annotation_bytes, choice

    values = [annotation_bytes(project_id="p", task_id="t1", annotation_id=f"a-{who}",
                               completed_by=who, result=choice(label), event_id=f"ev-{who}")
              for who, label in (("u1", "pos"), ("u2", "neg"), ("u3", "pos"))]
    values.append(annotation_bytes(project_id="p", task_id="t1", annotation_id="pred",
                                   completed_by=None, model_version="m1",
                                   result=choice("pos"), event_id="ev-pred"))
    batch = parse_batch(3, "quorum.annotations",
                        [InputRecord(10 + i, v) for i, v in enumerate(values)], max_bytes=4096)
    outcome = apply_batch(batch, dict.fromkeys(batch.task_refs), {"p": config},
                          after_offset=None)
    return [parse_workflow_event(orjson.dumps(o.body)) for o in outcome.outputs
            if o.topic == "workflow"]


def test_a_project_that_only_scores_emits_no_facts() -> None:
    from streams.models.project import ProjectConfig

    assert _tracked_facts(ProjectConfig("p", annotations_per_task=3)) == []


def test_a_quality_tracked_project_gets_quality_and_models_but_no_distribution() -> None:
    """``track_quality`` without ``distribute``: the core's facts reach the annotator
    quality, the model evaluation and the review desk; no seat, reservation or push.
    Replayed from the journal, the same state."""
    from assignment import TaskUnfillable
    from streams.agents.workflow import _op_of
    from streams.model_quality import ModelQuality
    from streams.models.project import ProjectConfig
    from streams.quality_settings import AnnotatorQuality

    config = ProjectConfig("p", annotations_per_task=3, agreement_threshold=0.9,
                           track_quality=True, assignment_mode="push")
    facts = _tracked_facts(config)
    assert [f.kind for f in facts] == ["submitted", "submitted", "submitted", "review",
                                       "model-scores"]
    policy_op = WorkflowPartition().policy_op("p", config.distribution_policy,
                                              config.distribute)
    assert policy_op is not None and policy_op[3] is False
    ops: list[Op] = [policy_op, *[_op_of(f, 3.0 + i, config) for i, f in enumerate(facts)]]
    live = WorkflowPartition()
    answers = [live.apply(op) for op in ops]
    caused = [o for answer in answers for o in answer]
    distribution = (Assignment, ReservationReleased, TaskUnfillable)
    assert not [o for o in caused if isinstance(o, distribution)]
    assert {o.annotator for o in caused if isinstance(o, AnnotatorQuality)} == {"u1", "u2", "u3"}
    u2 = live.projects["p"].quality.quality("u2")
    assert u2.submitted == 1 and u2.agreement == 0.0
    models = [o for o in caused if isinstance(o, ModelQuality)]
    assert [m.model_version for m in models] == ["m1"]
    workflow = live.projects["p"]
    assert workflow.distribution.task_view("t1") is None  # never entered the distribution
    assert live.next_review("p", "reviewer") == "t1"  # the low-agreement task, queued

    replayed = WorkflowPartition.restore({}, [encode_entry(ops)])
    assert _states(replayed) == _states(live)
    assert not replayed.projects["p"].distributed
