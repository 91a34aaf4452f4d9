"""The complaints behind one outlet on the Outlets page (issue 19, :mod:`servicewatch.outlets_panel`):
its complaints in the period by category, and for the roles that may see lists the most recent ones
with their descriptions masked by the engine (:mod:`metrics.analysis.outlet_complaints`); a viewer
gets the counts only, small categories withheld. Text from the catalogue; the data's text as text."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics.analysis import outlet_complaints as oc
from metrics.present.formatting import fmt_count, fmt_percent
from servicewatch import panels
from servicewatch.ui import View

RECENT = 10  # the most recent complaints listed


def _col(view: View, key: str) -> str:
    return view.t(f"page.outlets.behind.col.{key}")


def behind(view: View, oid: int, total: int) -> None:
    """The outlet ``oid``'s ``total`` complaints by category (the largest in a sentence), then the most
    recent ones (masked) or, for a viewer, one line that the list is not theirs to see."""
    cats = view.call(oc.complaint_categories, view.filters, oid)
    if not isinstance(cats, pd.DataFrame) or cats.empty:
        return
    known = cats[cats["complaints"].notna()]
    if not known.empty:
        top = known.iloc[0]
        st.markdown(view.md("page.outlets.behind.top", n=fmt_count(total), k=fmt_count(top["complaints"]),
                            category=view.label("category", top["category"]), share=fmt_percent(top["share"])))
    shown = pd.DataFrame({
        _col(view, "category"): [view.label("category", v) for v in cats["category"]],
        _col(view, "complaints"): [fmt_count(v) for v in cats["complaints"]],
        _col(view, "share"): [fmt_percent(v) for v in cats["share"]],
    })
    st.caption(view.t("page.outlets.behind.by_category"))
    panels.listing(view, shown, view.t("page.outlets.behind.file_categories"), "outlet_complaint_categories_list",
                   "outlet_complaint_categories.csv", height=panels.rows_height(shown, 320))
    scope = view.filters.scope
    if "suppressed" in cats.columns and cats["suppressed"].astype(bool).any():
        st.caption(view.t("page.outlets.behind.withheld", min=scope.min_group_size))
    if scope is not None and scope.aggregates_only:
        st.caption(view.t("page.outlets.behind.counts_only"))
        return
    recent = view.call(oc.recent_complaints, view.filters, oid, RECENT)
    if not isinstance(recent, pd.DataFrame) or recent.empty:
        return
    st.caption(view.t("page.outlets.behind.recent", n=len(recent)))
    keys = view.keys("tickets", recent["ticket_id"])
    listed = pd.DataFrame({
        _col(view, "ticket"): [keys.get(int(i), str(i)) for i in recent["ticket_id"]],
        _col(view, "opened"): [_when(v) for v in recent["opened_at"]],
        _col(view, "category"): [view.label("category", v) for v in recent["category"]],
        _col(view, "priority"): [view.label("priority", v) for v in recent["priority"]],
        _col(view, "resolved"): [_when(v) for v in recent["resolved_at"]],
        _col(view, "description"): ["" if v is None else str(v) for v in recent["description"]],
    })
    panels.listing(view, listed, view.t("page.outlets.behind.file_recent"), "outlet_recent_complaints_list",
                   "outlet_recent_complaints.csv", height=panels.rows_height(listed, 420))


def _when(v: object) -> str:
    """A timestamp to the minute ("2026-10-03 14:05"); "—" when missing."""
    return "—" if v is None or pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d %H:%M")
