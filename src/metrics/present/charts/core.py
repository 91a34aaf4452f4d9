"""Charts as small pure functions: a tidy frame in, a ``plotly.graph_objects.Figure`` out.

Every chart carries its title and the filter subtitle (so an exported image says what it shows),
units on its axes and the colours of :mod:`metrics.present.theme`. Shares are plotted as percentages.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from metrics.model.i18n import label, t
from metrics.present import theme
from metrics.present.markup import plot_text

PERCENT_UNITS = ("share", "share_per_month")


def is_percent(unit: str) -> bool:
    return unit in PERCENT_UNITS


def axis_title(unit: str, lang: str) -> str:
    return "%" if is_percent(unit) else t(f"unit.{unit}", lang)


def base_layout(fig: go.Figure, title: str, subtitle: str, height: int = 420) -> go.Figure:
    """Title with the filter subtitle under it, CJK-capable font, compact margins; both are text
    (names in them are shown, not rendered: :func:`metrics.present.markup.plot_text`)."""
    fig.update_layout(
        title={"text": f"{plot_text(title)}<br><sup>{plot_text(subtitle)}</sup>", "x": 0.01, "xanchor": "left"},
        font={"family": theme.FONT_FAMILY, "size": 13},
        margin={"l": 60, "r": 20, "t": 80, "b": 50},
        height=height,
        legend={"orientation": "h", "y": -0.18},
    )
    return fig


def unit_scale(unit: str) -> float:
    return 100.0 if is_percent(unit) else 1.0


def category_names(dim: str, values, lang: str, region_names: Mapping[int, str] | None = None) -> list[str]:
    if dim in ("region", "region_id"):
        names = region_names or {}
        return [names.get(int(v), str(v)) if pd.notna(v) else t("common.none", lang) for v in values]
    if dim in ("month", "week"):
        return [pd.Timestamp(v).strftime("%Y-%m" if dim == "month" else "%Y-%m-%d") for v in values]
    return [label(dim, v, lang) for v in values]


def chart_names(dim: str, values, lang: str, region_names: Mapping[int, str] | None = None) -> list[str]:
    """:func:`category_names` for a figure's ticks, legend, text and hover (escaped for plotly)."""
    return [plot_text(n) for n in category_names(dim, values, lang, region_names)]


def bar_ci(
    df: pd.DataFrame, dim: str, unit: str, lang: str, title: str, subtitle: str,
    region_names: Mapping[int, str] | None = None, target: float | None = None,
    horizontal: bool = True,
) -> go.Figure:
    """Bars of ``value`` per ``dim`` with 95% error bars (where lower/upper exist) and a target line."""
    col = "region_id" if dim == "region" else dim
    data = df.copy()
    if dim not in ("region", "month", "week"):
        data = data.set_index(col).loc[theme.order(dim, data[col].tolist())].reset_index()
    k = unit_scale(unit)
    names = chart_names(dim, data[col], lang, region_names)
    colours = [theme.colour(dim, v, i) for i, v in enumerate(data[col])] if theme.has_order(dim) else theme.PRIMARY
    err = None
    if data["lower"].notna().any():
        err = {"type": "data", "symmetric": False, "array": (k * (data["upper"] - data["value"])).tolist(),
               "arrayminus": (k * (data["value"] - data["lower"])).tolist(), "color": "#333", "thickness": 1.2}
    values = (k * data["value"]).tolist()
    hover = [f"{n}: {v:,.2f} (n={int(c):,})" for n, v, c in zip(names, values, data["n"].fillna(0), strict=True)]
    bar = go.Bar(
        x=values if horizontal else names, y=names if horizontal else values,
        orientation="h" if horizontal else "v", marker_color=colours,
        error_x=err if horizontal else None, error_y=None if horizontal else err,
        hovertext=hover, hoverinfo="text", customdata=data[col].astype(str).tolist(), name=plot_text(title),
    )
    fig = go.Figure(bar)
    if target is not None and np.isfinite(target):
        line = {"x0": k * target, "x1": k * target, "y0": 0, "y1": 1, "xref": "x", "yref": "paper"} if horizontal \
            else {"y0": k * target, "y1": k * target, "x0": 0, "x1": 1, "yref": "y", "xref": "paper"}
        fig.add_shape(type="line", line={"color": theme.STATUS["red"], "dash": "dash", "width": 2}, **line)
    value_axis = {"title": axis_title(unit, lang), "rangemode": "tozero"}
    if horizontal:
        fig.update_layout(xaxis=value_axis, yaxis={"autorange": "reversed"})
    else:
        fig.update_layout(yaxis=value_axis)
    return base_layout(fig, title, subtitle, height=max(320, 60 + 34 * len(data)) if horizontal else 420)


def trend(
    df: pd.DataFrame, unit: str, lang: str, title: str, subtitle: str, by: str | None = None,
    target: float | None = None, region_names: Mapping[int, str] | None = None,
) -> go.Figure:
    """Monthly line(s) with a 95% band (single series) and a dashed target line."""
    k = unit_scale(unit)
    fig = go.Figure()
    groups = [(None, df)] if by is None else [(g, d) for g, d in df.groupby(by, dropna=False, sort=False)]
    if by is not None:
        if theme.has_order(by):
            rank = {str(v): i for i, v in enumerate(theme.order(by, [g for g, _ in groups]))}
            groups = sorted(groups, key=lambda gd: rank[str(gd[0])])
        else:
            groups = sorted(groups, key=lambda gd: str(gd[0]))
    for i, (g, d) in enumerate(groups):
        d = d.sort_values("month")
        name = plot_text(title) if g is None else chart_names(by, [g], lang, region_names)[0]
        colour = theme.PRIMARY if g is None else theme.colour(by, g, i)
        if g is None and d["lower"].notna().any():
            fig.add_trace(go.Scatter(
                x=list(d["month"]) + list(d["month"])[::-1],
                y=list(k * d["upper"]) + list(k * d["lower"])[::-1], fill="toself",
                fillcolor="rgba(31,78,156,0.15)", line={"width": 0}, hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=d["month"], y=k * d["value"], mode="lines+markers", name=name,
                                 line={"color": colour, "width": 2.5}))
    if target is not None and np.isfinite(target):
        fig.add_hline(y=k * target, line={"color": theme.STATUS["red"], "dash": "dash"},
                      annotation_text=t("common.target", lang), annotation_position="top left")
    fig.update_layout(yaxis={"title": axis_title(unit, lang)},
                      xaxis={"title": t("common.month", lang), "tickformat": "%Y-%m", "dtick": "M1"})
    return base_layout(fig, title, subtitle)


def spark_values(df: pd.DataFrame, unit: str) -> list[float]:
    """A KPI card's monthly trend as the values ``st.metric(chart_data=…)`` draws, oldest first,
    in the unit shown on the card (shares as percentages). Drawn by Streamlit inside the card, it
    costs the browser far less than a plotly chart per card (docs/performance.md)."""
    d = df.sort_values("month")
    return [round(unit_scale(unit) * float(v), 4) for v in d["value"] if pd.notna(v)]


def funnel(
    df: pd.DataFrame, overall: float, limits: pd.DataFrame, unit: str, lang: str, title: str, subtitle: str,
    region_names: Mapping[int, str], higher_is_better: bool = False,
) -> go.Figure:
    """Funnel plot: each region's rate against its exposure, with 95% and 99.8% control limits.

    ``df``: region_id, value, exposure; ``limits``: exposure, lo95, hi95, lo998, hi998. Points
    outside the 95% limits are red on the bad side and green on the good side.
    """
    fig = go.Figure()
    for lo, hi, dash, name in (("lo95", "hi95", "dash", "95%"), ("lo998", "hi998", "dot", "99.8%")):
        for col in (lo, hi):
            fig.add_trace(go.Scatter(x=limits["exposure"], y=limits[col], mode="lines", name=name,
                                     line={"color": theme.NEUTRAL, "dash": dash}, showlegend=col == lo,
                                     hoverinfo="skip"))
    fig.add_hline(y=overall, line={"color": theme.PRIMARY, "width": 1})
    above = df["value"] > np.interp(df["exposure"], limits["exposure"], limits["hi95"])
    below = df["value"] < np.interp(df["exposure"], limits["exposure"], limits["lo95"])
    worse, better = (below, above) if higher_is_better else (above, below)
    names = chart_names("region", df["region_id"], lang, region_names)
    fig.add_trace(go.Scatter(
        x=df["exposure"], y=df["value"], mode="markers+text", text=names, textposition="top center",
        marker={"size": 11, "color": np.where(worse, theme.STATUS["red"],
                                             np.where(better, theme.STATUS["green"], theme.PRIMARY))},
        customdata=df["region_id"].astype(str), name=plot_text(title), showlegend=False))
    fig.update_layout(xaxis={"title": t("unit.customer_months", lang), "type": "log"},
                      yaxis={"title": axis_title(unit, lang)})
    return base_layout(fig, title, subtitle, height=480)


def distribution(df: pd.DataFrame, score_col: str, lang: str, title: str, subtitle: str) -> go.Figure:
    """Bars of answer counts per score value (0–10 or 1–5), detractor/passive/promoter coloured for NPS."""
    d = df.sort_values(score_col)
    if score_col == "nps":
        colours = [theme.STATUS["red"] if s <= 6 else theme.STATUS["amber"] if s <= 8 else theme.STATUS["green"]
                   for s in d[score_col]]
    else:
        colours = [theme.STATUS["red"] if s <= 2 else theme.STATUS["amber"] if s == 3 else theme.STATUS["green"]
                   for s in d[score_col]]
    fig = go.Figure(go.Bar(x=d[score_col].astype(int), y=d["n"], marker_color=colours))
    fig.update_layout(xaxis={"title": t(f"score.{score_col}", lang), "dtick": 1},
                      yaxis={"title": t("unit.answers", lang)})
    return base_layout(fig, title, subtitle, height=360)
