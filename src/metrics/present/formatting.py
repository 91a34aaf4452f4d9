"""Every number's text, decided in one place: 85.9%, 0.42%, 12,345, ¥55,166,188, 3.2 小时, p < 0.001.

The app's cards and tables, the charts (value labels, target lines, ticks), the PNG/SVG exports and the
meeting pack all format through this module, so one metric reads the same everywhere:

* a metric's decimals are fixed per metric (``Metric.decimals`` in the registry, else its unit's
  default in :data:`UNIT_DECIMALS`), never chosen by the value;
* shares are percentages, counts and currency have thousands separators, currency is yuan (¥);
* p-values read "< 0.001" below 0.001, else three significant digits ("0.0123", "0.450");
* hazard ratios have two decimals, axis ticks of a ratio keep their leading zero ("0.3", not "3").
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

from metrics.model.i18n import t

# decimals of a value in its unit as shown (shares as percentages), unless the metric says otherwise
UNIT_DECIMALS: dict[str, int] = {
    "share": 1,
    "share_per_month": 2,
    "points": 1,
    "score_1_5": 2,
    "score_1_7": 2,
    "hours": 1,
    "per_1000_customer_months": 1,
    "currency": 0,
    "customers": 0,
    "tickets": 0,
    "answers": 0,
    "minutes": 1,
    "score_0_100": 0,
    "visits": 0,
}
PERCENT_UNITS = ("share", "share_per_month")
P_FLOOR = 0.001


def missing(value: object) -> bool:
    """None, NaN or not a number at all."""
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def decimals(unit: str, metric: object = None) -> int:
    """The decimals of ``unit`` as shown; ``metric`` (a registry Metric or its id) may fix its own."""
    if isinstance(metric, str):
        from metrics.model.registry import BY_ID

        metric = BY_ID.get(metric)
    own = getattr(metric, "decimals", None)
    return own if own is not None else UNIT_DECIMALS.get(unit, 1)


def number(value: float, digits: int = 0, signed: bool = False) -> str:
    """``value`` with thousands separators and ``digits`` decimals ("12,345.6"); unsigned, "-0.0"
    reads "0.0"; ``signed`` always shows the sign of the change ("+0.0" for a tiny rise)."""
    # half away from zero on the value as written to 12 digits: 100 × 0.9225 (92.24999…) reads 92.3%,
    # as in Excel, not 92.2%
    if not math.isfinite(value):
        return "—"
    rounded = Decimal(f"{value:.12g}").quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    text = f"{rounded:{'+' if signed else ''},.{digits}f}"
    if not signed and text.startswith("-") and text.strip("-0.,") == "":
        text = text[1:]
    return text


def fmt_value(value: float | None, unit: str, lang: str = "zh", digits: int | None = None) -> str:
    """A value in its unit as a manager reads it: shares as percentages ("92.3%"), currency in yuan
    ("¥55,166,188"), hours with their unit ("3.2 小时"), counts with separators; "—" when missing.
    ``digits`` fixes the decimals (the metric's: :func:`fmt_metric`), else the unit's default."""
    if missing(value):
        return "—"
    value = float(value)
    d = UNIT_DECIMALS.get(unit, 1) if digits is None else digits
    if unit in PERCENT_UNITS:
        return f"{number(100 * value, d)}%"
    if unit == "currency":
        return f"{'-' if value < 0 and round(value, d) != 0 else ''}¥{number(abs(value), d)}"
    if unit == "hours":
        return f"{number(value, d)} {t('unit.hours', lang)}"
    return number(value, d)


def fmt_metric(value: float | None, metric_id: str, lang: str = "zh") -> str:
    """:func:`fmt_value` with the metric's unit and decimals."""
    from metrics.model.registry import get

    m = get(metric_id)
    return fmt_value(value, m.unit, lang, decimals(m.unit, m))


def fmt_delta(delta: float | None, unit: str, digits: int | None = None) -> str | None:
    """The change as text for st.metric and tables: percentage points for shares ("+1.2 pp"), signed
    counts and yuan with separators ("+4,259"); None when missing."""
    if missing(delta):
        return None
    delta = float(delta)
    d = UNIT_DECIMALS.get(unit, 1) if digits is None else digits
    if unit in PERCENT_UNITS:
        return f"{number(100 * delta, d, signed=True)} pp"
    return number(delta, d, signed=True)


def fmt_count(n: float | None) -> str:
    """A whole count with thousands separators ("12,345")."""
    return "—" if missing(n) else number(float(n), 0)


def fmt_percent(share: float | None, digits: int = 1, signed: bool = False) -> str:
    """A share 0–1 as a percentage with ``digits`` decimals ("25%", "92.3%")."""
    return "—" if missing(share) else f"{number(100 * float(share), digits, signed)}%"


def fmt_p(p: float | None) -> str:
    """A p-value: "< 0.001" below 0.001, else three significant digits ("0.0123", "0.450", "1.00")."""
    if missing(p):
        return "—"
    p = float(p)
    if p < P_FLOOR:
        return f"< {P_FLOOR:g}"
    return f"{p:#.3g}".rstrip(".")


def fmt_ratio(x: float | None, digits: int = 2) -> str:
    """A hazard (or other) ratio with ``digits`` decimals and its leading zero ("0.42", "3.10")."""
    return "—" if missing(x) else f"{float(x):.{digits}f}"


def fmt_tick(x: float) -> str:
    """An axis tick as short as it is exact: "0.3", "1", "2.5", "10" (never "3" for 0.3)."""
    return f"{x:,.6g}"


def fmt_interval(
    lower: float | None, upper: float | None, unit: str, lang: str = "zh", digits: int | None = None
) -> str:
    """ "90.1% – 94.2%"; "—" when either bound is missing."""
    if missing(lower) or missing(upper):
        return "—"
    return f"{fmt_value(lower, unit, lang, digits)} – {fmt_value(upper, unit, lang, digits)}"


def target_label(target: float, unit: str, lang: str = "zh", digits: int | None = None) -> str:
    """The label of a target line: "目标 95%" / "Target 95%" (a whole-number target without decimals)."""
    d = UNIT_DECIMALS.get(unit, 1) if digits is None else digits
    k = 100.0 if unit in PERCENT_UNITS else 1.0
    shown = round(k * target, d)
    if shown == round(shown):  # 95%, not 95.0%
        d = 0
    return t("chart.target_line", lang, value=fmt_value(target, unit, lang, d))


def d3_format(unit: str, digits: int | None = None) -> str:
    """The d3 format of a value *as plotted* (shares ×100) for plotly hover and tick text."""
    d = UNIT_DECIMALS.get(unit, 1) if digits is None else digits
    return f",.{d}f"


# an axis's tick labels in d3: thousands separators, no trailing zeros ("0.3", "1,200") — :func:`fmt_tick`
TICK_D3 = ",~f"


def hover(axis: str, unit: str, digits: int | None = None) -> str:
    """A plotly hover placeholder of ``axis`` ("x", "y", "z", "customdata[0]") in the value's format *as
    plotted* (shares ×100 with their "%"): ``%{x:,.1f}%``."""
    return f"%{{{axis}:{d3_format(unit, digits)}}}" + ("%" if unit in PERCENT_UNITS else "")


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
