"""The at-risk section: the customers in scope with the most revenue at risk, from the newest churn
model stored by ``servicewatch churn fit`` (:mod:`metrics.churn.store`); without a stored model the
pack says that no churn model is fitted yet.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from metrics.backends.connect import DatabaseError
from metrics.churn import store as churn_store
from metrics.model.keys import shown
from metrics.present.formatting import fmt_percent
from metrics.report.context import Ctx
from metrics.report.model import Page, Table, table_pages

LIST_ROWS = 36  # the customers listed (three table pages at most)
COLUMNS = ("customer_id", "name", "tier", "region_id", "churn_probability_90d", "revenue_at_risk", "drivers")


def at_risk(ctx: Ctx) -> list[Page]:
    title = ctx.t("report.risk.title")
    sub = ctx.subtitle()
    if ctx.f.scope is not None and ctx.f.scope.aggregates_only:
        return viewer_totals(ctx, title, sub)
    try:
        model = churn_store.latest_model(ctx.wh)
        df = churn_store.scores(ctx.wh, ctx.f, LIST_ROWS, ctx.lang) if model is not None else None
    except (DatabaseError, sa.exc.SQLAlchemyError) as exc:
        return [Page("note", title, sub, [ctx.t("report.risk.unreadable", detail=str(exc).splitlines()[0])])]
    if model is None or df is None:
        return [Page("note", title, sub, [ctx.t("report.risk.no_model")])]
    if df.empty:
        return [Page("note", title, sub, [ctx.t("report.risk.none_in_scope")])]
    prob = pd.to_numeric(df["churn_probability_90d"], errors="coerce")
    sentence = ctx.t("report.risk.summary", n=len(df), low=fmt_percent(prob.min(), 0), high=fmt_percent(prob.max(), 0),
                     revenue=ctx.value(pd.to_numeric(df["revenue_at_risk"]).sum(), "currency"),
                     as_of=churn_store.model_date(model).isoformat())
    keys = ctx.wh.key_texts("customers", [int(c) for c in df["customer_id"]])  # as the source wrote them
    rows = tuple((shown(int(r.customer_id), keys), str(r.name), ctx.label("tier", r.tier),
                  ctx.label("region", r.region_id),
                  fmt_percent(float(r.churn_probability_90d), 0), ctx.value(r.revenue_at_risk, "currency"),
                  str(r.drivers).split("; ")[0] if r.drivers else "—") for r in df.itertuples())
    cols = tuple(ctx.t(f"churn.col.{c}") if c != "tier" and c != "region_id" else ctx.t(f"page.tables.{c}")
                 for c in COLUMNS)
    table = Table(cols, rows, (False, False, False, False, True, True, False), widths=(1.1, 2.2, 0.9, 1, 1.2, 1.4, 2.6))
    return table_pages(title, table, sub, sentences=[sentence])


def viewer_totals(ctx: Ctx, title: str, sub: str) -> list[Page]:
    """The section for aggregate-only users (viewers): totals of the scores, no customer named."""
    try:
        model = churn_store.latest_model(ctx.wh)
        totals = churn_store.risk_totals(ctx.wh, ctx.f) if model is not None else None
    except (DatabaseError, sa.exc.SQLAlchemyError) as exc:
        return [Page("note", title, sub, [ctx.t("report.risk.unreadable", detail=str(exc).splitlines()[0])])]
    if model is None or totals is None:
        return [Page("note", title, sub, [ctx.t("report.risk.no_model")])]
    lines = [ctx.t("report.risk.viewer_note")]
    if totals["suppressed"]:
        lines.append(ctx.t("report.risk.viewer_suppressed", k=ctx.f.scope.min_group_size))
    elif totals["customers"]:
        lines.append(ctx.t("report.risk.viewer_totals", n=ctx.value(totals["customers"], "customers"),
                           p=fmt_percent(totals["mean_probability"], 0),
                           revenue=ctx.value(totals["revenue_at_risk"], "currency"),
                           as_of=churn_store.model_date(model).isoformat()))
    else:
        lines.append(ctx.t("report.risk.none_in_scope"))
    return [Page("note", title, sub, lines)]
