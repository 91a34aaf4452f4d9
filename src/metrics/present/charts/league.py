"""League chart: one dot per group with its 95% whisker, coloured by the test verdict.

Kept beside :mod:`metrics.present.charts.core` (same conventions: tidy frame in, Figure out, title with the
filter subtitle, units on the axis, shares as percentages).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from metrics.model.i18n import t
from metrics.present import formatting as fmt
from metrics.present import theme
from metrics.present.charts.core import LABEL_FONT, axis_title, base_layout, chart_names, unit_scale, value_range

VERDICT_COLOURS = {"better": theme.STATUS["green"], "worse": theme.STATUS["red"],
                   "higher": theme.PRIMARY, "lower": theme.PRIMARY,
                   "no_evidence": theme.NEUTRAL, "not_tested": theme.NEUTRAL}


def dot_whisker(
    df: pd.DataFrame, unit: str, lang: str, title: str, subtitle: str, overall: float | None = None,
    key: str = "region_id", region_names: Mapping[int, str] | None = None, digits: int | None = None,
) -> go.Figure:
    """Dots of ``value`` per group (rows in the given order, first on top) with 95% whiskers,
    a hollow marker at the comparison-period value (``value_cmp``) and a line at ``overall``.

    ``df`` is a :func:`metrics.analysis.league.league` frame: ``key``, value, lower, upper, n, verdict.
    """
    k = unit_scale(unit)
    dim = "region" if key == "region_id" else key
    names = chart_names(dim, df[key], lang, region_names)
    fig = go.Figure()
    if "value_cmp" in df.columns and df["value_cmp"].notna().any():
        fig.add_trace(go.Scatter(
            x=k * df["value_cmp"], y=names, mode="markers", name=t("common.previous", lang),
            marker={"symbol": "circle-open", "size": 10, "color": theme.NEUTRAL, "line": {"width": 2}},
            hoverinfo="x+name"))
    err = None
    if df["lower"].notna().any():
        err = {"type": "data", "symmetric": False, "array": (k * (df["upper"] - df["value"])).tolist(),
               "arrayminus": (k * (df["value"] - df["lower"])).tolist(), "color": "#555", "thickness": 1.5}
    verdicts = df["verdict"] if "verdict" in df.columns else pd.Series(["not_tested"] * len(df))
    shown = [fmt.fmt_value(v, unit, lang, digits) for v in df["value"]]
    hover = [f"{n}: {v} (n={fmt.fmt_count(c)}) · {t(f'page.regions.verdict.{w}', lang)}"
             for n, v, c, w in zip(names, shown, df["n"].fillna(0), verdicts, strict=True)]
    fig.add_trace(go.Scatter(
        x=k * df["value"], y=names, mode="markers", error_x=err, name=t("common.value", lang),
        marker={"size": 13, "color": [VERDICT_COLOURS.get(v, theme.NEUTRAL) for v in verdicts]},
        hovertext=hover, hoverinfo="text", customdata=df[key].astype(str).tolist()))
    # each dot's value, right of its whisker
    ends = [k * (u if pd.notna(u) else v) for v, u in zip(df["value"], df["upper"], strict=True)]
    fig.add_trace(go.Scatter(x=ends, y=names, mode="text", text=shown, textposition="middle right",
                             textfont=LABEL_FONT, hoverinfo="skip", showlegend=False, cliponaxis=False))
    drawn = list(k * df["value"]) + list(k * df["lower"]) + list(k * df["upper"])
    if "value_cmp" in df.columns:
        drawn += list(k * df["value_cmp"])
    if overall is not None and np.isfinite(overall):
        drawn.append(k * overall)
        fig.add_vline(x=k * overall, line={"color": theme.PRIMARY, "dash": "dash", "width": 1.5},
                      annotation_text=f"{t('page.regions.overall', lang)} {fmt.fmt_value(overall, unit, lang, digits)}",
                      annotation_position="top")
    axis_range, not_zero = value_range(drawn, unit)
    axis_range[1] += 0.12 * (axis_range[1] - axis_range[0])  # room for the labels
    fig.update_layout(xaxis={"title": axis_title(unit, lang, not_zero, axis="x"), "range": axis_range},
                      yaxis={"autorange": "reversed"})
    return base_layout(fig, title, subtitle, height=max(340, 90 + 36 * len(df)))
