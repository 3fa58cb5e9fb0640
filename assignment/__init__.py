"""Pure assignment policy: consensus decisions per task. No I/O."""

from .consensus import (
    INITIAL_STATE,
    ConsensusPolicy,
    Decision,
    DecisionState,
    decide,
    transition,
)

__all__ = [
    "INITIAL_STATE",
    "ConsensusPolicy",
    "Decision",
    "DecisionState",
    "decide",
    "transition",
]
