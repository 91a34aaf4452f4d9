"""Churn and retention: monthly and annualised churn by segment and tier with intervals, the trend,
why customers left and who they were. A view: numbers come from the engine."""

from __future__ import annotations

import streamlit as st

from metrics.analysis import drill
from metrics.churn import rates as churn
from metrics.model.filters import add_months
from metrics.present.charts import comparisons as charts_more
from metrics.present.charts import core as charts
from metrics.present.formatting import fmt_value
from servicewatch import churn_panels, ui
from servicewatch.downloads import list_download
from servicewatch.kpis import kpi, show_chart
from servicewatch.tables import MISSING, fitted_columns, localise, number_columns

LIST_LIMIT = 1000
LIST_FIRST = ("customer_id", "name", "monthly_revenue", "end_date", "churn_reason")  # leavers: key columns first
SECTIONS = ("by_segment_tier", "trend", "reasons", "retention", "risk")
BY_COLUMNS = ("value", "lower", "upper", "annual", "annual_lower", "annual_upper", "n", "exposure")

view = ui.page("page.churn.title")
f, lang, sub = view.filters, view.lang, view.subtitle()
st.caption(view.t("page.churn.intro"))

total = view.compare("churn_rate")
active = view.compare("active_customers")
if total.empty and active.empty:
    ui.empty_state(view)
    st.stop()

# -- headline numbers -------------------------------------------------------------------------
overall = view.call(churn.churn_by, f, ())
cards = st.columns(4)
kpi(cards[0], view, "churn_rate", total, view.target("churn_rate"))
annual = overall["annual"].iloc[0] if len(overall) else None
cards[1].metric(view.t("page.churn.kpi_annual"), fmt_value(annual, "share", lang),
                help=None if overall.empty else "95%: " + " – ".join(
                    fmt_value(overall[c].iloc[0], "share", lang) for c in ("annual_lower", "annual_upper")))
cards[2].metric(view.t("page.churn.kpi_churned"), fmt_value(overall["n"].iloc[0] if len(overall) else 0,
                                                            "customers", lang))
kpi(cards[3], view, "active_customers", active)

# -- by segment and tier ----------------------------------------------------------------------
def by_segment_tier() -> None:
    st.header(view.t("page.churn.by_header"))
    for dim in ("segment", "tier"):
        by = view.call(churn.churn_by, f, (dim,))
        by = by[by[dim].notna()]
        if by.empty:
            ui.empty_state(view)
            continue
        left, right = st.columns(2)
        dim_name = view.t(f"page.tables.{dim}")
        with left:
            fig = charts.bar_ci(by, dim, "share_per_month", lang, view.t("page.churn.by_title", dim=dim_name), sub)
            ui.chart(view, fig, by[[dim, *BY_COLUMNS]], f"churn_monthly_{dim}", metrics="churn_rate")
        with right:
            yearly = by[[dim, "annual", "n", "annual_lower", "annual_upper"]].rename(
                columns={"annual": "value", "annual_lower": "lower", "annual_upper": "upper"})
            fig = charts.bar_ci(yearly, dim, "share", lang, view.t("page.churn.annual_title", dim=dim_name), sub)
            ui.chart(view, fig, by[[dim, *BY_COLUMNS]], f"churn_annual_{dim}", metrics="churn_rate")
    st.caption(view.t("common.interval_note"))


# -- trend by month ---------------------------------------------------------------------------
def trend() -> None:
    st.header(view.t("page.churn.trend_header"))
    trend_f = f if f.days > 330 else f.with_(start=add_months(f.end.replace(day=1), -11))  # at least 12 months
    trend_sub = view.subtitle(f=trend_f)
    left, right = st.columns(2)
    monthly = view.metric("churn_rate", ("month",), f=trend_f)
    stock = view.metric("active_customers", ("month",), f=trend_f)
    with left:
        title = view.t("page.churn.trend_title")
        show_chart(view, monthly, lambda: charts.trend(monthly, "share_per_month", lang, title, trend_sub,
                                                       target=view.target("churn_rate")), "churn_trend",
                   metrics="churn_rate", f=trend_f)
    with right:
        show_chart(view, stock, lambda: charts.trend(stock, "customers", lang, view.t("page.churn.active_title"),
                                                     trend_sub), "churn_active_trend",
                   metrics="active_customers", f=trend_f)


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
        shown = localise(leavers, lang, view.region_names)
        st.dataframe(shown, hide_index=True, width="stretch", height=360, placeholder=MISSING,
                     column_config=fitted_columns(shown, number_columns(leavers, lang), pin=2))
        list_download(view, shown, view.t("page.churn.list_file"), "churn_list_csv", "churn_list.csv")


# -- one section at a time (retention curves and the risk model: servicewatch.churn_panels) ---------
{"by_segment_tier": by_segment_tier, "trend": trend, "reasons": reasons,
 "retention": lambda: churn_panels.retention_panel(view),
 "risk": lambda: churn_panels.risk_panel(view)}[ui.sections(view, SECTIONS)]()
