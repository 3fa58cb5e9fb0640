"""TaskRecord.review: a verdict's effect on the agreement, review revisions, the stored
document, and the annotations that cannot be reviewed."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agreement import ScoringConfig, recompute
from assignment import pair_agreement
from streams.models.invalid import InvalidEvent
from streams.models.review import ReviewAction, ReviewEvent, review_event, review_from_dict
from streams.state.task import COUNTED, REJECTED, TaskRecord, Verdict

from ..events import annotation_event, choice

ACCEPT, REJECT, FIX = ReviewAction.ACCEPT, ReviewAction.REJECT, ReviewAction.FIX_AND_ACCEPT


def submit(annotation_id: str, annotator: int, result: list[dict[str, Any]], *,
           revision: int = 1, kind: str = "created", **fields: Any) -> Any:
    return annotation_event(annotation_id=annotation_id, completed_by=annotator,
                            result=result, revision=revision, kind=kind, **fields)


def review(annotation_id: str, action: ReviewAction, *, revision: int = 1,
           result: list[dict[str, Any]] | None = None, requeue: bool | None = None
           ) -> ReviewEvent:
    return review_from_dict(review_event("1", "2", annotation_id, "boss", action,
                                         revision=revision, result=result, requeue=requeue))


def two_tags(sentiment: str, topic: str) -> list[dict[str, Any]]:
    return [*choice(sentiment), *choice(topic, "topic")]


def three() -> TaskRecord:
    """a1 and a2 agree (pos/x), a3 disagrees on both tags (neg/y)."""
    record = TaskRecord()
    for item in (submit("a1", 10, two_tags("pos", "x")), submit("a2", 11, two_tags("pos", "x")),
                 submit("a3", 12, two_tags("neg", "y"))):
        assert record.apply(item)
    return record


def results(record: TaskRecord) -> dict[str, list[dict[str, Any]]]:
    return {aid: record.agreement.result_of(aid) or [] for aid in record.agreement.ids}


def test_a_reject_takes_the_annotation_out_of_the_agreement() -> None:
    record = three()
    assert record.agreement.score == pytest.approx(1 / 3)
    assert record.review(review("a3", REJECT))
    assert record.agreement.ids == ["a1", "a2"]
    assert record.agreement.score == recompute(results(record)) == 1.0
    assert record.entries["a3"].status == REJECTED
    assert record.annotators == ["10", "11"]
    assert record.annotators_seen == ["10", "11", "12"]  # never handed to 12 by a reassign
    assert record.verdicts["a3"] == Verdict(1, REJECT, 0.0)


def test_a_resubmission_after_a_reject_counts_again() -> None:
    record = three()
    record.review(review("a3", REJECT))
    assert record.apply(submit("a3", 12, two_tags("pos", "y"), revision=2, kind="updated"))
    assert record.entries["a3"].status == COUNTED
    assert record.agreement.ids == ["a1", "a2", "a3"]
    assert record.agreement.score == recompute(results(record))
    # The verdict and its revision stay: the old reject, redelivered, changes nothing.
    assert not record.review(review("a3", REJECT))
    assert record.review(review("a3", ACCEPT, revision=2))


def test_a_fix_counts_the_fixed_result_and_scores_it_against_the_submitted_one() -> None:
    record = three()
    fixed = two_tags("pos", "y")  # the reviewer fixed one of the two tags
    assert record.review(review("a3", FIX, result=fixed))
    assert record.agreement.result_of("a3") == fixed
    assert record.agreement.score == recompute(results(record))
    assert record.entries["a3"].status == COUNTED
    # The submitted result against the fixed one, as the pure core scores a fix.
    expected = pair_agreement(None, "a3", two_tags("neg", "y"), "a3", fixed)
    assert expected == 0.5
    assert record.verdicts["a3"] == Verdict(1, FIX, expected)


def test_an_accept_changes_no_agreement() -> None:
    record = three()
    before = record.agreement.to_state()
    assert record.review(review("a1", ACCEPT))
    assert record.agreement.to_state() == before
    assert record.verdicts["a1"] == Verdict(1, ACCEPT, 1.0)


def test_a_duplicate_or_stale_review_changes_nothing() -> None:
    record = three()
    assert record.review(review("a3", FIX, revision=2, result=two_tags("pos", "x")))
    stored = record.to_json()
    assert not record.review(review("a3", FIX, revision=2, result=two_tags("neg", "y")))
    assert not record.review(review("a3", REJECT, revision=1))
    assert record.to_json() == stored
    # A newer verdict replaces it: the fixed result stays counted under an accept.
    assert record.review(review("a3", ACCEPT, revision=3))
    assert record.agreement.score == 1.0
    assert record.verdicts["a3"] == Verdict(3, ACCEPT, 1.0)


@pytest.mark.parametrize(
    ("history", "words"),
    [
        ([], ["'a9'", "unknown", "after the annotation"]),
        ([submit("a9", 13, choice("pos"), revision=2, kind="deleted")], ["'a9'", "deleted"]),
        ([submit("a9", 13, [], kind="skipped")], ["'a9'", "skipped"]),
        ([annotation_event(annotation_id="a9", completed_by=None, model_version="v1")],
         ["'a9'", "prediction"]),
    ],
)
def test_an_annotation_that_does_not_count_cannot_be_reviewed(
    history: list[Any], words: list[str]
) -> None:
    record = three()
    for item in history:
        record.apply(item)
    before = record.to_json()
    with pytest.raises(InvalidEvent) as caught:
        record.review(review("a9", ACCEPT))
    assert all(word in str(caught.value) for word in words), caught.value
    assert record.to_json() == before


def test_a_rejected_annotation_is_reviewed_again_only_once_resubmitted() -> None:
    record = three()
    record.review(review("a3", REJECT))
    with pytest.raises(InvalidEvent, match="was rejected; review it again once"):
        record.review(review("a3", ACCEPT, revision=2))
    assert not record.review(review("a3", REJECT))  # a redelivery, not a dead letter


def test_a_rejected_ground_truth_is_ground_truth_no_more() -> None:
    record = three()
    record.apply(submit("gt", 9, two_tags("pos", "x"), ground_truth=True))
    assert record.ground_truth_agreement("a3") == 0.0
    assert record.review(review("gt", REJECT))
    assert record.ground_truth is None
    assert record.ground_truth_agreement("a3") is None
    # Its new revision, flagged again, is the ground truth again.
    record.apply(submit("gt", 9, two_tags("neg", "y"), revision=2, kind="updated",
                        ground_truth=True))
    assert record.ground_truth_agreement("a3") == 1.0


def test_a_fixed_ground_truth_left_out_of_the_agreement_stays_out() -> None:
    record = TaskRecord.from_json(None, scoring=ScoringConfig(include_ground_truth=False))
    for item in (submit("a1", 10, two_tags("pos", "x")), submit("a2", 11, two_tags("neg", "y")),
                 submit("gt", 9, two_tags("neg", "x"), ground_truth=True)):
        record.apply(item)
    assert record.agreement.ids == ["a1", "a2"]
    fixed = two_tags("pos", "x")
    assert record.review(review("gt", FIX, result=fixed))
    assert record.agreement.ids == ["a1", "a2"]
    assert record.ground_truth == ("gt", fixed)
    assert record.ground_truth_agreement("a1") == 1.0  # scored against the fixed truth
    assert record.verdicts["gt"].score == 0.5


# The stored document -------------------------------------------------------------------


def test_verdicts_round_trip_and_a_record_without_them_writes_none() -> None:
    record = three()
    assert b"verdicts" not in record.to_json()
    record.review(review("a1", ACCEPT, revision=4))
    record.review(review("a2", FIX, result=two_tags("pos", "y")))
    record.review(review("a3", REJECT, revision=2))
    loaded = TaskRecord.from_json(record.to_json())
    assert loaded.verdicts == record.verdicts
    assert loaded.entries == record.entries
    assert loaded.to_json() == record.to_json()
    assert not loaded.review(review("a1", REJECT, revision=4))  # the revision was kept


def test_a_record_stored_before_reviews_were_kept_still_loads() -> None:
    doc = orjson.loads(three().to_json())
    doc["entries"] = {aid: entry[:3] for aid, entry in doc["entries"].items()}
    doc.pop("verdicts", None)
    loaded = TaskRecord.from_json(orjson.dumps(doc))
    assert loaded.verdicts == {}
    assert loaded.review(review("a3", REJECT))


# Any sequence: the agreement equals a recompute of what counts -------------------------

LABELS = (("pos", "x"), ("pos", "y"), ("neg", "x"), ("neg", "y"))
IDS = ("a1", "a2", "a3", "a4")

step = st.one_of(
    st.tuples(st.just("submit"), st.sampled_from(IDS), st.sampled_from(LABELS)),
    st.tuples(st.just("delete"), st.sampled_from(IDS), st.none()),
    st.tuples(st.sampled_from([ACCEPT, REJECT, FIX]), st.sampled_from(IDS),
              st.sampled_from(LABELS)),
)


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(step, max_size=30), reload_at=st.integers(0, 30))
def test_reviews_keep_the_agreement_equal_to_a_recompute(
    steps: list[tuple[Any, str, tuple[str, str] | None]], reload_at: int
) -> None:
    record = TaskRecord()
    counted: dict[str, list[dict[str, Any]]] = {}  # the oracle: what counts, by id
    revisions = dict.fromkeys(IDS, 0)
    reviews = dict.fromkeys(IDS, 0)
    for index, (what, aid, labels) in enumerate(steps):
        if index == reload_at:
            record = TaskRecord.from_json(record.to_json())
        if what == "submit":
            assert labels is not None  # a submit step always has labels
            revisions[aid] += 1
            result = two_tags(*labels)
            assert record.apply(submit(aid, int(aid[1:]), result, revision=revisions[aid]))
            counted[aid] = result
        elif what == "delete":
            revisions[aid] += 1
            record.apply(submit(aid, int(aid[1:]), [], revision=revisions[aid], kind="deleted"))
            counted.pop(aid, None)
        else:
            reviews[aid] += 1
            fixed = two_tags(*labels) if labels is not None else None
            verdict = review(aid, what, revision=reviews[aid],
                             result=fixed if what is FIX else None)
            if aid not in counted:
                with pytest.raises(InvalidEvent):
                    record.review(verdict)
                continue
            assert record.review(verdict)
            assert not record.review(verdict)  # a redelivery
            if what is REJECT:
                del counted[aid]
            elif what is FIX:
                assert fixed is not None
                counted[aid] = fixed
        assert record.agreement.ids == sorted(counted)
        assert record.agreement.score == recompute(counted)
        assert record.annotators == sorted(aid[1:] for aid in counted)
