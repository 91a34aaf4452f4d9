"""The meeting pack's regulator page (监管申诉), issue 20: MIIT's 申诉率 for the quarter holding the
period's end — the definition, the base and count point, the total against the previous quarter and the
same quarter last year, the expected rate when the quarter is not yet over — and the appeal-risk counts,
then MIIT's table by its categories, and the oldest complaints at risk with their owners (not for a
viewer). A database without ticket sources leaves the section out."""

from __future__ import annotations

from metrics.analysis import appeal_risk as ar
from metrics.analysis import regulator as rg
from metrics.analysis import regulator_quarters as rq
from metrics.present import regulator_text as rt
from metrics.present.formatting import fmt_count, number
from metrics.report.context import Ctx
from metrics.report.model import Page, Table, table_pages

RISK_ROWS = 12  # the oldest complaints at risk listed in the pack (one table page)
COLUMNS = ("regulator_category", "appeals", "users", "rate", "interval", "rate_prev", "change_prev", "rate_year",
           "change_year")


def regulator_section(ctx: Ctx) -> list[Page]:
    """One section page (sentences) and MIIT's table; [] when the tickets have no source."""
    if not rg.has_sources(ctx.wh):
        return []
    quarter = rq.Quarter.of(ctx.f.end)
    fig = rt.ordered(rg.rates(ctx.wh, ctx.f, quarter, "miit"))
    if fig.reason:
        return []
    title = ctx.t("page.regulator.title")
    page = Page("section", title, ctx.subtitle())
    page.sentences.append(ctx.t("regulator.definition.miit"))
    page.sentences.append(rt.denominator(fig, ctx.lang))
    line = rt.headline(fig, ctx.lang)
    if line:
        page.sentences.append(line)
    page.sentences.extend(rt.not_in_use_lines(fig, ctx.lang))
    ahead = rg.projection(fig, ctx.f.as_of or ctx.wh.as_of())
    if ahead is not None:
        total = fig.table[fig.table["regulator_category"] == rg.ALL].iloc[0]
        page.sentences.append(ctx.t("regulator.expected", elapsed=ahead["elapsed"], days=ahead["days"],
                                    appeals=fmt_count(ahead["appeals"]), rate=rt.rate_text(ahead["rate"]),
                                    unit=ctx.t("regulator.unit.miit"), lower=rt.rate_text(ahead["lower"]),
                                    upper=rt.rate_text(ahead["upper"]), rate_prev=rt.rate_text(total["rate_prev"])))
    risk = ar.appeal_risk(ctx.wh, ctx.f)
    page.sentences.append(ctx.t("regulator.risk.counts", day=risk.as_of.isoformat(), past=risk.past, soon=risk.soon,
                                wait=ar.WAIT_DAYS, soon_days=ar.SOON_DAYS))
    shown = rt.shown_table(fig, ctx.lang)
    table = Table(tuple(shown.columns), tuple(tuple(str(v) for v in row) for row in shown.itertuples(index=False)),
                  (False, *([True] * (len(shown.columns) - 1))), widths=(2.4, *([1.0] * (len(shown.columns) - 1))))
    return [page, *table_pages(f"{title} · {quarter}", table, ctx.subtitle()), *risk_pages(ctx, risk)]


def risk_pages(ctx: Ctx, risk: ar.AppealRisk) -> list[Page]:
    """The :data:`RISK_ROWS` oldest complaints at risk with their owners (the ticket's handler, else the
    account manager, and which); none for an aggregate-only reader or when nothing is at risk."""
    if not risk.listed or risk.table.empty:
        return []
    df = risk.table.head(RISK_ROWS)
    col = lambda k: ctx.t(f"regulator.col.{k}")  # noqa: E731
    rows = tuple((str(r.ticket_id),  # the source's key (appeal_risk reads it so)
                  ctx.t(f"regulator.risk.state.{r.state}"), number(float(r.age_days), 1),
                  str(r.owner) if isinstance(r.owner, str) else "—", ctx.t(f"appeal_owner.{r.owner_kind}"),
                  ctx.label("region", r.region_id), ctx.label("category", r.category)) for r in df.itertuples())
    cols = (col("ticket_id"), col("state"), col("age_days"), col("owner"), col("owner_kind"), col("region"),
            col("category"))
    table = Table(cols, rows, (False, False, True, False, False, False, False),
                  widths=(1.3, 1.1, 0.9, 1.2, 2.2, 1.2, 1.4))
    return table_pages(ctx.t("regulator_pack.risk_title", n=len(df)), table, ctx.subtitle(),
                       sentences=[ctx.t("regulator_pack.risk_note")])
