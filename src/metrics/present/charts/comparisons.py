"""More chart functions for the SLA, churn and data pages; same conventions as :mod:`.charts`:
a tidy frame in, a titled ``go.Figure`` out, subtitle under the title, units on the axes."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from metrics.model.i18n import t
from metrics.present import theme
from metrics.present.charts.core import base_layout, chart_names


def tier_service(df: pd.DataFrame, dim: str, lang: str, title: str, subtitle: str) -> go.Figure:
    """Left: median and p90 resolution hours per tier; right: resolution compliance (%) with 95%
    intervals. ``df`` is :func:`metrics.analysis.sla.service_by` (already in ladder order)."""
    names = chart_names(dim, df[dim], lang)
    colours = [theme.colour(dim, v, i) for i, v in enumerate(df[dim])]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=(t("page.sla.hours_panel", lang), t("page.sla.compliance_panel", lang)))
    fig.add_trace(go.Bar(x=names, y=df["median_hours"], name=t("page.sla.median", lang), marker_color=colours,
                         text=[f"{v:.1f}" for v in df["median_hours"]], textposition="outside",
                         customdata=df[dim].astype(str).tolist()), 1, 1)
    fig.add_trace(go.Bar(x=names, y=df["p90_hours"], name=t("page.sla.p90", lang), marker_color=colours,
                         marker_pattern_shape="/", opacity=0.55,
                         text=[f"{v:.0f}" for v in df["p90_hours"]], textposition="outside"), 1, 1)
    err = {"type": "data", "symmetric": False, "array": (100 * (df["compliance_upper"] - df["compliance"])).tolist(),
           "arrayminus": (100 * (df["compliance"] - df["compliance_lower"])).tolist(), "color": "#333"}
    fig.add_trace(go.Bar(x=names, y=100 * df["compliance"], error_y=err, marker_color=colours,
                         name=t("page.sla.compliance", lang), showlegend=False,
                         text=[f"{100 * v:.1f}%" for v in df["compliance"]], textposition="inside",
                         insidetextanchor="start"), 1, 2)
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text=t("unit.hours", lang), rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="%", range=[max(0, 100 * df["compliance_lower"].min() - 10), 100], row=1, col=2)
    return base_layout(fig, title, subtitle, height=440)


def against_targets(df: pd.DataFrame, dim: str, lang: str, title: str, subtitle: str, digits: int = 2) -> go.Figure:
    """Value and target per category as dots (%), a value below its target in red.

    ``df``: ``dim``, ``value``, ``target`` (shares 0–1), as from :func:`metrics.analysis.sla.availability_vs_target`.
    """
    names = chart_names(dim, df[dim], lang)
    below = df["value"] < df["target"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=names, y=100 * df["target"], mode="markers", name=t("common.target", lang),
                             marker={"symbol": "line-ew-open", "size": 40, "line": {"width": 3},
                                     "color": theme.STATUS["red"]}))
    fig.add_trace(go.Scatter(
        x=names, y=100 * df["value"], mode="markers+text", name=t("common.value", lang),
        text=[f"{100 * v:.{digits}f}%" for v in df["value"]], textposition="middle right",
        marker={"size": 16, "color": [theme.STATUS["red"] if b else theme.colour(dim, v, i)
                                      for i, (v, b) in enumerate(zip(df[dim], below, strict=True))]},
        customdata=df[dim].astype(str).tolist()))
    lo = 100 * min(df["value"].min(), df["target"].min())
    fig.update_layout(yaxis={"title": "%", "range": [lo - (100 - lo) * 0.6, 100], "ticksuffix": "%"},
                      xaxis={"title": t(f"page.tables.{dim}", lang)})
    return base_layout(fig, title, subtitle, height=380)


def ranked_bars(df: pd.DataFrame, dim: str, lang: str, title: str, subtitle: str, unit: str,
                share_col: str | None = None) -> go.Figure:
    """Horizontal bars of ``n`` per category, largest on top, labelled with the share if given."""
    d = df.sort_values("n", ascending=False)
    names = chart_names(dim, d[dim], lang)
    text = [f"{int(n):,} ({100 * s:.0f}%)" for n, s in zip(d["n"], d[share_col], strict=True)] if share_col \
        else [f"{int(n):,}" for n in d["n"]]
    fig = go.Figure(go.Bar(x=d["n"], y=names, orientation="h", text=text, textposition="auto",
                           marker_color=[theme.colour(dim, v, i) for i, v in enumerate(d[dim])],
                           customdata=d[dim].astype(str).tolist()))
    fig.update_layout(xaxis={"title": t(f"unit.{unit}", lang), "rangemode": "tozero"},
                      yaxis={"autorange": "reversed"})
    return base_layout(fig, title, subtitle, height=max(300, 90 + 40 * len(d)))
