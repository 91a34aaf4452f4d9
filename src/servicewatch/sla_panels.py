"""The SLA page's longer sections, as functions a page calls with its ``View``: why there is nothing
to show, whether higher tiers get faster service, and circuit availability against the commitments.
Numbers come from the engine (``metrics.analysis.sla``)."""

from __future__ import annotations

import streamlit as st

from metrics.analysis import sla
from metrics.present.charts import comparisons as charts_more
from servicewatch import panels
from servicewatch.kpis import show_chart
from servicewatch.tables import localise, number_columns
from servicewatch.ui import View, chart, empty_state

SERVICE_METRICS = tuple(sla.SERVICE_METRICS.values())  # what the service-by-tier table shows


def nothing_to_show(view: View) -> None:
    """The page's empty state: that no ticket has a due time (nor a commitment to derive one from)
    when that is why, else that the filters found nothing."""
    supply = view.call(sla.due_times)
    if supply.none:  # not the filters: no ticket has a due time, nor a commitment to derive one from
        st.info(view.t("page.sla.no_due_times_policies" if supply.policies else "page.sla.no_due_times"))
    else:
        empty_state(view)


def tiers_panel(view: View) -> None:
    """Service by tier and by SLA level: the answer to "do higher tiers get faster service?" in words
    with its significance, the chart, and the tier table."""
    st.header(view.t("page.sla.tier_header"))
    for dim, title_key in (("tier", "page.sla.tier_title"), ("sla_level", "page.sla.sla_title")):
        service = view.call(sla.service_by, view.filters, dim)
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
        fig = charts_more.tier_service(service, dim, view.lang, view.t(title_key), view.subtitle())
        chart(view, fig, service, f"sla_service_{dim}", metrics=SERVICE_METRICS)
        if dim == "tier":
            panels.table(localise(service, view.lang), number_columns(service, view.lang))
    st.caption(view.t("page.sla.tier_note"))
    undated = view.call(sla.due_times).undated  # resolved by their status, without a resolution time
    if undated:
        st.caption(view.t("page.sla.undated_note", n=f"{undated:,}"))


def availability_panel(view: View) -> None:
    """Circuit availability per SLA level against its commitment, each level met or missed in words,
    and the commitments themselves."""
    st.header(view.t("page.sla.availability_header"))
    avail = view.call(sla.availability_vs_target, view.filters)
    if not avail.empty:
        st.caption(view.t("page.sla.availability_caption"))
    show_chart(view, avail, lambda: charts_more.against_targets(
        avail, "sla_level", view.lang, view.t("page.sla.availability_title"), view.subtitle(), digits=3),
        "sla_availability")
    for row in avail.itertuples():
        key = "page.sla.availability_met" if row.met else "page.sla.availability_missed"
        words = view.md(key, level=view.label("sla_level", row.sla_level), value=row.value, target=row.target)
        st.markdown(f"- {words}")
    with st.expander(view.t("page.sla.policies")):
        panels.table(localise(view.call(sla.policies), view.lang))
