"""Complaints: volume and rate per 1,000 customers, handling quality, a funnel plot of regions
and a drill-down to the complaints behind a bar or point."""

from __future__ import annotations

import streamlit as st

from metrics.analysis import drill, league
from metrics.model.registry import get
from metrics.present.charts import core as charts
from servicewatch import ui
from servicewatch.downloads import list_download
from servicewatch.kpis import kpi, show_chart
from servicewatch.tables import MISSING, fitted_columns

DIMS = ("region", "tier", "channel", "category")
HANDLING = ("resolution_hours_median", "resolution_hours_p90", "complaint_fcr_rate", "reopen_rate", "escalation_rate",
            "revisit_rate", "revisit_satisfaction")
SECTIONS = ("rate", "funnel", "handling")
DRILL_COLUMNS = ("ticket_id", "opened_at", "customer_id", "name", "tier", "region", "channel", "category",
                 "priority", "resolved_at", "resolution_due_at", "escalated", "reopened", "open", "age_hours")

view = ui.page("page.complaints.title")
t = view.t
f = view.filters.with_(kinds=("complaint",))
sub = view.subtitle(f=f)

volume = view.compare("tickets", f=f)
if volume.empty:
    ui.empty_state(view)
    st.stop()


cards = st.columns(4)
kpi(cards[0], view, "tickets", volume, label=t("page.complaints.volume"))
kpi(cards[1], view, "complaint_rate", view.compare("complaint_rate", f=f),
    view.target("complaint_rate", f))
kpi(cards[2], view, "resolution_hours_median", view.compare("resolution_hours_median", f=f))
kpi(cards[3], view, "resolution_hours_p90", view.compare("resolution_hours_p90", f=f))
cards = st.columns(5)
for col, mid in zip(cards, HANDLING[2:], strict=True):
    kpi(col, view, mid, view.compare(mid, f=f), view.target(mid, f))
st.caption(t("page.complaints.kpi_note"))

rf, level = league.scope(f, view.regions)
rate_metric = get("complaint_rate")
selections: list[tuple[str, list[str]]] = []  # (dimension, values picked in a chart of the section)

# -- complaint rate by a dimension ------------------------------------------------------------
def rate() -> None:
    st.subheader(t("page.complaints.rate_by"))
    dim = view.choice("dim", DIMS, t("page.complaints.cut_by"), horizontal=True,
                      format_func=lambda d: t(f"page.complaints.dim.{d}"))
    dim_f = rf if dim == "region" else f
    rates = view.metric("complaint_rate", (dim,), level, f=dim_f)
    left, right = st.columns([3, 2])
    with left:
        picked = show_chart(view, rates, lambda: charts.bar_ci(
            rates, dim, rate_metric.unit, view.lang,
            f"{view.metric_label('complaint_rate')} · {t(f'page.complaints.dim.{dim}')}",
            view.subtitle(f=dim_f), region_names=view.region_names,
            target=view.target("complaint_rate", f)), f"complaint_rate_by_{dim}", select=True, f=dim_f)
        selections.append((dim, ui.selected_values(picked)))
    with right:
        if not rates.empty:
            col = "region_id" if dim == "region" else dim
            table = rates[[col, "n", "exposure", "value", "lower", "upper"]].copy()
            table[col] = (charts.category_names(dim, table[col], view.lang, view.region_names))
            names = {col: t(f"page.complaints.dim.{dim}"), "n": t("page.complaints.volume"),
                     "exposure": t("page.complaints.exposure"), "value": t("page.complaints.rate"),
                     "lower": t("common.lower"), "upper": t("common.upper")}
            shown = table.rename(columns=names)
            st.dataframe(shown, hide_index=True, width="stretch", column_config=fitted_columns(shown, {
                names[c]: st.column_config.NumberColumn(format="%.1f")
                for c in ("exposure", "value", "lower", "upper")}), placeholder=MISSING)
            st.caption(t("page.complaints.rate_note"))


# -- funnel plot --------------------------------------------------------------------------------
def funnel() -> None:
    st.subheader(t("page.complaints.funnel"))
    groups = view.metric("complaint_rate", ("region",), level, f=rf)
    points, limits, overall = league.funnel(groups, view.metric("complaint_rate", f=rf))
    picked = show_chart(view, points, lambda: charts.funnel(
        points, overall, limits, rate_metric.unit, view.lang, t("page.complaints.funnel_title"),
        view.subtitle(f=rf), view.region_names), "complaint_funnel", select=True,
        metrics="complaint_rate", f=rf)
    selections.append(("region", ui.selected_values(picked)))
    st.caption(t("page.complaints.funnel_note"))


# -- handling quality -------------------------------------------------------------------------
def handling() -> None:
    st.subheader(t("page.complaints.handling"))
    c1, c2 = st.columns([2, 3])
    handling = view.choice("handling", HANDLING, t("page.complaints.handling_metric"), widget="selectbox", where=c1,
                           format_func=view.metric_label)
    hdim = view.choice("handling_dim", DIMS, t("page.complaints.cut_by"), where=c2, horizontal=True,
                       format_func=lambda d: t(f"page.complaints.dim.{d}"))
    hm = get(handling)
    h_f = rf if hdim == "region" else f
    by_h = view.metric(handling, (hdim,), level, f=h_f)
    show_chart(view, by_h, lambda: charts.bar_ci(
        by_h, hdim, hm.unit, view.lang, f"{view.metric_label(handling)} · {t(f'page.complaints.dim.{hdim}')}",
        view.subtitle(f=h_f),
        region_names=view.region_names, target=view.target(handling, f)),
        f"complaint_{handling}_by_{hdim}", metrics=handling, f=h_f)


# -- one section at a time; a bar or point picked in its chart drills down below ----------------
section = ui.sections(view, SECTIONS)
{"rate": rate, "funnel": funnel, "handling": handling}[section]()
if section == "handling":  # its chart is not for picking: nothing to drill into
    st.stop()

# -- drill-down ---------------------------------------------------------------------------------
st.subheader(t("export.drill"))
chosen = next(((d, v) for d, v in reversed(selections) if v), None)
if chosen is None:
    st.info(t("export.drill_hint"))
else:
    d, values = chosen
    narrowed = f.narrowed(d, values)
    rows = view.call(drill.tickets, narrowed, 1000)
    st.markdown(view.md("page.complaints.drill_caption", scope=view.subtitle(f=narrowed), n=len(rows)))
    if rows.empty:
        ui.empty_state(view)
    else:
        rows = rows.assign(region=charts.category_names("region", rows["region_id"], view.lang, view.region_names),
                           tier=[view.label("tier", v) for v in rows["tier"]],
                           channel=[view.label("channel", v) for v in rows["channel"]],
                           category=[view.label("category", v) for v in rows["category"]])
        shown = rows[list(DRILL_COLUMNS)].rename(columns={c: t(f"page.complaints.col.{c}") for c in DRILL_COLUMNS})
        st.dataframe(shown, hide_index=True, width="stretch", height=360, placeholder=MISSING)
        list_download(view, shown, "complaints", "complaints_drill_csv", "complaints.csv")
