"""Annotator performance, per annotator, kept up to date one event at a time.

The numbers of Label Studio Enterprise's Members dashboard (docs:
guide/dashboard_members.md, "Annotation Summary"; guide/dashboard_annotator.md,
"Annotation performance summaries"):

- Agreement: mean pair score with other annotators' annotations of the same tasks.
- Submitted, Skipped; Accepted, Fix + Accepted, Rejected by each annotation's latest
  review; Acceptance Score: (accepted + fixed) / reviewed annotations, using "the latest
  review outcome per annotation".
- Performance Score: "summing the scores of all review actions and dividing by the total
  number of review actions": accept 1, reject 0, fix + accept the agreement between what
  the annotator submitted and the reviewer's fix.
- Total, average and median lead time of submitted annotations.
- The annotator x annotator agreement matrix.

GT Agreement comes from :class:`~assignment.ground_truth.GroundTruth`, passed to
:meth:`AnnotatorPerformance.summary`. A deleted annotation takes all it contributed
with it; a rejected one leaves the agreement but stays submitted and reviewed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from agreement import AnnotatorMatrix, TaskAgreement
from agreement.stats.sums import ExactSum

from .lead_time import LeadTimes
from .performance_ledger import AnnotationRecord, Ledger
from .review_events import ReviewAction
from .review_settings import member

if TYPE_CHECKING:
    from .ground_truth import GroundTruth

STATE_VERSION = 1


def pairs_with(agreement: TaskAgreement, annotation: str) -> dict[str, float]:
    """The annotation's pair score with each other counted annotation of its task, as
    the task's agreement holds them, for :meth:`AnnotatorPerformance.submit`.

    Predictions (``"prediction:<id>"``, counted only when the project scores them) are
    left out: a model is not an annotator.
    """
    pairs: dict[str, float] = {}
    for (id_a, id_b), score in agreement.pair_scores.items():
        other = id_b if id_a == annotation else id_a if id_b == annotation else None
        if other is not None and not other.startswith("prediction:"):
            pairs[other] = score
    return pairs


@dataclass(frozen=True, slots=True)
class AnnotatorSummary:
    """One annotator's row of the Members dashboard.

    Scores are in [0, 1] and ``None`` when there is nothing to average (no other
    annotator on their tasks, no review, no ground truth): no reviews is no acceptance
    score, not an acceptance score of 0. Lead times are in seconds.
    """

    annotator: str
    submitted: int
    skipped: int
    agreement: float | None
    ground_truth_agreement: float | None
    ground_truth_tasks: int
    reviewed: int
    accepted: int
    fixed: int
    rejected: int
    acceptance_score: float | None
    performance_score: float | None
    lead_time_total: float
    lead_time_mean: float | None
    lead_time_median: float | None
    last_active: float | None


class _Tally:
    """One annotator's running sums; every field is a sum over their annotations."""

    __slots__ = (
        "accepted",
        "agreement",
        "agreement_count",
        "fixed",
        "lead_times",
        "rejected",
        "review_count",
        "review_sum",
        "reviewed",
        "skipped",
        "submitted",
    )

    def __init__(self) -> None:
        self.submitted = self.skipped = 0
        self.reviewed = self.accepted = self.fixed = self.rejected = 0
        self.agreement_count = self.review_count = 0
        self.agreement = ExactSum()
        self.review_sum = ExactSum()
        self.lead_times = LeadTimes()


class AnnotatorPerformance:
    """A project's annotator performance, updated per event in O(k) for k annotations on
    the task, equal to a recompute from scratch after any sequence of events.

    The caller reports submissions (with the pair scores its task agreement computed),
    skips, reviews (with :attr:`ReviewOutcome.score`), fixes (:meth:`rescore`) and
    deletions. Annotation ids are unique within the project.
    """

    __slots__ = ("_last_active", "_ledger", "_matrix", "_tallies")

    def __init__(self) -> None:
        self._tallies: dict[str, _Tally] = {}
        self._matrix = AnnotatorMatrix()
        self._last_active: dict[str, float] = {}
        self._ledger = Ledger(self._on_status, self._on_verdict, self._on_pair)

    # Events.

    def submit(
        self,
        task: str,
        annotation: str,
        annotator: str,
        now: float,
        pairs: Mapping[str, float],
        lead_time: float | None = None,
    ) -> None:
        """An annotation was submitted or updated (also after a reject: it counts again).

        Parameters
        ----------
        pairs
            Its pair score in [0, 1] with every other counted annotation of the task
            (:func:`pairs_with` reads them off the task's ``TaskAgreement``); ``{}`` for
            the task's first.
        lead_time
            The annotation's lead time in seconds, cumulative over sessions as Label
            Studio records it; ``None`` if unknown (then not in the lead-time numbers).
        """
        self._touch(annotator, now)
        self._ledger.submit(task, annotation, annotator, pairs, lead_time)

    def skip(self, task: str, annotation: str, annotator: str, now: float) -> None:
        """The annotator skipped the task (or a removed reject cancelled the annotation)."""
        self._touch(annotator, now)
        self._ledger.skip(task, annotation, annotator)

    def review(self, annotation: str, action: ReviewAction | str, score: float) -> None:
        """A reviewer's verdict, with its performance-score contribution (1 for accept, 0
        for reject, the fix's agreement for fix-and-accept). A reject takes the
        annotation out of the agreement until it is resubmitted."""
        self._ledger.review(annotation, member(ReviewAction, action, "action"), score)

    def rescore(self, annotation: str, pairs: Mapping[str, float]) -> None:
        """A counted annotation's result changed without a submission (a reviewer's fix):
        its new pair scores with the task's other counted annotations."""
        self._ledger.rescore(annotation, pairs)

    def delete(self, annotation: str) -> bool:
        """The annotation was deleted: it no longer counts anywhere. False if unknown."""
        return self._ledger.delete(annotation)

    # Reads.

    def annotators(self) -> list[str]:
        """Everyone with a submitted or skipped annotation, sorted."""
        return sorted(a for a, t in self._tallies.items() if t.submitted or t.skipped)

    def summary(self, annotator: str, ground_truth: GroundTruth | None = None) -> AnnotatorSummary:
        """The annotator's numbers; ``ground_truth`` supplies GT agreement."""
        tally = self._tallies.get(annotator) or _Tally()
        reviewed, count = tally.reviewed, tally.review_count
        return AnnotatorSummary(
            annotator=annotator,
            submitted=tally.submitted,
            skipped=tally.skipped,
            agreement=_mean(tally.agreement, tally.agreement_count),
            ground_truth_agreement=None if ground_truth is None else ground_truth.score(annotator),
            ground_truth_tasks=0 if ground_truth is None else ground_truth.tasks(annotator),
            reviewed=reviewed,
            accepted=tally.accepted,
            fixed=tally.fixed,
            rejected=tally.rejected,
            acceptance_score=(tally.accepted + tally.fixed) / reviewed if reviewed else None,
            performance_score=_mean(tally.review_sum, count),
            lead_time_total=tally.lead_times.total,
            lead_time_mean=tally.lead_times.mean,
            lead_time_median=tally.lead_times.median,
            last_active=self._last_active.get(annotator),
        )

    def agreement_between(self, annotator_a: str, annotator_b: str) -> float | None:
        """Mean pair score of two annotators' annotations of shared tasks; ``None`` if
        they share none."""
        return self._matrix.mean(annotator_a, annotator_b)

    def matrix(self) -> tuple[list[str], NDArray[np.float64]]:
        """The agreement matrix (see :meth:`agreement.AnnotatorMatrix.matrix`): sorted
        annotators with a pair score, and their symmetric mean pair scores, NaN where
        they share no task."""
        return self._matrix.matrix()

    def agreement_pairs(self) -> list[tuple[str, str, int, float]]:
        """The matrix's pairs with their counts (see :meth:`agreement.AnnotatorMatrix.pairs`)."""
        return self._matrix.pairs()

    # Contributions, called by the ledger with sign +1 (add) or -1 (remove).

    def _tally(self, annotator: str) -> _Tally:
        tally = self._tallies.get(annotator)
        if tally is None:
            tally = self._tallies[annotator] = _Tally()
        return tally

    def _on_status(self, record: AnnotationRecord, sign: int) -> None:
        tally = self._tally(record.annotator)
        if record.skipped:
            tally.skipped += sign
            return
        tally.submitted += sign
        if record.lead_time is not None:
            if sign > 0:
                tally.lead_times.add(record.lead_time)
            else:
                tally.lead_times.remove(record.lead_time)

    def _on_verdict(self, record: AnnotationRecord, sign: int, score: float | None) -> None:
        # score None: the annotation's latest outcome (counts) enters or leaves;
        # a float: one review action's score enters or leaves the performance score.
        tally = self._tally(record.annotator)
        if score is not None:
            tally.review_count += sign
            (tally.review_sum.add if sign > 0 else tally.review_sum.remove)(score)
            return
        outcome = record.outcome
        if outcome is None:
            return
        tally.reviewed += sign
        if outcome is ReviewAction.ACCEPT:
            tally.accepted += sign
        elif outcome is ReviewAction.FIX_AND_ACCEPT:
            tally.fixed += sign
        else:
            tally.rejected += sign

    def _on_pair(self, annotator_a: str, annotator_b: str, score: float, sign: int) -> None:
        if annotator_a == annotator_b:
            return  # two annotations by one person say nothing about agreeing with others
        for annotator in (annotator_a, annotator_b):
            tally = self._tally(annotator)
            tally.agreement_count += sign
            (tally.agreement.add if sign > 0 else tally.agreement.remove)(score)
        (self._matrix.add if sign > 0 else self._matrix.remove)(annotator_a, annotator_b, score)

    def _touch(self, annotator: str, now: float) -> None:
        last = self._last_active.get(annotator)
        if last is None or now > last:
            self._last_active[annotator] = now

    # State.

    def to_state(self) -> dict[str, Any]:
        """JSON-able state: the per-annotation ledger (see
        :meth:`~assignment.performance_ledger.Ledger.to_state`) and last activity; every
        sum is rebuilt from the ledger on load."""
        return {
            "version": STATE_VERSION,
            "ledger": self._ledger.to_state(),
            "last_active": dict(sorted(self._last_active.items())),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> AnnotatorPerformance:
        """Rebuild from :meth:`to_state` output."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(
                f"performance state version {state.get('version')!r} is not "
                f"{STATE_VERSION}; rebuild it from the annotation and review events"
            )
        performance = cls()
        performance._ledger.load(state["ledger"])
        performance._last_active = {a: float(t) for a, t in state["last_active"].items()}
        return performance


def _mean(total: ExactSum, count: int) -> float | None:
    return total.value / count if count else None
