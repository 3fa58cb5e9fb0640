"""Ground-truth tasks as honeypots in the distribution (issue 4, item 5).

Label Studio Enterprise's annotator evaluation (docs: guide/project_settings_lse.md,
"Quality"): with onboarding, an annotator's first tasks are ground-truth tasks; ground-truth
tasks sit outside the overlap cap. Quorum's continuous share mixes one in whenever
``assignment.evaluation.ground_truth_due`` says so. Expected sequences are worked out by
hand in the comments.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from assignment.consensus import ConsensusPolicy
from assignment.distribution import Distribution, DistributionPolicy
from assignment.evaluation import EvaluationSettings
from assignment.label_stream import Assignment, Queue
from assignment.seats import ReleaseReason, ReservationReleased, TaskUnfillable
from assignment.skips import RejectMode, SkipMode


def make(overlap: int = 1, evaluation: EvaluationSettings | None = None,
         **settings: Any) -> Distribution:
    consensus = ConsensusPolicy(overlap=overlap, threshold=0.7, max_additional=0)
    return Distribution(DistributionPolicy(consensus, **settings), evaluation)


def onboarding(tasks: int, share: float = 0.0) -> EvaluationSettings:
    return EvaluationSettings(enabled=True, onboarding_tasks=tasks, continuous_share=share)


def setup(d: Distribution, annotators: list[str], tasks: list[str], truths: list[str]) -> None:
    for annotator in annotators:
        d.annotator_joined(annotator, 0.0)
    for task in tasks:
        d.task_imported(task, 0.0)
    for task in truths:
        d.ground_truth_marked(task, 0.0)


def label(d: Distribution, annotator: str, now: float = 1.0) -> tuple[str, Queue]:
    """The annotator pulls a task and submits it: (task, queue)."""
    got = d.next_task(annotator, now)
    assert got is not None, f"{annotator} got nothing"
    d.annotation_submitted(got.task, annotator, now)
    return got.task, got.queue


def labels(d: Distribution, annotator: str, count: int) -> list[tuple[str, Queue]]:
    return [label(d, annotator) for _ in range(count)]


S, G = Queue.SEQUENCE, Queue.GROUND_TRUTH
INTERLEAVED = ["t1", "g1", "t2", "g2", "t3", "g3", "t4", "t5", "t6", "t7", "t8", "t9"]


def test_onboarding_serves_the_first_n_tasks_from_ground_truth() -> None:
    # onboarding 2, share 0: g1 and g2 (lowest import order first), then only the pool.
    d = make(evaluation=onboarding(2))
    setup(d, ["a"], INTERLEAVED, ["g1", "g2", "g3"])
    assert labels(d, "a", 6) == [("g1", G), ("g2", G), ("t1", S), ("t2", S), ("t3", S),
                                 ("t4", S)]


def test_continuous_share_mixes_in_every_fourth_task() -> None:
    # share 0.25: due when 4 (g + 1) <= n + 1, i.e. at n = 3 (g = 0) and n = 7 (g = 1).
    d = make(evaluation=onboarding(0, 0.25))
    setup(d, ["a"], INTERLEAVED, ["g1", "g2", "g3"])
    assert labels(d, "a", 9) == [("t1", S), ("t2", S), ("t3", S), ("g1", G), ("t4", S),
                                 ("t5", S), ("t6", S), ("g2", G), ("t7", S)]


def test_onboarding_then_continuous_share() -> None:
    # onboarding 1 then share 0.5: g1 first (g=0 < 1); then due when 2 (g + 1) <= n + 1:
    # g=1 needs n >= 3, so t1, t2, then g2; g=2 needs n >= 5: t3, then g3.
    d = make(evaluation=onboarding(1, 0.5))
    setup(d, ["a"], INTERLEAVED, ["g1", "g2", "g3"])
    assert labels(d, "a", 7) == [("g1", G), ("t1", S), ("t2", S), ("g2", G), ("t3", S),
                                 ("g3", G), ("t4", S)]


def test_a_honeypot_goes_to_every_annotator_beyond_the_overlap() -> None:
    d = make(overlap=1, evaluation=onboarding(1))
    people = ["a", "b", "c", "d", "e"]
    setup(d, people, ["t1", "g1", "t2", "t3", "t4", "t5"], ["g1"])
    assert [label(d, p) for p in people] == [("g1", G)] * 5
    view = d.task_view("g1")
    assert view is not None and view.ground_truth and view.needed == 0
    assert view.done == tuple(people)
    # Ordinary tasks keep their overlap of 1: each goes to one annotator.
    assert [label(d, p)[0] for p in people] == ["t1", "t2", "t3", "t4", "t5"]


def test_honeypots_are_never_in_the_pool_nor_short_of_annotators() -> None:
    d = make(overlap=3, evaluation=onboarding(0))
    d.annotator_joined("a", 0.0)
    d.ground_truth_marked("g1", 0.0)
    assert d.task_imported("g1", 0.0) == []  # one annotator for 3 seats: not reported
    assert d.task_imported("t1", 0.0) == [TaskUnfillable("t1", 3, 1)]
    assert d.linear_scan("a") == ("t1", S)
    got = d.next_task("a", 1.0)
    assert got is not None and got.task == "t1"
    assert d.next_task("b", 1.0) is None  # never joined
    d.annotator_joined("b", 1.0)
    d.annotation_submitted("t1", "a", 1.0)
    got = d.next_task("b", 1.0)  # not due (onboarding 0, share 0): no honeypot
    assert got is not None and got.task == "t1"


def test_never_twice_to_one_annotator() -> None:
    # onboarding 3 with two honeypots: due three times, but each honeypot only once.
    d = make(evaluation=onboarding(3))
    setup(d, ["a"], ["g1", "g2", "t1", "t2"], ["g1", "g2"])
    first = d.next_task("a", 1.0)
    assert first is not None and (first.task, first.queue) == ("g1", G)
    again = d.next_task("a", 1.0)  # held, not submitted: the same reservation
    assert again == Assignment("g1", "a", first.expires_at, Queue.RESERVED)
    d.annotation_submitted("g1", "a", 1.0)
    assert labels(d, "a", 3) == [("g2", G), ("t1", S), ("t2", S)]
    assert d.next_task("a", 1.0) is None


def test_a_skipped_honeypot_is_not_offered_again_to_who_skipped_it() -> None:
    d = make(evaluation=onboarding(1))
    setup(d, ["a", "b"], ["g1", "t1", "t2"], ["g1"])
    got = d.next_task("a", 1.0)
    assert got is not None and got.task == "g1"
    d.annotation_skipped("g1", "a", 1.0)  # requeue for others: not a done task
    assert label(d, "a") == ("t1", S)  # still due, but g1 is off-limits for a
    assert label(d, "b") == ("g1", G)


def test_a_honeypot_requeued_for_me_comes_back_last() -> None:
    d = make(evaluation=onboarding(1), skip_mode=SkipMode.REQUEUE_FOR_ME)
    setup(d, ["a"], ["g1", "t1"], ["g1"])
    assert d.next_task("a", 1.0) is not None
    d.annotation_skipped("g1", "a", 1.0)
    assert labels(d, "a", 2) == [("t1", S), ("g1", Queue.SKIPPED)]
    assert d.next_task("a", 1.0) is None


def test_a_skip_counted_as_done_counts_as_a_ground_truth_task() -> None:
    d = make(evaluation=onboarding(1), skip_mode=SkipMode.COUNT_AS_DONE)
    setup(d, ["a"], ["g1", "g2", "t1"], ["g1", "g2"])
    assert d.next_task("a", 1.0) is not None
    d.annotation_skipped("g1", "a", 1.0)
    assert label(d, "a") == ("t1", S)  # onboarding done: g2 is not due


def test_honeypots_count_toward_the_annotator_limit() -> None:
    d = make(evaluation=onboarding(1), max_tasks_per_annotator=2)
    setup(d, ["a"], ["g1", "t1", "t2"], ["g1"])
    assert labels(d, "a", 2) == [("g1", G), ("t1", S)]
    assert d.annotator_load("a") == 2
    assert d.next_task("a", 1.0) is None


def test_unmarking_returns_the_task_to_the_pool_with_its_done_seats() -> None:
    # overlap 2: a labeled g1 as a honeypot; unmarked, it wants one more annotator.
    d = make(overlap=2, evaluation=onboarding(1))
    setup(d, ["a", "b", "c"], ["g1", "g2", "t1"], ["g1", "g2"])
    assert label(d, "a") == ("g1", G)
    d.ground_truth_unmarked("g1", 2.0)
    view = d.task_view("g1")
    assert view is not None and not view.ground_truth and view.needed == 1
    assert view.done == ("a",)
    # a's onboarding task no longer counts: due again, they get the other honeypot.
    assert label(d, "a") == ("g2", G)
    assert label(d, "b") == ("g2", G)  # b's onboarding comes first
    assert label(d, "b") == ("g1", S)  # then the pool, where g1 is back
    assert label(d, "c") == ("g2", G)
    assert label(d, "c") == ("t1", S)  # g1 has its 2 annotations now
    view = d.task_view("g1")
    assert view is not None and view.needed == 0 and view.done == ("a", "b")


def test_marking_takes_a_task_out_of_the_pool_and_keeps_reservations() -> None:
    d = make(overlap=2)
    setup(d, ["a", "b"], ["t1", "t2"], [])
    held = d.next_task("a", 1.0)
    assert held is not None and held.task == "t1"
    assert d.ground_truth_marked("t1", 2.0) == []
    assert d.next_task("a", 2.0) == Assignment("t1", "a", held.expires_at, Queue.RESERVED)
    assert label(d, "b") == ("t2", S)  # evaluation off: no honeypot, t1 not in the pool
    d.annotation_submitted("t1", "a", 2.0)
    d.ground_truth_unmarked("t1", 3.0)
    assert label(d, "b") == ("t1", S)


def test_marking_before_the_import_and_submitting_before_it() -> None:
    d = make(evaluation=onboarding(1))
    d.ground_truth_marked("g1", 0.0)
    d.ground_truth_marked("g2", 0.0)
    d.annotation_submitted("g1", "a", 0.0)  # an annotation before the task's import
    setup(d, ["a", "b"], ["t1", "g2"], [])
    view = d.task_view("g1")
    assert view is not None and view.ground_truth
    assert label(d, "a") == ("t1", S)  # g1 counted as a's onboarding task
    assert label(d, "b") == ("g1", G)


def test_a_reserved_honeypot_expires_back_to_the_annotator() -> None:
    d = make(evaluation=onboarding(1), reservation_ttl=10.0)
    setup(d, ["a", "b"], ["g1", "t1"], ["g1"])
    first = d.next_task("a", 1.0)
    assert first == Assignment("g1", "a", 11.0, G)
    other = d.next_task("b", 2.0)  # a's reservation takes no seat from b
    assert other == Assignment("g1", "b", 12.0, G)
    assert d.expire(10.9) == []
    assert d.expire(11.0) == [ReservationReleased("g1", "a", ReleaseReason.EXPIRED)]
    assert d.annotator_load("a") == 0
    assert d.next_task("a", 11.5) == Assignment("g1", "a", 21.5, G)


def test_completion_and_review_do_not_close_a_honeypot() -> None:
    d = make(evaluation=onboarding(1))
    setup(d, ["a", "b"], ["g1", "t1"], ["g1"])
    assert d.next_task("a", 1.0) is not None
    assert d.task_completed("g1", 1.0) == []  # a keeps their reservation
    assert d.task_sent_to_review("g1", 1.0) == []
    assert label(d, "b") == ("g1", G)
    d.annotation_submitted("g1", "a", 1.0)
    view = d.task_view("g1")
    assert view is not None and view.done == ("a", "b")


def test_a_removed_rejection_no_longer_counts_and_keeps_the_annotator_off() -> None:
    d = make(evaluation=onboarding(1))
    setup(d, ["a"], ["g1", "g2", "t1"], ["g1", "g2"])
    assert label(d, "a") == ("g1", G)
    d.annotation_rejected("g1", "a", RejectMode.REMOVE, 2.0)
    assert label(d, "a") == ("g2", G)  # due again; g1 is off-limits
    assert label(d, "a") == ("t1", S)


def test_a_deleted_honeypot_is_gone_and_no_longer_counts() -> None:
    d = make(evaluation=onboarding(1))
    setup(d, ["a", "b"], ["g1", "g2", "t1", "t2"], ["g1", "g2"])
    assert label(d, "a") == ("g1", G)
    d.task_deleted("g1", 2.0)
    assert d.annotator_load("a") == 0
    assert label(d, "a") == ("g2", G)
    # Imported again, the task is an ordinary one: the mark went with the deletion.
    d.task_imported("g1", 3.0)
    view = d.task_view("g1")
    assert view is not None and not view.ground_truth
    assert label(d, "b") == ("g2", G)
    assert label(d, "b") == ("t1", S)


@pytest.mark.parametrize("evaluation", [None, EvaluationSettings(onboarding_tasks=5,
                                                                 continuous_share=1.0)])
def test_disabled_evaluation_offers_no_honeypot(evaluation: EvaluationSettings | None) -> None:
    d = make(evaluation=evaluation)
    setup(d, ["a"], ["g1", "t1", "t2"], ["g1"])
    assert labels(d, "a", 2) == [("t1", S), ("t2", S)]
    assert d.next_task("a", 1.0) is None
    d.set_evaluation(onboarding(1))  # switched on later: the honeypot is due now
    assert label(d, "a") == ("g1", G)


def test_set_evaluation_rejects_other_settings() -> None:
    with pytest.raises(ValueError, match="EvaluationSettings"):
        make().set_evaluation({"enabled": True})  # type: ignore[arg-type]


def _script(d: Distribution) -> list[object]:
    """The same calls on any distribution: what it answers."""
    answers: list[object] = []
    for step in range(12):
        now = 5.0 + step
        for annotator in ("a", "b", "c"):
            got = d.next_task(annotator, now)
            answers.append(got)
            if got is not None and step % 3 != 1:
                answers.append(d.annotation_submitted(got.task, annotator, now))
        if step == 4:
            answers.append(d.ground_truth_unmarked("g2", now))
            answers.append(d.ground_truth_marked("t9", now))
        answers.append(d.expire(now))
    answers.append([d.task_view(t) for t in INTERLEAVED])
    return answers


def test_a_state_round_trip_mid_way_gives_identical_answers() -> None:
    d = make(overlap=2, evaluation=onboarding(1, 0.25), reservation_ttl=4.0)
    setup(d, ["a", "b", "c"], INTERLEAVED, ["g1", "g2", "g3"])
    d.ground_truth_marked("g4", 0.0)  # not imported yet
    assert labels(d, "a", 3) == [("g1", G), ("t1", S), ("t2", S)]
    assert d.next_task("b", 2.0) is not None  # a honeypot reservation in the state
    saved = json.loads(json.dumps(d.to_state()))
    restored = Distribution.from_state(saved)
    assert restored.evaluation == d.evaluation
    assert restored.to_state() == saved
    assert _script(restored) == _script(d)
    assert restored.to_state() == d.to_state()


def test_states_without_ground_truth_still_load() -> None:
    d = make(overlap=2)
    setup(d, ["a", "b"], ["t1", "t2"], [])
    assert label(d, "a") == ("t1", S)
    saved = d.to_state()
    old = {key: value for key, value in saved.items()
           if key not in ("ground_truth", "evaluation")}
    restored = Distribution.from_state(old)
    assert restored.evaluation == EvaluationSettings()
    assert restored.to_state() == saved
    assert _script(restored) == _script(d)
