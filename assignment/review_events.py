"""What a review decides: the settings' vocabulary, the instructions the caller carries
out, and the events it publishes. All plain frozen dataclasses; the core never publishes.

Label Studio Enterprise semantics (docs: guide/project_settings_lse.md, "Review"):
reviewers Accept, Reject or Fix + Accept an annotation; a rejected annotation is requeued
back to its annotator, removed from the labeling queue (and marked cancelled), or the
reviewer chooses per review ("Reject Options"); a task counts as reviewed after one
accepted annotation or after all its annotations are reviewed ("Reviewing Options").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from agreement import ResultItem


class ReviewAction(StrEnum):
    """A reviewer's verdict on one annotation."""

    ACCEPT = "accept"
    REJECT = "reject"
    FIX_AND_ACCEPT = "fix_and_accept"


class ReviewCriteria(StrEnum):
    """When a task counts as reviewed (Label Studio's ``review_criteria``)."""

    ONE_ACCEPTED = "one_accepted"  # Label Studio "one"
    ALL_REVIEWED = "all_reviewed"  # Label Studio "all"


class ReviewReason(StrEnum):
    """Why a review is requested."""

    LOW_AGREEMENT_BUDGET_EXHAUSTED = "low_agreement_budget_exhausted"
    GROUND_TRUTH_DISAGREEMENT = "ground_truth_disagreement"
    REJECTED = "rejected"


# Instructions: what the caller must do to the task's state after a review.


@dataclass(frozen=True, slots=True)
class RemoveFromAgreement:
    """Take the annotation out of the task's agreement (``TaskAgreement.remove``) and out
    of the annotator agreement (:meth:`AnnotatorPerformance.review` does that itself)."""

    task: str
    annotation: str


@dataclass(frozen=True, slots=True)
class RequeueToAnnotator:
    """Put the task back in the annotator's queue: they fix and resubmit the same
    annotation, which then counts again and is reviewed again."""

    task: str
    annotation: str
    annotator: str


@dataclass(frozen=True, slots=True)
class CancelAnnotation:
    """Mark the annotation cancelled (Label Studio sets ``was_cancelled``, so it counts as
    skipped in the dashboards) and do not give the task back to its annotator; the task,
    short of an annotation, goes to someone else as the overlap requires."""

    task: str
    annotation: str
    annotator: str


@dataclass(frozen=True, slots=True)
class ReplaceResult:
    """Count the reviewer's fixed result in place of the submitted one
    (``TaskAgreement.upsert``, then :meth:`AnnotatorPerformance.rescore`)."""

    task: str
    annotation: str
    result: list[ResultItem]


Instruction = RemoveFromAgreement | RequeueToAnnotator | CancelAnnotation | ReplaceResult


# Events: what happened, for the caller to publish.


@dataclass(frozen=True, slots=True)
class ReviewRequested:
    """A task needs a reviewer's eyes now, and why.

    ``annotation`` and ``score`` are set when one annotation is the cause (a ground-truth
    disagreement: its score against the ground truth; a resubmission after a reject).
    For a low-agreement task, ``score`` is the task's agreement.
    """

    task: str
    reason: ReviewReason
    at: float
    annotation: str | None = None
    score: float | None = None


@dataclass(frozen=True, slots=True)
class TaskReviewed:
    """The task met the project's review criteria (emitted once per change)."""

    task: str
    at: float


@dataclass(frozen=True, slots=True)
class Review:
    """One review event.

    Attributes
    ----------
    task, annotation
        The reviewed annotation and its task.
    action
        Accept, reject or fix-and-accept (a :class:`ReviewAction` or its value).
    reviewer
        Who reviewed; informational.
    submitted_result, fixed_result
        For fix-and-accept: the annotation's result as submitted and as the reviewer
        fixed it; their agreement is the review's performance score.
    requeue
        For a reject in ``reviewer_choice`` mode: True requeues to the annotator, False
        removes. Ignored otherwise: the project's mode decides.
    """

    task: str
    annotation: str
    action: ReviewAction | str
    reviewer: str = ""
    submitted_result: list[ResultItem] | None = None
    fixed_result: list[ResultItem] | None = None
    requeue: bool | None = None


@dataclass(frozen=True, slots=True)
class ReviewOutcome:
    """What a review means.

    ``score`` is its contribution to the annotator's performance score (Label Studio:
    accept 1, reject 0, fix-and-accept the agreement of the submitted and the fixed
    result); pass it to :meth:`AnnotatorPerformance.review`.
    """

    score: float
    instructions: tuple[Instruction, ...]
    events: tuple[ReviewRequested | TaskReviewed, ...]
