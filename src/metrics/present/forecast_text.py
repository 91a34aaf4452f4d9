"""A forecast in words (catalogue ``forecast.*``, Chinese first): the card's line "可能达不到目标：达到
95% 的概率为 23%" / "likely to miss: 23% chance of reaching 95%", the pack's sentence with the
intervals, the model and the back-test, and the reason when there is no forecast.

The verdict's thresholds are :data:`metrics.analysis.forecast.LIKELY`. A probability is shown in
whole percent; below 1% as "<1%" and above 99% as ">99%" (4,000 simulated paths cannot say 0 or 100).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from metrics.analysis.forecast import LIKELY, Forecast
from metrics.analysis.forecast_models import CALIBRATION_MIN, MIN_MONTHS
from metrics.model.i18n import t
from metrics.present.formatting import fmt_metric, fmt_percent, fmt_value, target_label


def fmt_chance(p: float) -> str:
    """A probability 0–1 as "23%", "<1%", ">99%"; "—" when unknown."""
    if p is None or pd.isna(p):
        return "—"
    if p < 0.005:
        return "<1%"
    if p > 0.995:
        return ">99%"
    return f"{round(100 * float(p))}%"


def period_name(start: pd.Timestamp, kind: str, lang: str) -> str:
    """"2026年第4季度" / "2026 Q4", "2026年10月" / "2026-10"."""
    start = pd.Timestamp(start)
    if kind == "month":
        return t("forecast.period.month", lang, year=start.year, month=start.month)
    return t("forecast.period.quarter", lang, year=start.year, q=(start.month - 1) // 3 + 1)


def _target_text(target: float, metric_id: str, lang: str) -> str:
    from metrics.model.registry import get

    m = get(metric_id)
    # "95%" rather than "95.0%" when it is whole, as on the chart's target line
    label = target_label(target, m.unit, lang)
    return label.split(" ", 1)[-1] if " " in label else fmt_metric(target, metric_id, lang)


def reason_text(fc: Forecast, lang: str) -> str:
    """Why there is no forecast (``forecast.reason.*``)."""
    return t(f"forecast.reason.{fc.reason}", lang, months=len(fc.history), min=MIN_MONTHS, metric=fc.metric)


def _chance(row: Mapping, fc: Forecast, lang: str) -> str:
    side = "higher" if fc.higher_is_better else "lower"
    return t(f"forecast.chance.{side}", lang, p=fmt_chance(row["p_meet"]),
             target=_target_text(float(row["target"]), fc.metric, lang))


def card_line(fc: Forecast, lang: str, period: int = 0, named: bool = False) -> str:
    """The line on a KPI card for the ``period``-th period (0: the current one): "likely to miss:
    23% chance of reaching 95%" (``named``: "2026 Q4: likely to miss: …"); without a target the
    forecast and its 80% interval; the reason when there is no forecast."""
    if fc.reason:
        return reason_text(fc, lang)
    row = fc.periods.iloc[period]
    if row["verdict"] == "no_target":
        return t("forecast.no_target_line", lang, period=period_name(row["start"], fc.kind, lang),
                 value=fmt_metric(row["value"], fc.metric, lang), lower=fmt_metric(row["lower80"], fc.metric, lang),
                 upper=fmt_metric(row["upper80"], fc.metric, lang))
    verdict = t(f"forecast.verdict.{row['verdict']}", lang)
    if named:
        return t("forecast.period_line", lang, period=period_name(row["start"], fc.kind, lang), verdict=verdict,
                 chance=_chance(row, fc, lang))
    return t("forecast.line", lang, verdict=verdict, chance=_chance(row, fc, lang))


def period_sentence(fc: Forecast, metric_label: str, lang: str, period: int = 0) -> str:
    """The pack's sentence for one period: the forecast with its 80% and 95% intervals, the months
    already known, the verdict and the chance of meeting the target; the reason when there is none."""
    if fc.reason:
        return t("forecast.labelled", lang, metric=metric_label, text=reason_text(fc, lang))
    row = fc.periods.iloc[period]
    fmt = {c: fmt_metric(row[c], fc.metric, lang) for c in ("value", "lower80", "upper80", "lower95", "upper95")}
    name = period_name(row["start"], fc.kind, lang)
    if row["known"]:
        name += t("forecast.known", lang, k=int(row["known"]))
    words = {"metric": metric_label, "period": name, "value": fmt["value"], "lower": fmt["lower80"],
             "upper": fmt["upper80"], "lower95": fmt["lower95"], "upper95": fmt["upper95"]}
    if row["verdict"] == "no_target":
        return t("forecast.sentence_no_target", lang, **words)
    return t("forecast.sentence", lang, verdict=t(f"forecast.verdict.{row['verdict']}", lang),
             chance=_chance(row, fc, lang), **words)


# the candidate models (metrics.analysis.forecast_models.CANDIDATES) -> their names in the catalogue
MODEL_NAMES = {"ETS(A,N,N)": "ses", "ETS(A,Ad,N)": "damped", "ARIMA(1,0,0)": "ar1"}


def model_line(fc: Forecast, lang: str) -> str:
    """"Model: ETS(A,N,N), simple exponential smoothing (smallest AICc of three candidates), fitted
    on 30 months"; the Chinese line names the model in words."""
    key = MODEL_NAMES.get(fc.model)
    model = t(f"forecast.model_name.{key}", lang) if key else fc.model
    return t("forecast.model", lang, model=model, months=len(fc.history))


def calibration_line(fc: Forecast, lang: str) -> str:
    """How the bands were drawn: calibrated on the series' own back-test (how many origins, the next
    month's widening), or the model's own bands when the history is too short to calibrate."""
    if fc.calibration_n and fc.widen:
        widen = f"{fc.widen[0]:.2f}".rstrip("0").rstrip(".")
        return t("forecast.calibration.calibrated", lang, n=fc.calibration_n, widen=widen)
    return t("forecast.calibration.model_band", lang, months=MIN_MONTHS + CALIBRATION_MIN)


def backtest_line(summary: Mapping[str, float], metric_id: str, lang: str) -> str:
    """The back-test in one line: MAE (in the metric's unit), MAPE, the coverage of the 80% and 95%
    bands and the number of points; or that the history is too short for one."""
    if not summary.get("n"):
        return t("forecast.backtest_none", lang, min=MIN_MONTHS)
    from metrics.model.registry import get

    unit = get(metric_id).unit
    mae = fmt_value(summary["mae"], unit, lang)
    if unit == "share":  # an error of a share reads in percentage points
        mae = f"{100 * summary['mae']:.1f} pp"
    return t("forecast.backtest", lang, n=int(summary["n"]), mae=mae, mape=fmt_percent(summary["mape"]),
             cover80=fmt_percent(summary["cover80"], 0), cover95=fmt_percent(summary["cover95"], 0))


def thresholds_line(lang: str) -> str:
    """How the verdicts are drawn: "likely to meet" at ≥ 75%, "likely to miss" at ≤ 25%."""
    return t("forecast.thresholds", lang, hi=round(100 * LIKELY), lo=round(100 * (1 - LIKELY)))
