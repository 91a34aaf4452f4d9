"""The at-risk section: customers in scope with the highest churn scores, when a churn model has
scored them (table ``churn_scores``); otherwise the pack says that no churn model is fitted yet.

The scores table is written by the churn model (``servicewatch churn``); it is read by name, so the
pack works on databases without it. Its score column is the first of :data:`SCORE_COLUMNS` present;
when it has a scoring date (:data:`DATE_COLUMNS`), the newest scoring is used.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from metrics import schema as s
from metrics.compiler import Window, _Query
from metrics.db import DatabaseError
from metrics.registry import get

from .context import Ctx
from .model import Page, Table, table_pages

SCORES_TABLE = "churn_scores"
SCORE_COLUMNS = ("risk", "churn_probability", "probability", "score", "p_churn", "risk_score")
DATE_COLUMNS = ("scored_at", "as_of", "scored_on", "score_date")
LIST_ROWS = 36  # the customers listed (three table pages at most)


def scores_columns(ctx: Ctx) -> list[str] | None:
    """Column names of the scores table, or None when the database has none."""
    if not sa.inspect(ctx.wh.engine).has_table(SCORES_TABLE):
        return None
    return list(ctx.wh.read(sa.select(sa.text("*")).select_from(sa.table(SCORES_TABLE)).limit(1)).columns)


def top_customers(ctx: Ctx, columns: list[str]) -> pd.DataFrame:
    """The customers in scope (active at the end of the period) by descending score."""
    score_col = next(c for c in SCORE_COLUMNS if c in columns)
    date_col = next((c for c in DATE_COLUMNS if c in columns), None)
    scores = sa.table(SCORES_TABLE, *(sa.column(c) for c in {"customer_id", score_col, date_col} - {None}))
    c = s.customers
    q = _Query(get("churn_rate"), ctx.f, (), Window.of(ctx.f, ctx.wh.resolve_as_of(ctx.f)), "city", ctx.wh.dialect)
    conds = [c.c.start_date <= ctx.f.end, sa.or_(c.c.end_date.is_(None), c.c.end_date > ctx.f.end)]
    conds += q.customer_conditions(c, c.c.acquisition_channel)
    if date_col:
        conds.append(scores.c[date_col] == sa.select(sa.func.max(scores.c[date_col])).scalar_subquery())
    stmt = (sa.select(c.c.customer_id, c.c.name, c.c.tier, c.c.region_id, c.c.monthly_revenue,
                      scores.c[score_col].label("risk"))
            .select_from(scores.join(c, c.c.customer_id == scores.c.customer_id)).where(*conds)
            .order_by(scores.c[score_col].desc(), c.c.customer_id).limit(LIST_ROWS))
    return ctx.wh.read(stmt)


def at_risk(ctx: Ctx) -> list[Page]:
    title = ctx.t("report.risk.title")
    sub = ctx.subtitle()
    try:
        columns = scores_columns(ctx)
        usable = columns is not None and "customer_id" in columns and any(c in columns for c in SCORE_COLUMNS)
        df = top_customers(ctx, columns) if usable else None
    except (DatabaseError, sa.exc.SQLAlchemyError) as exc:
        return [Page("note", title, sub, [ctx.t("report.risk.unreadable", detail=str(exc).splitlines()[0])])]
    if df is None:
        return [Page("note", title, sub, [ctx.t("report.risk.no_model")])]
    if df.empty:
        return [Page("note", title, sub, [ctx.t("report.risk.none_in_scope")])]
    revenue = pd.to_numeric(df["monthly_revenue"], errors="coerce")
    risk = pd.to_numeric(df["risk"], errors="coerce")
    sentence = ctx.t("report.risk.summary", n=len(df), revenue=ctx.value(revenue.sum(), "currency"),
                     low=f"{risk.min():.0%}", high=f"{risk.max():.0%}")
    rows = tuple((str(r.customer_id), str(r.name), ctx.label("tier", r.tier), ctx.label("region", r.region_id),
                  ctx.value(r.monthly_revenue, "currency"), f"{float(r.risk):.0%}") for r in df.itertuples())
    cols = tuple(ctx.t(f"page.tables.{c}") for c in ("customer_id", "name", "tier", "region_id", "monthly_revenue"))
    cols += (ctx.t("report.risk.score"),)
    table = Table(cols, rows, (False, False, False, False, True, True), widths=(1.2, 2.6, 1, 1.2, 1.4, 1))
    return table_pages(title, table, sub, sentences=[sentence])
