"""Regions: a league table of cities (districts within a city) for one metric, each region tested
against the rest of the scope, Holm-corrected, with a dot-and-whisker chart."""

from __future__ import annotations

import streamlit as st

from metrics.analysis import league, plain
from metrics.model.registry import METRICS, get
from metrics.present.charts.core import category_names
from metrics.present.charts.league import dot_whisker
from metrics.present.formatting import fmt_delta, fmt_metric, fmt_p
from metrics.present.markup import md
from servicewatch import league_export, ui
from servicewatch.kpis import show_chart
from servicewatch.tables import MISSING, fitted_columns

CHOICES = tuple(m.id for m in METRICS if "region" in m.dims)

view = ui.page("page.regions.title")
t = view.t
metric_id = view.choice("metric", CHOICES, t("page.regions.metric"), "csat", widget="selectbox",
                        format_func=view.metric_label)
m = get(metric_id)
rf, level = league.scope(view.filters, view.regions)
sub = view.subtitle(f=rf)

groups = view.compare(metric_id, ("region",), level, f=rf)
total = view.metric(metric_id, f=rf)
if groups.empty or total.empty:
    ui.empty_state(view)
    st.stop()

table = league.league(m, groups, total)
verdicts = table["verdict"].value_counts()
scope_name = t("page.regions.rest_city") if level == "district" else t("page.regions.rest_province")
cards = st.columns(4)
cards[0].metric(t("page.regions.overall"), fmt_metric(float(total["value"].iloc[0]), metric_id, view.lang))
good, bad = ("higher", "lower") if m.higher_is_better is None else ("better", "worse")
cards[1].metric(t(f"page.regions.verdict.{good}"), int(verdicts.get(good, 0)))
cards[2].metric(t(f"page.regions.verdict.{bad}"), int(verdicts.get(bad, 0)))
cards[3].metric(t("page.regions.verdict.no_evidence"), int(verdicts.get("no_evidence", 0)))
st.markdown(plain.league_reading(  # the plain reading first; the method behind the expander below
    table, [md(x) for x in category_names("region", table["region_id"], view.lang, view.region_names)],
    lambda v: fmt_metric(v, metric_id, view.lang), md(view.metric_label(metric_id)),
    "district" if level == "district" else "city", view.lang, m.higher_is_better))

shown = table.assign(
    region=category_names("region", table["region_id"], view.lang, view.region_names),
    value_text=[fmt_metric(v, metric_id, view.lang) for v in table["value"]],
    interval=[f"{fmt_metric(lo, metric_id, view.lang)} – {fmt_metric(hi, metric_id, view.lang)}" if lo == lo else "—"
              for lo, hi in zip(table["lower"], table["upper"], strict=True)],
    cmp_text=[fmt_metric(v, metric_id, view.lang) for v in table["value_cmp"]],
    delta_text=[fmt_delta(v, m.unit) or "—" for v in table["delta"]],
    rest_text=[fmt_metric(v, metric_id, view.lang) for v in table["rest_value"]],
    verdict_text=[t(f"page.regions.verdict.{v}") for v in table["verdict"]],
)
export_frame = shown[["rank", "region_id", "region", "value", "lower", "upper", "n"]
                     + ["value_cmp", "delta", "rest_value", "p_value", "p_adjusted", "verdict"]]
chart_title = f"{view.metric_label(metric_id)} · {t(f'page.regions.league_{level}')}"
show_chart(view, export_frame, lambda: dot_whisker(table, m.unit, view.lang, chart_title, sub,
                                                   overall=float(total["value"].iloc[0]),
                                                   region_names=view.region_names), f"league_{metric_id}", f=rf)

st.subheader(t("page.regions.table"))
columns = {"rank": t("page.regions.rank"), "region": t(f"level.{level}"), "value_text": t("common.value"),
           "interval": t("page.regions.interval"), "n": t("common.n"), "cmp_text": t("common.previous"),
           "delta_text": t("common.delta"), "rest_text": scope_name, "p_adjusted": t("page.regions.p_holm"),
           "verdict_text": t("page.regions.verdict.header")}
league_table = shown.assign(p_adjusted=shown["p_adjusted"].map(fmt_p))[list(columns)].rename(columns=columns)
st.dataframe(league_table, hide_index=True, width="stretch", placeholder=MISSING,
             column_config=fitted_columns(league_table, pin=2))  # rank and region stay in view
league_export.league_download(view, league_table, metric_id, rf)  # the table as shown, with the header block
with st.expander(t("plain.details")):
    st.caption(t("page.regions.method", rest=scope_name))
