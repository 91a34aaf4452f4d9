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
from metrics.present import theme
from metrics.present.charts.core import axis_title, base_layout, chart_names, unit_scale

VERDICT_COLOURS = {"better": theme.STATUS["green"], "worse": theme.STATUS["red"],
                   "higher": theme.PRIMARY, "lower": theme.PRIMARY,
                   "no_evidence": theme.NEUTRAL, "not_tested": theme.NEUTRAL}


def dot_whisker(
    df: pd.DataFrame, unit: str, lang: str, title: str, subtitle: str, overall: float | None = None,
    key: str = "region_id", region_names: Mapping[int, str] | None = None,
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
    hover = [f"{n}: {k * v:,.2f} (n={int(c):,}) · {t(f'page.regions.verdict.{w}', lang)}"
             for n, v, c, w in zip(names, df["value"], df["n"].fillna(0), verdicts, strict=True)]
    fig.add_trace(go.Scatter(
        x=k * df["value"], y=names, mode="markers", error_x=err, name=t("common.value", lang),
        marker={"size": 13, "color": [VERDICT_COLOURS.get(v, theme.NEUTRAL) for v in verdicts]},
        hovertext=hover, hoverinfo="text", customdata=df[key].astype(str).tolist()))
    if overall is not None and np.isfinite(overall):
        fig.add_vline(x=k * overall, line={"color": theme.PRIMARY, "dash": "dash", "width": 1.5},
                      annotation_text=t("page.regions.overall", lang), annotation_position="top")
    fig.update_layout(xaxis={"title": axis_title(unit, lang)}, yaxis={"autorange": "reversed"})
    return base_layout(fig, title, subtitle, height=max(340, 90 + 36 * len(df)))
