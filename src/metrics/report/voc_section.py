"""The meeting pack's voice of the customer (客户之声), issue 20: the Complaints page's section on a slide —
the rising topics with their test (two-proportion z test against the comparison period, Holm-corrected,
overall and by region), the three most common complaint types with their 95% Wilson intervals, the
topics by month, and a few example quotes with personal data masked by the engine
(:func:`metrics.analysis.topics.quotes`) for the topic that rose (else the most common one).

An aggregate-only pack (a viewer's, ``Filters.scope.aggregates_only``) has no quotes: the engine is not
even asked for them and the page says why. A database whose complaint text is not tagged leaves the
section out."""

from __future__ import annotations

import pandas as pd

from metrics.analysis import topics as tp
from metrics.model.filters import Filters
from metrics.present.charts import core as charts
from metrics.present.formatting import fmt_value
from metrics.report.context import Ctx
from metrics.report.model import Page, Table, table_pages

QUOTES = 3  # example quotes in the pack
QUOTE_CHARS = 160  # a longer quote is cut (after masking) so that the table fits a slide


def _pct(ctx: Ctx, v: float) -> str:
    return fmt_value(float(v), "share", ctx.lang)


def complaint_filters(ctx: Ctx) -> Filters:
    """The pack's filters for complaints only (as the Complaints page counts them)."""
    return ctx.f.with_(kinds=("complaint",))


def may_quote(ctx: Ctx) -> bool:
    """Whether the pack may hold quotes: not for an aggregate-only reader (a viewer)."""
    return not (ctx.f.scope is not None and ctx.f.scope.aggregates_only)


def rising_lines(ctx: Ctx, f: Filters, names: dict[str, str]) -> tuple[list[str], list[str]]:
    """The sentences of the rising topics (overall, then by region) and the topics that rose overall."""
    lines: list[str] = []
    risen: list[str] = []
    for by in (None, "region"):
        r = tp.rising_topics(ctx.wh, f, by)
        if r.empty:
            if by is None and r.attrs.get("reason"):
                return [ctx.t(r.attrs["reason"])], []
            continue
        for row in r.loc[r["rising"]].itertuples():
            group = f"{ctx.label('region', row.region_id)} · " if by else ""
            if by is None:
                risen.append(str(row.topic))
            lines.append(ctx.t("topics.rising_line", group=group, topic=names.get(row.topic, row.topic),
                               share=_pct(ctx, row.share), share_prev=_pct(ctx, row.share_prev), n=int(row.n),
                               p=f"{row.p_holm:.2g}"))
    if not lines:
        lines.append(ctx.t("topics.rising_none", min=tp.MIN_TEXTS))
    return [*lines, ctx.t("topics.rising_note", min=tp.MIN_TEXTS)], risen


def top_lines(ctx: Ctx, top: pd.DataFrame, names: dict[str, str]) -> list[str]:
    """One sentence per complaint type of the top three, with its share's 95% interval; the types the
    engine blanked for a viewer (too few customers) said in one line instead."""
    small = top["suppressed"].astype(bool) if "suppressed" in top.columns else pd.Series(False, index=top.index)
    said = [ctx.t("topics.withheld", n=int(small.sum()), min=ctx.f.scope.min_group_size)] if small.any() else []
    top = top.loc[~small]
    return said + [ctx.t("topics.top_line", rank=int(r.rank), topic=names.get(r.topic, r.topic), n=int(r.n),
                  share=_pct(ctx, r.share), lower=_pct(ctx, r.lower), upper=_pct(ctx, r.upper))
            for r in top.itertuples()]


def quote_pages(ctx: Ctx, f: Filters, topic: str, names: dict[str, str]) -> list[Page]:
    """The example quotes of ``topic`` (masked by the engine), or a note why there are none."""
    title = ctx.t("topics.quotes_title")
    sub = f"{ctx.subtitle(f)} · {names.get(topic, topic)}"
    if not may_quote(ctx):  # viewers never see quotes: not even asked for
        return [Page("note", title, sub, [ctx.t("topics.reason.viewer")])]
    q = tp.quotes(ctx.wh, f, topic, QUOTES)
    if q.empty:
        return [Page("note", title, sub, [ctx.t(q.attrs.get("reason", tp.NO_TEXT))])]
    rows = tuple((pd.Timestamp(r.opened_at).strftime("%Y-%m-%d"), ctx.label("region", r.region_id),
                  _cut(str(r.quote)), f"{float(r.sentiment):.2f}") for r in q.itertuples())
    cols = (ctx.t("page.tables.opened_at"), ctx.t("page.tables.region_id"), ctx.t("page.tables.quote"),
            ctx.t("page.tables.sentiment"))
    table = Table(cols, rows, (False, False, False, True), widths=(1.1, 1.1, 6.0, 1.0))
    return table_pages(title, table, sub, sentences=[ctx.t("topics.quotes_note")])


def _cut(text: str) -> str:
    return text if len(text) <= QUOTE_CHARS else text[:QUOTE_CHARS - 1] + "…"


def voc_section(ctx: Ctx) -> list[Page]:
    """The section page (rising topics, top three, the trend chart) and the quotes page; [] when the
    complaint text is not tagged or the period has none."""
    if not tp.built(ctx.wh):
        return []
    f = complaint_filters(ctx)
    top = tp.top_types(ctx.wh, f, 3)
    if top.empty:
        return []
    names = tp.topic_names(ctx.wh, ctx.lang)
    rising, risen = rising_lines(ctx, f, names)
    page = Page("section", ctx.t("topics.title"), ctx.subtitle(f, with_comparison=True),
                [*rising, ctx.t("voc_pack.top_heading"), *top_lines(ctx, top, names)])
    tf = f.reaching_months(12)
    trend = tp.topic_trend(ctx.wh, tf)
    if not trend.empty:
        title = ctx.t("topics.trend_title")
        shown = trend.assign(value=trend["share"], topic_name=[names.get(c, c) for c in trend["topic"]])
        page.charts.append(ctx.chart(charts.trend(shown[["month", "topic_name", "value"]], "share", ctx.lang, title,
                                                  ctx.subtitle(tf), by="topic_name"), title))
    topic = risen[0] if risen else str(top.iloc[0]["topic"])
    return [page, *quote_pages(ctx, f, topic, names)]
