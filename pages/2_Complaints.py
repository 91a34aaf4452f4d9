"""Complaints: volume and rate per 1,000 customers, handling quality, a funnel plot of regions
and a drill-down to the complaints behind a bar or point."""

from __future__ import annotations

import streamlit as st

from metrics.analysis import league
from metrics.model.registry import get
from metrics.present.charts import core as charts
from servicewatch import complaints_panels, forecast_panel, panels, ui, voc_panel
from servicewatch.kpis import kpi_row, show_chart

DIMS = ("region", "tier", "channel", "category")
HANDLING = ("resolution_hours_median", "resolution_hours_p90", "complaint_fcr_rate", "reopen_rate", "escalation_rate",
            "revisit_rate", "revisit_satisfaction")
SECTIONS = ("rate", "funnel", "handling", "voc")

view = ui.page("page.complaints.title")
t = view.t
f = view.filters.with_(kinds=("complaint",))

volume = view.compare("tickets", f=f)
if volume.empty:
    ui.empty_state(view)
    st.stop()

# -- headline numbers -------------------------------------------------------------------------
# every figure here counts complaints only: each card by its complaints name, never the all-ticket one's
notes: list = []  # each card's lines (what drove it, where it is heading): once both rows' values are shown
kpi_row(view, ("tickets", "complaint_rate", *HANDLING[:2]), f, ("complaint_rate",),
        {m: complaints_panels.complaints_label(view, m) for m in ("tickets", "complaint_rate", *HANDLING[:2])},
        later=notes)
kpi_row(view, HANDLING[2:], f, labels={m: complaints_panels.complaints_label(view, m) for m in HANDLING[2:]},
        later=notes)
for draw_notes in notes:
    draw_notes()
st.caption(t("page.complaints.kpi_note"))

rf, level = league.scope(f, view.regions)
selections: list[tuple[str, list[str]]] = []  # (dimension, values picked in a chart of the section)


def title(metric_id: str, dim: str) -> str:
    return f"{complaints_panels.complaints_label(view, metric_id)} · {t(f'page.complaints.dim.{dim}')}"


# -- complaint rate by a dimension ------------------------------------------------------------
def rate() -> None:
    st.subheader(t("page.complaints.rate_by"))
    dim = view.choice("dim", DIMS, t("page.complaints.cut_by"), horizontal=True,
                      format_func=lambda d: t(f"page.complaints.dim.{d}"))
    dim_f, level = league.scope_for(dim, f, view.regions)
    left, right = st.columns([3, 2])
    rates, picked = panels.bars_by(view, left, "complaint_rate", dim, level, title("complaint_rate", dim),
                                   view.target("complaint_rate", f), f=dim_f, key=f"complaint_rate_by_{dim}",
                                   select=True)
    chart_key = f"complaint_rate_by_{dim}"  # the pick lives in the link (pick=dim:…), said in words
    values = complaints_panels.picked(view, dim, ui.selected_values(picked), chart_key, rates)
    complaints_panels.pick_line(view, dim, values, chart_key)
    selections.append((dim, values))
    with right:
        complaints_panels.rate_table(view, rates, dim)
    # by month, and after the last complete month the forecast's fan (the Overview card's forecast)
    trend_title = t("forecast.trend.title", metric=complaints_panels.complaints_label(view, "complaint_rate"))
    forecast_panel.trend_with_forecast(view, "complaint_rate", trend_title, f.reaching_months(12), f,
                                       key="complaint_rate_trend", target=view.target("complaint_rate", f))


# -- funnel plot --------------------------------------------------------------------------------
def funnel() -> None:
    st.subheader(t("page.complaints.funnel"))
    groups = view.metric("complaint_rate", ("region",), level, f=rf)
    points, limits, overall = league.funnel(groups, view.metric("complaint_rate", f=rf))
    picked = show_chart(view, points, lambda: charts.funnel(
        points, overall, limits, get("complaint_rate").unit, view.lang, t("page.complaints.funnel_title"),
        view.subtitle(f=rf), view.region_names), complaints_panels.FUNNEL, select=True,
        metrics="complaint_rate", f=rf)
    values = complaints_panels.picked(view, "region", ui.selected_values(picked), complaints_panels.FUNNEL, points)
    complaints_panels.pick_line(view, "region", values, complaints_panels.FUNNEL)
    selections.append(("region", values))
    st.caption(t("page.complaints.funnel_note"))


# -- handling quality -------------------------------------------------------------------------
def handling() -> None:
    st.subheader(t("page.complaints.handling"))
    c1, c2 = st.columns([2, 3])
    handling = view.choice("handling", HANDLING, t("page.complaints.handling_metric"), widget="selectbox", where=c1,
                           format_func=lambda m: complaints_panels.complaints_label(view, m))
    hdim = view.choice("handling_dim", DIMS, t("page.complaints.cut_by"), where=c2, horizontal=True,
                       format_func=lambda d: t(f"page.complaints.dim.{d}"))
    h_f, level = league.scope_for(hdim, f, view.regions)
    panels.bars_by(view, None, handling, hdim, level, title(handling, hdim), view.target(handling, f), f=h_f,
                   key=f"complaint_{handling}_by_{hdim}", metrics=handling)


# -- one section at a time; a bar or point picked in its chart drills down below ----------------
section = ui.sections(view, SECTIONS)
{"rate": rate, "funnel": funnel, "handling": handling, "voc": lambda: voc_panel.show(view, f)}[section]()
if section in ("handling", "voc"):  # their charts are not for picking: nothing to drill into
    st.stop()

complaints_panels.drill_down(view, f, selections)
