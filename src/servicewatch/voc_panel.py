"""The Complaints page's "Voice of the customer" section (issue 20): complaint topics from the customers'
own words — the rising ones flagged (two-proportion z test, Holm), the top three complaint types, the
topics' shares by month and by region, tier or channel, and example quotes with personal data masked
(none for viewers). The dimension of the table by group and the quotes' topic are page choices kept in
the link (``voc_dim``, ``voc_topic``: :func:`servicewatch.url_state.choice`). Every figure is a cached
engine call (:mod:`metrics.analysis.topics`) that reads the topics tagged at load time, never the texts;
the quotes are masked in the engine. Text from the data
(topic names, discovered words, quotes) goes through :func:`metrics.present.markup.md` or a table cell,
never markup."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from metrics.analysis import plain
from metrics.analysis import topics as tp
from metrics.model.filters import Filters
from metrics.present.charts import core as charts
from metrics.present.formatting import fmt_value
from metrics.present.markup import md
from servicewatch import panels
from servicewatch.kpis import show_chart
from servicewatch.ui import View

DIMS = ("region", "tier", "channel")


def _pct(v: float, lang: str) -> str:
    return "" if pd.isna(v) else fmt_value(v, "share", lang)


def _withheld(view: View, f: Filters, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` without the rows the engine blanked for a viewer (too few customers), said in a caption."""
    if "suppressed" not in df.columns or not df["suppressed"].any():
        return df
    st.caption(md(view.t("topics.withheld", n=int(df["suppressed"].sum()), min=f.scope.min_group_size)))
    return df.loc[~df["suppressed"].astype(bool)]


def _rising(view: View, f: Filters, names: dict[str, str]) -> None:
    """The topics rising against the comparison period: a plain line each first (share before and now,
    n of total), the Holm-corrected test behind the expander."""
    t = view.t
    st.markdown("**" + md(t("topics.rising_title")) + "**")
    lines, rows = [], []
    for by in (None, "region"):
        r = view.call(tp.rising_topics, f, by)
        if r.empty:
            if r.attrs.get("reason") and by is None:
                st.info(md(t(r.attrs["reason"])))
                return
            continue
        for row in r.loc[r["rising"]].itertuples():
            group = f"{view.region_names.get(int(row.region_id), str(row.region_id))} · " if by else ""
            topic = names.get(row.topic, row.topic)
            rows.append({"group": md(group), "topic": md(topic), "share_prev": row.share_prev, "share": row.share,
                         "n": int(row.n), "total": int(row.total)})
            lines.append(t("topics.rising_line", group=group, topic=topic,
                           share=_pct(row.share, view.lang), share_prev=_pct(row.share_prev, view.lang),
                           n=int(row.n), p=f"{row.p_holm:.2g}"))
    for line in plain.rising_reading(rows, lambda v: _pct(v, view.lang), view.lang):
        (st.warning if rows else st.caption)(line)
    with st.expander(t("plain.details")):
        for line in lines:
            st.markdown(md(line))
        if not lines:
            st.caption(md(t("topics.rising_none", min=tp.MIN_TEXTS)))
        st.caption(md(t("topics.rising_note", min=tp.MIN_TEXTS)))


def _top(view: View, f: Filters, names: dict[str, str]) -> None:
    t = view.t
    st.markdown("**" + md(t("topics.top_title")) + "**")
    top = view.call(tp.top_types, f, 3)
    if top.empty:
        st.info(md(t(top.attrs.get("reason", tp.NO_TEXT))))
        return
    for row in _withheld(view, f, top).itertuples():
        st.markdown(md(t("topics.top_line", rank=int(row.rank), topic=names.get(row.topic, row.topic), n=int(row.n),
                         share=_pct(row.share, view.lang), lower=_pct(row.lower, view.lang),
                         upper=_pct(row.upper, view.lang))))


def _trend(view: View, f: Filters, names: dict[str, str]) -> None:
    t = view.t
    trend = view.call(tp.topic_trend, f.reaching_months(12))
    if trend.empty:
        return
    # the topics by name (the codes are the engine's), and only the columns a download names
    named = trend.assign(topic=[names.get(c, c) for c in trend["topic"]], value=trend["share"])
    shown = named[[c for c in ("month", "topic", "n", "share", "lower", "upper", "sentiment") if c in named]]
    show_chart(view, shown, lambda: charts.trend(named[["month", "topic", "value"]], "share", view.lang,
                                                  t("topics.trend_title"), view.subtitle(f=f), by="topic"),
               "voc_trend", f=f)


def _by_group(view: View, f: Filters, names: dict[str, str]) -> None:
    t = view.t
    dim = view.choice("voc_dim", DIMS, t("topics.cut_by"), horizontal=True,  # kept in the link
                      format_func=lambda d: t(f"page.complaints.dim.{d}")) or DIMS[0]
    by = view.call(tp.top_types, f, 3, dim)
    st.markdown("**" + md(t("topics.by_title", dim=t(f"page.complaints.dim.{dim}"))) + "**")
    if by.empty:
        st.info(md(t(by.attrs.get("reason", tp.NO_TEXT))))
        return
    col = "region_id" if dim == "region" else dim
    group = [view.region_names.get(int(v), str(v)) for v in by[col]] if dim == "region" else by[col].astype(str)
    shown = pd.DataFrame({
        t(f"page.complaints.dim.{dim}"): group,
        t("page.tables.rank"): by["rank"].astype(int),
        t("page.tables.topic"): [names.get(c, c) for c in by["topic"]],
        t("page.tables.texts"): by["n"].astype("Int64"),  # blank where withheld from a viewer
        t("page.tables.topic_share"): [_pct(v, view.lang) for v in by["share"]],
        t("page.tables.sentiment"): by["sentiment"].round(2),
    })
    panels.table(shown, pin=1)
    if "suppressed" in by.columns and by["suppressed"].any():
        st.caption(md(t("topics.withheld", n=int(by["suppressed"].sum()), min=f.scope.min_group_size)))


def _quotes(view: View, f: Filters, names: dict[str, str]) -> None:
    t = view.t
    st.markdown("**" + md(t("topics.quotes_title")) + "**")
    if f.scope is not None and f.scope.aggregates_only:  # viewers never see quotes: not even asked for
        st.caption(md(t("topics.reason.viewer")))
        return
    codes = list(names)
    topic = view.choice("voc_topic", codes, t("topics.quotes_topic"), widget="selectbox",  # kept in the link
                        format_func=lambda c: names.get(c, c))
    topic = topic if topic in codes else codes[0]
    q = view.call(tp.quotes, f, topic, 5)  # the engine refuses an aggregate-only scope itself
    if q.empty:
        st.caption(md(t(q.attrs.get("reason", tp.NO_TEXT))))
        return
    shown = pd.DataFrame({
        t("page.tables.opened_at"): pd.to_datetime(q["opened_at"]).dt.strftime("%Y-%m-%d"),
        t("page.tables.quote"): q["quote"],  # masked by the engine; a cell, never markup
        t("page.tables.sentiment"): q["sentiment"].astype(float).round(2),
    })
    panels.table(shown, pin=1)
    st.caption(md(t("topics.quotes_note")))


def show(view: View, f: Filters) -> None:
    """Draw the section for the page's filters ``f`` (complaints)."""
    t = view.t
    st.subheader(t("topics.title"))
    st.caption(md(t("topics.caption")))
    if not view.call(tp.built):
        st.info(md(t(tp.NOT_BUILT)))
        return
    names = view.call(tp.topic_names, view.lang)
    left, right = st.columns([3, 2])
    with left:
        _rising(view, f, names)
    with right:
        _top(view, f, names)
    _trend(view, f, names)
    _by_group(view, f, names)
    _quotes(view, f, names)
    st.caption(md(t("topics.sentiment_note")))
