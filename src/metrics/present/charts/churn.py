"""Churn charts: Kaplan–Meier retention curves with bands, and a forest plot of hazard ratios.

Pure functions over the engine's tidy frames (``metrics.churn.survival`` curves, ``churn_store`` terms).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from metrics.model.i18n import t
from metrics.present import theme
from metrics.present.charts.core import base_layout, chart_names

DAYS_PER_MONTH = 365.25 / 12


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def retention_curves(curves: pd.DataFrame, dim: str, lang: str, title: str, subtitle: str,
                     region_names: Mapping[int, str] | None = None) -> go.Figure:
    """One step line per group (survival in %, tenure in months), its 95% band shaded."""
    fig = go.Figure()
    groups = theme.order(dim, curves["group"].unique()) if len(curves) else []
    names = dict(zip(groups, chart_names(dim, groups, lang, region_names), strict=True)) if dim != "all" else {}
    for i, g in enumerate(groups):
        d = curves[curves["group"] == g]
        x = np.concatenate([[0.0], d["time_days"].to_numpy(float) / DAYS_PER_MONTH])
        y, lo, hi = (np.concatenate([[100.0], 100 * d[c].to_numpy(float)]) for c in ("survival", "lower", "upper"))
        colour = theme.colour(dim, g, i)
        name = names.get(g, t("filter.all", lang))
        fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([hi, lo[::-1]]), fill="toself",
                                 fillcolor=_rgba(colour, 0.15), line={"width": 0, "shape": "hv"}, hoverinfo="skip",
                                 showlegend=False, legendgroup=str(g)))
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, line={"color": colour, "shape": "hv", "width": 2},
                                 legendgroup=str(g), customdata=[str(g)] * len(x),
                                 hovertemplate=f"{name}<br>%{{x:.1f}} · %{{y:.1f}}%<extra></extra>"))
    base_layout(fig, title, subtitle, height=460)
    fig.update_xaxes(title=t("churn.axis_months", lang), rangemode="tozero")
    fig.update_yaxes(title=t("churn.axis_survival", lang) + " (%)", range=[0, 101])
    return fig


def forest(terms: pd.DataFrame, lang: str, title: str, subtitle: str) -> go.Figure:
    """Hazard ratios with 95% intervals on a log axis, a line at 1; red when the interval is above 1,
    green below, grey when it includes 1. ``terms``: term, hr, hr_lower, hr_upper."""
    d = terms.iloc[::-1]
    labels = [t(f"churn.term.{x}", lang) for x in d["term"]]
    colours = [theme.STATUS["red"] if lo > 1 else theme.STATUS["green"] if hi < 1 else theme.NEUTRAL
               for lo, hi in zip(d["hr_lower"], d["hr_upper"], strict=True)]
    fig = go.Figure(go.Scatter(
        x=d["hr"], y=labels, mode="markers", marker={"color": colours, "size": 9},
        error_x={"type": "data", "symmetric": False, "array": d["hr_upper"] - d["hr"],
                 "arrayminus": d["hr"] - d["hr_lower"], "color": "#555"},
        customdata=d["term"], hovertemplate="%{y}: %{x:.2f}<extra></extra>", showlegend=False))
    fig.add_vline(x=1, line={"color": "#333", "dash": "dash", "width": 1})
    base_layout(fig, title, subtitle, height=max(320, 32 * len(d) + 120))
    fig.update_xaxes(type="log", title=t("churn.axis_hr", lang))
    fig.update_layout(margin={"l": 240})
    return fig


def monthly_spend(spend: pd.DataFrame, lang: str, title: str, subtitle: str) -> go.Figure:
    """One customer's monthly spend (``metrics.analysis.customer_history.spend``: month, revenue) as bars."""
    fig = go.Figure(go.Bar(x=spend["month"], y=spend["revenue"], marker={"color": theme.NEUTRAL},
                           hovertemplate="%{x|%Y-%m} · %{y:,.0f}<extra></extra>"))
    base_layout(fig, title, subtitle, height=360)
    fig.update_xaxes(title=None, tickformat="%Y-%m")
    fig.update_yaxes(title=t("page.at_risk.axis_spend", lang), rangemode="tozero")
    return fig
