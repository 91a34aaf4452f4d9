"""Plain readings of statistical statements: one line a manager reads before the technical detail.

"The model ranks leavers well: 9 in 10 pairs right" for a concordance of 0.9. Pure functions over
numbers; the words come from the catalogue (``plain.*``)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from metrics.model.i18n import t

# concordance (= the chance the model gives the leaver of a random leaver/stayer pair the higher
# risk) from which a ranking is called very good, good, fair; below: barely better than chance (0.5)
GRADES = ((0.8, "very_good"), (0.7, "good"), (0.6, "fair"))


def pairs_in_ten(concordance: float | None) -> int | None:
    """Of 10 pairs of one leaver and one stayer, how many the model ranks right (rounded): 0.9 → 9,
    0.74 → 7, 0.75 → 8; None when unknown."""
    if concordance is None or not math.isfinite(float(concordance)):
        return None
    return max(0, min(10, math.floor(10 * float(concordance) + 0.5)))


def grade(concordance: float) -> str:
    """"very_good", "good", "fair" or "weak" (:data:`GRADES`)."""
    return next((name for floor, name in GRADES if concordance >= floor), "weak")


def model_reading(model: Mapping[str, object], lang: str) -> str | None:
    """The churn model's quality in one line, from its holdout concordance (``concordance_cox``);
    None when the model has none."""
    c = model.get("concordance_cox")
    k = pairs_in_ten(c)  # type: ignore[arg-type]
    if k is None:
        return None
    return t("plain.model_ranking", lang, grade=t(f"plain.grade.{grade(float(c))}", lang), k=k)  # type: ignore[arg-type]
