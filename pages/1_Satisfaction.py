"""Satisfaction: CSAT, NPS and effort by channel, tier, region and survey kind, with targets."""

from __future__ import annotations

import streamlit as st

from metrics.analysis import distributions, league
from metrics.model.filters import add_months
from metrics.model.registry import get
from metrics.present.charts import core as charts
from servicewatch import ui
from servicewatch.kpis import kpi, show_chart

MEASURES = ("csat", "nps", "csat_mean", "ces_mean")
SCORE_OF = {"csat": "csat", "csat_mean": "csat", "nps": "nps", "ces_mean": "ces"}
KINDS = ("all", "post_interaction", "relationship", "mystery_shopper")
SECTIONS = ("channel_tier", "region_kind", "trend_distribution")

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



def target(metric_id: str, flt=f) -> float | None:
    return view.target(metric_id, flt)


cards = st.columns(4)
for col, mid in zip(cards, ("csat", "nps", "csat_mean", "ces_mean"), strict=True):
    kpi(col, view, mid, view.compare(mid, f=f), target(mid))
st.caption(t("page.satisfaction.kpi_note"))


def title(what: str) -> str:
    return f"{view.metric_label(measure)} · {t(what)}"


# -- by channel and by tier -----------------------------------------------------------------
def channel_tier() -> None:
    left, right = st.columns(2)
    with left:
        st.subheader(t("page.satisfaction.by_channel"))
        by_channel = view.metric(measure, ("channel",), f=f)
        show_chart(view, by_channel, lambda: charts.bar_ci(
            by_channel, "channel", m.unit, view.lang, title("page.satisfaction.by_channel"), sub,
            target=target(measure)), "satisfaction_by_channel", metrics=measure)
        if not by_channel.empty:
            table = league.league(m, by_channel, view.metric(measure, f=f), key="channel")
            low = [view.label("channel", c) for c in table.loc[table["verdict"] == "worse", "channel"]]
            high = [view.label("channel", c) for c in table.loc[table["verdict"] == "better", "channel"]]
            st.markdown(view.md("page.satisfaction.channel_finding", low="、".join(low) or "—",
                                high="、".join(high) or "—"))
    with right:
        st.subheader(t("page.satisfaction.by_tier"))
        by_tier = view.metric(measure, ("tier",), f=f)
        show_chart(view, by_tier, lambda: charts.bar_ci(
            by_tier, "tier", m.unit, view.lang, title("page.satisfaction.by_tier"), sub,
            target=target(measure)), "satisfaction_by_tier", metrics=measure)


# -- by region and by survey kind -----------------------------------------------------------
def region_kind() -> None:
    left, right = st.columns(2)
    with left:
        st.subheader(t("page.satisfaction.by_region"))
        rf, level = league.scope(f, view.regions)
        by_region = view.metric(measure, ("region",), level, f=rf)
        show_chart(view, by_region, lambda: charts.bar_ci(
            by_region, "region", m.unit, view.lang, title("page.satisfaction.by_region"), view.subtitle(f=rf),
            region_names=view.region_names, target=target(measure, rf)), "satisfaction_by_region",
            metrics=measure, f=rf)
    with right:
        st.subheader(t("page.satisfaction.by_kind"))
        kf = f.with_(survey_kinds=())
        by_kind = view.metric(measure, ("survey_kind",), f=kf)
        show_chart(view, by_kind, lambda: charts.bar_ci(
            by_kind, "survey_kind", m.unit, view.lang, title("page.satisfaction.by_kind"), view.subtitle(f=kf),
            target=target(measure, kf)), "satisfaction_by_survey_kind", metrics=measure, f=kf)


# -- trend and distribution -----------------------------------------------------------------
def trend_distribution() -> None:
    left, right = st.columns(2)
    with left:
        tf = f.with_(start=min(f.start, add_months(f.end.replace(day=1), -11)), comparison="none")
        trend = view.metric(measure, ("month",), f=tf)
        months = trend["month"].nunique() if "month" in trend.columns else 0  # the months it really shows
        words = t("page.satisfaction.trend_months", months=months) if months else t("page.satisfaction.trend")
        st.subheader(words)
        show_chart(view, trend, lambda: charts.trend(
            trend, m.unit, view.lang, f"{view.metric_label(measure)} · {words}", view.subtitle(f=tf),
            target=target(measure)), "satisfaction_trend", metrics=measure, f=tf)
    with right:
        score = SCORE_OF[measure]
        st.subheader(t("page.satisfaction.distribution"))
        dist = view.call(distributions.score_distribution, f, score)
        show_chart(view, dist, lambda: charts.distribution(
            dist, score, view.lang, f"{t(f'score.{score}')} · {t('page.satisfaction.distribution')}", sub),
            "satisfaction_distribution", metrics=measure)


# -- one section at a time --------------------------------------------------------------------
{"channel_tier": channel_tier, "region_kind": region_kind,
 "trend_distribution": trend_distribution}[ui.sections(view, SECTIONS)]()
st.caption(t("common.interval_note"))
