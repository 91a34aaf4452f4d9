"""Churn charts: Kaplan–Meier retention curves with bands, and a forest plot of hazard ratios.

Pure functions over the engine's tidy frames (``metrics.churn.survival`` curves, ``churn_store`` terms).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from metrics.churn.design import CATEGORIES, NONE
from metrics.model.i18n import catalogue, label, t
from metrics.present import formatting as fmt
from metrics.present import theme
from metrics.present.charts.core import axis_title, base_layout, chart_names, month_ticks, value_range

DAYS_PER_MONTH = 365.25 / 12


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def retention_curves(curves: pd.DataFrame, dim: str, lang: str, title: str, subtitle: str,
                     region_names: Mapping[int, str] | None = None) -> go.Figure:
    """One step line per group (survival in %, tenure in months), its 95% band shaded; the survival
    axis from just under the lowest band when 0 would flatten the curves (the title says so)."""
    fig = go.Figure()
    drawn: list[float] = [100.0]
    groups = theme.order(dim, curves["group"].unique()) if len(curves) else []
    names = dict(zip(groups, chart_names(dim, groups, lang, region_names), strict=True)) if dim != "all" else {}
    for i, g in enumerate(groups):
        d = curves[curves["group"] == g]
        x = np.concatenate([[0.0], d["time_days"].to_numpy(float) / DAYS_PER_MONTH])
        y, lo, hi = (np.concatenate([[100.0], 100 * d[c].to_numpy(float)]) for c in ("survival", "lower", "upper"))
        colour = theme.colour(dim, g, i)
        drawn += list(lo) + list(y)
        name = names.get(g, t("filter.all", lang))
        fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([hi, lo[::-1]]), fill="toself",
                                 fillcolor=_rgba(colour, 0.15), line={"width": 0, "shape": "hv"}, hoverinfo="skip",
                                 showlegend=False, legendgroup=str(g)))
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, line={"color": colour, "shape": "hv", "width": 2},
                                 legendgroup=str(g), customdata=[str(g)] * len(x),
                                 hovertemplate=f"{name}<br>%{{x:.1f}} · %{{y:.1f}}%<extra></extra>"))
    base_layout(fig, title, subtitle, height=460)
    fig.update_xaxes(title=t("churn.axis_months", lang), rangemode="tozero")
    axis_range, not_zero = value_range(drawn, "share")
    fig.update_yaxes(title=t("churn.axis_survival", lang) + " (" + axis_title("share", lang, not_zero) + ")",
                     range=[axis_range[0], 101], ticksuffix="%")
    return fig


# the column heading of each category term's dimension (a customer's channel is the one it joined by)
TERM_DIMENSIONS = {"tier": "page.tables.tier", "segment": "page.tables.segment",
                   "channel": "page.tables.acquisition_channel", "sla_level": "page.tables.sla_level"}


def references(text: str | None) -> dict[str, str]:
    """The reference level per category from a stored model's ``reference_levels``
    ("tier = standard (most common, 53% of rows); channel = hotline (…)")."""
    out = {}
    for part in (text or "").split(";"):
        cat, _, rest = part.partition("=")
        if rest.strip():
            out[cat.strip()] = rest.strip().split(" (")[0]
    return out


def term_label(term: str, lang: str, refs: Mapping[str, str] | None = None) -> str:
    """A model term for people. A level of a category (tier, segment, joining channel, SLA level)
    reads "dimension: level (vs reference)" with the data's own names and the fit's reference level
    (``refs``, :func:`references`); the catalogue's words (``churn.term.<term>``) serve the numeric
    terms, the pooled rare levels and a level when the reference is not known; else the term."""
    key = f"churn.term.{term}"
    cat = next((c for c in CATEGORIES if term.startswith(f"{c}_")), None)
    level = term[len(cat) + 1:] if cat else ""
    ref = (refs or {}).get(cat) if cat else None
    if key in catalogue() and (cat is None or ref is None or level == "other"):
        return t(key, lang)
    if cat is None:
        return term
    dim = _level_name(cat, level, lang)
    name = t(TERM_DIMENSIONS[cat], lang)
    if ref is None:
        return t("churn.term_level_noref", lang, dim=name, level=dim)
    return t("churn.term_level", lang, dim=name, level=dim, reference=_level_name(cat, ref, lang))


def _level_name(cat: str, level: str, lang: str) -> str:
    """A level's name: the design's level for a missing value (``none``) in words, else the data's."""
    if level == NONE:
        return t("churn.level_none", lang)
    return label("channel" if cat == "channel" else cat, level, lang)


def forest(terms: pd.DataFrame, lang: str, title: str, subtitle: str,
           refs: Mapping[str, str] | None = None) -> go.Figure:
    """Hazard ratios with 95% intervals on a log axis, a line at 1; red when the interval is above 1,
    green below, grey when it includes 1. ``terms``: term, hr, hr_lower, hr_upper."""
    d = terms.iloc[::-1]
    labels = [term_label(x, lang, refs) for x in d["term"]]
    colours = [theme.STATUS["red"] if lo > 1 else theme.STATUS["green"] if hi < 1 else theme.NEUTRAL
               for lo, hi in zip(d["hr_lower"], d["hr_upper"], strict=True)]
    fig = go.Figure(go.Scatter(
        x=d["hr"], y=labels, mode="markers+text", marker={"color": colours, "size": 9},
        error_x={"type": "data", "symmetric": False, "array": d["hr_upper"] - d["hr"],
                 "arrayminus": d["hr"] - d["hr_lower"], "color": "#555"},
        text=[fmt.fmt_ratio(x) for x in d["hr"]], textposition="top center", textfont={"size": 13},
        customdata=d["term"], hovertext=[f"{n}: {fmt.fmt_ratio(x)} ({fmt.fmt_ratio(lo)}–{fmt.fmt_ratio(hi)})"
                                         for n, x, lo, hi in zip(labels, d["hr"], d["hr_lower"], d["hr_upper"],
                                                                 strict=True)],
        hoverinfo="text", showlegend=False))
    fig.add_vline(x=1, line={"color": "#333", "dash": "dash", "width": 1})
    base_layout(fig, title, subtitle, height=max(320, 40 * len(d) + 140))
    ticks = hr_ticks(float(d["hr_lower"].min()), float(d["hr_upper"].max())) if len(d) else [1.0]
    fig.update_xaxes(type="log", title=t("churn.axis_hr", lang), tickvals=ticks,
                     ticktext=[fmt.fmt_tick(x) for x in ticks],
                     range=[np.log10(min(ticks[0], float(d["hr_lower"].min()) if len(d) else 1) * 0.9),
                            np.log10(max(ticks[-1], float(d["hr_upper"].max()) if len(d) else 1) * 1.1)])
    fig.update_layout(margin={"l": 240})
    return fig


HR_TICKS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0, 20.0, 50.0)


def hr_ticks(lo: float, hi: float) -> list[float]:
    """Labelled ticks of a log hazard-ratio axis covering [lo, hi]: always 1, written in full ("0.3",
    not plotly's "3" for a minor log tick), at most about nine of them."""
    lo, hi = min(lo, 1.0), max(hi, 1.0)
    inside = [x for x in HR_TICKS if lo / 1.25 <= x <= hi * 1.25]
    while len(inside) > 9:
        inside = [x for i, x in enumerate(inside) if i % 2 == 0 or x == 1.0]
    return inside


def monthly_spend(spend: pd.DataFrame, lang: str, title: str, subtitle: str) -> go.Figure:
    """One customer's monthly spend (``metrics.analysis.customer_history.spend``: month, revenue) as bars."""
    fig = go.Figure(go.Bar(x=spend["month"], y=spend["revenue"], marker={"color": theme.NEUTRAL},
                           text=[fmt.fmt_value(v, "currency", lang) for v in spend["revenue"]],
                           textposition="outside", textfont={"size": 12}, cliponaxis=False,
                           hovertemplate="%{x|%Y-%m} · %{text}<extra></extra>"))
    base_layout(fig, title, subtitle, height=360)
    fig.update_xaxes(title=None, **month_ticks(spend["month"]))
    fig.update_yaxes(title=t("page.at_risk.axis_spend", lang), rangemode="tozero", tickprefix="¥", tickformat=",~f")
    return fig
