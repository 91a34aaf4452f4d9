"""The waterfall of a decomposition (:mod:`metrics.analysis.decompose`): the earlier period's value, each
group's contribution to the change (largest beyond noise first, the rest summed in one "N others" bar),
the period's value.

Bars are drawn with ``go.Bar`` and a base (plotly's ``Waterfall`` cannot colour one step apart): a
contribution that makes the metric better is green, worse red (no preferred direction: the primary
colour), one whose 95% interval includes 0 grey; each step carries its signed value as a label and its
interval as an error bar at its end. The value axis zooms on the steps (a waterfall of 88.7% → 86.5% drawn
from 0 would hide them) and then says it does not start at 0 (docs/charts.md).
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from metrics.analysis import stats
from metrics.analysis.decompose import Decomposition
from metrics.model.i18n import metric_label, t
from metrics.model.registry import get
from metrics.present import formatting as fmt
from metrics.present import theme
from metrics.present.charts.core import LABEL_FONT, axis_title, base_layout, unit_scale, value_range
from metrics.present.explain_text import amount, dim_word
from metrics.present.markup import plot_text

TOP = 8  # groups drawn as their own step; the rest in one
TOTAL_COLOUR = "#4c5a67"
NOISE_COLOUR = theme.NEUTRAL


def steps(d: Decomposition, top: int = TOP) -> list[dict]:
    """The waterfall's steps: name_zh/name_en, key, contribution, lower, upper, rate/mix effect, noise;
    the ``top`` first groups (the decomposition's order: beyond noise first, then by size) and, when more,
    one step summing the rest (its interval from the summed variances, its effects summed)."""
    rows = d.groups.to_dict("records")
    shown, rest = rows[:top], rows[top:]
    if len(rest) == 1:
        shown, rest = rows, []
    out = [dict(r) for r in shown]
    if rest:
        c = float(sum(r["contribution"] for r in rest))
        se = float(np.sqrt(np.nansum([((r["upper"] - r["lower"]) / (2 * stats.Z95)) ** 2 for r in rest])))
        lo, hi = c - stats.Z95 * se, c + stats.Z95 * se
        out.append({"key": "", "name_zh": t("explain.chart.others", "zh", k=len(rest)),
                    "name_en": t("explain.chart.others", "en", k=len(rest)), "contribution": c, "lower": lo,
                    "upper": hi, "rate_effect": float(np.nansum([r["rate_effect"] for r in rest])),
                    "mix_effect": float(np.nansum([r["mix_effect"] for r in rest])), "noise": bool(lo <= 0 <= hi)})
    return out


def _colour(c: float, noise: bool, higher_is_better: bool | None) -> str:
    if noise:
        return NOISE_COLOUR
    if higher_is_better is None:
        return theme.PRIMARY
    return theme.STATUS["green"] if (c > 0) == higher_is_better else theme.STATUS["red"]


def waterfall(d: Decomposition, lang: str, subtitle: str, title: str | None = None, top: int = TOP,
              height: int = 420) -> go.Figure:
    """The waterfall of ``d`` (see the module docstring): x the earlier period, the groups, this period;
    values in the metric's unit as plotted (shares ×100). ``title``: default "What drove {metric}: by
    {dim}"; a decomposition without a change (``d.reason``) draws nothing and says why in the title."""
    m = get(d.metric_id)
    k = unit_scale(m.unit)
    label = metric_label(d.metric_id, lang)
    title = title or t("explain.chart.title", lang, metric=label, dim=dim_word(d, lang))
    fig = go.Figure()
    if not d.ok:
        from metrics.present.explain_text import reason_text

        return base_layout(fig, title, f"{subtitle} · {reason_text(d.reason or 'no_data', lang, d.metric_id)}", height)
    ss = steps(d, top)
    names = [plot_text(t("explain.chart.start", lang))] + [plot_text(str(s["name_zh" if lang == "zh" else "name_en"]))
                                                          for s in ss] + [plot_text(t("explain.chart.end", lang))]
    contributions = np.array([float(s["contribution"]) for s in ss])
    ends = k * (d.value_cmp + np.cumsum(contributions))
    bases = np.concatenate([[k * d.value_cmp], ends[:-1]]) if len(ss) else np.array([])
    digits = fmt.decimals(m.unit, m)
    start_end = [fmt.fmt_value(d.value_cmp, m.unit, lang, digits), fmt.fmt_value(d.value, m.unit, lang, digits)]
    fig.add_trace(go.Bar(x=[names[0], names[-1]], y=[k * d.value_cmp, k * d.value], marker_color=TOTAL_COLOUR,
                         text=start_end, textposition="outside", textfont=LABEL_FONT, showlegend=False,
                         hoverinfo="text", hovertext=[f"{names[0]}: {start_end[0]}", f"{names[-1]}: {start_end[1]}"],
                         cliponaxis=False, name=plot_text(label)))
    hover = [plot_text(t("explain.chart.hover", lang, c=amount(s["contribution"], d.metric_id, lang, signed=True),
                         lo=amount(s["lower"], d.metric_id, lang, signed=True),
                         hi=amount(s["upper"], d.metric_id, lang, signed=True),
                         rate=amount(s["rate_effect"], d.metric_id, lang, signed=True),
                         mix=amount(s["mix_effect"], d.metric_id, lang, signed=True)))
             for s in ss]
    hover = [f"{n}<br>{h}" for n, h in zip(names[1:-1], hover, strict=True)]
    lower = np.array([float(s["lower"]) for s in ss])
    upper = np.array([float(s["upper"]) for s in ss])
    fig.add_trace(go.Bar(
        x=names[1:-1], y=(k * contributions).tolist(), base=bases.tolist(),
        marker_color=[_colour(c, bool(s["noise"]), m.higher_is_better) for c, s in zip(contributions, ss, strict=True)],
        showlegend=False, hoverinfo="text", hovertext=hover,
        customdata=[str(s["key"]) for s in ss], name=plot_text(t("explain.title", lang)),
        error_y={"type": "data", "symmetric": False, "array": np.nan_to_num(k * (upper - contributions)).tolist(),
                 "arrayminus": np.nan_to_num(k * (contributions - lower)).tolist(), "color": "#333",
                 "thickness": 1.2}))
    # each step's label above its bar and its whisker, never on the whisker (as core.bar_ci)
    tops = np.fmax(np.fmax(bases, ends), bases + k * np.nan_to_num(upper, nan=-np.inf))
    fig.add_trace(go.Scatter(x=names[1:-1], y=tops.tolist(), mode="text", textposition="top center",
                             text=[amount(c, d.metric_id, lang, unit=False, signed=True) for c in contributions],
                             textfont=LABEL_FONT, hoverinfo="skip", showlegend=False, cliponaxis=False))
    levels = [k * d.value_cmp, k * d.value, *ends.tolist(), *(bases + k * lower), *(bases + k * upper)]
    rng, not_zero = value_range(levels, m.unit)
    rng[1] += 0.08 * (rng[1] - rng[0])  # room for the labels above the highest whisker
    fig.update_layout(barmode="overlay", bargap=0.3)
    fig.update_yaxes(range=rng, title_text=axis_title(m.unit, lang, not_zero))
    fig = base_layout(fig, title, subtitle, height)
    fig.update_xaxes(categoryorder="array", categoryarray=names, title_text=plot_text(t("explain.chart.noise", lang)),
                     title_font={"size": 12, "color": NOISE_COLOUR})
    return fig
