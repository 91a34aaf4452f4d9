"""The meeting pack's "what drives satisfaction" (满意度驱动因素) page: the organisation's key drivers of
CSAT (:mod:`metrics.analysis.drivers`) in the same sentences as the Satisfaction page
(:mod:`metrics.analysis.drivers_text`), "fix first" for the pack's regions against the organisation,
the importance bars and the importance × performance chart. When no model can be fitted the page
says why and draws nothing."""

from __future__ import annotations

from metrics.analysis import drivers as dv
from metrics.analysis import drivers_text as tx
from metrics.present.charts import drivers as charts
from metrics.report.context import Ctx
from metrics.report.model import Page

SCORE = "csat"


def drivers_section(ctx: Ctx) -> list[Page]:
    """One page: the drivers' sentences, the method line, "fix first", two charts."""
    fo = dv.organisation_filters(ctx.f)  # the Overview card's and the Satisfaction page's model too
    fu = ctx.f.with_(survey_kinds=())
    page = Page("section", ctx.t("drivers.report.title"), ctx.subtitle(fo))
    r = dv.key_drivers(ctx.wh, fo, SCORE)
    page.sentences.extend(tx.sentences(r, ctx.lang))
    if r.reason is not None:
        return [page]
    unit = tx.join_names((ctx.names.get(int(i), str(i)) for i in ctx.f.regions), ctx.lang) if ctx.f.regions else None
    m = tx.matrix(r, dv.performance(ctx.wh, fu, SCORE))
    line = tx.fix_first(m, ctx.lang, unit)
    if line:
        page.sentences.append(line)
    page.sentences.append(tx.method_line(r, ctx.lang))
    label = ctx.t(f"drivers.score.{SCORE}")
    title = ctx.t("drivers.chart.importance_title", score=label)
    page.charts.append(ctx.chart(charts.importance_bars(r.importance, ctx.lang, title, ctx.subtitle(fo)), title))
    if not m.empty:
        heading = ctx.t("drivers.unit_vs_org", unit=unit) if unit else ctx.t("drivers.organisation")
        title = ctx.t("drivers.chart.matrix_title", score=label) + " · " + heading
        page.charts.append(ctx.chart(charts.importance_performance(m, ctx.lang, title, ctx.subtitle(fu),
                                                                   unit=unit is not None), title))
    return [page]
