"""Rollup tables: pre-aggregated cubes that dashboard views read instead of raw rows.

Two cubes, rebuilt in the database (``INSERT … SELECT``, no rows through Python) after every load:

* ``rollup_tickets``: month × region_id (the customer's) × tier × segment × sla_level × channel ×
  category × kind × priority, from ``tickets`` joined to ``customers``;
* ``rollup_surveys``: month × region_id × tier × segment × sla_level × channel × survey_kind;
* ``rollup_customers``: month × region_id × tier × segment × sla_level × acquisition channel, with
  the days at risk, churns and customers active at the month's end (the as-of month ends after the
  as-of day), built by :func:`metrics.query.compiler.customer_months` — the raw customer query itself,
  per month. It serves churn rate, active customers (the last month's stock) and, with the
  tickets cube, complaint rate. It is not built when a customer ends before starting (the raw
  period and month queries disagree on such data); ``sw_meta.rollup_sources`` lists the cubes built;
* ``rollup_services``: month × region_id × tier × segment × sla_level, downtime and in-service
  hours and circuits in service (:func:`metrics.query.compiler.service_months`), for availability by month.

Each cube holds, for every rollup-able metric of the registry on its source (all kinds but
quantiles), the additive aggregates the compiler would compute, named ``<metric>__<column>``
(``csat__num``, ``csat_mean__total_sq``, ``tickets__n`` …). They are built from the *same* registry
expressions (``Metric.num/den/value/where`` with :class:`Ctx` at the as-of of the load), so there is
one definition; the metric's ``where`` is folded into each aggregate. The as-of they were built
with is recorded in ``sw_meta`` under ``rollup_as_of``.

:func:`compile_from_rollup` answers a request from a cube when, and only when, the answer is exactly
the one :func:`metrics.query.compiler.compile_metric` would give: its cubes built, not a quantile, whole
calendar months, the same as-of, every dimension in the cube. Exposure is stored in whole days and
divided as the compiler divides it, so sums over months equal the period's sum exactly. Otherwise
it returns None and the caller compiles against the raw rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from metrics.model import dimensions
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.registry import METRICS, Ctx, Metric, dim_column
from metrics.query.compiler import (
    DAYS_PER_MONTH,
    REGION_LEVELS,
    Window,
    complaint_denominator_dims,
    customer_months,
    join_complaints,
    service_months,
)
from metrics.query.dialect import month_start

AS_OF_KEY = "rollup_as_of"
SOURCES_KEY = "rollup_sources"  # the cubes built (customers is left out when the data forbid it)
# in rollup_sources: the event cubes count the rows with each metric's needed columns known
# (``Metric.needs``); cubes built before they did answer no such metric (raw rows do)
KNOWN_COUNTS = "known_counts"
EVENT_SOURCES = ("tickets", "surveys")
CUSTOMER_DIMS = dimensions.CUSTOMER_DIMS
CUBE_DIMS: dict[str, tuple[str, ...]] = {
    "tickets": CUSTOMER_DIMS + ("channel", "category", "kind", "priority", "month"),
    "surveys": CUSTOMER_DIMS + ("channel", "survey_kind", "month"),
    "customers": CUSTOMER_DIMS + ("channel", "month"),  # channel: the acquisition channel
    "complaints": CUSTOMER_DIMS + ("channel", "category", "month"),  # tickets ÷ customers cubes
    "availability": CUSTOMER_DIMS + ("month",),  # by month only: circuits are counted per month
}
# the cubes each source needs
NEEDS: dict[str, tuple[str, ...]] = {"tickets": ("tickets",), "surveys": ("surveys",), "customers": ("customers",),
                                     "complaints": ("tickets", "customers"), "availability": ("services",)}
_COUNT, _TOTAL = sa.BigInteger, sa.Double

rollup_metadata = sa.MetaData()


@dataclass(frozen=True)
class Measure:
    """One additive aggregate of a metric: the cube column, the compiler's column, how it sums."""

    metric: str
    name: str  # the compiler's output column: num, den, total, total_sq, n, promoters, …
    type_: type
    is_count: bool  # built with COUNT in the compiler: 0 (not NULL) over no rows

    @property
    def column(self) -> str:
        return f"{self.metric}__{self.name}"


def rollupable(m: Metric) -> bool:
    return m.source in CUBE_DIMS and m.kind != "quantile"


def measures(m: Metric) -> tuple[Measure, ...]:
    """The aggregates of ``m`` the engine needs (the compiler's columns for its kind; with
    ``m.needs`` also ``rows`` and ``known``, the rows covered and those with the columns known)."""
    known = (Measure(m.id, "rows", _COUNT, True), Measure(m.id, "known", _COUNT, True)) if m.needs else ()
    return _kind_measures(m) + known


def _kind_measures(m: Metric) -> tuple[Measure, ...]:
    k = m.kind
    if k == "count":
        return (Measure(m.id, "n", _COUNT, True),)
    if k == "share":
        return (Measure(m.id, "num", _COUNT, False), Measure(m.id, "den", _COUNT, False))
    if k == "mean":
        return (Measure(m.id, "total", _TOTAL, False), Measure(m.id, "total_sq", _TOTAL, False),
                Measure(m.id, "n", _COUNT, True))
    if k == "nps":
        return (Measure(m.id, "promoters", _COUNT, False), Measure(m.id, "detractors", _COUNT, False),
                Measure(m.id, "n", _COUNT, True))
    if k == "sum":
        return (Measure(m.id, "value", _TOTAL, False), Measure(m.id, "n", _COUNT, True))
    raise ValueError(f"metric {m.id}: kind {k} cannot be rolled up")


def metrics_of(source: str) -> tuple[Metric, ...]:
    """The metrics whose aggregates the event cube of ``source`` (tickets, surveys) holds."""
    return tuple(m for m in METRICS if m.source == source and rollupable(m))


def _dim_columns(source: str) -> list[sa.Column]:
    c, fact = s.customers.c, (s.tickets.c if source == "tickets" else s.surveys.c)
    cols = [sa.Column("month", sa.Date, nullable=False), sa.Column("region_id", sa.Integer),
            sa.Column("tier", c.tier.type), sa.Column("segment", c.segment.type),
            sa.Column("sla_level", c.sla_level.type), sa.Column("channel", fact.channel.type)]
    if source == "tickets":
        cols += [sa.Column(d, fact[d].type) for d in ("category", "kind", "priority")]
    else:
        cols.append(sa.Column("survey_kind", fact.kind.type))
    return cols


def _table(source: str) -> sa.Table:
    cols = [sa.Column(x.column, x.type_()) for m in metrics_of(source) for x in measures(m)]
    return sa.Table(f"rollup_{source}", rollup_metadata, *_dim_columns(source), *cols)


rollup_tickets = _table("tickets")
rollup_surveys = _table("surveys")
TABLES = {"tickets": rollup_tickets, "surveys": rollup_surveys}  # the event cubes

# customer months: exposure (days at risk), churns and customers active at the month's end, per
# month × the customer's region (district) × tier × segment × sla_level × acquisition channel
_c = s.customers.c
rollup_customers = sa.Table(
    "rollup_customers", rollup_metadata,
    sa.Column("month", sa.Date, nullable=False), sa.Column("region_id", sa.Integer),
    sa.Column("tier", _c.tier.type), sa.Column("segment", _c.segment.type),
    sa.Column("sla_level", _c.sla_level.type), sa.Column("channel", _c.acquisition_channel.type),
    sa.Column("exposure_days", _COUNT), sa.Column("events", _COUNT), sa.Column("active_end", _COUNT),
)
# service months: downtime, in-service hours and circuits in service per month × the customer's region
# (district) × tier × segment × sla_level. Availability by month only: over several months the
# engine counts distinct circuits, and an outage of a circuit outside the period's circuits (ended
# before it) counts there only per month, so other requests read raw rows.
rollup_services = sa.Table(
    "rollup_services", rollup_metadata,
    sa.Column("month", sa.Date, nullable=False), sa.Column("region_id", sa.Integer),
    sa.Column("tier", _c.tier.type), sa.Column("segment", _c.segment.type),
    sa.Column("sla_level", _c.sla_level.type),
    sa.Column("downtime_hours", _TOTAL), sa.Column("service_hours", _TOTAL), sa.Column("services", _COUNT),
)
ALL_TABLES = {**TABLES, "customers": rollup_customers, "services": rollup_services}


# ---------------------------------------------------------------------------------------------
# building


def _measure_exprs(m: Metric, x: Ctx, fact: sa.Table) -> list[sa.ColumnElement]:
    """The cube aggregates of ``m``: the compiler's, with ``m.where`` folded into each (and, for a
    metric with ``needs``, only rows with those columns known counted, then ``rows`` and ``known``)."""
    if m.needs:
        return _known_exprs(m, x)
    where = m.where(x) if m.where is not None else None

    def when(cond: sa.ColumnElement | None) -> sa.ColumnElement:
        parts = [p for p in (where, cond) if p is not None]
        return sa.and_(*parts) if parts else sa.true()

    def one(cond: sa.ColumnElement | None = None) -> sa.ColumnElement:
        return sa.func.sum(sa.case((when(cond), 1), else_=0))

    def val(v: sa.ColumnElement) -> sa.ColumnElement:  # the value where the metric's rows are
        return v if where is None else sa.case((where, v), else_=None)

    k = m.kind
    if k == "count":
        return [one()]
    if k == "share":
        den = m.den(x)
        return [one(sa.and_(den, m.num(x))), one(den)]
    if k == "mean":
        v = val(sa.cast(m.value(x), sa.Double))
        return [sa.func.sum(v), sa.func.sum(v * v), sa.func.count(v)]
    if k == "nps":
        v = val(fact.c.nps)
        return [one(fact.c.nps >= 9), one(fact.c.nps <= 6), sa.func.count(v)]
    if k == "sum":
        return [sa.func.sum(val(m.value(x))), one()]
    raise ValueError(f"metric {m.id}: kind {k} cannot be rolled up")


def _known_exprs(m: Metric, x: Ctx) -> list[sa.ColumnElement]:
    """As :meth:`metrics.query.compiler._Query._known_measures` computes them on raw rows."""
    def one(cond: sa.ColumnElement) -> sa.ColumnElement:
        return sa.func.sum(sa.case((cond, 1), else_=0))

    known = sa.and_(m.covered(x), m.known(x))
    counted = sa.and_(known, m.where(x)) if m.where is not None else known
    if m.kind == "share":
        out = [one(sa.and_(known, m.num(x))), one(known)]
    elif m.kind == "mean":
        v = sa.case((counted, sa.cast(m.value(x), sa.Double)), else_=None)
        out = [sa.func.sum(v), sa.func.sum(v * v), sa.func.count(v)]
    elif m.kind == "sum":
        out = [sa.func.sum(sa.case((counted, m.value(x)), else_=None)), one(counted)]
    else:
        raise ValueError(f"metric {m.id}: kind {m.kind} cannot declare needed columns")
    return out + [one(m.covered(x)), one(known)]


def build_select(source: str, as_of: date) -> sa.Select:
    """The SELECT that fills ``rollup_<source>`` with everything known as of ``as_of``."""
    c = s.customers
    x = Ctx(as_of_end=sa.literal(datetime.combine(as_of + timedelta(days=1), time()), sa.DateTime))
    if source == "tickets":
        fact, tcol = s.tickets, s.tickets.c.opened_at
        extra = [fact.c.category, fact.c.kind, fact.c.priority]
    else:
        fact, tcol = s.surveys, s.surveys.c.answered_at
        extra = [fact.c.kind.label("survey_kind")]
    dims = [month_start(tcol).label("month"), c.c.region_id, c.c.tier, c.c.segment, c.c.sla_level,
            fact.c.channel, *extra]
    aggs = [e for m in metrics_of(source) for e in _measure_exprs(m, x, fact)]
    return (sa.select(*dims, *aggs).select_from(fact.join(c, c.c.customer_id == fact.c.customer_id))
            .group_by(*[d.element if isinstance(d, sa.Label) else d for d in dims]))


def _stored_as_of(conn: sa.Connection, key: str) -> date | None:
    value = conn.execute(sa.select(s.meta.c.value).where(s.meta.c.key == key)).scalar()
    return date.fromisoformat(str(value)[:10]) if value else None


def refresh(engine: sa.Engine) -> date | None:
    """Rebuild the rollup tables from the data tables at the load's as-of (``sw_meta.as_of``).

    ``rollup_as_of`` is removed first and written last, so a failed refresh leaves no rollup that
    could be read (requests then fall back to raw rows). Returns the as-of used, or None when the
    database holds no data yet (no rollups are built then).
    """
    m = s.meta
    analyze(engine)  # the build and the first queries need planner statistics of fresh data
    with engine.begin() as conn:
        conn.execute(m.delete().where(m.c.key.in_([AS_OF_KEY, SOURCES_KEY])))
        as_of = _stored_as_of(conn, "as_of")
    rollup_metadata.drop_all(engine)
    if as_of is None:
        return None
    rollup_metadata.create_all(engine)
    with engine.begin() as conn:
        for source, table in TABLES.items():
            conn.execute(table.insert().from_select([col.name for col in table.columns],
                                                    build_select(source, as_of)))
        built = [*TABLES, KNOWN_COUNTS]
        if customers_rollup_exact(conn):
            conn.execute(rollup_customers.insert().from_select(
                ["month", "tier", "segment", "sla_level", "channel", "region_id", "exposure_days", "events",
                 "active_end"], customer_months(as_of)))
            built.append("customers")
        conn.execute(rollup_services.insert().from_select(
            ["month", "tier", "segment", "sla_level", "region_id", "downtime_hours", "service_hours", "services"],
            service_months(as_of)))
        built.append("services")
        conn.execute(m.insert().values(key=SOURCES_KEY, value=",".join(built)))
        conn.execute(m.insert().values(key=AS_OF_KEY, value=as_of.isoformat()))
    analyze(engine, list(ALL_TABLES.values()))
    return as_of


def customers_rollup_exact(conn: sa.Connection) -> bool:
    """Whether month sums of ``rollup_customers`` equal the raw customer metrics on this data.

    They do unless a customer ends before they start (a data error the import refuses and the
    quality checks report): the raw period query counts such a churn when the end falls in the
    period, the month query only in a month that also overlaps the customer's life."""
    c = s.customers.c
    return not conn.execute(sa.select(sa.func.count()).where(c.end_date < c.start_date)).scalar()


def analyze(engine: sa.Engine, tables: list[sa.Table] | None = None) -> None:
    """Refresh PostgreSQL's planner statistics (all tables, or ``tables``) after a bulk load.

    Without them, right after a COPY the planner expects a few dozen rows per table and picks
    nested loops: a complaint rate by city took a minute instead of a fraction of a second. DuckDB
    needs nothing; MariaDB's InnoDB keeps persistent statistics up to date by itself.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        names = ", ".join(engine.dialect.identifier_preparer.quote(t.name) for t in tables) if tables else ""
        conn.exec_driver_sql(f"ANALYZE {names}".strip())


def rollup_as_of(conn: sa.Connection) -> date | None:
    """The as-of the rollups were built with, or None when there are none."""
    return _stored_as_of(conn, AS_OF_KEY)


def parse_sources(value: object) -> frozenset[str]:
    """The cubes named in ``sw_meta.rollup_sources`` (files built before it: the event cubes)."""
    if value is None or (isinstance(value, float) and value != value):
        return frozenset(EVENT_SOURCES)
    return frozenset(x for x in str(value).split(",") if x)


# ---------------------------------------------------------------------------------------------
# reading


def _month_start(d: date) -> bool:
    return d.day == 1


def eligible(m: Metric, f: Filters, by: tuple[str, ...], window: Window, region_level: str,
             as_of_of_rollup: date | None, sources: frozenset[str] | None = None) -> bool:
    """Whether the cubes of ``m``'s source answer the request exactly (``sources``: the cubes
    built, ``sw_meta.rollup_sources``; None: the event cubes)."""
    sources = frozenset(EVENT_SOURCES) if sources is None else sources
    if as_of_of_rollup is None or not rollupable(m) or region_level not in REGION_LEVELS:
        return False
    if not set(NEEDS[m.source]) <= sources:
        return False
    if m.needs and KNOWN_COUNTS not in sources:  # cubes built before they counted known rows
        return False
    if m.source == "availability" and "month" not in by:
        return False
    if any(d not in CUBE_DIMS[m.source] or d not in m.dims for d in by):
        return False
    if window.as_of_end != datetime.combine(as_of_of_rollup + timedelta(days=1), time()):
        return False
    # whole months: [month start, month start); or up to the end of the as-of day, after which the
    # rollup holds no events (the as-of is the newest date of the data it was built from).
    if window.stop <= window.start or not _month_start(window.start):
        return False
    return _month_start(window.stop) or window.stop == as_of_of_rollup + timedelta(days=1)


def _cube_query(r: sa.Table, f: Filters, by: tuple[str, ...], window: Window, region_level: str,
                lists: list[tuple[str, tuple[str, ...]]]) -> tuple[sa.FromClause, list, list] | None:
    """(FROM, dimension columns, conditions) over cube ``r``: the months of the window, the
    regions, the user's scope and the ``lists`` (cube column, allowed values); None when the
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
            dims.append(r.c[d].label(d))
    conds = [r.c.month >= sa.literal(window.start, sa.Date), r.c.month < sa.literal(window.stop, sa.Date)]
    if f.regions:
        rc = s.region_closure
        conds.append(r.c.region_id.in_(sa.select(rc.c.descendant_id).where(rc.c.ancestor_id.in_(f.regions))))
    if f.scope is not None:  # a user's regions (an account manager's portfolio is not in the cubes)
        if f.scope.manager_id is not None:
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


def _customers(metric: Metric, f: Filters, by: tuple[str, ...], window: Window, region_level: str,
               channel: bool = True) -> sa.Select | None:
    """Churn rate, active customers, or (``channel=False``) complaint rate's exposure from
    ``rollup_customers``: the raw compiler's columns (events, exposure; n)."""
    r = rollup_customers
    parts = _cube_query(r, f, by, window, region_level, _customer_lists(f, channel))
    if parts is None:
        return None
    from_, dims, conds = parts
    if metric.kind == "stock":  # active at the end of the period: the last month's month-end stock
        if "month" not in by:
            conds.append(r.c.month == sa.literal(_last_month(window), sa.Date))
        aggs = [sa.func.sum(r.c.active_end).label("n")]
    else:
        aggs = [sa.func.sum(r.c.events).label("events"),
                (sa.func.sum(r.c.exposure_days) / DAYS_PER_MONTH).label("exposure")]
    return sa.select(*dims, *aggs).select_from(from_).where(*conds).group_by(*[d.element for d in dims])


def _services(f: Filters, by: tuple[str, ...], window: Window, region_level: str) -> sa.Select | None:
    """Availability by month from ``rollup_services`` (the raw compiler's columns)."""
    r = rollup_services
    parts = _cube_query(r, f, by, window, region_level, _customer_lists(f, channel=False))
    if parts is None:
        return None
    from_, dims, conds = parts
    aggs = [sa.func.sum(r.c.downtime_hours).label("downtime_hours"),
            sa.func.sum(r.c.service_hours).label("service_hours"), sa.func.sum(r.c.services).label("n")]
    return sa.select(*dims, *aggs).select_from(from_).where(*conds).group_by(*[d.element for d in dims])


def _complaints(f: Filters, by: tuple[str, ...], window: Window, region_level: str, dialect: str,
                as_of_of_rollup: date, sources: frozenset[str]) -> sa.Select | None:
    """Complaint rate: complaints from ``rollup_tickets`` ÷ exposure from ``rollup_customers``,
    joined as the raw compiler joins them."""
    from metrics.model.registry import get

    tickets = get("tickets")
    num_metric = Metric(**{**tickets.__dict__, "fixed_kinds": ("complaint",)})
    num = compile_from_rollup(num_metric, f, by, window, region_level, dialect, as_of_of_rollup, sources)
    den = _customers(get("complaint_rate"), f, complaint_denominator_dims(by), window, region_level,
                     channel=False)
    if num is None or den is None:
        return None
    return join_complaints(num.subquery("num"), den.subquery("den"), by)


def compile_from_rollup(metric: Metric, f: Filters, by: tuple[str, ...], window: Window,
                        region_level: str = "city", dialect: str = "duckdb",
                        as_of_of_rollup: date | None = None,
                        sources: frozenset[str] | None = None) -> sa.Select | None:
    """The request as a Select over the rollups of ``metric``'s source, or None when not exact.

    Output columns are those of :func:`metrics.query.compiler.compile_metric` (dimension columns, then
    the kind's aggregates), so :func:`metrics.query.warehouse.finish` works unchanged. ``dialect`` is
    accepted for symmetry with the compiler; the rollup query is the same on every database.
    ``sources``: the cubes built (``sw_meta.rollup_sources``; None: the event cubes only).
    """
    by = tuple(by)
    sources = frozenset(EVENT_SOURCES) if sources is None else sources
    if not eligible(metric, f, by, window, region_level, as_of_of_rollup, sources):
        return None
    if metric.source == "customers":
        return _customers(metric, f, by, window, region_level)
    if metric.source == "complaints":
        return _complaints(f, by, window, region_level, dialect, as_of_of_rollup, sources)
    if metric.source == "availability":
        return _services(f, by, window, region_level)
    r = TABLES[metric.source]
    lists = [("tier", f.tiers), ("segment", f.segments), ("sla_level", f.sla_levels), ("channel", f.channels)]
    if metric.source == "tickets":
        lists += [("category", f.categories), ("priority", f.priorities),
                  ("kind", metric.fixed_kinds or f.kinds)]
    else:
        lists.append(("survey_kind", f.survey_kinds))
    parts = _cube_query(r, f, by, window, region_level, lists)
    if parts is None:
        return None
    from_, dims, conds = parts
    aggs = []
    for x in measures(metric):
        total = sa.func.sum(r.c[x.column])
        aggs.append((sa.func.coalesce(total, 0) if x.is_count else total).label(x.name))
    return sa.select(*dims, *aggs).select_from(from_).where(*conds).group_by(*[d.element for d in dims])


__all__ = ["ALL_TABLES", "AS_OF_KEY", "CUBE_DIMS", "SOURCES_KEY", "TABLES", "compile_from_rollup", "eligible",
           "measures", "parse_sources", "refresh", "rollup_as_of", "rollupable"]
