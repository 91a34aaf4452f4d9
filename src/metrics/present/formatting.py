"""Numbers as managers read them: 85.9%, 25.6 points, 38.1 ‰·month, ¥55,166,188, 3.2 h."""

from __future__ import annotations

import math

from metrics.model.i18n import t


def fmt_value(value: float | None, unit: str, lang: str = "zh") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "share_per_month" or (unit == "share" and value >= 0.99):  # churn, availability
        return f"{100 * value:.2f}%"
    if unit == "share":
        return f"{100 * value:.1f}%"
    if unit == "currency":
        return f"¥{value:,.0f}"
    if unit in ("customers", "tickets"):
        return f"{value:,.0f}"
    if unit == "hours":
        return f"{value:.1f} {t('unit.hours', lang)}"
    if unit.startswith("score"):
        return f"{value:.2f}"
    return f"{value:,.1f}"


def fmt_delta(delta: float | None, unit: str) -> str | None:
    """The change as text for st.metric (percentage points for shares)."""
    if delta is None or (isinstance(delta, float) and math.isnan(delta)):
        return None
    if unit == "share" and abs(delta) >= 0.001:
        return f"{100 * delta:+.1f} pp"
    if unit in ("share", "share_per_month"):
        return f"{100 * delta:+.2f} pp"
    if unit in ("customers", "tickets", "currency"):
        return f"{delta:+,.0f}"
    return f"{delta:+.1f}"


def direction(delta: float | None, higher_is_better: bool | None) -> str | None:
    """Whether a change is "better", "worse" or "unchanged" (the catalogue suffix under
    ``page.overview.``), decided on the delta itself, not its rounded text; None for a missing
    delta (None/NaN). A metric without a preferred direction only gets "unchanged" or None."""
    if delta is None or (isinstance(delta, float) and math.isnan(delta)):
        return None
    if delta == 0:
        return "unchanged"
    if higher_is_better is None:
        return None
    return "better" if (delta > 0) == higher_is_better else "worse"
