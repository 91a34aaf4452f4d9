"""Compile (metric, filters, group-by) into one SQLAlchemy Core ``Select``.

The select returns the group-by columns followed by the aggregate columns the metric's kind
needs (``num``/``den``, ``total``/``total_sq``/``n``, ``events``/``exposure`` …); the engine
turns those into ``value``/``lower``/``upper``. All user values are bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from metrics.model import schema as s
from metrics.model.exposures import Exposure, Span
from metrics.model.filters import Filters
from metrics.model.regions import at_level
from metrics.model.registry import METRICS, Ctx, Metric, dim_column, get
from metrics.query import kinds
from metrics.query.dialect import (
    days_between,
    has_percentile_aggregate,
    month_start,
    week_start,
    window_percentile,
)
from metrics.query.where import DaySpan, date_literal, end_of_day, midnight, slice_conditions, timestamp_literal

REGION_LEVELS = s.REGION_LEVELS
_NO_SPAN = Span(*[sa.literal(None, sa.Date)] * 5, as_of_end=sa.literal(None, sa.DateTime))  # names only


class CompileError(ValueError):
    """A request the metric cannot answer (e.g. a dimension it cannot be cut by)."""


@dataclass(frozen=True)
class Window(DaySpan):
    """The period as the SQL sees it: [start, stop) in days, events known before ``as_of_end``."""

    as_of_end: datetime

    @classmethod
    def of(cls, f: Filters, as_of: date) -> Window:
        stop = min(f.end, as_of) + timedelta(days=1)
        return cls(f.start, max(stop, f.start), end_of_day(as_of))


_d, _ts = date_literal, timestamp_literal  # short names inside this module


# ---------------------------------------------------------------------------------------------
def compile_metric(
    metric: Metric,
    f: Filters,
    by: tuple[str, ...],
    window: Window,
    region_level: str = "city",
    dialect: str = "duckdb",
) -> sa.Select:
    """One Select computing the aggregates of ``metric`` for filters ``f`` grouped by ``by``."""
    bad = [d for d in by if d not in metric.dims]
    if bad:
        raise CompileError(
            f"metric {metric.id} cannot be cut by {', '.join(bad)}; it can by {', '.join(metric.dims)}"
        )
    if region_level not in REGION_LEVELS:
        raise CompileError(f"unknown region level {region_level!r}; use {', '.join(REGION_LEVELS)}")
    q = _Query(metric, f, tuple(by), window, region_level, dialect)
    # aggregate-only users: each group also counts its distinct customers, for small-group suppression
    q.count_customers = f.scope is not None and f.scope.aggregates_only
    if metric.exposure is not None:  # over time at risk: the kind makes the SQL from the declaration
        return kinds.of(metric).select(metric, q)
    if metric.source in ("tickets", "surveys", "billing"):
        return q.row_metric()
    raise CompileError(f"metric {metric.id}: unknown source {metric.source}")


@dataclass
class _Query:
    metric: Metric
    f: Filters
    by: tuple[str, ...]
    w: Window
    level: str
    dialect: str = "duckdb"
    count_customers: bool = False  # add ``customers``: distinct customers behind each group
    # the customers table and the circuits table of the exposures; for availability both may be one
    # denormalised copy of the circuits with their customer's columns (compile_over_circuits)
    people: sa.Table = s.customers
    circuits: sa.Table = s.services

    # -- shared pieces ------------------------------------------------------------------------
    @property
    def ctx(self) -> Ctx:
        return Ctx(as_of_end=_ts(self.w.as_of_end))

    def customer_conditions(self, c: sa.Table, channel_col: sa.ColumnElement | None) -> list:
        return slice_conditions(self.f, c, channel_col)

    def join_region(self, from_: sa.FromClause, c: sa.Table) -> tuple[sa.FromClause, sa.ColumnElement | None]:
        if "region" not in self.by:
            return from_, None
        rg = s.region_closure.alias("rg")
        return from_.join(rg, at_level(rg, c.c.region_id, self.level)), rg.c.ancestor_id

    def dims(self, available: dict[str, sa.ColumnElement | None], by: tuple[str, ...] | None = None) -> list:
        return [available[d].label(dim_column(d)) for d in (self.by if by is None else by)]

    def customer_dims(self, c: sa.Table, region: sa.ColumnElement | None) -> dict:
        return {"region": region, "tier": c.c.tier, "segment": c.c.segment, "sla_level": c.c.sla_level}

    # -- tickets, surveys, billing: one row per event --------------------------------------------
    def row_metric(self, metric: Metric | None = None, by: tuple[str, ...] | None = None) -> sa.Select:
        m, f, x, c = metric or self.metric, self.f, self.ctx, s.customers
        by = self.by if by is None else by
        if m.source == "tickets":
            fact = s.tickets
            tcol = fact.c.opened_at
            chan = fact.c.channel
            extra = {"category": fact.c.category, "kind": fact.c.kind, "priority": fact.c.priority,
                     "outlet": fact.c.outlet_id}
            conds = [tcol >= _ts(self.w.start_ts), tcol < _ts(self.w.stop_ts)]
            for name, col in (("categories", fact.c.category), ("priorities", fact.c.priority)):
                if getattr(f, name):
                    conds.append(col.in_(getattr(f, name)))
            kinds = m.fixed_kinds or f.kinds
            if kinds:
                conds.append(fact.c.kind.in_(kinds))
        elif m.source == "surveys":
            fact = s.surveys
            tcol = fact.c.answered_at
            chan = fact.c.channel
            extra = {"survey_kind": fact.c.kind, "outlet": fact.c.outlet_id}
            conds = [tcol >= _ts(self.w.start_ts), tcol < _ts(self.w.stop_ts)]
            if f.survey_kinds:
                conds.append(fact.c.kind.in_(f.survey_kinds))
        else:  # billing: months that start inside the period
            fact = s.billing_monthly
            tcol = fact.c.month
            chan = c.c.acquisition_channel
            extra = {}
            conds = [tcol >= _d(self.w.start), tcol < _d(self.w.stop)]
        from_, region = self.join_region(fact.join(c, c.c.customer_id == fact.c.customer_id), c)
        available = self.customer_dims(c, region) | extra | {
            "channel": chan, "month": month_start(tcol), "week": week_start(tcol)}
        conds += self.customer_conditions(c, chan)
        if m.where is not None and not m.needs:  # with needs, where is folded into the aggregates
            conds.append(m.where(x))
        dims = self.dims(available, by)
        measures = self._row_measures(m, x, fact)
        contributor = self._contributor(m, x, fact)
        if self.count_customers:
            measures.append(sa.func.count(sa.distinct(contributor)).label("customers"))
        if m.kind == "quantile" and not has_percentile_aggregate(self.dialect):
            return self._window_quantile(m, x, from_, dims, conds, contributor)
        return sa.select(*dims, *measures).select_from(from_).where(*conds).group_by(*[d.element for d in dims])

    def _row_measures(self, m: Metric, x: Ctx, fact: sa.Table) -> list:
        if not kinds.of(m).from_rows:
            raise CompileError(f"metric {m.id}: kind {m.kind} does not apply to source {m.source}")
        return kinds.row_aggregates(m, x, fact)

    @staticmethod
    def _contributor(m: Metric, x: Ctx, fact: sa.Table) -> sa.ColumnElement:
        """The customer of a row when the row counts in the metric's ``n`` (NULL otherwise): the
        distinct customers a viewer's small-group rule counts."""
        if m.kind == "share":
            return sa.case((sa.and_(m.den(x), m.known(x)), fact.c.customer_id), else_=None)
        if m.needs:  # its where is not a WHERE clause: the rows counted in n
            counted = sa.and_(m.known(x), m.where(x)) if m.where is not None else m.known(x)
            return sa.case((counted, fact.c.customer_id), else_=None)
        if m.kind in ("mean", "quantile"):
            return sa.case((m.value(x).isnot(None), fact.c.customer_id), else_=None)
        if m.kind == "nps":
            return sa.case((fact.c.nps.isnot(None), fact.c.customer_id), else_=None)
        return fact.c.customer_id

    def _window_quantile(self, m: Metric, x: Ctx, from_, dims: list, conds: list,
                         customer_id: sa.ColumnElement) -> sa.Select:
        return window_quantile(m.q, m.value(x), from_, dims, conds, customer_id if self.count_customers else None)

    # -- customers: exposure, events and stock per bucket ----------------------------------------
    def buckets(self, life_start: sa.ColumnElement, life_end: sa.ColumnElement, end_event: bool = False):
        """(join target or None, join condition, bucket start, bucket end, month column).

        ``end_event``: the day ``life_end`` is itself an event (a churn), so the month starting on
        that day must be joined too, or churns on the 1st of a month are lost."""
        start, stop = _d(self.w.start), _d(self.w.stop)
        if "month" not in self.by:
            return None, None, start, stop, None
        cm = s.calendar_months
        last = cm.c.month_start <= life_end if end_event else cm.c.month_start < life_end
        cond = sa.and_(cm.c.month_start < stop, cm.c.month_end > start,
                       cm.c.month_end > life_start, last)
        return (cm, cond, sa.func.greatest(cm.c.month_start, start),
                sa.func.least(cm.c.month_end, stop), cm.c.month_start)

    # -- over time at risk (customer-months, service hours): the kinds make the SQL -----------------
    raw = True  # kinds.ExposureQuery: this compiler reads the rows

    def span(self) -> Span:
        """The period as a :class:`Span` (one bucket: the whole period)."""
        start, stop = _d(self.w.start), _d(self.w.stop)
        return Span(start, stop, start, stop, _d(self.w.as_of_end.date()), _ts(self.w.as_of_end),
                    c=self.people, sv=self.circuits)

    def exposure_rows(self, e: Exposure, by: tuple[str, ...], channel: bool = True, region_id: bool = False):
        """(dimension columns, FROM, WHERE, the bucket's :class:`Span`, the sum of the days at risk) of
        the rows of ``e`` in the period, cut into months when grouped by month. ``channel``: the
        customer's acquisition channel is a dimension and a filter; ``region_id``: also grouped by the
        customer's own region (a cube's grain)."""
        c, x = self.people, self.span()
        begin, end = e.begin(x), e.end(x)
        target, cond, b_start, b_end, month = self.buckets(begin, end, end_event=e.end_event)
        from_ = c if e.table is c else e.table.join(c, c.c.customer_id == e.table.c.customer_id)
        from_, region = self.join_region(from_ if target is None else from_.join(target, cond), c)
        chan = c.c.acquisition_channel if channel else None
        available = self.customer_dims(c, region) | {"channel": chan, "month": month}
        conds = [e.alive(x), *self.customer_conditions(c, chan)]
        days = days_between(sa.func.greatest(begin, b_start), sa.func.least(end, b_end))
        dims = self.dims(available, by) + ([c.c.region_id.label("region_id")] if region_id else [])
        return dims, from_, conds, replace(x, start=b_start, stop=b_end), sa.func.sum(sa.func.greatest(days, 0))

    def exposure_select(self, m: Metric, by: tuple[str, ...], columns: list[str], channel: bool = True,
                        at_end: bool = False) -> sa.Select:
        """:meth:`metrics.query.kinds.ExposureQuery.exposure_select` over the rows (a bucket's end is
        the period's end, so ``at_end`` changes nothing here)."""
        dims, from_, conds, x, days = self.exposure_rows(m.exposure, by, channel)
        agg = dict(kinds.of(m).span_exprs(m, x)) | {
            "exposure": m.exposure.unit(days), "customers": sa.func.count(sa.distinct(s.customers.c.customer_id))}
        cols = columns + (["customers"] if self.count_customers else [])
        return (sa.select(*dims, *[agg[k].label(k) for k in cols]).select_from(from_)
                .where(*conds).group_by(*[d.element for d in dims]))

    def events(self, m: Metric) -> sa.Select:
        """The events a rate counts on event rows (:func:`metrics.model.registry.events_of`)."""
        return self.row_metric(m)


def window_quantile(q: float, value: sa.ColumnElement, from_: sa.FromClause, dims: list, conds: list,
                    customer_id: sa.ColumnElement | None = None) -> sa.Select:
    """A quantile where the database has it only as a window function (MariaDB): ``value`` (its
    quantile ``q``) and ``n`` (rows) per group of ``dims`` over ``from_`` where ``conds``; with
    ``customer_id``, also ``customers`` (distinct ones behind each group)."""
    raw = [d.element for d in dims]
    extra = [customer_id.label("cust_id")] if customer_id is not None else []
    inner = (sa.select(*dims, window_percentile(q, value, raw).label("p"), *extra)
             .select_from(from_).where(*conds).subquery("q"))
    keys = [inner.c[d.name] for d in dims]
    counted = [sa.func.count(sa.distinct(inner.c.cust_id)).label("customers")] if customer_id is not None else []
    return sa.select(*keys, sa.func.max(inner.c.p).label("value"), sa.func.count().label("n"),
                     *counted).group_by(*keys)


def compile_over_circuits(metric: Metric, f: Filters, by: tuple[str, ...], window: Window, region_level: str,
                          dialect: str, circuits: sa.Table) -> sa.Select:
    """An availability metric's raw query with ``circuits`` — the circuits already joined to their
    customer (service_id, customer_id, start_date, end_date and the customer's region_id, tier,
    segment, sla_level, account_manager_id: :mod:`metrics.ingest.circuits_rollup`) — in place of
    services joined to customers: the same SQL from the same declaration, without the join."""
    m = replace(metric, exposure=replace(metric.exposure, table=circuits))
    q = _Query(m, f, tuple(by), window, region_level, dialect, people=circuits, circuits=circuits)
    return kinds.of(m).select(m, q)


# ---------------------------------------------------------------------------------------------
# the month cubes of the exposures (metrics.ingest.rollups), built by the same kinds' SQL


def _months(m: Metric, as_of: date, by: tuple[str, ...]) -> _Query:
    a1 = as_of + timedelta(days=1)
    return _Query(m, Filters(date(1900, 1, 1), as_of), by, Window(date(1900, 1, 1), a1, midnight(a1)),
                  "district")


def exposure_months(e: Exposure, as_of: date) -> sa.Select:
    """Per calendar month up to ``as_of`` (the as-of month ends after the as-of day) and per
    customer region_id, tier, segment, sla_level and acquisition channel: ``exposure_days`` (days
    at risk) and each of :func:`exposure_measures` as ``<metric>__<name>`` (``churn_rate__events``,
    ``active_customers__n``), as the raw metrics compute them for a month. The rollup
    ``rollup_customers`` is built from this select."""
    measures = exposure_measures(e)
    q = _months(measures[0][0], as_of, ("month", "tier", "segment", "sla_level", "channel"))
    dims, from_, conds, x, days = q.exposure_rows(e, q.by, region_id=True)
    cols = [dict(kinds.of(m).span_exprs(m, x))[name].label(f"{m.id}__{name}") for m, name in measures]
    return (sa.select(*dims, days.label("exposure_days"), *cols).select_from(from_).where(*conds)
            .group_by(*[d.element for d in dims]))


def exposure_measures(e: Exposure) -> list[tuple[Metric, str]]:
    """(metric, aggregate name) of what a month of ``e``'s rows holds for the metrics counted on
    them (:meth:`metrics.query.kinds.Exposed.span_exprs`; not events counted on other rows)."""
    return [(m, name) for m in METRICS if m.exposure is e for name, _ in kinds.of(m).span_exprs(m, _NO_SPAN)]


def service_months(as_of: date) -> sa.Select:
    """Per calendar month up to ``as_of`` and per customer region_id, tier, segment and sla_level:
    ``downtime_hours``, ``service_hours`` and ``n`` (circuits in service), as the raw availability
    query computes them for a month. The rollup ``rollup_services`` is built from this select."""
    m = get("availability")
    return kinds.of(m).select(m, _months(m, as_of, ("month", "tier", "segment", "sla_level")), region_id=True)
