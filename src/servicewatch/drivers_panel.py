"""The Satisfaction page's "what drives satisfaction" section (issue 17 item 2): the organisation's
key drivers of the page's score (importance with intervals, the model's R² and n) and, with a region
selected, that unit's performance on each driver against the organisation, in an importance ×
performance chart with the "fix first" corner. The engine calls are cached by the data version
(:meth:`servicewatch.ui.View.call`); the words come from the catalogue (``drivers.*``)."""

from __future__ import annotations

import streamlit as st

from metrics.analysis import drivers as dv
from metrics.analysis import drivers_text as tx
from metrics.analysis import plain
from metrics.model.filters import Filters
from metrics.present.charts import drivers as charts
from metrics.present.markup import md
from servicewatch.kpis import show_chart
from servicewatch.ui import View


def card_line(view: View, metric_id: str) -> str | None:
    """For a KPI card of a score with a driver model (CSAT, NPS): its strongest drivers in a line, from
    the organisation's model under the page's filters (:func:`metrics.analysis.drivers.organisation_filters`,
    the same model as the Satisfaction page's and the meeting pack's; cached by the data version, 1.3–1.8 s
    per score at L uncached); None for other metrics or when the model has no answer."""
    if metric_id not in dv.SCORES:
        return None
    r = view.call(dv.key_drivers, dv.organisation_filters(view.filters), metric_id)
    return tx.card_line(r, view.lang) if isinstance(r, dv.DriversResult) else None


def show(view: View, f: Filters, score: str) -> None:
    """Draw the section for ``score`` (csat, nps, ces) under the filters ``f``: the model is the
    organisation's (``f`` without regions; post-interaction surveys whatever the page's survey kind),
    the performance that of ``f``'s regions against it when regions are chosen."""
    t = view.t
    st.subheader(t("drivers.title"))
    fo = dv.organisation_filters(f)
    fu = f.with_(survey_kinds=())
    with st.spinner(t("drivers.title")):
        r = view.call(dv.key_drivers, fo, score)
        if not isinstance(r, dv.DriversResult):  # refused (outside the user's scope): said already
            return
        perf = view.call(dv.performance, fu, score)
    if r.reason is not None:
        st.info(md(tx.sentences(r, view.lang)[0]))
        return
    st.markdown(md(plain.drivers_reading(r.importance, r.r2, r.r2_lower, r.r2_upper, r.n, t(f"drivers.score.{score}"),
                                         lambda d: tx.name(d, view.lang), view.lang)))  # plain first, method below
    unit = tx.join_names((view.region_names.get(int(i), str(i)) for i in f.regions), view.lang) if f.regions else None
    m = tx.matrix(r, perf)
    line = tx.fix_first(m, view.lang, unit)
    if line:
        st.markdown("**" + md(line) + "**")
    label = t(f"drivers.score.{score}")
    sub = view.subtitle(f=fu)
    left, right = st.columns(2)
    with left:
        show_chart(view, r.importance, lambda: charts.importance_bars(
            r.importance, view.lang, t("drivers.chart.importance_title", score=label), view.subtitle(f=fo)),
            "drivers_importance")
    with right:
        heading = t("drivers.unit_vs_org", unit=unit) if unit else t("drivers.organisation")
        show_chart(view, m, lambda: charts.importance_performance(
            m, view.lang, t("drivers.chart.matrix_title", score=label) + " · " + heading, sub, unit=unit is not None),
            "drivers_matrix")
    with st.expander(t("plain.details")):  # the shares, intervals and method behind the plain line
        st.caption(t("drivers.caption"))
        for line in tx.sentences(r, view.lang):
            st.markdown(md(line))
        st.caption(tx.method_line(r, view.lang))
