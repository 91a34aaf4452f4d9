"""The Complaints page's tables, as functions a page calls with its ``View``: the rates beside their
chart and the complaints behind a bar or point picked in a chart. Numbers come from the engine
(``metrics.analysis.drill``)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from metrics.analysis import drill
from metrics.model.filters import Filters
from metrics.model.registry import get
from metrics.present.charts import core as charts
from servicewatch import panels, url_state
from servicewatch.ui import View, empty_state

DRILL_LIMIT = 1000
DRILL_COLUMNS = ("ticket_id", "opened_at", "customer_id", "name", "tier", "region", "channel", "category",
                 "priority", "resolved_at", "resolution_due_at", "escalated", "reopened", "open", "age_hours")

FUNNEL = "complaint_funnel"  # the funnel chart's key


def complaints_label(view: View, metric_id: str) -> str:
    """The name of ``metric_id`` computed on complaints only, never that of the all-ticket figure
    (one name per definition): a metric defined on complaints keeps its own (投诉率, 投诉首问解决率),
    the ticket count is 投诉量, any other reads "投诉{metric}" (投诉重开率, "Reopen rate (complaints)")."""
    if metric_id == "tickets":
        return view.t("page.complaints.volume")
    if get(metric_id).fixed_kinds == ("complaint",):
        return view.metric_label(metric_id)
    return view.t("complaints_only.metric", metric=view.metric_label(metric_id))


def rate_table(view: View, rates: pd.DataFrame, dim: str) -> None:
    """The complaint rates by ``dim`` as a table: group, complaints, exposure, rate and its interval."""
    if rates.empty:
        return
    t = view.t
    col = "region_id" if dim == "region" else dim
    table = rates[[col, "n", "exposure", "value", "lower", "upper"]].copy()
    table[col] = (charts.category_names(dim, table[col], view.lang, view.region_names))
    names = {col: t(f"page.complaints.dim.{dim}"), "n": t("page.complaints.volume"),
             "exposure": t("page.complaints.exposure"), "value": t("page.complaints.rate"),
             "lower": t("common.lower"), "upper": t("common.upper")}
    panels.table(table.rename(columns=names), {names[c]: st.column_config.NumberColumn(format="%.1f")
                                               for c in ("exposure", "value", "lower", "upper")})
    st.caption(t("page.complaints.rate_note"))


PICK = "pick"  # the URL key of the bars or points picked in the section's chart (pick=region:GD-SZ,17)


def picked(view: View, dim: str, chart: Sequence[str], chart_key: str, shown: pd.DataFrame) -> list[str]:
    """The values of ``dim`` picked in the chart ``chart_key`` (``chart``: its selection this run;
    ``shown``: the groups it draws), kept in the link (:func:`servicewatch.url_state.picked`; regions
    by their keys as the source wrote them)."""
    col = "region_id" if dim == "region" else dim
    valid = [str(v) for v in shown[col].dropna()] if col in shown.columns else []
    to_url = str
    if dim == "region":
        keys = view.keys("regions", [int(v) for v in valid])
        to_url = lambda v: keys.get(int(v), str(v))  # noqa: E731
    # the funnel's pick is its own (pick=funnel:…): a region picked in the rate chart is not the funnel's
    tag = "funnel" if chart_key == FUNNEL else dim
    return url_state.picked(view, PICK, tag, chart, chart_key, valid, to_url)


def pick_line(view: View, dim: str, values: Sequence[str], chart_key: str) -> None:
    """What is picked, in words (the chart's own highlight is not in a link), and a button that clears it."""
    if not values:
        return
    names = (charts.category_names(dim, pd.Series([int(v) for v in values]), view.lang, view.region_names)
             if dim == "region" else [view.label(dim, v) for v in values])
    left, right = st.columns([4, 1], vertical_alignment="center")
    left.markdown(view.md("pick_link.picked", dim=view.t(f"page.complaints.dim.{dim}"),
                          items=view.t("plain.list_sep").join(map(str, names))))
    right.button(view.t("pick_link.clear"), key=f"clear_{chart_key}", icon=":material/close:",
                 on_click=url_state.clear_pick, args=(view.page_key, PICK, chart_key))


def drill_down(view: View, f: Filters, selections: Sequence[tuple[str, list[str]]]) -> None:
    """The complaints behind the last pick in a chart (``selections``: dimension and values picked)
    within ``f``, with their download; a hint to pick when nothing is."""
    t = view.t
    st.subheader(t("export.drill"))
    chosen = next(((d, v) for d, v in reversed(selections) if v), None)
    if chosen is None:
        st.info(t("export.drill_hint"))
        return
    d, values = chosen
    narrowed = f.narrowed(d, values)
    rows = view.call(drill.tickets, narrowed, DRILL_LIMIT)
    st.markdown(view.md("page.complaints.drill_caption", scope=view.subtitle(f=narrowed), n=len(rows)))
    if rows.empty:
        empty_state(view)
        return
    rows = rows.assign(region=charts.category_names("region", rows["region_id"], view.lang, view.region_names),
                       **{dim: [view.label(dim, v) for v in rows[dim]] for dim in ("tier", "channel", "category")})
    shown = rows[list(DRILL_COLUMNS)].rename(columns={c: t(f"page.complaints.col.{c}") for c in DRILL_COLUMNS})
    panels.listing(view, shown, t("lists.complaints_file"), "complaints_drill_csv", "complaints.csv",
                   export={"columns": DRILL_COLUMNS, "f": narrowed, "title": t("lists.complaints_title")})
