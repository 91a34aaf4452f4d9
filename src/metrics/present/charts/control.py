"""The control chart: the points, the centre line, limits that vary with each point's volume (a step
line at ±3σ), signalled points marked, the baseline shaded, and a line under the title saying
whether the process is in control (:mod:`metrics.analysis.control`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from metrics.model.i18n import t
from metrics.present import formatting as fmt
from metrics.present import theme
from metrics.present.charts.core import LABEL_FONT, base_layout, label_text, month_value_axes, unit_scale
from metrics.present.markup import plot_text

SIGNAL_COLOUR = theme.STATUS["red"]
LIMIT_COLOUR = theme.NEUTRAL


def status_text(points: pd.DataFrame, lang: str) -> str:
    """ "受控：没有判异规则触发。" or "失控信号：超出3σ控制限；…" (the rules fired anywhere on the chart)."""
    fired = [r for rules in points["rules"] for r in str(rules).split(",") if r]
    if not fired:
        return t("alerts.in_control", lang)
    sep = "；" if lang == "zh" else "; "
    names = sep.join(t(f"alerts.rule.{r}", lang) for r in dict.fromkeys(fired))
    return t("alerts.out_of_control", lang, rules=names)


def _limit_line(x: list, y: list[float], name: str, step: dict, legend: bool) -> go.Scatter:
    """A control limit (upper or lower, in display units) as a dashed line, a step at each point's
    volume (``step``: the line's shape) unless the chart is an XmR chart."""
    return go.Scatter(x=x, y=y, mode="lines", name=name, legendgroup="lim", showlegend=None if legend else False,
                      line={"color": LIMIT_COLOUR, "dash": "dash", "width": 1.5, **step})


def control_chart(
    frame: pd.DataFrame,
    unit: str,
    lang: str,
    title: str,
    subtitle: str,
    *,
    kind: str = "p",
    baseline: tuple | None = None,
    min_n: int | None = None,
    digits: int | None = None,
) -> go.Figure:
    """``frame``: the points of a :class:`metrics.analysis.control.ControlChart` (period, value, n, centre,
    lcl, ucl, baseline, rules, signal), values in the metric's unit (shares 0–1, drawn as %)."""
    k = unit_scale(unit)
    d = frame.sort_values("period")
    x = list(pd.to_datetime(d["period"]))
    fig = go.Figure()
    if baseline is not None and len(d):
        fig.add_vrect(
            x0=pd.Timestamp(baseline[0]) - pd.Timedelta(days=15),
            x1=pd.Timestamp(baseline[1]) + pd.Timedelta(days=15),
            fillcolor="rgba(140,150,160,0.12)",
            line_width=0,
            layer="below",
            annotation_text=plot_text(t("alerts.baseline", lang, start=str(baseline[0])[:7], end=str(baseline[1])[:7])),
            annotation_position="top left",
            annotation_font={"size": 12, "color": "#555"},
        )
    step = {"shape": "hvh"} if kind != "xmr" else {}
    for limit in ("ucl", "lcl"):  # one legend entry for both
        fig.add_trace(_limit_line(x, list(k * d[limit]), t("alerts.limits", lang), step, legend=limit == "ucl"))
    fig.add_trace(
        go.Scatter(
            x=x,
            y=list(k * d["centre"]),
            mode="lines",
            name=t("alerts.centre", lang),
            line={"color": theme.STATUS["green"], "width": 1.5},
        )
    )
    shown = label_text(d["value"], unit, lang, digits)
    fig.add_trace(
        go.Scatter(
            x=x,
            y=list(k * d["value"]),
            mode="lines+markers",
            name=t("alerts.value", lang),
            line={"color": theme.PRIMARY, "width": 2.5},
            marker={"size": 7},
            hovertext=[f"{v} (n = {fmt.fmt_count(n)})" for v, n in zip(shown, d["n"], strict=True)],
            hoverinfo="x+text",
        )
    )
    sig = d[d["signal"].astype(bool)]
    if len(sig):
        names = [", ".join(t(f"alerts.rule.{r}", lang) for r in str(rules).split(",") if r) for rules in sig["rules"]]
        fig.add_trace(
            go.Scatter(
                x=list(pd.to_datetime(sig["period"])),
                y=list(k * sig["value"]),
                mode="markers+text",
                name=t("alerts.signal_points", lang),
                marker={"color": SIGNAL_COLOUR, "size": 13, "symbol": "square"},
                text=label_text(sig["value"], unit, lang, digits),
                textposition="top center",
                textfont={**LABEL_FONT, "color": SIGNAL_COLOUR},
                cliponaxis=False,
                hovertext=[plot_text(n) for n in names],
                hoverinfo="x+text",
            )
        )
    drawn = [v for col in ("value", "lcl", "ucl") for v in k * d[col] if np.isfinite(v)]
    month_value_axes(fig, drawn, unit, lang, d["period"] if len(d) else [])
    note = status_text(d, lang)
    if min_n is not None:
        note += " · " + t("alerts.low_volume", lang, n=min_n)
    fig = base_layout(fig, title, f"{subtitle} · {note}" if subtitle else note, height=440)
    return fig
