"""The fan chart of a forecast (:mod:`metrics.analysis.forecast`): the months of history as a line,
the forecast median dashed from the last known month on, its 80% band darker inside the 95% band, the
target as the dashed red line labelled "目标 95%", and a shaded span over the forecast months. Lines
zoom like :func:`metrics.present.charts.core.trend` (the axis title says when it leaves 0 out)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from metrics.model.i18n import t
from metrics.present import theme
from metrics.present.charts.core import LABEL_FONT, add_target, base_layout, label_text, month_value_axes, unit_scale

BAND80 = "rgba(31,78,156,0.30)"
BAND95 = "rgba(31,78,156,0.13)"


def _band(x: list, lower: list, upper: list, colour: str, name: str) -> go.Scatter:
    return go.Scatter(x=x + x[::-1], y=upper + lower[::-1], mode="lines", fill="toself", fillcolor=colour,
                      line={"width": 0},
                      hoverinfo="skip", name=name, showlegend=True)


def fan(history: pd.DataFrame, months: pd.DataFrame, unit: str, lang: str, title: str, subtitle: str,
        target: float | None = None, digits: int | None = None) -> go.Figure:
    """``history`` (month, value) as the actual line; ``months`` (month, value, lower80, upper80,
    lower95, upper95) as the median joined to the last actual month and its 80% and 95% bands;
    ``target`` (the metric's unit, shares 0–1) as a labelled dashed line. Values are in the metric's
    unit (shares 0–1, plotted as percentages); the last actual and the last median are labelled."""
    k = unit_scale(unit)
    fig = go.Figure()
    h = history.sort_values("month")
    hx, hy = list(pd.to_datetime(h["month"])), [k * float(v) for v in h["value"]]
    drawn: list[float] = list(hy)
    if len(months):
        m = months.sort_values("month")
        # the bands and the median start at the last actual month, so the fan opens from the line
        x = hx[-1:] + list(pd.to_datetime(m["month"]))
        first = hy[-1:]
        cols = {c: first + [k * float(v) for v in m[c]] for c in ("value", "lower80", "upper80", "lower95", "upper95")}
        fig.add_trace(_band(x, cols["lower95"], cols["upper95"], BAND95, t("forecast.chart.band95", lang)))
        fig.add_trace(_band(x, cols["lower80"], cols["upper80"], BAND80, t("forecast.chart.band80", lang)))
        shown = label_text(m["value"], unit, lang, digits)
        fig.add_trace(go.Scatter(
            x=x, y=cols["value"], mode="lines+markers+text", name=t("forecast.chart.median", lang),
            line={"color": theme.PRIMARY, "width": 2.5, "dash": "dash"},
            text=[""] * len(shown) + [shown[-1]], textposition="top center",
            textfont={**LABEL_FONT, "color": theme.PRIMARY}, cliponaxis=False,
            hovertext=[""] + shown, hoverinfo="x+text"))
        fig.add_vrect(x0=x[0], x1=x[-1], fillcolor="rgba(0,0,0,0.03)", line_width=0, layer="below")
        drawn += cols["lower95"] + cols["upper95"]
    actual = label_text(h["value"], unit, lang, digits)
    fig.add_trace(go.Scatter(
        x=hx, y=hy, mode="lines+markers+text", name=t("forecast.chart.actual", lang),
        line={"color": theme.PRIMARY, "width": 2.5}, text=[""] * (len(actual) - 1) + actual[-1:],
        textposition="top center", textfont={**LABEL_FONT, "color": theme.PRIMARY}, cliponaxis=False,
        hovertext=actual, hoverinfo="x+text"))
    if target is not None and np.isfinite(target):
        add_target(fig, target, unit, lang, digits=digits)
        drawn.append(k * target)
    every = hx + (list(pd.to_datetime(months["month"])) if len(months) else [])
    month_value_axes(fig, drawn, unit, lang, every)
    return base_layout(fig, title, subtitle)
