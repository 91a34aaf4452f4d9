"""Where a KPI is heading, on its Overview card (issue 17 item 3): the plain line for the current
period ("2026年第4季度：可能达不到目标，达到 95% 的概率为 23%") and, behind a lazy expander, the fan chart
with the model, the back-test and how the verdicts are drawn. The forecast and the back-test are
engine calls cached by the data version (:meth:`servicewatch.ui.View.call`); the back-test (a fit per
origin) and the chart run only when the expander is opened."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics.analysis import forecast as fcast
from metrics.analysis import forecast_backtest
from metrics.model.i18n import t
from metrics.model.registry import get
from metrics.present import forecast_text as ft
from metrics.present.charts import forecast as fan_chart
from metrics.present.markup import md
from servicewatch.ui import View, chart


def forecast_for(view: View, metric_id: str) -> fcast.Forecast | None:
    """The metric's forecast for the page's slices (cached), or None when it has no target under
    the filters (only KPIs with a target are forecast on the cards) or the request was refused."""
    if view.target(metric_id) is None:
        return None
    out = view.call(fcast.forecast, metric_id, view.filters)
    return out if isinstance(out, fcast.Forecast) else None


def chart_data(fc: fcast.Forecast, lang: str) -> pd.DataFrame:
    """The fan chart's numbers for its downloads: the actual months, then the forecast months with
    their 80% and 95% intervals (``lower``/``upper``: 95%)."""
    actual = fc.history[["month", "value"]].assign(series=t("forecast.chart.actual", lang))
    ahead = fc.months.rename(columns={"lower95": "lower", "upper95": "upper"}).assign(
        series=t("forecast.chart.median", lang))
    cols = ["month", "series", "value", "lower80", "upper80", "lower", "upper"]
    return pd.concat([actual, ahead], ignore_index=True).reindex(columns=cols)


def card_forecast(view: View, metric_id: str) -> None:
    """Inside a KPI card: the forecast line, and the fan chart behind the expander "走势预测"."""
    fc = forecast_for(view, metric_id)
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
                            view.subtitle(f=view.filters), target=target)
        chart(view, fig, chart_data(fc, view.lang), f"overview_forecast_{metric_id}", metrics=metric_id)
        for i in range(len(fc.periods)):
            st.markdown(md(ft.period_sentence(fc, view.metric_label(metric_id), view.lang, i)))
        summary = view.call(forecast_backtest.backtest, metric_id, view.filters)
        notes = [ft.model_line(fc, view.lang)]
        if isinstance(summary, dict):
            notes.append(ft.backtest_line(summary, metric_id, view.lang))
        notes.append(ft.calibration_line(fc, view.lang))
        notes += [ft.thresholds_line(view.lang), view.t("forecast.method")]
        st.caption("  \n".join(md(n) for n in notes))
