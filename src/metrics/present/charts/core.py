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
from metrics.present import formatting as fmt
from metrics.present import theme
from metrics.present.markup import plot_text

theme.restore_template()  # plotly's default template is the theme's from the first chart module on
PERCENT_UNITS = fmt.PERCENT_UNITS
LABEL_FONT = {"size": 14, "color": "#222"}  # value labels: legible on a 1024×768 projector
TARGET_COLOUR = theme.STATUS["red"]


def is_percent(unit: str) -> bool:
    return unit in PERCENT_UNITS


def axis_title(unit: str, lang: str, not_zero: bool = False, axis: str = "y") -> str:
    """The value axis's title: its unit ("%", "小时", "件/千户·月" …) and, when the axis does not
    start at 0, a note saying so."""
    text = "%" if is_percent(unit) else t(f"unit.{unit}", lang)
    if not_zero:
        text += "<br><sub>" + t("chart.axis_not_zero" if axis == "y" else "chart.axis_not_zero_x", lang) + "</sub>"
    return text


def base_layout(fig: go.Figure, title: str, subtitle: str, height: int = 420) -> go.Figure:
    """Title with the filter subtitle under it, CJK-capable font at slide size, compact margins; the
    legend right of the plot (outside it: never over tick labels, whatever their length); title and
    subtitle are text (names in them are shown, not rendered: :func:`metrics.present.markup.plot_text`).
    Every chart passes here, so here the white template is made sure of, whatever was imported after
    the theme (:func:`metrics.present.theme.restore_template`)."""
    if theme.restore_template():  # built under another default: this figure once, at full cost
        fig.update_layout(template=theme.TEMPLATE)
    # each property set on the layout directly: the same figure as one update_layout call, at a third of
    # its CPU (update_layout's path parsing and change callbacks, ~7 ms a chart; bench/server_cpu.py)
    layout = fig.layout
    layout.title = {"text": f"{plot_text(title)}<br><sup>{plot_text(subtitle)}</sup>", "x": 0.01, "xanchor": "left"}
    layout.font = {"family": theme.FONT_FAMILY, "size": 14}
    layout.margin = {"l": 60, "r": 20, "t": 80, "b": 50}
    layout.height = height
    layout.legend = {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"}
    fig.update_xaxes(automargin=True, tickangle=0)
    fig.update_yaxes(automargin=True)
    return fig


def value_range(values, unit: str, floor_at_zero: bool = False) -> tuple[list[float], bool]:
    """The value axis of a dot or line chart (values as plotted): from 0 when that still shows the
    differences (the smallest value below a third of the largest, or anything at or below 0), else
    from just under the smallest value so that 85% and 93% look different. Returns the range and
    whether it leaves 0 out (the axis title then says so: :func:`axis_title`). Bars never use it:
    bars start at 0 and carry value labels (docs/charts.md)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if not len(v):
        return [0.0, 1.0], False
    lo, hi = float(v.min()), float(v.max())
    span = hi - lo if hi > lo else max(abs(hi), 1.0) * 0.1
    pad = 0.12 * span
    top = hi + pad
    if is_percent(unit) and hi <= 100:
        top = min(top, 100.0 + (0.5 if hi >= 99.5 else 0.0))
    if floor_at_zero or lo <= 0 or lo < hi / 3:
        return [min(0.0, lo - pad), top], False
    step = 10 ** np.floor(np.log10(span)) if span > 0 else 1.0
    start = max(0.0, np.floor((lo - pad) / step) * step)
    return [float(start), float(top)], start > 0


def label_text(values, unit: str, lang: str, digits: int | None = None) -> list[str]:
    """Value labels in the metric's format (values in the metric's own unit, shares 0–1)."""
    return [fmt.fmt_value(v, unit, lang, digits) for v in values]


def add_target(fig: go.Figure, target: float, unit: str, lang: str, horizontal: bool = False,
               digits: int | None = None, **where: object) -> go.Figure:
    """A dashed target line labelled "目标 95%" / "Target 95%" (a line across the plot: vertical when
    the value axis is horizontal)."""
    k = unit_scale(unit)
    text = plot_text(fmt.target_label(target, unit, lang, digits))
    line = {"color": TARGET_COLOUR, "dash": "dash", "width": 2}
    font = {"color": TARGET_COLOUR, "size": 14}
    if where or getattr(fig, "_grid_ref", None) is not None:  # subplots: plotly places a line in each
        if horizontal:
            fig.add_vline(x=k * target, line=line, annotation_text=text, annotation_position="top",
                          annotation_font=font, **where)
        else:
            fig.add_hline(y=k * target, line=line, annotation_text=text, annotation_position="top left",
                          annotation_font=font, **where)
        return fig
    # one plot: the shape and the annotation add_vline/add_hline would make, set directly (the same
    # figure JSON at a tenth of their CPU, ~11 ms a chart: bench/server_cpu.py)
    v = k * target
    if horizontal:
        shape = {"type": "line", "x0": v, "x1": v, "xref": "x", "y0": 0, "y1": 1, "yref": "y domain", "line": line}
        note = {"font": font, "showarrow": False, "text": text, "x": v, "xanchor": "center", "xref": "x", "y": 1,
                "yanchor": "bottom", "yref": "y domain"}
    else:
        shape = {"type": "line", "x0": 0, "x1": 1, "xref": "x domain", "y0": v, "y1": v, "yref": "y", "line": line}
        note = {"font": font, "showarrow": False, "text": text, "x": 0, "xanchor": "left", "xref": "x domain", "y": v,
                "yanchor": "bottom", "yref": "y"}
    fig.layout.shapes = (*fig.layout.shapes, shape)
    fig.layout.annotations = (*fig.layout.annotations, note)
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
    horizontal: bool = True, digits: int | None = None,
) -> go.Figure:
    """Bars of ``value`` per ``dim`` from 0, each labelled with its value, with 95% error bars (where
    lower/upper exist) and a labelled target line. One category alone is not a bar but its value
    against the target (:func:`single_value`). ``digits``: the metric's decimals (else the unit's)."""
    col = "region_id" if dim == "region" else dim
    data = df.copy()
    if dim not in ("region", "month", "week"):
        data = data.set_index(col).loc[theme.order(dim, data[col].tolist())].reset_index()
    if len(data) == 1:
        row = data.iloc[0]
        return single_value(row, unit, lang, title, subtitle,
                            category_names(dim, [row[col]], lang, region_names)[0], target=target, digits=digits)
    k = unit_scale(unit)
    names = chart_names(dim, data[col], lang, region_names)
    colours = [theme.colour(dim, v, i) for i, v in enumerate(data[col])] if theme.has_order(dim) else theme.PRIMARY
    err = None
    has_ci = data["lower"].notna().any() if "lower" in data.columns else False
    if has_ci:
        err = {"type": "data", "symmetric": False, "array": (k * (data["upper"] - data["value"])).tolist(),
               "arrayminus": (k * (data["value"] - data["lower"])).tolist(), "color": "#333", "thickness": 1.2}
    values = (k * data["value"]).tolist()
    shown = label_text(data["value"], unit, lang, digits)
    n = data["n"].fillna(0) if "n" in data.columns else pd.Series([0] * len(data))
    hover = [f"{nm}: {v} (n={fmt.fmt_count(c)})" for nm, v, c in zip(names, shown, n, strict=True)]
    bar = go.Bar(
        x=values if horizontal else names, y=names if horizontal else values,
        orientation="h" if horizontal else "v", marker_color=colours,
        error_x=err if horizontal else None, error_y=None if horizontal else err,
        hovertext=hover, hoverinfo="text", customdata=data[col].astype(str).tolist(), name=plot_text(title),
        showlegend=False,
    )
    fig = go.Figure(bar)
    # value labels just beyond the bar or its whisker, whichever reaches further (never on the whisker)
    ends = []
    for v, lo, hi in zip(data["value"], data["lower"] if has_ci else data["value"],
                         data["upper"] if has_ci else data["value"], strict=True):
        far = hi if v >= 0 else lo
        ends.append(k * (far if pd.notna(far) else v))
    positive = [v >= 0 for v in data["value"].fillna(0)]
    fig.add_trace(go.Scatter(
        x=ends if horizontal else names, y=names if horizontal else ends, mode="markers+text", text=shown,
        textposition=[("middle right" if p else "middle left") if horizontal
                      else ("top center" if p else "bottom center") for p in positive],
        marker={"size": 16, "opacity": 0}, textfont=LABEL_FONT, hoverinfo="skip", showlegend=False,
        cliponaxis=False))  # the invisible marker keeps the label clear of the whisker's cap
    if target is not None and np.isfinite(target):
        add_target(fig, target, unit, lang, horizontal=horizontal, digits=digits)
    reach = [e for e in ends if np.isfinite(e)] + ([k * target] if target is not None and np.isfinite(target) else [])
    lo, hi = min([0.0, *reach]), max([0.0, *reach])
    span = (hi - lo) or 1.0
    value_axis = {"title": axis_title(unit, lang), "range": [lo - (0.14 * span if lo < 0 else 0), hi + 0.14 * span]}
    if horizontal:
        fig.update_layout(xaxis=value_axis, yaxis={"autorange": "reversed"})
    else:
        fig.update_layout(yaxis=value_axis)
    return base_layout(fig, title, subtitle, height=max(320, 90 + 40 * len(data)) if horizontal else 420)


def single_value(
    row: pd.Series, unit: str, lang: str, title: str, subtitle: str, name: str,
    target: float | None = None, digits: int | None = None,
) -> go.Figure:
    """One category's value as a number against its target (a bullet: the value's bar, the target a
    red mark, the gap to target under the number), not one huge bar. ``row``: value, and lower,
    upper, n where known."""
    k = unit_scale(unit)
    d = fmt.decimals(unit) if digits is None else digits
    value = float(row["value"])
    has_target = target is not None and np.isfinite(target)
    lines = [plot_text(name)]
    if has_target:
        lines.append(plot_text(fmt.target_label(target, unit, lang, digits)))
    lower, upper = row.get("lower"), row.get("upper")
    if not fmt.missing(lower) and not fmt.missing(upper):
        lines.append(t("chart.interval", lang, lower=fmt.fmt_value(lower, unit, lang, digits),
                       upper=fmt.fmt_value(upper, unit, lang, digits)))
    if not fmt.missing(row.get("n")) and row.get("n"):
        lines.append(t("chart.n", lang, n=fmt.fmt_count(row.get("n"))))
    reach = [value] + ([target] if has_target else []) + [x for x in (lower, upper) if not fmt.missing(x)]
    axis_range, not_zero = value_range([k * float(x) for x in reach], unit)
    indicator = go.Indicator(
        mode="number+gauge" + ("+delta" if has_target else ""), value=k * value,
        number={"suffix": "%" if is_percent(unit) else "", "valueformat": fmt.d3_format(unit, d),
                "prefix": "¥" if unit == "currency" else "", "font": {"size": 44}},
        delta={"reference": k * target, "valueformat": fmt.d3_format(unit, d), "position": "bottom",
               "suffix": " pp" if is_percent(unit) else "", "increasing": {"color": "#444"},
               "decreasing": {"color": "#444"}} if has_target else None,
        title={"text": "<br>".join(f"<span style='font-size:{16 if i == 0 else 13}px'>{x}</span>"
                                   for i, x in enumerate(lines)), "align": "left"},
        domain={"x": [0.3, 0.95], "y": [0.15, 0.75]},
        gauge={"shape": "bullet", "axis": {"range": axis_range, "ticksuffix": "%" if is_percent(unit) else ""},
               "bar": {"color": theme.PRIMARY, "thickness": 0.45},
               "threshold": {"value": k * target, "line": {"color": TARGET_COLOUR, "width": 4}, "thickness": 0.9}
               if has_target else None},
    )
    fig = go.Figure(indicator)
    if not_zero:
        fig.add_annotation(text=t("chart.axis_not_zero_x", lang), xref="paper", yref="paper", x=0.95, y=0.02,
                           xanchor="right", yanchor="bottom", showarrow=False, font={"size": 12, "color": "#555"})
    return base_layout(fig, title, subtitle, height=300)


def month_ticks(months) -> dict:
    """Horizontal month ticks, every n months so that about eight labels fit (1024 px wide too)."""
    ms = pd.to_datetime(pd.Series(list(months))).dropna()
    span = 1 if ms.empty else (ms.max().year - ms.min().year) * 12 + ms.max().month - ms.min().month + 1
    step = next((s for s in (1, 2, 3, 6, 12) if span / s <= 8), 24)
    first = ms.min() if not ms.empty else None
    return {"tickformat": "%Y-%m", "dtick": f"M{step}", "tickangle": 0,
            **({"tick0": first.strftime("%Y-%m-01")} if first is not None else {})}


def month_value_axes(fig: go.Figure, drawn: list[float], unit: str, lang: str, months) -> None:
    """The axes of a chart over months: the value axis spans ``drawn`` (the plotted values, already in
    display units) from just under the data when 0 would flatten it (:func:`value_range`, its title
    saying so), with 8% room above for the labels; month ticks over ``months``."""
    axis_range, not_zero = value_range(drawn, unit)
    top = axis_range[1] + 0.08 * (axis_range[1] - axis_range[0])  # room for the last value's label
    fig.update_layout(yaxis={"title": axis_title(unit, lang, not_zero), "range": [axis_range[0], top],
                             "tickformat": fmt.TICK_D3},
                      xaxis={"title": t("common.month", lang), **month_ticks(months)})


def trend(
    df: pd.DataFrame, unit: str, lang: str, title: str, subtitle: str, by: str | None = None,
    target: float | None = None, region_names: Mapping[int, str] | None = None, digits: int | None = None,
) -> go.Figure:
    """Monthly line(s) with a 95% band (single series), the last value of each line labelled, a
    labelled target line; month labels horizontal, the legend beside the plot; the value axis from
    just under the data when 0 would flatten the line, saying so (:func:`value_range`)."""
    k = unit_scale(unit)
    fig = go.Figure()
    groups = [(None, df)] if by is None else [(g, d) for g, d in df.groupby(by, dropna=False, sort=False)]
    if by is not None:
        if theme.has_order(by):
            rank = {str(v): i for i, v in enumerate(theme.order(by, [g for g, _ in groups]))}
            groups = sorted(groups, key=lambda gd: rank[str(gd[0])])
        else:
            groups = sorted(groups, key=lambda gd: str(gd[0]))
    drawn: list[float] = []
    for i, (g, d) in enumerate(groups):
        d = d.sort_values("month")
        name = plot_text(title) if g is None else chart_names(by, [g], lang, region_names)[0]
        colour = theme.PRIMARY if g is None else theme.colour(by, g, i)
        if g is None and "lower" in d.columns and d["lower"].notna().any():
            fig.add_trace(go.Scatter(
                x=list(d["month"]) + list(d["month"])[::-1],
                y=list(k * d["upper"]) + list(k * d["lower"])[::-1], fill="toself",
                fillcolor="rgba(31,78,156,0.15)", line={"width": 0}, hoverinfo="skip", showlegend=False))
            drawn += list(k * d["upper"]) + list(k * d["lower"])
        shown = label_text(d["value"], unit, lang, digits)
        last = len(d) - 1
        fig.add_trace(go.Scatter(
            x=d["month"], y=k * d["value"], mode="lines+markers+text", name=name,
            text=[x if j == last else "" for j, x in enumerate(shown)], textposition="top center",
            textfont={**LABEL_FONT, "color": colour}, cliponaxis=False,
            hovertext=[f"{name}: {x}" for x in shown], hoverinfo="x+text", line={"color": colour, "width": 2.5},
            showlegend=g is not None))
        drawn += list(k * d["value"])
    if target is not None and np.isfinite(target):
        add_target(fig, target, unit, lang, digits=digits)
        drawn.append(k * target)
    month_value_axes(fig, drawn, unit, lang, df["month"] if len(df) else [])
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
    fig = go.Figure(go.Bar(x=d[score_col].astype(int), y=d["n"], marker_color=colours,
                           text=[fmt.fmt_count(n) for n in d["n"]], textposition="outside", textfont=LABEL_FONT,
                           cliponaxis=False))
    fig.update_layout(xaxis={"title": t(f"score.{score_col}", lang), "dtick": 1},
                      yaxis={"title": t("unit.answers", lang), "rangemode": "tozero", "tickformat": ",d"})
    return base_layout(fig, title, subtitle, height=360)
