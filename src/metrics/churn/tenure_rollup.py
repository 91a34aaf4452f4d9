"""Tenure rollup: the life table's counts per tenure day, precomputed, so retention curves of a
million customers read a few hundred thousand small rows instead of every customer.

Two tables, rebuilt in the database (``INSERT … SELECT``, no rows through Python) by every load
and import (:func:`refresh`, called from ``metrics.ingest.load``):

* ``rollup_tenure``: district (``region_id``) × tier × segment × sla_level × acquisition_channel ×
  ``tenure_days`` → ``entered`` (customers entering the risk set at that tenure), ``events``
  (leaving) and ``censored`` (still active on the as-of day, or … at that tenure), ordered by the
  dimensions so that a region filter reads a few blocks (DuckDB's zone maps);
* two coarser sums of it, ``rollup_tenure_all`` (over regions) and ``rollup_tenure_region`` (over
  everything but the district); a request reads the smallest table holding every column it groups
  or filters by;
* the same three with tenure rounded up to whole weeks (``…_weekly``), read for steps that are a
  multiple of 7 days (the charts' weekly curves): a fifth to a half of the rows.

Every count is the one :func:`metrics.churn.survival.life_table_query` computes per customer, from the
same expressions (:func:`metrics.churn.survival.tenure_columns`) at the as-of and history start of the
load, both recorded in ``sw_meta``. Rounding up to a step is a function of the exact day, so any
``step_days`` is the sum over days of the same rounded step: the result is identical.

:func:`life_table_query` answers only when it is identical to the raw life table: the same as-of,
the same history start (left truncation), a grouping among the curve dimensions, filters on the
customer dimensions the rollup holds (regions, tiers, segments, SLA levels, acquisition channels,
a user's regions) and no account-manager portfolio; otherwise None and the caller reads the
customers table.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from metrics.backends.connect import DatabaseError
from metrics.churn import life_table as sv
from metrics.ingest.rollups import analyze
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.regions import at_level
from metrics.query.warehouse import Warehouse
from metrics.query.where import slice_conditions

AS_OF_KEY = "tenure_rollup_as_of"
HISTORY_KEY = "tenure_rollup_history_start"  # ISO date, or NO_HISTORY: no left truncation
NO_HISTORY = "none"
DIMS = ("region_id", "tier", "segment", "sla_level", "acquisition_channel")

metadata = sa.MetaData()


def _table(name: str, dims: tuple[str, ...]) -> sa.Table:
    c = s.customers.c
    return sa.Table(name, metadata, *[sa.Column(d, c[d].type) for d in dims],
                    sa.Column("tenure_days", sa.Integer, nullable=False),
                    *[sa.Column(n, sa.BigInteger, nullable=False) for n in ("entered", "events", "censored")])


# grain 1: exact tenure days; grain 7: rounded up to whole weeks, which gives the same sums for any
# step that is a multiple of 7 (⌈⌈x/7⌉/k⌉ = ⌈x/7k⌉), the charts' weekly steps among them
GRAINS = (1, 7)
_LATTICE = (("_region", DIMS[:1]), ("_all", DIMS[1:]), ("", DIMS))  # smallest first
SMALLEST_FIRST = {g: tuple(_table(f"rollup_tenure{suffix}{'_weekly' if g == 7 else ''}", dims)
                           for suffix, dims in _LATTICE) for g in GRAINS}
rollup_tenure_region, rollup_tenure_all, rollup_tenure = SMALLEST_FIRST[1]  # rows at L: 95k, 116k, 803k
TABLES = (*SMALLEST_FIRST[1], *SMALLEST_FIRST[7])


# -- building ----------------------------------------------------------------------------------
def build_select(as_of: date, history_start: date | None) -> sa.Select:
    """Per dimensions and tenure day: customers entering, leaving and censored, as of ``as_of``
    with left truncation at ``history_start`` (the rows of ``rollup_tenure``)."""
    c = s.customers
    entry, duration, ev, conds = sv.tenure_columns(c, as_of, history_start)
    dims = [c.c[d] for d in DIMS]
    per = sa.select(*dims, entry.label("t_entry"), duration.label("t_exit"), ev.label("ev")).where(*conds).subquery()
    pd_ = [per.c[d] for d in DIMS]
    zero = sa.literal_column("0", sa.Integer)
    exits = (sa.select(*pd_, per.c.t_exit.label("tenure_days"), zero.label("entered"),
                       sa.func.sum(per.c.ev).label("events"), sa.func.sum(1 - per.c.ev).label("censored"))
             .group_by(*pd_, per.c.t_exit))
    entries = (sa.select(*pd_, per.c.t_entry, sa.func.count(), zero, zero).group_by(*pd_, per.c.t_entry))
    u = sa.union_all(exits, entries).subquery("u")
    key = [u.c[d] for d in (*DIMS, "tenure_days")]
    return (sa.select(*key, *[sa.cast(sa.func.sum(u.c[n]), sa.BigInteger).label(n)
                              for n in ("entered", "events", "censored")])
            .group_by(*key).order_by(*key))


def _coarser_select(table: sa.Table, grain: int, r: sa.Table = rollup_tenure) -> sa.Select:
    """``r`` (the filled ``rollup_tenure``) summed over the dimensions ``table`` does not have, tenure
    rounded up to ``grain`` days."""
    key = [r.c[c.name] for c in table.c if c.name not in ("entered", "events", "censored", "tenure_days")]
    key.append(sv.step_up(r.c.tenure_days, grain).label("tenure_days"))
    return (sa.select(*key, *[sa.cast(sa.func.sum(r.c[n]), sa.BigInteger).label(n)
                              for n in ("entered", "events", "censored")])
            .group_by(*[k.element if isinstance(k, sa.Label) else k for k in key]).order_by(*key))


def builds(as_of: date, history_start: date | None,
           filled: sa.Table = rollup_tenure) -> list[tuple[sa.Table, sa.Select]]:
    """Every tenure table with the SELECT that fills it, in order: ``rollup_tenure`` first, then the
    coarser ones summed from ``filled`` (``rollup_tenure`` once filled; on Spark its new version)."""
    out = [(rollup_tenure, build_select(as_of, history_start))]
    out += [(table, _coarser_select(table, grain, filled)) for grain, tables in SMALLEST_FIRST.items()
            for table in tables if table is not rollup_tenure]
    return out


def meta_values(as_of: date, history_start: date | None) -> dict[str, str]:
    """The sw_meta keys that say the tenure rollup is built, and with which as-of and history start."""
    return {AS_OF_KEY: as_of.isoformat(), HISTORY_KEY: history_start.isoformat() if history_start else NO_HISTORY}


def refresh(engine: sa.Engine) -> date | None:
    """Rebuild the tenure rollup at the data's as-of and history start; returns the as-of used, or
    None when the database holds no data to build it from. The sw_meta keys are removed first and
    written last, so a failed refresh leaves nothing that could be read (curves then read raw rows)."""
    m = s.meta
    with engine.begin() as conn:
        conn.execute(m.delete().where(m.c.key.in_([AS_OF_KEY, HISTORY_KEY])))
    metadata.drop_all(engine)
    wh = Warehouse(engine, use_rollups=False)
    try:
        as_of = wh.as_of()
    except DatabaseError:  # no tickets and no recorded as-of: nothing to build
        return None
    history = sv.observed_from(wh)
    metadata.create_all(engine)
    with engine.begin() as conn:
        for table, select in builds(as_of, history):
            conn.execute(table.insert().from_select([c.name for c in table.c], select))
        conn.execute(m.insert(), [{"key": k, "value": v} for k, v in meta_values(as_of, history).items()])
    analyze(engine, list(TABLES))
    return as_of


# -- reading -----------------------------------------------------------------------------------
def built_for(wh: Warehouse) -> tuple[date, date | None] | None:
    """(as-of, history start) the tenure rollup was built with, or None when there is none."""
    m = s.meta
    df = wh.read(sa.select(m.c.key, m.c.value).where(m.c.key.in_([AS_OF_KEY, HISTORY_KEY])))
    meta = dict(zip(df["key"], df["value"], strict=True)) if len(df) else {}
    if AS_OF_KEY not in meta or HISTORY_KEY not in meta:
        return None
    history = meta[HISTORY_KEY]
    return (date.fromisoformat(str(meta[AS_OF_KEY])[:10]),
            None if history == NO_HISTORY else date.fromisoformat(str(history)[:10]))


def life_table_query(wh: Warehouse, f: Filters, by: str | None, level: str, step_days: int,
                     history_start: date | None) -> sa.Select | None:
    """The life table of :func:`metrics.churn.survival.life_table_query` read from the tenure rollup, or
    None when the rollup cannot give the identical result (see the module docstring)."""
    if by is not None and by not in sv.DIMENSIONS:
        return None
    as_of = wh.resolve_as_of(f)  # also refuses regions outside the user's scope
    if f.scope is not None and f.scope.manager_id is not None:  # a portfolio: not in the rollup
        return None
    if built_for(wh) != (as_of, history_start):
        return None
    group_col = {None: None, "region": "region_id", "channel": "acquisition_channel"}.get(by, by)
    filtered = [col for col, on in (("region_id", f.regions), ("tier", f.tiers), ("segment", f.segments),
                                    ("sla_level", f.sla_levels), ("acquisition_channel", f.channels)) if on]
    if f.scope is not None and f.scope.regions is not None:
        filtered.append("region_id")
    needed = {c for c in (group_col, *filtered) if c is not None}
    r = next(t for t in SMALLEST_FIRST[7 if step_days % 7 == 0 else 1] if needed <= set(t.c.keys()))
    from_: sa.FromClause = r
    if by is None:
        group: sa.ColumnElement = sa.literal("all", sa.String(8))
    elif by == "region":
        rg = s.region_closure.alias("rg")
        from_ = r.join(rg, at_level(rg, r.c.region_id, level))
        group = rg.c.ancestor_id
    else:
        group = r.c["acquisition_channel" if by == "channel" else by]
    # the compiler's own customer conditions, on the rollup's columns of the same names
    conds = [group.isnot(None), *slice_conditions(f, r, r.c.get("acquisition_channel"))]
    per = (sa.select(group.label("grp"), sv.step_up(r.c.tenure_days, step_days).label("t"), r.c.entered,
                     r.c.events, r.c.censored).select_from(from_).where(*conds).subquery("per"))
    agg = (sa.select(per.c.grp, per.c.t, *[sa.func.sum(per.c[n]).label(n) for n in ("entered", "events", "censored")])
           .group_by(per.c.grp, per.c.t).subquery("agg"))
    return sv.finish_life_table(agg)


__all__ = ["AS_OF_KEY", "HISTORY_KEY", "TABLES", "build_select", "builds", "built_for", "life_table_query",
           "meta_values", "refresh"]
