"""Key-driver charts (issue 17 item 2): the drivers' importance as bars with their bootstrap
intervals, and importance × performance with the "fix first" (先改进) corner — high importance,
worse performance. Pure functions over the frames of :mod:`metrics.analysis.drivers` and
:func:`metrics.analysis.drivers_text.matrix`; importance is drawn as % of the score's variance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from metrics.model.i18n import t
from metrics.present import formatting as fmt
from metrics.present import theme
from metrics.present.charts.core import base_layout
from metrics.present.markup import plot_text

FIX_FILL = "rgba(198,40,40,0.08)"
SHARE_DIGITS = fmt.decimals("share")  # importance and performance: percentages as every share is shown


def _name(driver: str, lang: str) -> str:
    return plot_text(t(f"drivers.name.{driver}", lang))


def importance_bars(importance: pd.DataFrame, lang: str, title: str, subtitle: str) -> go.Figure:
    """Horizontal bars of importance (% of variance explained), strongest on top, with the 95%
    interval as error bars; a driver whose interval includes 0 is grey and says so in the legend."""
    fig = go.Figure()
    df = importance.iloc[::-1]  # plotly draws the first category at the bottom
    value = 100 * df["importance"].to_numpy(float)
    plus = 100 * df["upper"].to_numpy(float) - value
    minus = value - 100 * df["lower"].to_numpy(float)
    zero = df["includes_zero"].to_numpy(bool)
    names = [_name(d, lang) for d in df["driver"]]
    fig.add_trace(
        go.Bar(
            x=value,
            y=names,
            orientation="h",
            name=t("drivers.chart.importance_axis", lang),
            marker={"color": [theme.NEUTRAL if z else theme.PRIMARY for z in zero]},
            error_x={"type": "data", "array": plus, "arrayminus": minus, "color": "#444", "thickness": 1.2},
            text=[fmt.fmt_percent(v, SHARE_DIGITS) for v in df["importance"].to_numpy(float)],
            textposition="outside",
            cliponaxis=False,
            customdata=np.column_stack([100 * df["lower"].to_numpy(float), 100 * df["upper"].to_numpy(float)]),
            hovertemplate=f"%{{y}}: {fmt.hover('x', 'share')} ({fmt.hover('customdata[0]', 'share')} – "
            f"{fmt.hover('customdata[1]', 'share')})<extra></extra>",
            showlegend=False,
        )
    )
    if zero.any():
        fig.add_annotation(
            text=plot_text(t("drivers.chart.zero_note", lang)),
            xref="paper",
            yref="paper",
            x=1,
            y=-0.12,
            showarrow=False,
            xanchor="right",
            font={"size": 11, "color": theme.NEUTRAL},
        )
        fig.data[0].marker.pattern = {"shape": ["/" if z else "" for z in zero]}
    base_layout(fig, title, subtitle, height=max(320, 60 + 38 * len(df)))
    fig.update_xaxes(title=plot_text(t("drivers.chart.importance_axis", lang)), ticksuffix="%", rangemode="tozero")
    return fig


def importance_performance(m: pd.DataFrame, lang: str, title: str, subtitle: str, unit: bool) -> go.Figure:
    """Importance (y, % of variance, with interval bars) against performance (x): for a unit its gap
    to the organisation in percentage points (0 = as good as the organisation), for the organisation
    its share done well in %. The "fix first" corner (top left: above the drivers' mean importance,
    worse than the organisation / below the drivers' median) is shaded and labelled; drivers flagged
    ``fix_first`` are red, those whose interval includes 0 hollow."""
    fig = go.Figure()
    y = 100 * m["importance"].to_numpy(float)
    x = 100 * (m["gap"] if unit else m["value"]).to_numpy(float)
    cross_x = 0.0 if unit else (float(np.nanmedian(x)) if len(x) else 0.0)
    cross_y = float(np.mean(y)) if len(y) else 0.0
    names = [_name(d, lang) for d in m["driver"]]
    colours = [theme.STATUS["red"] if f else theme.PRIMARY for f in m["fix_first"].astype(bool)]
    symbols = ["circle-open" if z else "circle" for z in m["includes_zero"].astype(bool)]
    good = [plot_text(t(f"drivers.good.{d}", lang)) for d in m["driver"]]
    shown = [fmt.fmt_percent(v, SHARE_DIGITS) for v in m["value"].to_numpy(float)]
    fig.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="markers+text",
            text=names,
            textposition="top center",
            showlegend=False,
            marker={"size": 12, "color": colours, "symbol": symbols, "line": {"width": 2, "color": colours}},
            error_y={
                "type": "data",
                "array": 100 * m["upper"].to_numpy(float) - y,
                "arrayminus": y - 100 * m["lower"].to_numpy(float),
                "color": "#888",
                "thickness": 1,
            },
            customdata=np.column_stack([good, shown]) if len(m) else None,
            hovertemplate=f"%{{text}}<br>{fmt.hover('y', 'share')}<br>%{{customdata[0]}}: %{{customdata[1]}}"
            "<extra></extra>",
        )
    )
    span_x = [v for v in x if np.isfinite(v)] + [cross_x]
    lo_x, hi_x = min(span_x), max(span_x)
    pad = max(hi_x - lo_x, 1.0) * 0.15
    top = max([v for v in 100 * m["upper"].to_numpy(float) if np.isfinite(v)] + [cross_y, 0.1]) * 1.15
    fig.add_shape(
        type="rect", x0=lo_x - pad, x1=cross_x, y0=cross_y, y1=top, fillcolor=FIX_FILL, line={"width": 0}, layer="below"
    )
    fig.add_annotation(
        text=plot_text(t("drivers.chart.fix_first", lang)),
        x=lo_x - pad,
        y=top,
        xanchor="left",
        yanchor="top",
        showarrow=False,
        font={"size": 15, "color": theme.STATUS["red"]},
    )
    fig.add_vline(x=cross_x, line={"dash": "dot", "color": theme.NEUTRAL, "width": 1})
    fig.add_hline(y=cross_y, line={"dash": "dot", "color": theme.NEUTRAL, "width": 1})
    base_layout(fig, title, subtitle, height=480)
    axis = "drivers.chart.gap_axis" if unit else "drivers.chart.performance_axis"
    fig.update_xaxes(
        title=plot_text(t(axis, lang)), range=[lo_x - pad, hi_x + pad], ticksuffix="" if unit else "%", zeroline=unit
    )
    fig.update_yaxes(title=plot_text(t("drivers.chart.importance_axis", lang)), range=[0, top], ticksuffix="%")
    return fig
