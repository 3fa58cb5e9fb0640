"""Annotators' ground-truth scores as the facts report them, and the evaluation rule.

:class:`assignment.GroundTruth` scores annotations itself, from their results; in the
workflow agent the annotations agent has already scored each one, so only the scores
arrive. This keeps their exact mean per annotator and applies the same rule (Label Studio
Enterprise's "Pause annotator on failed evaluation", with the same events): with
``enabled`` and ``pause_on_failure``, an annotator whose mean is below ``minimum_score``
over at least ``minimum_tasks`` scored annotations is paused, once; only relaxed settings
unpause them.
"""

from __future__ import annotations

from collections.abc import Iterable

from agreement.stats.sums import ExactSum
from assignment import AnnotatorPaused, AnnotatorUnpaused, EvaluationSettings
from assignment.evaluation import PAUSE_REASON, UNPAUSE_REASON


class EvaluationScores:
    """Per annotator: the count and exact sum of their annotations' ground-truth scores,
    and whether the evaluation paused them. The mean equals ``math.fsum(scores) / n``
    whatever the order of updates, so state rebuilt from the scores is exact."""

    __slots__ = ("_paused", "_tally", "settings")

    def __init__(self, settings: EvaluationSettings) -> None:
        self.settings = settings
        self._tally: dict[str, tuple[int, ExactSum]] = {}
        self._paused: set[str] = set()

    def rescore(self, annotator: str, old: float | None, new: float | None) -> None:
        """One annotation's score changed from ``old`` to ``new`` (``None``: unscored)."""
        if old is not None:
            count, total = self._tally[annotator]
            total.remove(old)
            if count == 1:
                del self._tally[annotator]
            else:
                self._tally[annotator] = (count - 1, total)
        if new is not None:
            count, total = self._tally.get(annotator) or (0, ExactSum())
            total.add(new)
            self._tally[annotator] = (count + 1, total)

    def score(self, annotator: str) -> tuple[int, float | None]:
        """Scored annotations of the annotator, and their mean (``None`` with none)."""
        tally = self._tally.get(annotator)
        return (0, None) if tally is None else (tally[0], tally[1].value / tally[0])

    @property
    def paused(self) -> frozenset[str]:
        """The annotators the evaluation paused."""
        return frozenset(self._paused)

    def pause(self, annotators: Iterable[str], now: float) -> list[AnnotatorPaused]:
        """Pause those of ``annotators`` who fail the rule now and were not paused yet."""
        events: list[AnnotatorPaused] = []
        for annotator in sorted(annotators):
            if annotator not in self._paused and self._fails(annotator):
                self._paused.add(annotator)
                count, mean = self.score(annotator)
                assert mean is not None  # _fails needs a score
                events.append(AnnotatorPaused(annotator, mean, count, PAUSE_REASON, now))
        return events

    def reconfigure(self, settings: EvaluationSettings, now: float
                    ) -> list[AnnotatorPaused | AnnotatorUnpaused]:
        """New settings: unpause whoever now passes, pause whoever now fails."""
        self.settings = settings
        events: list[AnnotatorPaused | AnnotatorUnpaused] = []
        for annotator in sorted(self._paused):
            if not self._fails(annotator):
                self._paused.discard(annotator)
                count, mean = self.score(annotator)
                events.append(AnnotatorUnpaused(annotator, mean, count, UNPAUSE_REASON, now))
        events.extend(self.pause(self._tally, now))
        return events

    def restore_paused(self, annotators: Iterable[str]) -> None:
        """Mark annotators paused, as a saved state says (no event)."""
        self._paused = set(annotators)

    def _fails(self, annotator: str) -> bool:
        rule = self.settings
        count, mean = self.score(annotator)
        return (rule.enabled and rule.pause_on_failure and mean is not None
                and count >= rule.minimum_tasks and mean < rule.minimum_score)
