"""Answering from the rollup cubes (:mod:`metrics.ingest.rollups` builds them).

:func:`compile_from_rollup` answers a request from a cube when, and only when, the answer is exactly
the one :func:`metrics.query.compiler.compile_metric` would give: its cubes built, whole calendar
months, the same as-of, every dimension in the cube. Exposure is stored in whole days and divided as
the compiler divides it, so sums over months equal the period's sum exactly. A quantile (resolution
time) reads ``rollup_resolved`` (:mod:`metrics.ingest.resolved_rollup`), the resolved tickets with
their customer's dimensions: the same rows as the raw query for any period of days at the same
as-of, so the same quantile. Otherwise it returns None and the caller compiles against the raw rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from metrics.ingest import circuits_rollup, resolved_rollup
from metrics.ingest.resolved_rollup import rollup_resolved
from metrics.ingest.rollups import (
    COARSE,
    COARSE_DIMS,
    COARSE_TABLES,
    CUBE_DIMS,
    CUSTOMER_MEASURES,
    EVENT_SOURCES,
    KNOWN_COUNTS,
    NEEDS,
    TABLES,
    measures,
    rollup_customers,
    rollup_services,
    rollupable,
)
from metrics.model import schema as s
from metrics.model.exposures import CUSTOMER_MONTHS, Span
from metrics.model.filters import Filters
from metrics.model.registry import Metric, dim_column
from metrics.query import kinds
from metrics.query.compiler import REGION_LEVELS, Window, compile_over_circuits, window_quantile
from metrics.query.dialect import has_percentile_aggregate, month_start, week_start
from metrics.query.where import end_of_day

OUTLET_SOURCES = frozenset({"tickets", "surveys"})  # facts with an outlet; the cubes do not carry it


def _month_start(d: date) -> bool:
    return d.day == 1


def eligible(m: Metric, f: Filters, by: tuple[str, ...], window: Window, region_level: str,
             as_of_of_rollup: date | None, sources: frozenset[str] | None = None) -> bool:
    """Whether the cubes of ``m``'s source answer the request exactly (``sources``: the cubes
    built, ``sw_meta.rollup_sources``; None: the event cubes)."""
    sources = frozenset(EVENT_SOURCES) if sources is None else sources
    if f.outlets and OUTLET_SOURCES & {m.source, m.events_from}:  # the cubes hold no outlet: the raw rows
        return False
    if resolved_rollup.served(m):  # a quantile: the resolved tickets, any period of days
        return _resolved_eligible(m, by, window, region_level, as_of_of_rollup, sources)
    if _cube_eligible(m, by, window, region_level, as_of_of_rollup, sources):
        return True
    # availability not answered by its month cube: the circuits table, any period and as-of
    return m.source == "availability" and _circuits_eligible(m, by, region_level, as_of_of_rollup, sources)


def _cube_eligible(m: Metric, by: tuple[str, ...], window: Window, region_level: str,
                   as_of_of_rollup: date | None, sources: frozenset[str]) -> bool:
    """Whether the month cubes of ``m``'s source answer the request exactly."""
    if as_of_of_rollup is None or not rollupable(m) or region_level not in REGION_LEVELS:
        return False
    if not set(NEEDS[m.source]) <= sources:
        return False
    if m.needs and KNOWN_COUNTS not in sources:  # cubes built before they counted known rows
        return False
    if "customers" in NEEDS[m.source] and CUSTOMER_MEASURES not in sources:  # built before they were declared
        return False
    if m.source == "availability" and "month" not in by:  # not a sum of months
        return False
    if any(d not in CUBE_DIMS[m.source] or d not in m.dims for d in by):
        return False
    if window.as_of_end != end_of_day(as_of_of_rollup):
        return False
    # whole months: [month start, month start); or up to the end of the as-of day, after which the
    # rollup holds no events (the as-of is the newest date of the data it was built from).
    if window.stop <= window.start or not _month_start(window.start):
        return False
    return _month_start(window.stop) or window.stop == as_of_of_rollup + timedelta(days=1)


def _resolved_eligible(m: Metric, by: tuple[str, ...], window: Window, region_level: str,
                       as_of_of_rollup: date | None, sources: frozenset[str]) -> bool:
    """Whether ``rollup_resolved`` holds exactly the rows of the raw query: built, the same as-of
    (it holds the rows known then), every dimension in it. Any period: rows carry their time."""
    return (as_of_of_rollup is not None and resolved_rollup.SOURCE in sources and region_level in REGION_LEVELS
            and all(d in resolved_rollup.DIMS and d in m.dims for d in by)
            and window.as_of_end == end_of_day(as_of_of_rollup))


def _circuits_eligible(m: Metric, by: tuple[str, ...], region_level: str, as_of_of_rollup: date | None,
                       sources: frozenset[str]) -> bool:
    """Whether ``rollup_circuits`` answers availability: built, every dimension in it. It holds no
    as-of and no period: any of them is the raw query's."""
    return (as_of_of_rollup is not None and circuits_rollup.SOURCE in sources and region_level in REGION_LEVELS
            and all(d in circuits_rollup.DIMS and d in m.dims for d in by))


def _cube_query(r: sa.Table, f: Filters, by: tuple[str, ...], window: Window, region_level: str,
                lists: list[tuple[str, tuple[str, ...]]], period: list | None = None,
                columns: dict[str, sa.ColumnElement] | None = None) -> tuple[sa.FromClause, list, list] | None:
    """(FROM, dimension columns, conditions) over cube ``r``: the months of the window (or the
    conditions ``period``), the regions, the user's scope and the ``lists`` (cube column, allowed
    values); ``columns``: dimensions computed from ``r`` (month and week of a time). None when the
    scope cannot be applied to a cube."""
    from_: sa.FromClause = r
    dims: list[sa.ColumnElement] = []
    for d in by:
        if d == "region":
            rg = s.region_closure.alias("rg")
            from_ = from_.join(rg, sa.and_(rg.c.descendant_id == r.c.region_id,
                                           rg.c.ancestor_level == region_level))
            dims.append(rg.c.ancestor_id.label(dim_column(d)))
        else:
            dims.append((columns[d] if columns and d in columns else r.c[d]).label(d))
    conds = period if period is not None else [
        r.c.month >= sa.literal(window.start, sa.Date), r.c.month < sa.literal(window.stop, sa.Date)]
    if f.regions:
        rc = s.region_closure
        conds.append(r.c.region_id.in_(sa.select(rc.c.descendant_id).where(rc.c.ancestor_id.in_(f.regions))))
    if f.scope is not None:  # a user's regions (an account manager's portfolio is not in the cubes)
        if f.scope.manager_id is not None or f.scope.outlet_ids is not None:  # a hall manager's outlets neither
            return None
        if f.scope.regions is not None:
            rc = s.region_closure
            conds.append(r.c.region_id.in_(sa.select(rc.c.descendant_id).where(
                rc.c.ancestor_id.in_(f.scope.regions))) if f.scope.regions else sa.false())
    conds += [r.c[col].in_(values) for col, values in lists if values]
    return from_, dims, conds


def _customer_lists(f: Filters, channel: bool) -> list[tuple[str, tuple[str, ...]]]:
    lists = [("tier", f.tiers), ("segment", f.segments), ("sla_level", f.sla_levels)]
    return lists + [("channel", f.channels)] if channel else lists


def _last_month(window: Window) -> date:
    """The first day of the window's last month (whose end, or the as-of day, ends the window)."""
    return (window.stop - timedelta(days=1)).replace(day=1)


@dataclass
class _Cube:
    """:class:`metrics.query.kinds.ExposureQuery` over the month cubes: the kinds of metrics over
    time at risk make their SQL from the declaration through it, as they do over the raw rows."""

    f: Filters
    by: tuple[str, ...]
    window: Window
    region_level: str
    dialect: str
    as_of_of_rollup: date
    sources: frozenset[str]
    count_customers = False  # the cubes cannot count distinct customers (viewers read raw rows)
    raw = False

    def span(self) -> Span:
        start, stop = sa.literal(self.window.start, sa.Date), sa.literal(self.window.stop, sa.Date)
        return Span(start, stop, start, stop, sa.literal(self.window.as_of_end.date(), sa.Date),
                    sa.literal(self.window.as_of_end, sa.DateTime))

    def exposure_select(self, m: Metric, by: tuple[str, ...], columns: list[str], channel: bool = True,
                        at_end: bool = False) -> sa.Select | None:
        """The months of the exposure's cube: stored aggregates summed (``<metric>__<name>``; the
        service cube's own columns), ``exposure`` from the summed whole days as the compiler divides
        them; ``at_end``: without month in ``by``, the last month only."""
        r = rollup_customers if m.exposure is CUSTOMER_MONTHS else rollup_services
        parts = _cube_query(r, self.f, by, self.window, self.region_level, _customer_lists(self.f, channel))
        if parts is None:
            return None
        from_, dims, conds = parts
        if at_end and "month" not in by:
            conds.append(r.c.month == sa.literal(_last_month(self.window), sa.Date))
        def summed(k: str) -> sa.ColumnElement:
            if k == "exposure":
                return m.exposure.unit(sa.func.sum(r.c.exposure_days))
            return sa.func.sum(r.c[{"n": "services"}.get(k, k) if r is rollup_services else f"{m.id}__{k}"])

        aggs = [summed(k).label(k) for k in columns]
        return sa.select(*dims, *aggs).select_from(from_).where(*conds).group_by(*[d.element for d in dims])

    def events(self, m: Metric) -> sa.Select | None:
        """Events counted on event rows, from their own cube."""
        return compile_from_rollup(m, self.f, self.by, self.window, self.region_level, self.dialect,
                                   self.as_of_of_rollup, self.sources)


def compile_from_rollup(metric: Metric, f: Filters, by: tuple[str, ...], window: Window,
                        region_level: str = "city", dialect: str = "duckdb",
                        as_of_of_rollup: date | None = None,
                        sources: frozenset[str] | None = None) -> sa.Select | None:
    """The request as a Select over the rollups of ``metric``'s source, or None when not exact.

    Output columns are those of :func:`metrics.query.compiler.compile_metric` (dimension columns, then
    the kind's aggregates), so :func:`metrics.query.finish.finish` works unchanged. ``dialect`` is
    accepted for symmetry with the compiler; the rollup query is the same on every database.
    ``sources``: the cubes built (``sw_meta.rollup_sources``; None: the event cubes only).
    """
    by = tuple(by)
    sources = frozenset(EVENT_SOURCES) if sources is None else sources
    if not eligible(metric, f, by, window, region_level, as_of_of_rollup, sources):
        return None
    if resolved_rollup.served(metric):
        return _resolved_select(metric, f, by, window, region_level, dialect)
    cube = _Cube(f, by, window, region_level, dialect, as_of_of_rollup, sources)
    if metric.source == "availability":  # its month cube, else (or for a portfolio) the raw query without the join
        q = kinds.of(metric).select(metric, cube) if _cube_eligible(metric, by, window, region_level,
                                                                    as_of_of_rollup, sources) else None
        if q is None and _circuits_eligible(metric, by, region_level, as_of_of_rollup, sources):
            q = compile_over_circuits(metric, f, by, window, region_level, dialect, circuits_rollup.rollup_circuits)
        return q
    if metric.exposure is not None:  # over time at risk: the kind makes the SQL from the declaration
        return kinds.of(metric).select(metric, cube)
    lists = [("tier", f.tiers), ("segment", f.segments), ("sla_level", f.sla_levels), ("channel", f.channels)]
    if metric.source == "tickets":
        lists += [("category", f.categories), ("priority", f.priorities),
                  ("kind", metric.fixed_kinds or f.kinds)]
    else:
        lists.append(("survey_kind", f.survey_kinds))
    r = event_cube(metric.source, by, lists, sources)
    parts = _cube_query(r, f, by, window, region_level, lists)
    if parts is None:
        return None
    from_, dims, conds = parts
    aggs = []
    for x in measures(metric):
        total = sa.func.sum(r.c[x.column])
        aggs.append((sa.func.coalesce(total, 0) if x.is_count else total).label(x.name))
    return sa.select(*dims, *aggs).select_from(from_).where(*conds).group_by(*[d.element for d in dims])


def event_cube(source: str, by: tuple[str, ...], lists: list[tuple[str, tuple[str, ...]]],
               sources: frozenset[str]) -> sa.Table:
    """The smallest event cube of ``source`` holding every dimension the request groups (``by``;
    region: the cube's region_id) or filters by (``lists`` with values): the coarse cube when it is
    built and does, else the fine one. Both hold the same sums."""
    needed = {"region_id" if d == "region" else d for d in by} | {col for col, values in lists if values}
    if COARSE in sources and needed <= set(COARSE_DIMS[source]):
        return COARSE_TABLES[source]
    return TABLES[source]


def _ticket_lists(m: Metric, f: Filters) -> list[tuple[str, tuple[str, ...]]]:
    """(column, allowed values) of the filters on a ticket's customer and the ticket itself."""
    return [("tier", f.tiers), ("segment", f.segments), ("sla_level", f.sla_levels), ("channel", f.channels),
            ("category", f.categories), ("priority", f.priorities), ("kind", m.fixed_kinds or f.kinds)]


def _resolved_select(m: Metric, f: Filters, by: tuple[str, ...], window: Window, region_level: str,
                     dialect: str) -> sa.Select | None:
    """The quantile over ``rollup_resolved``: the metric's value and ``where`` over its rows, tickets
    opened in the window (as the raw query: from the first instant of the first day to before the
    day after the last), the same dimensions and filters; the compiler's columns (value, n)."""
    r = rollup_resolved
    exprs = resolved_rollup.expressions(m, window.as_of_end)
    if exprs is None:
        return None
    value, where = exprs
    opened = r.c.opened_at
    period = [opened >= sa.literal(window.start_ts, sa.DateTime), opened < sa.literal(window.stop_ts, sa.DateTime)]
    parts = _cube_query(r, f, by, window, region_level, _ticket_lists(m, f), period,
                        {"month": month_start(opened), "week": week_start(opened)})
    if parts is None:
        return None
    from_, dims, conds = parts
    conds += [where] if where is not None else []
    if not has_percentile_aggregate(dialect):  # MariaDB: the window form, as the compiler's
        return window_quantile(m.q, value, from_, dims, conds)
    aggs = kinds.row_aggregates(m, resolved_rollup.ctx(window.as_of_end), r)  # the kind's, as on raw rows
    return sa.select(*dims, *aggs).select_from(from_).where(*conds).group_by(*[d.element for d in dims])


__all__ = ["compile_from_rollup", "eligible"]
