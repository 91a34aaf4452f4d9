"""A customer's health history (:mod:`metrics.analysis.health`): the score (0–100) by month as the thick
line with its last value labelled, each part's score as a thin dotted line in its own colour (a month
without the part's data leaves a gap, never a 0), the parts named with their weights in the legend."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from metrics.model.i18n import t
from metrics.present import formatting as fmt
from metrics.present import theme
from metrics.present.charts.core import LABEL_FONT, base_layout, month_ticks

SCORE_UNIT = "score_0_100"  # whole points, on the chart, in its hover and as the card shows them
SCORE_HOVER = fmt.hover("y", SCORE_UNIT)


def health_history(history: pd.DataFrame, parts: dict[str, str], lang: str, title: str, subtitle: str) -> go.Figure:
    """``history`` (day, score and one column per part, 0–100, NaN: no data); ``parts``: part column ->
    its legend name (with its weight). Each score is drawn at the month of its day (a month's last day,
    or the day looked at); points on a fixed 0–100 axis."""
    h = history.sort_values("day")
    x = list(pd.to_datetime(h["day"]).dt.to_period("M").dt.to_timestamp())  # a month's score at its month
    fig = go.Figure()
    for i, (col, name) in enumerate(parts.items()):
        y = pd.to_numeric(h[col], errors="coerce")
        if y.notna().any():
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=list(y),
                    mode="lines+markers",
                    name=name,
                    connectgaps=False,
                    line={"color": theme.PALETTE[(i + 1) % len(theme.PALETTE)], "width": 1.2, "dash": "dot"},
                    marker={"size": 4},
                    hovertemplate=SCORE_HOVER + "<extra>" + name.replace("<", "&lt;") + "</extra>",
                )
            )
    score = pd.to_numeric(h["score"], errors="coerce")
    shown = ["" if pd.isna(v) else fmt.number(v, fmt.decimals(SCORE_UNIT)) for v in score]
    fig.add_trace(
        go.Scatter(
            x=x,
            y=list(score),
            mode="lines+markers+text",
            name=t("health.col.score", lang),
            line={"color": theme.PRIMARY, "width": 3},
            text=[""] * (len(shown) - 1) + shown[-1:],
            textposition="top center",
            textfont={**LABEL_FONT, "color": theme.PRIMARY},
            cliponaxis=False,
            hovertemplate=SCORE_HOVER + "<extra></extra>",
        )
    )
    fig.update_layout(
        yaxis={"title": t("health.col.score", lang), "range": [0, 108], "tickformat": fmt.TICK_D3},
        xaxis={"title": t("common.month", lang), **month_ticks(x)},
    )
    return base_layout(fig, title, subtitle)
