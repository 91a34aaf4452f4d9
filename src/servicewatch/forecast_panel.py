"""Where a KPI is heading, on its Overview card and the pages' KPI cards (issue 17 item 3): the plain
line for the current period ("2026年第4季度：可能达不到目标，达到 95% 的概率为 23%") and, behind a lazy
expander, the fan chart with the model, the back-test and how the verdicts are drawn; and the fan after
the history on the pages' trend charts (:func:`trend_with_forecast`). The forecast and the back-test
are engine calls cached by the filters and the data version (:meth:`servicewatch.ui.View.call`), so
a card, a trend and the Overview under the same filters share one, and so do views whose filters differ
only in the period preset or the comparison (:func:`metrics.analysis.forecast.cache_filters`); the
back-test (a fit per origin) and the card's chart run only when the expander is opened."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics.analysis import forecast as fcast
from metrics.analysis import forecast_backtest
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.model.registry import get
from metrics.present import forecast_text as ft
from metrics.present.charts import core as core_charts
from metrics.present.charts import forecast as fan_chart
from metrics.present.markup import md
from servicewatch.ui import View, chart, empty_state

# a trend ending this much before the forecast's last complete month is drawn without the fan
PAST_GAP = pd.DateOffset(months=3)


def forecast_for(view: View, metric_id: str, f: Filters | None = None) -> fcast.Forecast | None:
    """The metric's forecast for the slices of ``f`` (default: the page's filters; cached by them and
    the data version), or None when it has no target under them (only KPIs with a target are
    forecast) or the request was refused."""
    f = view.filters if f is None else f
    if view.target(metric_id, f) is None:
        return None
    out = view.call(fcast.forecast, metric_id, fcast.cache_filters(f))  # shared by every period of a kind
    return out if isinstance(out, fcast.Forecast) else None


def fan_supported(metric_id: str) -> bool:
    """Whether a trend of ``metric_id`` gets the forecast fan: rates, shares and NPS (the bounded
    metrics the forecast models on a scale that keeps them in range); not counts, sums or times."""
    m = get(metric_id)
    return m.unit == "share" or m.kind in ("rate", "nps")


def chart_data(fc: fcast.Forecast, lang: str, history: pd.DataFrame | None = None) -> pd.DataFrame:
    """The fan chart's numbers for its downloads: the actual months (``history``, default the
    forecast's own), then the forecast months with their 80% and 95% intervals (``lower``/``upper``:
    95%)."""
    history = fc.history if history is None else history
    actual = history[["month", "value"]].assign(series=t("forecast.chart.actual", lang))
    ahead = fc.months.rename(columns={"lower95": "lower", "upper95": "upper"}).assign(
        series=t("forecast.chart.median", lang))
    cols = ["month", "series", "value", "lower80", "upper80", "lower", "upper"]
    return pd.concat([actual, ahead], ignore_index=True).reindex(columns=cols)


def card_forecast(view: View, metric_id: str, f: Filters | None = None) -> None:
    """Inside a KPI card: the forecast line, and the fan chart behind the expander "走势预测" (``f``:
    the card's filters, default the page's)."""
    f = view.filters if f is None else f
    fc = forecast_for(view, metric_id, f)
    if fc is None:
        return
    line = ft.card_line(fc, view.lang, named=True)
    st.caption(md(line))
    if fc.reason:
        return
    box = st.expander(view.t("forecast.title"), key=f"forecast_open_{metric_id}", on_change="rerun",
                      icon=":material/trending_up:")
    if not box.open:  # nothing is computed or sent for a closed expander
        return
    with box:
        first = fc.periods.iloc[0]
        target = None if pd.isna(first["target"]) else float(first["target"])
        title = view.t("forecast.chart.title", metric=view.metric_label(metric_id))
        fig = fan_chart.fan(fc.history, fc.months, get(metric_id).unit, view.lang, title,
                            view.subtitle(f=f), target=target)
        chart(view, fig, chart_data(fc, view.lang), f"overview_forecast_{metric_id}", metrics=metric_id, f=f)
        for i in range(len(fc.periods)):
            st.markdown(md(ft.period_sentence(fc, view.metric_label(metric_id), view.lang, i)))
        summary = view.call(forecast_backtest.backtest, metric_id, fcast.cache_filters(f))
        notes = [ft.model_line(fc, view.lang)]
        if isinstance(summary, dict):
            notes.append(ft.backtest_line(summary, metric_id, view.lang))
        notes.append(ft.calibration_line(fc, view.lang))
        notes += [ft.thresholds_line(view.lang), view.t("forecast.method")]
        st.caption("  \n".join(md(n) for n in notes))


def trend_with_forecast(view: View, metric_id: str, title: str, trend_f: Filters, f: Filters | None = None, *,
                        key: str, target: float | None = None, frame: pd.DataFrame | None = None) -> bool:
    """A page's trend of ``metric_id`` by month within ``trend_f`` (``frame``: that, when the page has
    it) with, after its last complete month, the fan of the forecast for the slices of ``f`` (default:
    the page's filters; the same cached engine call as the Overview's card): the median, its 80% and 95%
    bands and the ``target`` line, a note saying how the bands were drawn, the downloads and the control
    chart's button. Without a forecast (a metric the fan does not cover, no target, a history too short),
    or for a period ending over a quarter before the forecast's last complete month, the plain trend (as
    :func:`servicewatch.panels.trend` draws it). Returns whether the fan was drawn."""
    from servicewatch.control_link import control_button  # the metric's control chart on the Alerts page

    f = view.filters if f is None else f
    fc = forecast_for(view, metric_id, f) if fan_supported(metric_id) else None
    frame = view.metric(metric_id, ("month",), f=trend_f) if frame is None else frame
    if frame.empty:
        empty_state(view)
        return False
    past = (fc is not None and not fc.reason and not fc.history.empty
            and pd.to_datetime(frame["month"]).max() < pd.Timestamp(fc.history["month"].max()) - PAST_GAP)
    if fc is None or fc.reason or fc.months.empty or past:  # the plain trend, as servicewatch.panels.trend draws it
        # (past: a period that ends over a quarter before the forecast's last complete month, whose
        # fan would open after a gap of months the trend does not show)
        fig = core_charts.trend(frame, get(metric_id).unit, view.lang, title, view.subtitle(f=trend_f), target=target)
        chart(view, fig, frame, key, metrics=metric_id, f=trend_f)
        control_button(view, metric_id, key)
        return False
    last = pd.Timestamp(fc.history["month"].max())  # the fan opens after the last complete month
    history = frame[pd.to_datetime(frame["month"]) <= last]
    if history.empty:
        history = fc.history.tail(12)
    fig = fan_chart.fan(history, fc.months, get(metric_id).unit, view.lang, title, view.subtitle(f=trend_f),
                        target=target)
    chart(view, fig, chart_data(fc, view.lang, history), key, metrics=metric_id, f=trend_f)
    st.caption(md(view.t("forecast.trend.note", months=len(fc.months),
                         calibration=ft.calibration_line(fc, view.lang))))
    control_button(view, metric_id, key)
    return True
