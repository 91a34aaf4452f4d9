"""Compile (metric, filters, group-by) into one SQLAlchemy Core ``Select``.

The select returns the group-by columns followed by the aggregate columns the metric's kind
needs (``num``/``den``, ``total``/``total_sq``/``n``, ``events``/``exposure`` …); the engine
turns those into ``value``/``lower``/``upper``. All user values are bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.regions import at_level
from metrics.model.registry import Ctx, Metric, dim_column
from metrics.query import kinds
from metrics.query.dialect import (
    days_between,
    has_percentile_aggregate,
    hours_between,
    month_start,
    week_start,
    window_percentile,
)
from metrics.query.where import date_literal, slice_conditions, timestamp_literal

DAYS_PER_MONTH = 365.25 / 12
REGION_LEVELS = s.REGION_LEVELS
class CompileError(ValueError):
    """A request the metric cannot answer (e.g. a dimension it cannot be cut by)."""


@dataclass(frozen=True)
class Window:
    """The period as the SQL sees it: [start, stop) in days, events known before ``as_of_end``."""

    start: date
    stop: date
    as_of_end: datetime

    @classmethod
    def of(cls, f: Filters, as_of: date) -> Window:
        stop = min(f.end, as_of) + timedelta(days=1)
        return cls(f.start, max(stop, f.start), datetime.combine(as_of + timedelta(days=1), time()))

    @property
    def start_ts(self) -> datetime:
        return datetime.combine(self.start, time())

    @property
    def stop_ts(self) -> datetime:
        return datetime.combine(self.stop, time())


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
    if metric.source in ("tickets", "surveys", "billing"):
        return q.row_metric()
    if metric.source == "customers":
        return q.customer_metric()
    if metric.source == "complaints":
        return q.complaint_rate()
    if metric.source == "availability":
        return q.availability()
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
            extra = {"category": fact.c.category, "kind": fact.c.kind, "priority": fact.c.priority}
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
            extra = {"survey_kind": fact.c.kind}
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
        raw = [d.element for d in dims]
        inner = (
            sa.select(*dims, window_percentile(m.q, m.value(x), raw).label("p"), customer_id.label("cust_id"))
            .select_from(from_).where(*conds).subquery("q")
        )
        keys = [inner.c[d.name] for d in dims]
        extra = [sa.func.count(sa.distinct(inner.c.cust_id)).label("customers")] if self.count_customers else []
        return sa.select(*keys, sa.func.max(inner.c.p).label("value"),
                         sa.func.count().label("n"), *extra).group_by(*keys)

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

    def customer_base(self, channel: bool = True, by: tuple[str, ...] | None = None):
        c = s.customers
        as_of_excl = _d(self.w.as_of_end.date())
        end_known = sa.case((c.c.end_date < as_of_excl, c.c.end_date), else_=None)
        life_end = sa.func.coalesce(end_known, as_of_excl)
        target, cond, b_start, b_end, month = self.buckets(c.c.start_date, life_end, end_event=True)
        from_ = c if target is None else c.join(target, cond)
        from_, region = self.join_region(from_, c)
        chan = c.c.acquisition_channel if channel else None
        available = self.customer_dims(c, region) | {"channel": chan, "month": month}
        conds = [c.c.start_date < _d(self.w.stop),
                 sa.or_(end_known.is_(None), end_known >= _d(self.w.start))]
        conds += self.customer_conditions(c, chan)
        days = days_between(sa.func.greatest(c.c.start_date, b_start), sa.func.least(life_end, b_end))
        exposure_days = sa.func.sum(sa.func.greatest(days, 0))
        exposure = exposure_days / DAYS_PER_MONTH
        events = sa.func.sum(sa.case((sa.and_(end_known >= b_start, end_known < b_end), 1), else_=0))
        active = sa.func.sum(sa.case(
            (sa.and_(c.c.start_date < b_end, sa.or_(end_known.is_(None), end_known >= b_end)), 1),
            else_=0))
        dims = self.dims(available, by)
        agg = {"exposure": exposure, "exposure_days": exposure_days, "events": events, "n": active,
               "customers": sa.func.count(sa.distinct(c.c.customer_id))}
        return dims, from_, conds, agg

    def customer_metric(self) -> sa.Select:
        dims, from_, conds, agg = self.customer_base()
        cols = ["n"] if self.metric.kind == "stock" else ["events", "exposure"]
        cols += ["customers"] if self.count_customers else []
        return (sa.select(*dims, *[agg[k].label(k) for k in cols]).select_from(from_)
                .where(*conds).group_by(*[d.element for d in dims]))

    # -- complaint rate: complaints ÷ customer-months ---------------------------------------------
    def complaint_rate(self) -> sa.Select:
        from metrics.model.registry import get

        tickets_metric = get("tickets")
        num_metric = Metric(**{**tickets_metric.__dict__, "fixed_kinds": ("complaint",)})
        num = self.row_metric(num_metric).subquery("num")
        den_by = complaint_denominator_dims(self.by)
        dims, from_, conds, agg = self.customer_base(channel=False, by=den_by)
        extra = [agg["customers"].label("customers")] if self.count_customers else []
        den = (sa.select(*dims, agg["exposure"].label("exposure"), *extra).select_from(from_)
               .where(*conds).group_by(*[d.element for d in dims]).subquery("den"))
        return join_complaints(num, den, self.by, self.count_customers)

    # -- availability: downtime ÷ in-service time -------------------------------------------------
    def availability(self, region_id: bool = False) -> sa.Select:
        """``region_id``: also group by the customer's own region (the rollup's grain)."""
        c, sv, o = s.customers, s.services, s.outages
        svc_end = sa.func.coalesce(sv.c.end_date, _d(self.w.stop))
        target, cond, b_start, b_end, month = self.buckets(sv.c.start_date, svc_end)
        base = sv.join(c, c.c.customer_id == sv.c.customer_id)
        base = base if target is None else base.join(target, cond)
        base, region = self.join_region(base, c)
        available = self.customer_dims(c, region) | {"month": month}
        conds = [sv.c.start_date < _d(self.w.stop), svc_end > _d(self.w.start)]
        conds += self.customer_conditions(c, None)
        dims = self.dims(available) + ([c.c.region_id.label("region_id")] if region_id else [])
        days = days_between(sa.func.greatest(sv.c.start_date, b_start), sa.func.least(svc_end, b_end))
        service = (sa.select(*dims, (sa.func.sum(sa.func.greatest(days, 0)) * 24.0).label("service_hours"),
                             sa.func.count(sa.distinct(sv.c.service_id)).label("n"),
                             *([sa.func.count(sa.distinct(c.c.customer_id)).label("customers")]
                               if self.count_customers else []))
                   .select_from(base).where(*conds).group_by(*[d.element for d in dims])).subquery("svc")
        b_start_ts, b_end_ts = sa.cast(b_start, sa.DateTime), sa.cast(b_end, sa.DateTime)
        restored = sa.func.coalesce(o.c.restored_at, _ts(self.w.as_of_end))
        hours = hours_between(sa.func.greatest(o.c.started_at, b_start_ts), sa.func.least(restored, b_end_ts))
        down = (sa.select(*dims, sa.func.sum(sa.case((hours > 0, hours), else_=0.0)).label("downtime_hours"))
                .select_from(base.join(o, o.c.service_id == sv.c.service_id))
                .where(*conds, o.c.started_at < b_end_ts, restored > b_start_ts)
                .group_by(*[d.element for d in dims])).subquery("down")
        keys = [dim_column(d) for d in self.by] + (["region_id"] if region_id else [])
        on = sa.and_(sa.true(), *[service.c[k].is_not_distinct_from(down.c[k]) for k in keys])
        return sa.select(*[service.c[k] for k in keys],
                         sa.func.coalesce(down.c.downtime_hours, 0.0).label("downtime_hours"),
                         service.c.service_hours, service.c.n,
                         *([service.c.customers] if self.count_customers else [])
                         ).select_from(service.outerjoin(down, on))


# ---------------------------------------------------------------------------------------------
# pieces shared with the rollups (metrics.ingest.rollups), so that each is defined once


def complaint_denominator_dims(by: tuple[str, ...]) -> tuple[str, ...]:
    """The dimensions of complaint rate's exposure: the customer's, not the ticket's channel/category."""
    return tuple(d for d in by if d not in ("channel", "category"))


def join_complaints(num: sa.Subquery, den: sa.Subquery, by: tuple[str, ...],
                    count_customers: bool = False) -> sa.Select:
    """Complaint rate's columns from its numerator (``n`` complaints per group of ``by``) and its
    denominator (``exposure`` in customer-months per group of the customer dimensions of ``by``)."""
    den_by = complaint_denominator_dims(by)
    keys = [dim_column(d) for d in den_by]
    on = sa.and_(sa.true(), *[num.c[k].is_not_distinct_from(den.c[k]) for k in keys])
    if len(den_by) == len(by):  # every group of the denominator, complaints or not
        out = [den.c[dim_column(d)] for d in by]
        cust = [den.c.customers] if count_customers else []
        return sa.select(*out, sa.func.coalesce(num.c.n, 0).label("events"),
                         den.c.exposure, *cust).select_from(den.outerjoin(num, on))
    out = [num.c[dim_column(d)] for d in by]
    cust = [num.c.customers] if count_customers else []  # the customers behind these complaints
    return sa.select(*out, num.c.n.label("events"), den.c.exposure, *cust).select_from(num.outerjoin(den, on))


def customer_months(as_of: date) -> sa.Select:
    """Per calendar month up to ``as_of`` (the as-of month ends after the as-of day) and per
    customer region_id, tier, segment, sla_level and acquisition channel: ``exposure_days`` (days
    at risk), ``events`` (churns) and ``n`` (active at the month's end), as the raw customer
    metrics compute them for a month. The rollup ``rollup_customers`` is built from this select."""
    from metrics.model.registry import get

    a1 = as_of + timedelta(days=1)
    q = _Query(get("churn_rate"), Filters(date(1900, 1, 1), as_of), ("month", "tier", "segment", "sla_level",
                                                                      "channel"),
               Window(date(1900, 1, 1), a1, datetime.combine(a1, time())), "district")
    dims, from_, conds, agg = q.customer_base()
    region = s.customers.c.region_id
    cols = [*dims, region.label("region_id"), agg["exposure_days"].label("exposure_days"),
            agg["events"].label("events"), agg["n"].label("n")]
    return sa.select(*cols).select_from(from_).where(*conds).group_by(*[d.element for d in dims], region)


def service_months(as_of: date) -> sa.Select:
    """Per calendar month up to ``as_of`` and per customer region_id, tier, segment and sla_level:
    ``downtime_hours``, ``service_hours`` and ``n`` (circuits in service), as the raw availability
    query computes them for a month. The rollup ``rollup_services`` is built from this select."""
    from metrics.model.registry import get

    a1 = as_of + timedelta(days=1)
    q = _Query(get("availability"), Filters(date(1900, 1, 1), as_of), ("month", "tier", "segment", "sla_level"),
               Window(date(1900, 1, 1), a1, datetime.combine(a1, time())), "district")
    return q.availability(region_id=True)
