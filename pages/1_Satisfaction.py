"""Satisfaction: CSAT, NPS and effort by channel, tier, region and survey kind, with targets."""

from __future__ import annotations

import streamlit as st

from metrics.analysis import distributions, league, plain
from metrics.model.registry import get
from metrics.present.charts import core as charts
from metrics.present.formatting import fmt_metric
from metrics.present.markup import md
from servicewatch import drivers_panel, forecast_panel, panels, ui
from servicewatch.kpis import kpi_row, show_chart

MEASURES = ("csat", "nps", "csat_mean", "ces_mean")
SCORE_OF = {"csat": "csat", "csat_mean": "csat", "nps": "nps", "ces_mean": "ces"}
KINDS = ("all", "post_interaction", "relationship", "mystery_shopper")
SECTIONS = ("channel_tier", "region_kind", "trend_distribution", "drivers")

view = ui.page("page.satisfaction.title")
t = view.t

c1, c2 = st.columns([3, 2])
kind = view.choice("survey", KINDS, t("page.satisfaction.survey_kind"), where=c1, horizontal=True, format_func=lambda k:
                   t("page.satisfaction.all_kinds") if k == "all" else view.label("survey_kind", k))
measure = view.choice("metric", MEASURES, t("page.satisfaction.measure"), where=c2, horizontal=True,
                      format_func=view.metric_label)
f = view.filters.with_(survey_kinds=() if kind == "all" else (kind,))
m = get(measure)
sub = view.subtitle(f=f)

total = view.compare(measure, f=f)
if total.empty:
    ui.empty_state(view)
    st.stop()

# -- headline numbers -------------------------------------------------------------------------
notes: list = []  # the cards' notes (models): drawn into their places once the section's charts are sent
kpi_row(view, MEASURES, f, later=notes)
st.caption(t("page.satisfaction.kpi_note"))


# -- by channel and by tier -----------------------------------------------------------------
def channel_tier() -> None:
    (left, by_channel), _ = panels.bars_side_by_side(view, measure, (
        ("channel", "page.satisfaction.by_channel", f, "city"), ("tier", "page.satisfaction.by_tier", f, "city")),
        "satisfaction_by")
    if not by_channel.empty:
        table = league.league(m, by_channel, view.metric(measure, f=f), key="channel")
        left.markdown(plain.league_reading(  # the plain reading first, the test's words behind an expander
            table, [md(view.label("channel", c)) for c in table["channel"]],
            lambda v: fmt_metric(v, measure, view.lang),
            md(view.metric_label(measure)), "channel", view.lang, m.higher_is_better))
        found = table["verdict"].isin(("worse", "better", "lower", "higher"))  # low/high by value, not by verdict
        low, high = ([view.label("channel", c) for c in table.loc[found & side, "channel"]]
                     for side in (table["value"] < table["rest_value"], table["value"] > table["rest_value"]))
        with left.expander(t("plain.details")):
            st.markdown(view.md("page.satisfaction.channel_finding", low="、".join(low) or "—",
                                high="、".join(high) or "—"))


# -- by region and by survey kind -----------------------------------------------------------
def region_kind() -> None:
    panels.bars_side_by_side(view, measure, (
        ("region", "page.satisfaction.by_region", *league.scope(f, view.regions)),
        ("survey_kind", "page.satisfaction.by_kind", f.with_(survey_kinds=()), "city")), "satisfaction_by")


# -- trend and distribution -----------------------------------------------------------------
def trend_distribution() -> None:
    left, right = st.columns(2)
    with left:
        tf = f.reaching_months(12)
        trend = view.metric(measure, ("month",), f=tf)
        months = trend["month"].nunique() if "month" in trend.columns else 0  # the months it really shows
        words = t("page.satisfaction.trend_months", months=months) if months else t("page.satisfaction.trend")
        st.subheader(words)
        # the forecast's fan after the history (CSAT and NPS with a target; the means keep the plain trend)
        forecast_panel.trend_with_forecast(view, measure, f"{view.metric_label(measure)} · {words}", tf, f,
                                           key="satisfaction_trend", target=view.target(measure, f), frame=trend)
    with right:
        score = SCORE_OF[measure]
        st.subheader(t("page.satisfaction.distribution"))
        dist = view.call(distributions.score_distribution, f, score)
        show_chart(view, dist, lambda: charts.distribution(
            dist, score, view.lang, f"{t(f'score.{score}')} · {t('page.satisfaction.distribution')}", sub),
            "satisfaction_distribution", metrics=measure)


# -- one section at a time --------------------------------------------------------------------
try:
    {"channel_tier": channel_tier, "region_kind": region_kind, "trend_distribution": trend_distribution,
     "drivers": lambda: drivers_panel.show(view, f, SCORE_OF[measure])}[ui.sections(view, SECTIONS)]()
finally:  # the cards' notes after the section's charts, even when the section stops the page
    for draw_notes in notes:
        draw_notes()
st.caption(t("common.interval_note"))
