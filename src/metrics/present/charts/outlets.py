"""Outlet charts (issue 19): one outlet's waiting by weekday × hour (a heat map with the minutes in each
cell), its mystery-shopper audit items over time (share of the points scored, the items that keep
failing drawn red), and "does the VIP lane work?" — the minutes high-tier customers save per hall as a
dot with its 95% interval, coloured by the verdict. Pure functions: a tidy frame in, a Figure out,
names from the catalogue and the data (escaped for plotly), values written on the marks."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from metrics.model.i18n import label, t
from metrics.present import formatting as fmt
from metrics.present import theme
from metrics.present.charts.core import LABEL_FONT, base_layout
from metrics.present.markup import plot_text

WEEKDAYS = tuple(range(7))  # 0 = Monday … 6 = Sunday (the page's weekday names: page.outlets.weekday.N)
VERDICT_COLOURS = theme.VIP_VERDICT  # works / does_not / unclear / too_small (every verdict drawn)
HEAT_SCALE = theme.WAIT_HEAT  # short waits pale, long ones red
AUDIT_DIGITS = 0  # an audit item's share of its points: whole percentages (a checklist's points are few)


def weekday_names(lang: str) -> list[str]:
    """Monday … Sunday in ``lang`` (the heat map's rows, top to bottom)."""
    return [t(f"page.outlets.weekday.{d}", lang) for d in WEEKDAYS]


def wait_heatmap(df: pd.DataFrame, lang: str, title: str, subtitle: str, value: str = "mean_wait_min") -> go.Figure:
    """Minutes of ``value`` per weekday (rows, Monday on top; ``weekday`` 0 = Monday) and hour of day
    (columns, ``hour`` 0–23; only the hours with visits), each cell labelled with its minutes and,
    on hover, its visits (``visits``). A cell without visits stays blank, not 0."""
    hours = sorted(int(h) for h in df["hour"].dropna().unique())
    z = np.full((len(WEEKDAYS), len(hours)), np.nan)
    n = np.zeros((len(WEEKDAYS), len(hours)))
    col = {h: i for i, h in enumerate(hours)}
    for _, r in df.iterrows():
        if pd.notna(r["weekday"]) and pd.notna(r["hour"]) and int(r["weekday"]) in WEEKDAYS:
            z[int(r["weekday"]), col[int(r["hour"])]] = float(r[value]) if pd.notna(r[value]) else np.nan
            visits_n = r["visits"] if "visits" in df else 0
            n[int(r["weekday"]), col[int(r["hour"])]] = float(visits_n) if pd.notna(visits_n) else 0
    text = [["" if np.isnan(v) else fmt.number(v, fmt.decimals("minutes")) for v in row] for row in z]
    visits = plot_text(t("page.outlets.visits_hover", lang))
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(h) for h in hours],
            y=weekday_names(lang),
            text=text,
            texttemplate="%{text}",
            textfont={"size": 11},
            colorscale=[list(c) for c in HEAT_SCALE],
            hoverongaps=False,
            customdata=n,
            colorbar={"title": plot_text(t("page.outlets.minutes", lang, value="")).strip()},
            hovertemplate=f"%{{y}} %{{x}}:00 · {fmt.hover('z', 'minutes')} · "
            f"{visits} {fmt.hover('customdata', 'visits')}<extra></extra>",
        )
    )
    base_layout(fig, title, subtitle, height=360)
    fig.update_xaxes(title=plot_text(t("page.outlets.hour_axis", lang)), type="category")
    fig.update_yaxes(title=plot_text(t("page.outlets.weekday_axis", lang)), autorange="reversed")
    return fig


def audit_items(df: pd.DataFrame, lang: str, title: str, subtitle: str, failing: Collection[str] = ()) -> go.Figure:
    """One line per checklist item (``item``, a code named by the data: :func:`label` ``audit_item``)
    over the audits (``audited_on``), the share of its points scored (``share``, 0–1) as a percentage
    written on each point; the items in ``failing`` (lost points in audit after audit) red and thick."""
    fig = go.Figure()
    items = list(dict.fromkeys(df["item"].astype(str)))
    for i, item in enumerate(items):
        part = df[df["item"].astype(str) == item].sort_values("audited_on")
        name = plot_text(label("audit_item", item, lang))
        bad = item in failing
        colour = theme.STATUS["red"] if bad else theme.PALETTE[i % len(theme.PALETTE)]
        y = 100 * part["share"].astype(float)
        fig.add_trace(
            go.Scatter(
                x=pd.to_datetime(part["audited_on"]),
                y=y,
                mode="lines+markers+text",
                name=name,
                text=[fmt.number(v, AUDIT_DIGITS) for v in y],
                textposition="top center",
                textfont={"size": 11},
                line={"color": colour, "width": 4 if bad else 2},
                marker={"size": 9 if bad else 6, "color": colour},
                hovertemplate=f"{name} %{{x|%Y-%m-%d}}: {fmt.hover('y', 'share', AUDIT_DIGITS)}<extra></extra>",
                cliponaxis=False,
            )
        )
    base_layout(fig, title, subtitle, height=420)
    fig.update_yaxes(title=plot_text(t("page.outlets.score_axis", lang)), range=[0, 108], ticksuffix="%")
    fig.update_xaxes(tickformat="%Y-%m-%d")
    return fig


def vip_difference(
    df: pd.DataFrame, lang: str, title: str, subtitle: str, names: Mapping[int, str] | None = None
) -> go.Figure:
    """One dot per hall (``outlet_id``, named by ``names``, rows in the given order, first on top):
    the minutes VIP-tier customers save (``saving_min``: the others' mean wait − the VIP tiers') with
    its 95% interval (``saving_lower``, ``saving_upper``), coloured by ``verdict`` (works / does_not /
    unclear / too_small) — a :func:`metrics.analysis.outlets.vip_lane` frame —,
    a line at 0 (no saving) and each dot's minutes written right of its whisker."""
    names = names or {}
    halls = [plot_text(names.get(int(o), str(o))) for o in df["outlet_id"]]
    saved = df["saving_min"].astype(float)
    verdicts = [str(v) for v in df["verdict"]]
    fig = go.Figure()
    for verdict in VERDICT_COLOURS:  # one trace per verdict: the legend says what the colours mean
        mask = np.array([v == verdict for v in verdicts])
        if not mask.any():
            continue
        part = df[mask]
        fig.add_trace(
            go.Scatter(
                x=part["saving_min"].astype(float),
                y=[h for h, m in zip(halls, mask, strict=True) if m],
                mode="markers",
                name=plot_text(t(f"page.outlets.verdict.{verdict}", lang)),
                marker={"size": 13, "color": VERDICT_COLOURS[verdict]},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "color": "#555",
                    "thickness": 1.5,
                    "array": (part["saving_upper"] - part["saving_min"]).astype(float).tolist(),
                    "arrayminus": (part["saving_min"] - part["saving_lower"]).astype(float).tolist(),
                },
                hovertemplate=f"%{{y}}: {fmt.hover('x', 'minutes')}<extra></extra>",
            )
        )
    ends = [u if pd.notna(u) else v for v, u in zip(saved, df["saving_upper"], strict=True)]
    fig.add_trace(
        go.Scatter(
            x=ends,
            y=halls,
            mode="text",
            text=[fmt.number(v, fmt.decimals("minutes")) for v in saved],
            textposition="middle right",
            textfont=LABEL_FONT,
            hoverinfo="skip",
            showlegend=False,
            cliponaxis=False,
        )
    )
    fig.add_vline(x=0, line={"color": theme.NEUTRAL, "dash": "dot", "width": 1.5})
    every = [*saved, *df["saving_lower"].astype(float), *df["saving_upper"].astype(float), 0.0]
    drawn = [v for v in every if np.isfinite(v)]
    lo, hi = min(drawn), max(drawn)
    span = (hi - lo) or 1.0
    fig.update_layout(
        xaxis={"title": plot_text(t("page.outlets.saved_axis", lang)), "range": [lo - 0.05 * span, hi + 0.15 * span]},
        yaxis={"autorange": "reversed", "type": "category"},
    )
    return base_layout(fig, title, subtitle, height=max(320, 90 + 36 * len(df)))
