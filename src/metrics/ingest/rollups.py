"""Rollup tables: pre-aggregated cubes that dashboard views read instead of raw rows.

Two cubes, rebuilt in the database (``INSERT … SELECT``, no rows through Python) after every load:

* ``rollup_tickets``: month × region_id (the customer's) × tier × segment × sla_level × channel ×
  category × kind × priority, from ``tickets`` joined to ``customers``;
* ``rollup_surveys``: month × region_id × tier × segment × sla_level × channel × survey_kind;
* ``rollup_customers``: month × region_id × tier × segment × sla_level × acquisition channel, with
  the days at risk and, per metric counted on customer-months, what its kind counts (churns:
  ``churn_rate__events``; customers active at the month's end: ``active_customers__n``; the as-of
  month ends after the as-of day), built by :func:`metrics.query.compiler.exposure_months` — the raw
  customer query itself, per month. It serves churn rate, active customers (the last month's stock) and, with the
  tickets cube, complaint rate. It is not built when a customer ends before starting (the raw
  period and month queries disagree on such data); ``sw_meta.rollup_sources`` lists the cubes built;
* ``rollup_services``: month × region_id × tier × segment × sla_level, downtime and in-service
  hours and circuits in service (:func:`metrics.query.compiler.service_months`), for availability by month;
* ``rollup_resolved`` (:mod:`metrics.ingest.resolved_rollup`): not a cube but the resolved tickets
  with their customer's dimensions, sorted by opening time, for the resolution-time quantiles;
* ``rollup_circuits`` (:mod:`metrics.ingest.circuits_rollup`): the circuits joined to their customer,
  for availability other than by month.

Each cube holds, for every rollup-able metric of the registry on its source (all kinds but
quantiles), the additive aggregates the compiler would compute, named ``<metric>__<column>``
(``csat__num``, ``csat_mean__total_sq``, ``tickets__n`` …). They are built from the *same* registry
expressions (``Metric.num/den/value/where`` with :class:`Ctx` at the as-of of the load), so there is
one definition; the metric's ``where`` is folded into each aggregate. The as-of they were built
with is recorded in ``sw_meta`` under ``rollup_as_of``.

Reading them is :mod:`metrics.query.rollup_compiler`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from metrics.ingest import circuits_rollup, resolved_rollup
from metrics.model import dimensions
from metrics.model import schema as s
from metrics.model.exposures import CUSTOMER_MONTHS
from metrics.model.registry import METRICS, Ctx, Metric
from metrics.query import kinds
from metrics.query.compiler import exposure_measures, exposure_months, service_months
from metrics.query.dialect import month_start
from metrics.query.where import end_of_day

AS_OF_KEY = "rollup_as_of"
SOURCES_KEY = "rollup_sources"  # the cubes built (customers is left out when the data forbid it)
# in rollup_sources: the event cubes count the rows with each metric's needed columns known
# (``Metric.needs``); cubes built before they did answer no such metric (raw rows do)
KNOWN_COUNTS = "known_counts"
# in rollup_sources: the customer cube holds ``<metric>__<name>`` per metric counted on customer-months
# (``churn_rate__events``); one built before it did answers none of them (raw rows do)
CUSTOMER_MEASURES = "customer_measures"
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
_COUNT, _TOTAL = kinds.COUNT, kinds.TOTAL

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
    """A cube answers ``m``: not a quantile, not events counted on rows the cube does not fold
    ``m.where`` into (a rate's events_from)."""
    return m.source in CUBE_DIMS and m.kind != "quantile" and not (m.events_from and m.where is not None)


def measures(m: Metric) -> tuple[Measure, ...]:
    """The aggregates of ``m`` the engine needs (its kind's, :mod:`metrics.query.kinds`; with
    ``m.needs`` also ``rows`` and ``known``, the rows covered and those with the columns known)."""
    return tuple(Measure(m.id, a.name, a.type_, a.is_count) for a in kinds.aggregates(m))


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

# The event cubes summed over fewer dimensions: what most requests group and filter by (a view of the
# whole data by month, region, tier or channel). The fine cube has nearly a row per ticket at the size
# of a province (nine dimensions); these have a row per month × district × tier × channel × kind, a
# few tens of thousands whatever the number of tickets. Same sums, so the same figures; the compiler
# reads the smallest cube holding every dimension of a request (rollup_compiler.event_cube).
COARSE = "coarse"  # in rollup_sources: the coarse cubes are built
COARSE_DIMS: dict[str, tuple[str, ...]] = {"tickets": ("month", "region_id", "tier", "channel", "kind"),
                                           "surveys": ("month", "region_id", "tier", "channel", "survey_kind")}


def _coarse_table(source: str) -> sa.Table:
    fine = TABLES[source]
    keep = set(COARSE_DIMS[source]) | {c.name for c in fine.columns if "__" in c.name}
    return sa.Table(f"{fine.name}_coarse", rollup_metadata,
                    *[sa.Column(c.name, c.type, nullable=c.nullable) for c in fine.columns if c.name in keep])


COARSE_TABLES = {source: _coarse_table(source) for source in TABLES}


def coarse_select(source: str, fine: sa.Table | None = None) -> sa.Select:
    """The rows of the coarse cube of ``source``: its fine cube (``fine``: the filled one; on Spark its
    new version) summed over the dimensions the coarse one leaves out."""
    fine, dims = TABLES[source] if fine is None else fine, COARSE_DIMS[source]
    cols = [fine.c[c.name] if c.name in dims else sa.func.sum(fine.c[c.name]).label(c.name)
            for c in COARSE_TABLES[source].columns]
    return sa.select(*cols).group_by(*[fine.c[d] for d in dims])

# customer months: exposure (days at risk) and what each metric counted on customer-months counts
# (churns, customers active at the month's end), per month × the customer's region (district) × tier ×
# segment × sla_level × acquisition channel
_c = s.customers.c
rollup_customers = sa.Table(
    "rollup_customers", rollup_metadata,
    sa.Column("month", sa.Date, nullable=False), sa.Column("region_id", sa.Integer),
    sa.Column("tier", _c.tier.type), sa.Column("segment", _c.segment.type),
    sa.Column("sla_level", _c.sla_level.type), sa.Column("channel", _c.acquisition_channel.type),
    sa.Column("exposure_days", _COUNT),
    *[sa.Column(f"{m.id}__{name}", _COUNT) for m, name in exposure_measures(CUSTOMER_MONTHS)],
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
ALL_TABLES = {**TABLES, **{f"{source}_{COARSE}": table for source, table in COARSE_TABLES.items()},
              "customers": rollup_customers, "services": rollup_services,
              resolved_rollup.SOURCE: resolved_rollup.rollup_resolved,
              circuits_rollup.SOURCE: circuits_rollup.rollup_circuits}


# ---------------------------------------------------------------------------------------------
# building


def build_select(source: str, as_of: date) -> sa.Select:
    """The SELECT that fills ``rollup_<source>`` with everything known as of ``as_of``."""
    c = s.customers
    x = Ctx(as_of_end=sa.literal(end_of_day(as_of), sa.DateTime))
    if source == "tickets":
        fact, tcol = s.tickets, s.tickets.c.opened_at
        extra = [fact.c.category, fact.c.kind, fact.c.priority]
    else:
        fact, tcol = s.surveys, s.surveys.c.answered_at
        extra = [fact.c.kind.label("survey_kind")]
    dims = [month_start(tcol).label("month"), c.c.region_id, c.c.tier, c.c.segment, c.c.sla_level,
            fact.c.channel, *extra]
    aggs = [e.element.label(meas.column) for m in metrics_of(source)  # the compiler's aggregates, where folded in
            for e, meas in zip(kinds.row_aggregates(m, x, fact, fold_where=True), measures(m), strict=True)]
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
    resolved_rollup.drop(engine)
    circuits_rollup.drop(engine)
    if as_of is None:
        return None
    rollup_metadata.create_all(engine)
    resolved_rollup.metadata.create_all(engine)
    circuits_rollup.metadata.create_all(engine)
    with engine.begin() as conn:
        cubes, built = builds(conn, as_of)
        for table, select, columns in cubes:
            conn.execute(table.insert().from_select(columns, select))
        resolved_rollup.index(conn)
        conn.execute(m.insert().values(key=SOURCES_KEY, value=",".join(built)))
        conn.execute(m.insert().values(key=AS_OF_KEY, value=as_of.isoformat()))
    analyze(engine, list(ALL_TABLES.values()))
    return as_of


Build = tuple[sa.Table, sa.Select, list[str]]  # a rollup table, the SELECT that fills it, the columns it fills


def builds(conn: sa.Connection, as_of: date,
           filled: Callable[[sa.Table], sa.Table] = lambda t: t) -> tuple[list[Build], list[str]]:
    """Every cube with the SELECT that fills it at ``as_of``, in order of building, and the names to
    record in ``sw_meta.rollup_sources``: what :func:`refresh` runs, and a Spark refresh
    (:mod:`metrics.backends.spark.load`) in its own tables. ``filled``: the table a SELECT reads when
    it sums a cube filled before it (the coarse cubes; on Spark the fine cube's new version)."""
    out: list[tuple[sa.Table, sa.Select]] = []
    for source, table in TABLES.items():
        out += [(table, build_select(source, as_of)), (COARSE_TABLES[source], coarse_select(source, filled(table)))]
    built = [*TABLES, KNOWN_COUNTS, COARSE]
    if customers_rollup_exact(conn):
        out.append((rollup_customers, exposure_months(CUSTOMER_MONTHS, as_of)))
        built += ["customers", CUSTOMER_MEASURES]
    out += [(rollup_services, service_months(as_of)),
            (resolved_rollup.rollup_resolved, resolved_rollup.build_select(as_of)),
            (circuits_rollup.rollup_circuits, circuits_rollup.build_select())]
    built += ["services", resolved_rollup.SOURCE, circuits_rollup.SOURCE]
    renamed = {"n": "services"}  # service_months counts the circuits in service as n
    return [(t, q, [renamed.get(k, k) if t is rollup_services else k for k in q.selected_columns.keys()])
            for t, q in out], built


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


__all__ = ["ALL_TABLES", "AS_OF_KEY", "COARSE", "COARSE_DIMS", "COARSE_TABLES", "CUBE_DIMS", "SOURCES_KEY", "TABLES",
           "build_select", "builds", "coarse_select", "measures", "parse_sources", "refresh", "rollup_as_of",
           "rollupable"]
