"""The life table in SQL: one Core query turns the customers in scope into, per group and tenure
step, the customers who entered, were at risk, left (events) and were censored; the pieces (tenure
columns with left truncation, steps, the finishing window sum) are shared with the tenure rollup
(:mod:`metrics.churn.tenure_rollup`), which builds the same table from a cube. See
:mod:`metrics.churn.survival` for the estimates made from it."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.regions import at_level
from metrics.query.compiler import REGION_LEVELS, CompileError
from metrics.query.dialect import days_between
from metrics.query.warehouse import Warehouse
from metrics.query.where import date_literal as _d
from metrics.query.where import slice_conditions

DAYS_PER_MONTH = 365.25 / 12
DIMENSIONS = ("tier", "segment", "region", "channel", "sla_level")
LIFE_COLUMNS = ("group", "time_days", "at_risk", "events", "censored")
CURVE_COLUMNS = (*LIFE_COLUMNS, "survival", "lower", "upper")


# -- the life table, in SQL ---------------------------------------------------------------------
def observed_from(wh: Warehouse) -> date | None:
    """First day the database records departures for: the first billing month, else the first
    ticket day; None when neither exists (then nobody is left-truncated)."""
    b, t = s.billing_monthly, s.tickets
    stmt = sa.select(sa.func.min(b.c.month).label("b"), sa.select(sa.func.min(t.c.opened_at))
                     .scalar_subquery().label("t"))
    row = wh.read(stmt).iloc[0]
    for v in (row["b"], row["t"]):
        if v is not None and not pd.isna(v):
            return pd.Timestamp(v).date()
    return None


def _group_column(by: str | None, level: str) -> tuple[sa.ColumnElement, sa.FromClause]:
    c = s.customers
    if by is None:
        return sa.literal("all", sa.String(8)), c
    if by == "region":
        rg = s.region_closure.alias("rg")
        join = c.join(rg, at_level(rg, c.c.region_id, level))
        return rg.c.ancestor_id, join
    cols = {"tier": c.c.tier, "segment": c.c.segment, "sla_level": c.c.sla_level, "channel": c.c.acquisition_channel}
    if by not in cols:
        raise CompileError(f"cannot draw retention curves by {by!r}; use one of {', '.join(DIMENSIONS)}")
    return cols[by], c


def step_up(x: sa.ColumnElement, step_days: int) -> sa.ColumnElement:
    """Days rounded up to a multiple of ``step_days``, as an integer (unchanged for 1)."""
    if step_days == 1:
        return x
    return sa.cast(sa.func.floor((x + (step_days - 1)) / sa.literal(float(step_days))) * step_days, sa.Integer)


def tenure_columns(c: sa.Table, as_of: date, history_start: date | None
                   ) -> tuple[sa.ColumnElement, sa.ColumnElement, sa.ColumnElement, list]:
    """Per customer of ``c``: entry and exit tenure (days), event (1 = left by ``as_of``), and the
    conditions for being in a life table at all (joined by the as-of; not gone before the history)."""
    left = sa.and_(c.c.end_date.isnot(None), c.c.end_date <= _d(as_of))
    stop = sa.case((left, c.c.end_date), else_=_d(as_of))
    duration = days_between(c.c.start_date, stop)
    if history_start is not None:
        # observed from the start of the history day: at risk for tenures t > entry = day − 1
        entry = sa.case((c.c.start_date < _d(history_start),
                         days_between(c.c.start_date, _d(history_start)) - 1), else_=0)
    else:
        entry = sa.literal_column("0", sa.Integer)
    conds = [c.c.start_date <= _d(as_of)]
    if history_start is not None:  # left before the recorded history: not observable
        conds.append(sa.or_(sa.not_(left), c.c.end_date >= _d(history_start)))
    return entry, duration, sa.case((left, 1), else_=0), conds


def finish_life_table(agg: sa.Subquery) -> sa.Select:
    """From per (grp, t) counts ``entered``, ``events``, ``censored`` to the life table with the
    risk set (a window sum), ordered by group and time; counts as 64-bit integers."""
    removed = agg.c.events + agg.c.censored
    win = {"partition_by": agg.c.grp, "order_by": agg.c.t}
    # lifelines' convention: someone entering at t is at risk after t (entry < t ≤ duration), except
    # at a group's first time, where the entrants are the starting population.
    entered_before = sa.func.sum(agg.c.entered).over(**win, rows=(None, -1))
    at_risk = (sa.func.coalesce(entered_before, agg.c.entered)
               - sa.func.coalesce(sa.func.sum(removed).over(**win, rows=(None, -1)), 0))
    big = sa.BigInteger
    return sa.select(agg.c.grp.label("group"), agg.c.t.label("time_days"),
                     sa.cast(agg.c.entered, big).label("entered"), sa.cast(at_risk, big).label("at_risk"),
                     sa.cast(agg.c.events, big).label("events"), sa.cast(agg.c.censored, big).label("censored")
                     ).order_by(agg.c.grp, agg.c.t)


def check_request(level: str, step_days: int) -> None:
    if level not in REGION_LEVELS:
        raise CompileError(f"unknown region level {level!r}; use {', '.join(REGION_LEVELS)}")
    if step_days < 1:
        raise CompileError("step_days must be at least 1")


def life_table_query(wh: Warehouse, f: Filters, by: str | None = None, level: str = "city",
                     step_days: int = 1, history_start: date | None = None) -> sa.Select:
    """The life-table Select over the customers table: group, time_days, entered, at_risk, events,
    censored; one row per group and time step at which someone enters, leaves or is censored."""
    check_request(level, step_days)
    as_of = wh.resolve_as_of(f)
    c = s.customers
    group, from_ = _group_column(by, level)
    entry, duration, ev, base = tenure_columns(c, as_of, history_start)
    conds = [*base, group.isnot(None), *slice_conditions(f, c, c.c.acquisition_channel)]

    # per customer: group, entry and exit step, event; then two grouped passes (exits by their step,
    # entries by theirs) and the small union of both
    per = (sa.select(group.label("grp"), step_up(entry, step_days).label("t_entry"),
                     step_up(duration, step_days).label("t_exit"), ev.label("ev"))
           .select_from(from_).where(*conds).subquery("per"))
    zero = sa.literal_column("0", sa.Integer)
    exits = (sa.select(per.c.grp, per.c.t_exit.label("t"), zero.label("entered"), sa.func.sum(per.c.ev).label("ev"),
                       sa.func.sum(1 - per.c.ev).label("cens"))
             .group_by(per.c.grp, per.c.t_exit))
    entries = (sa.select(per.c.grp, per.c.t_entry, sa.func.count().label("entered"), zero, zero)
               .group_by(per.c.grp, per.c.t_entry))
    u = sa.union_all(exits, entries).subquery("u")
    agg = (sa.select(u.c.grp, u.c.t, sa.func.sum(u.c.entered).label("entered"), sa.func.sum(u.c.ev).label("events"),
                     sa.func.sum(u.c.cens).label("censored"))
           .group_by(u.c.grp, u.c.t).subquery("agg"))
    return finish_life_table(agg)
