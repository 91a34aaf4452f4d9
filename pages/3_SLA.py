"""SLA commitments: compliance with intervals, breached tickets, compensation, circuit availability,
and whether higher tiers get faster service. A view: numbers come from the engine."""

from __future__ import annotations

import streamlit as st

from metrics.analysis import drill, league, sla
from metrics.model.registry import dim_column
from metrics.present.charts import comparisons as charts_more
from metrics.present.charts import core as charts
from servicewatch import ui
from servicewatch.downloads import list_download
from servicewatch.kpis import kpi, show_chart
from servicewatch.tables import MISSING, fitted_columns, localise, number_columns

BREACH_LIMIT = 1000
CUTS = ("tier", "sla_level", "region", "priority")
SERVICE_METRICS = ("resolution_hours_median", "resolution_hours_p90", "sla_resolution_compliance",
                   "sla_response_compliance")  # what the service-by-tier table shows
BREACH_COLUMNS = ("ticket_id", "open", "age_hours", "opened_at", "resolution_due_at", "resolved_at", "customer_id",
                  "name", "tier", "region_id", "priority", "category", "channel", "compensation")

view = ui.page("page.sla.title")
f, lang, sub = view.filters, view.lang, view.subtitle()
level = league.scope(f, view.regions)[1]  # districts of the chosen city, or of the user's one city
st.caption(view.t("page.sla.intro"))

resolution = view.compare("sla_resolution_compliance")
if resolution.empty or resolution["n"].fillna(0).sum() == 0:
    supply = view.call(sla.due_times)
    if supply.none:  # not the filters: no ticket has a due time, nor a commitment to derive one from
        st.info(view.t("page.sla.no_due_times_policies" if supply.policies else "page.sla.no_due_times"))
    else:
        ui.empty_state(view)
    st.stop()

# -- headline numbers -------------------------------------------------------------------------
cards = st.columns(4)
for card, metric_id, frame in (
        (cards[0], "sla_response_compliance", view.compare("sla_response_compliance")),
        (cards[1], "sla_resolution_compliance", resolution),
        (cards[2], "compensation_total", view.compare("compensation_total")),
        (cards[3], "availability", view.compare("availability"))):
    kpi(card, view, metric_id, frame, view.target(metric_id))

# -- compliance by a dimension ----------------------------------------------------------------
def compliance() -> None:
    st.header(view.t("page.sla.compliance_header"))
    cut = view.choice("cut", CUTS, view.t("page.sla.cut_by"), "tier", widget="segmented",
                      format_func=lambda d: view.t(f"page.tables.{d}"))
    left, right = st.columns(2)
    for col, metric_id in ((left, "sla_response_compliance"), (right, "sla_resolution_compliance")):
        df = view.metric(metric_id, (cut,), level)
        df = df[df[dim_column(cut)].notna()]
        with col:
            if df.empty:
                ui.empty_state(view)
                continue
            title = view.t("page.sla.by_title", metric=view.metric_label(metric_id), dim=view.t(f"page.tables.{cut}"))
            target = view.target(metric_id)
            fig = charts.bar_ci(df, cut, "share", lang, title, sub, view.region_names, target=target)
            ui.chart(view, fig, df, f"sla_{metric_id}_{cut}")
    st.caption(view.t("common.interval_note"))


# -- do higher tiers get faster service? ------------------------------------------------------
def tiers() -> None:
    st.header(view.t("page.sla.tier_header"))
    for dim, title_key in (("tier", "page.sla.tier_title"), ("sla_level", "page.sla.sla_title")):
        service = view.call(sla.service_by, f, dim)
        if service.empty:
            continue
        gap = sla.tier_gap(service, dim)
        if gap is None:
            if dim == "tier":
                st.info(view.t("page.sla.answer_none"))
        else:
            words = view.md(f"page.sla.answer_{gap.verdict}", top=view.label(dim, gap.top),
                           bottom=view.label(dim, gap.bottom), **gap.figures())
            sig = view.t("page.sla.significant" if gap.significant else "page.sla.not_significant")
            (st.success if gap.verdict == "yes" else st.warning)(f"{words} {sig}")
        fig = charts_more.tier_service(service, dim, lang, view.t(title_key), sub)
        ui.chart(view, fig, service, f"sla_service_{dim}", metrics=SERVICE_METRICS)
        if dim == "tier":
            service_shown = localise(service, lang)
            st.dataframe(service_shown, hide_index=True, width="stretch", placeholder=MISSING,
                         column_config=fitted_columns(service_shown, number_columns(service, lang)))
    st.caption(view.t("page.sla.tier_note"))
    undated = view.call(sla.due_times).undated  # resolved by their status, without a resolution time
    if undated:
        st.caption(view.t("page.sla.undated_note", n=f"{undated:,}"))


# -- breached tickets -------------------------------------------------------------------------
def breaches() -> None:
    st.header(view.t("page.sla.breaches_header"))
    breaches = view.call(drill.tickets, f, BREACH_LIMIT, True)
    if breaches.empty:
        st.info(view.t("page.sla.breaches_none"))
    else:
        st.caption(view.t("page.sla.breaches_caption", limit=BREACH_LIMIT))
        shown = localise(breaches, lang, view.region_names, BREACH_COLUMNS)
        st.dataframe(shown, hide_index=True, width="stretch", height=360, placeholder=MISSING,
                     column_config=fitted_columns(shown, number_columns(breaches[["age_hours"]], lang)))
        list_download(view, shown, view.t("page.sla.breaches_file"), "sla_breaches_csv", "sla_breaches.csv")


# -- compensation -----------------------------------------------------------------------------
def compensation() -> None:
    st.header(view.t("page.sla.compensation_header"))
    left, right = st.columns(2)
    for col, dim in ((left, "sla_level"), (right, "region")):
        df = view.metric("compensation_total", (dim,), level)
        df = df[df[dim_column(dim)].notna() & (df["n"] > 0)]
        with col:
            if df.empty:
                ui.empty_state(view)
                continue
            title = view.t("page.sla.compensation_by", dim=view.t(f"page.tables.{dim}"))
            fig = charts.bar_ci(df, dim, "currency", lang, title, sub, view.region_names)
            ui.chart(view, fig, df, f"sla_compensation_{dim}", metrics="compensation_total")
    monthly = view.metric("compensation_total", ("month",))
    if not monthly.empty:
        fig = charts.trend(monthly, "currency", lang, view.t("page.sla.compensation_trend"), sub)
        ui.chart(view, fig, monthly, "sla_compensation_month", metrics="compensation_total")


# -- circuit availability against the commitments ----------------------------------------------
def availability() -> None:
    st.header(view.t("page.sla.availability_header"))
    avail = view.call(sla.availability_vs_target, f)
    if not avail.empty:
        st.caption(view.t("page.sla.availability_caption"))
    show_chart(view, avail, lambda: charts_more.against_targets(avail, "sla_level", lang,
                                                                view.t("page.sla.availability_title"), sub, digits=3),
               "sla_availability")
    if not avail.empty:
        for row in avail.itertuples():
            key = "page.sla.availability_met" if row.met else "page.sla.availability_missed"
            words = view.md(key, level=view.label("sla_level", row.sla_level), value=row.value, target=row.target)
            st.markdown(f"- {words}")
    with st.expander(view.t("page.sla.policies")):
        policies = localise(view.call(sla.policies), lang)
        st.dataframe(policies, hide_index=True, width="stretch", placeholder=MISSING,
                     column_config=fitted_columns(policies))


# -- one section at a time ---------------------------------------------------------------------
SECTIONS = {"compliance": compliance, "tiers": tiers, "breaches": breaches, "compensation": compensation,
            "availability": availability}
SECTIONS[ui.sections(view, tuple(SECTIONS))]()
