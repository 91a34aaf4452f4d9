"""More chart functions for the SLA, churn and data pages; same conventions as :mod:`.charts`:
a tidy frame in, a titled ``go.Figure`` out, subtitle under the title, units on the axes."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from metrics.model.i18n import t
from metrics.present import formatting as fmt
from metrics.present import theme
from metrics.present.charts.core import LABEL_FONT, axis_title, base_layout, chart_names, value_range


def tier_service(df: pd.DataFrame, dim: str, lang: str, title: str, subtitle: str) -> go.Figure:
    """Left: median and p90 resolution hours per tier; right: resolution compliance (%) with 95%
    intervals. ``df`` is :func:`metrics.analysis.sla.service_by` (already in ladder order). Bars
    start at 0 and carry their values (hours to 0.1, compliance in the metric's decimals)."""
    names = chart_names(dim, df[dim], lang)
    colours = [theme.colour(dim, v, i) for i, v in enumerate(df[dim])]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=(t("page.sla.hours_panel", lang), t("page.sla.compliance_panel", lang)))
    fig.add_trace(go.Bar(x=names, y=df["median_hours"], name=t("page.sla.median", lang), marker_color=colours,
                         text=[fmt.number(v, 1) for v in df["median_hours"]], textposition="outside",
                         textfont=LABEL_FONT, cliponaxis=False,
                         customdata=df[dim].astype(str).tolist()), 1, 1)
    fig.add_trace(go.Bar(x=names, y=df["p90_hours"], name=t("page.sla.p90", lang), marker_color=colours,
                         marker_pattern_shape="/", opacity=0.55,
                         text=[fmt.number(v, 1) for v in df["p90_hours"]], textposition="outside",
                         textfont=LABEL_FONT, cliponaxis=False), 1, 1)
    err = {"type": "data", "symmetric": False, "array": (100 * (df["compliance_upper"] - df["compliance"])).tolist(),
           "arrayminus": (100 * (df["compliance"] - df["compliance_lower"])).tolist(), "color": "#333"}
    fig.add_trace(go.Bar(x=names, y=100 * df["compliance"], error_y=err, marker_color=colours,
                         name=t("page.sla.compliance", lang), showlegend=False,
                         text=[fmt.fmt_value(v, "share", lang) for v in df["compliance"]], textposition="inside",
                         insidetextanchor="start", textfont={"size": 14, "color": "white"}), 1, 2)
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text=t("unit.hours", lang), rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="%", range=[0, 102], ticksuffix="%", row=1, col=2)
    return base_layout(fig, title, subtitle, height=440)


def against_targets(df: pd.DataFrame, dim: str, lang: str, title: str, subtitle: str,
                    digits: int | None = None) -> go.Figure:
    """Value and target per category as dots (%), each labelled, a value below its target in red; the
    axis from just under the lowest (a note says it does not start at 0). ``digits``: the decimals
    (default: availability's, :func:`metrics.present.formatting.decimals`).

    ``df``: ``dim``, ``value``, ``target`` (shares 0–1), as from :func:`metrics.analysis.sla.availability_vs_target`.
    """
    names = chart_names(dim, df[dim], lang)
    digits = fmt.decimals("share", "availability") if digits is None else digits
    below = df["value"] < df["target"]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=names, y=100 * df["target"], mode="markers+text", name=t("common.target", lang),
                             text=[fmt.target_label(v, "share", lang, digits) for v in df["target"]],
                             textposition="middle left", textfont={"size": 13, "color": theme.STATUS["red"]},
                             marker={"symbol": "line-ew-open", "size": 40, "line": {"width": 3},
                                     "color": theme.STATUS["red"]}))
    fig.add_trace(go.Scatter(
        x=names, y=100 * df["value"], mode="markers+text", name=t("common.value", lang),
        text=[fmt.fmt_value(v, "share", lang, digits) for v in df["value"]], textposition="middle right",
        textfont=LABEL_FONT,
        marker={"size": 16, "color": [theme.STATUS["red"] if b else theme.colour(dim, v, i)
                                      for i, (v, b) in enumerate(zip(df[dim], below, strict=True))]},
        customdata=df[dim].astype(str).tolist()))
    axis_range, not_zero = value_range(list(100 * df["value"]) + list(100 * df["target"]), "share")
    fig.update_layout(yaxis={"title": axis_title("share", lang, not_zero), "range": axis_range, "ticksuffix": "%"},
                      xaxis={"title": t(f"page.tables.{dim}", lang)})
    return base_layout(fig, title, subtitle, height=380)


def ranked_bars(df: pd.DataFrame, dim: str, lang: str, title: str, subtitle: str, unit: str,
                share_col: str | None = None) -> go.Figure:
    """Horizontal bars of ``n`` per category, largest on top, labelled with the share if given."""
    d = df.sort_values("n", ascending=False)
    names = chart_names(dim, d[dim], lang)
    text = [f"{fmt.fmt_count(n)} ({fmt.fmt_percent(s, 0)})" for n, s in zip(d["n"], d[share_col], strict=True)] \
        if share_col else [fmt.fmt_count(n) for n in d["n"]]
    fig = go.Figure(go.Bar(x=d["n"], y=names, orientation="h", text=text, textposition="outside",
                           textfont=LABEL_FONT, cliponaxis=False,
                           marker_color=[theme.colour(dim, v, i) for i, v in enumerate(d[dim])],
                           customdata=d[dim].astype(str).tolist()))
    fig.update_layout(xaxis={"title": t(f"unit.{unit}", lang), "range": [0, 1.25 * float(d["n"].max() or 1)],
                             "tickformat": ",~f"},
                      yaxis={"autorange": "reversed"})
    return base_layout(fig, title, subtitle, height=max(300, 90 + 40 * len(d)))
