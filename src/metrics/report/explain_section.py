"""The meeting pack's "what drove the change" (变化原因) page: for the headline metrics, the sentence of
the dimension that explains most (:mod:`metrics.present.explain_text`, the same as the Overview's) and
the waterfalls of the first two (:mod:`metrics.present.charts.waterfall`). A metric whose change cannot
be split says why in its sentence; nothing is drawn for it."""

from __future__ import annotations

from metrics.analysis import decompose
from metrics.present.charts.waterfall import waterfall
from metrics.present.explain_text import dim_word, sentence
from metrics.report.context import Ctx
from metrics.report.model import Page

# the headline metrics explained: the Overview's explain section's six, in its order of the meeting
METRICS = ("complaint_rate", "csat", "sla_resolution_compliance", "nps", "fcr_rate", "churn_rate")
CHARTS = 2  # waterfalls on the page (the layout of a section page)


def explain_section(ctx: Ctx) -> list[Page]:
    """One page: a sentence per metric of :data:`METRICS`, the waterfalls of the first :data:`CHARTS`
    with a change to split."""
    page = Page("section", ctx.t("explain.title"), ctx.subtitle(with_comparison=True))
    for metric_id in METRICS:
        best = decompose.explain(ctx.wh, metric_id, ctx.f)[0]
        page.sentences.append(sentence(best, ctx.lang))
        if best.ok and len(page.charts) < CHARTS:
            title = ctx.t("explain.chart.title", metric=ctx.metric_label(metric_id), dim=dim_word(best, ctx.lang))
            page.charts.append(ctx.chart(waterfall(best, ctx.lang, ctx.subtitle(with_comparison=True), title), title))
    return [page]
