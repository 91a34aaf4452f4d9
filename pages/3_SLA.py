"""SLA commitments: compliance with intervals, breached tickets, compensation, circuit availability,
and whether higher tiers get faster service. A view: numbers come from the engine."""

from __future__ import annotations

import streamlit as st

from metrics.analysis import drill, league
from metrics.present.charts import core as charts
from servicewatch import forecast_panel, panels, sla_panels, ui
from servicewatch.kpis import kpi_row
from servicewatch.tables import localise, number_columns

BREACH_LIMIT = 1000
CUTS = ("tier", "sla_level", "region", "priority")
BREACH_COLUMNS = ("ticket_id", "open", "age_hours", "opened_at", "resolution_due_at", "resolved_at", "customer_id",
                  "name", "tier", "region_id", "priority", "category", "channel", "compensation")

view = ui.page("page.sla.title")
f, lang, sub = view.filters, view.lang, view.subtitle()
level = league.scope(f, view.regions)[1]  # districts of the chosen city, or of the user's one city
st.caption(view.t("page.sla.intro"))

resolution = view.compare("sla_resolution_compliance")
if resolution.empty or resolution["n"].fillna(0).sum() == 0:
    sla_panels.nothing_to_show(view)  # no due times at all, or nothing within the filters
    st.stop()

# -- headline numbers -------------------------------------------------------------------------
notes: list = []  # the cards' notes (models): drawn into their places once the section's charts are sent
kpi_row(view, ("sla_response_compliance", "sla_resolution_compliance", "compensation_total", "availability"),
        later=notes)

# -- compliance by a dimension ----------------------------------------------------------------
def compliance() -> None:
    st.header(view.t("page.sla.compliance_header"))
    cut = view.choice("cut", CUTS, view.t("page.sla.cut_by"), "tier", widget="segmented",
                      format_func=lambda d: view.t(f"page.tables.{d}"))
    for col, metric_id in zip(st.columns(2), ("sla_response_compliance", "sla_resolution_compliance"), strict=True):
        title = view.t("page.sla.by_title", metric=view.metric_label(metric_id), dim=view.t(f"page.tables.{cut}"))
        panels.bars_by(view, col, metric_id, cut, level, title, view.target(metric_id), key=f"sla_{metric_id}_{cut}",
                       groups="known")
    # by month, and after the last complete month the forecast's fan (the Overview card's forecast)
    for col, metric_id in zip(st.columns(2), ("sla_response_compliance", "sla_resolution_compliance"), strict=True):
        with col:
            forecast_panel.trend_with_forecast(view, metric_id, view.t("forecast.trend.title",
                                                                       metric=view.metric_label(metric_id)),
                                               f.reaching_months(12), key=f"sla_{metric_id}_trend",
                                               target=view.target(metric_id))
    st.caption(view.t("common.interval_note"))


# -- breached tickets -------------------------------------------------------------------------
def breaches() -> None:
    st.header(view.t("page.sla.breaches_header"))
    breaches = view.call(drill.tickets, f, BREACH_LIMIT, True)
    if breaches.empty:
        st.info(view.t("page.sla.breaches_none"))
    else:
        st.caption(view.t("page.sla.breaches_caption", limit=BREACH_LIMIT))
        shown = localise(breaches, lang, view.region_names, BREACH_COLUMNS)
        panels.listing(view, shown, view.t("page.sla.breaches_file"), "sla_breaches_csv", "sla_breaches.csv",
                       number_columns(breaches[["age_hours"]], lang),
                       export={"columns": BREACH_COLUMNS, "f": f, "title": view.t("page.sla.breaches_header"),
                               "metrics": ("sla_resolution_compliance",)})


# -- compensation -----------------------------------------------------------------------------
def compensation() -> None:
    st.header(view.t("page.sla.compensation_header"))
    for col, dim in zip(st.columns(2), ("sla_level", "region"), strict=True):
        panels.bars_by(view, col, "compensation_total", dim, level,
                       view.t("page.sla.compensation_by", dim=view.t(f"page.tables.{dim}")),
                       key=f"sla_compensation_{dim}", metrics="compensation_total", groups="counted")
    monthly = view.metric("compensation_total", ("month",))
    if not monthly.empty:
        fig = charts.trend(monthly, "currency", lang, view.t("page.sla.compensation_trend"), sub)
        ui.chart(view, fig, monthly, "sla_compensation_month", metrics="compensation_total")


# -- one section at a time ---------------------------------------------------------------------
SECTIONS = {"compliance": compliance, "tiers": lambda: sla_panels.tiers_panel(view), "breaches": breaches,
            "compensation": compensation, "availability": lambda: sla_panels.availability_panel(view)}
try:
    SECTIONS[ui.sections(view, tuple(SECTIONS))]()
finally:  # the cards' notes after the section's charts, even when the section stops the page
    for draw_notes in notes:
        draw_notes()
