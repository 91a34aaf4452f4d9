"""What moved most: the groups of a compare frame ranked by the size of their change."""

from __future__ import annotations

import pandas as pd

TOP = 8  # groups shown


def top_moves(moves: pd.DataFrame, top: int = TOP) -> tuple[pd.DataFrame, int]:
    """The ``top`` groups of a compare frame (``delta`` per group) with the largest change, largest
    first, and how many groups were left out because they have no change to show (no comparison
    value: a missing ``delta``)."""
    comparable = moves.dropna(subset=["delta"]) if "delta" in moves.columns else moves
    dropped = len(moves) - len(comparable)
    if comparable.empty:
        return comparable, dropped
    ranked = comparable.reindex(comparable["delta"].abs().sort_values(ascending=False).index)
    return ranked.head(top).copy(), dropped
