"""Churn and retention: monthly and annualised churn by segment and tier with intervals, the trend,
why customers left and who they were. A view: numbers come from the engine."""

from __future__ import annotations

import streamlit as st

from metrics.analysis import drill
from metrics.churn import rates as churn
from metrics.present.charts import comparisons as charts_more
from servicewatch import churn_panels, panels, ui
from servicewatch.kpis import show_chart
from servicewatch.tables import localise, number_columns

LIST_LIMIT = 1000
LIST_FIRST = ("customer_id", "name", "monthly_revenue", "end_date", "churn_reason")  # leavers: key columns first
SECTIONS = ("by_segment_tier", "trend", "reasons", "retention", "risk")

view = ui.page("page.churn.title")
f, lang, sub = view.filters, view.lang, view.subtitle()
st.caption(view.t("page.churn.intro"))

total = view.compare("churn_rate")
active = view.compare("active_customers")
if total.empty and active.empty:
    ui.empty_state(view)
    st.stop()

# -- headline numbers -------------------------------------------------------------------------
churn_panels.headline(view, total, active)


# -- trend by month ---------------------------------------------------------------------------
def trend() -> None:
    st.header(view.t("page.churn.trend_header"))
    trend_f = f.about_a_year()  # at least 12 months
    left, right = st.columns(2)
    with left:
        panels.trend(view, "churn_rate", view.t("page.churn.trend_title"), trend_f, key="churn_trend",
                     target=view.target("churn_rate"))
    with right:
        panels.trend(view, "active_customers", view.t("page.churn.active_title"), trend_f, key="churn_active_trend")


# -- reasons ----------------------------------------------------------------------------------
def reasons() -> None:
    st.header(view.t("page.churn.reasons_header"))
    why = view.call(churn.churn_reasons, f)
    if not why.empty:
        st.caption(view.t("page.churn.reasons_caption"))
    show_chart(view, why, lambda: charts_more.ranked_bars(why, "churn_reason", lang, view.t("page.churn.reasons_title"),
                                                          sub, "customers", share_col="share"), "churn_reasons",
               metrics="churn_rate")
    # who left
    st.header(view.t("page.churn.list_header"))
    leavers = view.call(drill.customers, f, LIST_LIMIT, True)
    if leavers.empty:
        ui.empty_state(view)
    else:
        st.caption(view.t("page.churn.list_caption", limit=LIST_LIMIT))
        first = [c for c in LIST_FIRST if c in leavers.columns]  # the key and what the list is sorted by
        leavers = leavers[first + [c for c in leavers.columns if c not in first]]
        panels.listing(view, localise(leavers, lang, view.region_names), view.t("page.churn.list_file"),
                       "churn_list_csv", "churn_list.csv", number_columns(leavers, lang), pin=2,
                       export={"columns": tuple(leavers.columns), "f": f, "metrics": ("churn_rate",),
                               "title": view.t("page.churn.list_header")})


# -- one section at a time (by segment and tier, retention, the risk model: servicewatch.churn_panels) --
{"by_segment_tier": lambda: churn_panels.by_segment_tier_panel(view), "trend": trend, "reasons": reasons,
 "retention": lambda: churn_panels.retention_panel(view),
 "risk": lambda: churn_panels.risk_panel(view)}[ui.sections(view, SECTIONS)]()
