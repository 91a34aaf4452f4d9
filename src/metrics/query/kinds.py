"""Metric kinds, one class each: the additive aggregates a kind computes over rows, the names and
types of those aggregates (the compiler's result columns and the rollup cubes' measures alike) and
how the finished value, ``n`` and the 95% interval come from them.

The compiler (raw rows, the metric's ``where`` as a WHERE clause) and the rollup builder (``where``
folded into each aggregate, so one cube row serves every metric) call the same
:func:`row_aggregates`; :func:`finish` turns either result into the tidy value columns. A metric
with ``needs`` (a flag or amount the data may leave unknown) counts only the rows where it is known
and adds ``rows`` and ``known``, so a group that cannot be answered is told apart from a 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.analysis import stats
from metrics.model.dimensions import CUSTOMER_DIMS
from metrics.model.exposures import Exposure, Span
from metrics.model.registry import Ctx, Metric, dim_column, events_of
from metrics.query.dialect import percentile

COUNT, TOTAL = sa.BigInteger, sa.Double  # the types of count-like and sum-like aggregates


@dataclass(frozen=True)
class Aggregate:
    """One aggregate of a kind: its column name, its SQL type, and whether it is a COUNT (0, not
    NULL, over no rows: a cube sums it with a 0 default)."""

    name: str
    type_: type
    is_count: bool


class _Rows:
    """Row-level helpers for one metric: the metric's ``where`` folded into conditions or not."""

    def __init__(self, where: sa.ColumnElement | None) -> None:
        self.where = where

    def one(self, cond: sa.ColumnElement | None = None) -> sa.ColumnElement:
        """Rows (meeting ``cond``) as a sum of ones; plain COUNT(*) when nothing restricts them."""
        parts = [p for p in (self.where, cond) if p is not None]
        if not parts:
            return sa.func.count()
        return sa.func.sum(sa.case((sa.and_(*parts), 1), else_=0))

    def val(self, v: sa.ColumnElement) -> sa.ColumnElement:
        """``v`` on the metric's rows, NULL elsewhere."""
        return v if self.where is None else sa.case((self.where, v), else_=None)


class Kind:
    """A kind of metric. Subclasses set ``aggregates`` and implement :meth:`exprs` (row kinds) and
    :meth:`finish`."""

    name = ""
    aggregates: tuple[Aggregate, ...] = ()
    from_rows = True  # computed from one row per event (tickets, surveys, billing)
    interval = True

    def exprs(self, m: Metric, x: Ctx, fact: sa.Table, r: _Rows) -> list[sa.ColumnElement]:
        raise ValueError(f"metric {m.id}: kind {self.name} is not computed from event rows")

    def finish(self, m: Metric, df: pd.DataFrame) -> None:
        """Set ``value``, ``lower``, ``upper`` (and ``n`` where it is derived) on ``df`` in place."""
        df["lower"], df["upper"] = np.nan, np.nan


class Count(Kind):
    name, aggregates = "count", (Aggregate("n", COUNT, True),)
    interval = False

    def exprs(self, m, x, fact, r):
        return [r.one()]

    def finish(self, m, df):
        df["value"] = df["n"]
        super().finish(m, df)


class Share(Kind):
    name, aggregates = "share", (Aggregate("num", COUNT, False), Aggregate("den", COUNT, False))

    def exprs(self, m, x, fact, r):
        den = m.den(x)
        return [r.one(sa.and_(den, m.num(x))), r.one(den)]

    def finish(self, m, df):
        df["n"] = df["den"]
        with np.errstate(invalid="ignore", divide="ignore"):
            df["value"] = df["num"] / df["den"]
        df["lower"], df["upper"] = stats.wilson(df["num"], df["den"])


class Mean(Kind):
    name = "mean"
    aggregates = (Aggregate("total", TOTAL, False), Aggregate("total_sq", TOTAL, False), Aggregate("n", COUNT, True))

    def exprs(self, m, x, fact, r):
        v = r.val(sa.cast(m.value(x), sa.Double))
        return [sa.func.sum(v), sa.func.sum(v * v), sa.func.count(v)]

    def finish(self, m, df):
        with np.errstate(invalid="ignore", divide="ignore"):
            df["value"] = df["total"] / df["n"]
        df["lower"], df["upper"] = stats.mean_interval(df["total"], df["total_sq"], df["n"])


class Nps(Kind):
    name = "nps"
    aggregates = (Aggregate("promoters", COUNT, False), Aggregate("detractors", COUNT, False),
                  Aggregate("n", COUNT, True))

    def exprs(self, m, x, fact, r):
        v = m.value(x)
        return [r.one(v >= 9), r.one(v <= 6), sa.func.count(r.val(v))]

    def finish(self, m, df):
        with np.errstate(invalid="ignore", divide="ignore"):
            df["value"] = 100 * (df["promoters"] - df["detractors"]) / df["n"]
        df["lower"], df["upper"] = stats.nps_interval(df["promoters"], df["detractors"], df["n"])


class Sum(Kind):
    name, aggregates = "sum", (Aggregate("value", TOTAL, False), Aggregate("n", COUNT, True))
    interval = False

    def exprs(self, m, x, fact, r):
        return [sa.func.sum(r.val(m.value(x))), r.one()]


class Quantile(Kind):
    name, aggregates = "quantile", (Aggregate("value", TOTAL, False), Aggregate("n", COUNT, True))
    interval = False

    def exprs(self, m, x, fact, r):
        return [percentile(sa.literal_column(repr(m.q)), m.value(x)), r.one()]


class Exposed(Kind):
    """A kind over time at risk (``Metric.exposure``): its SQL is made here from the declaration, for
    the raw compiler and the rollup compiler alike. Each hands in ``q``, which knows where the rows
    are (:class:`ExposureQuery`): the raw exposure rows per bucket, or the cube's months."""

    from_rows = False
    intervals: tuple[str | None, ...] = (None,)

    def span_exprs(self, m: Metric, x: Span) -> list[tuple[str, sa.ColumnElement]]:
        """(name, aggregate) over the exposure's rows in one bucket: what a cube month stores."""
        return []

    def select(self, m: Metric, q: ExposureQuery) -> sa.Select | None:
        """The compiler's columns (dimensions, then the aggregates :meth:`finish` reads); None when
        ``q`` (a cube) cannot answer."""
        raise NotImplementedError


class Rate(Exposed):
    """Events per exposure (complaints per 1,000 customer-months, churn per customer-month): events
    counted per exposure row (``num``), or the rows of ``events_from`` joined to the exposure of the
    customer dimensions of the group-by."""

    name, intervals = "rate", ("poisson", None)

    def span_exprs(self, m, x):
        return [] if m.events_from else [("events", _ones(m.num(x)))]

    def select(self, m, q):
        if not m.events_from:
            return q.exposure_select(m, q.by, ["events", "exposure"])
        num = q.events(events_of(m))
        den = q.exposure_select(m, exposure_dims(q.by), ["exposure"], channel=False)
        if num is None or den is None:
            return None
        return join_events(num.subquery("num"), den.subquery("den"), q.by, q.count_customers)

    def finish(self, m, df):
        df["events"] = df["events"].fillna(0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            df["value"] = m.per * df["events"] / df["exposure"]
        df["n"] = df["events"]
        if m.interval == "poisson":
            df["lower"], df["upper"] = stats.poisson_rate_interval(df["events"], df["exposure"], m.per)
        else:
            super().finish(m, df)


class Availability(Exposed):
    """1 − hours on the exposure's event rows (``num`` where ``where``: outages) ÷ its hours; ``n``
    the exposure rows in service (circuits)."""

    name = "availability"

    def select(self, m, q, region_id: bool = False):
        """``region_id``: also grouped by the customer's own region (the cube's grain)."""
        if not q.raw:  # a cube month holds the event hours beside the exposure
            return q.exposure_select(m, q.by, ["downtime_hours", "service_hours", "n"], channel=False)
        e = m.exposure
        dims, base, conds, x, days = q.exposure_rows(e, q.by, channel=False, region_id=region_id)
        group = [d.element for d in dims]
        cust = [sa.func.count(sa.distinct(x.c.c.customer_id)).label("customers")] if q.count_customers else []
        service = (sa.select(*dims, e.unit(days).label("service_hours"),
                             sa.func.count(sa.distinct(e.table.c[e.key])).label("n"), *cust)
                   .select_from(base).where(*conds).group_by(*group)).subquery("svc")
        hours = m.num(x)
        down = (sa.select(*dims, sa.func.sum(sa.case((hours > 0, hours), else_=0.0)).label("downtime_hours"))
                .select_from(base.join(e.events, e.events.c[e.key] == e.table.c[e.key]))
                .where(*conds, m.where(x)).group_by(*group)).subquery("down")
        keys = [d.name for d in dims]
        on = sa.and_(sa.true(), *[service.c[k].is_not_distinct_from(down.c[k]) for k in keys])
        return sa.select(*[service.c[k] for k in keys],
                         sa.func.coalesce(down.c.downtime_hours, 0.0).label("downtime_hours"),
                         service.c.service_hours, service.c.n, *([service.c.customers] if cust else [])
                         ).select_from(service.outerjoin(down, on))

    def finish(self, m, df):
        with np.errstate(invalid="ignore", divide="ignore"):
            df["value"] = 1 - df["downtime_hours"] / df["service_hours"]
        super().finish(m, df)


class Stock(Exposed):
    """Exposure rows where ``value`` holds at the end of the bucket (active customers)."""

    name = "stock"

    def span_exprs(self, m, x):
        return [("n", _ones(m.value(x)))]

    def select(self, m, q):  # over several months of a cube: the last month's
        return q.exposure_select(m, q.by, ["n"], at_end=True)

    def finish(self, m, df):
        df["value"] = df["n"]
        super().finish(m, df)


def _ones(cond: sa.ColumnElement) -> sa.ColumnElement:
    return sa.func.sum(sa.case((cond, 1), else_=0))


class ExposureQuery(Protocol):
    """What an :class:`Exposed` kind asks of a compiler: the raw one or the rollup one."""

    by: tuple[str, ...]
    count_customers: bool
    raw: bool  # reads the rows (True) or a cube's months

    def span(self) -> Span: ...

    def exposure_rows(self, e: Exposure, by: tuple[str, ...], channel: bool = True, region_id: bool = False
                      ) -> tuple[list, sa.FromClause, list, Span, sa.ColumnElement]:
        """Raw only: (dimension columns, FROM, WHERE, the bucket's :class:`Span`, the sum of the days
        at risk) of the rows of ``e``."""

    def exposure_select(self, m: Metric, by: tuple[str, ...], columns: list[str], channel: bool = True,
                        at_end: bool = False) -> sa.Select | None:
        """Per group of ``by``: ``columns`` among the names of :meth:`Exposed.span_exprs`,
        ``exposure`` (in the exposure's unit) and, when ``count_customers``, ``customers``.
        ``channel``: the customer's acquisition channel is a dimension and a filter; ``at_end``:
        the columns hold at the bucket's end (a stock), so months are not summed."""

    def events(self, m: Metric) -> sa.Select | None: ...


def exposure_dims(by: tuple[str, ...]) -> tuple[str, ...]:
    """The dimensions of an exposure joined to events: the customer's and the month, not the
    event's own (a ticket's channel or category)."""
    return tuple(d for d in by if d in CUSTOMER_DIMS or d == "month")


def join_events(num: sa.Subquery, den: sa.Subquery, by: tuple[str, ...],
                count_customers: bool = False) -> sa.Select:
    """A rate's columns from its events (``n`` per group of ``by``) and its exposure (``exposure``
    per group of the customer dimensions of ``by``)."""
    den_by = exposure_dims(by)
    keys = [dim_column(d) for d in den_by]
    on = sa.and_(sa.true(), *[num.c[k].is_not_distinct_from(den.c[k]) for k in keys])
    if len(den_by) == len(by):  # every group of the denominator, events or not
        out = [den.c[dim_column(d)] for d in by]
        cust = [den.c.customers] if count_customers else []
        return sa.select(*out, sa.func.coalesce(num.c.n, 0).label("events"),
                         den.c.exposure, *cust).select_from(den.outerjoin(num, on))
    out = [num.c[dim_column(d)] for d in by]
    cust = [num.c.customers] if count_customers else []  # the customers behind these events
    return sa.select(*out, num.c.n.label("events"), den.c.exposure, *cust).select_from(num.outerjoin(den, on))


KINDS: dict[str, Kind] = {k.name: k for k in (Count(), Share(), Mean(), Nps(), Sum(), Quantile(), Rate(),
                                              Availability(), Stock())}
KNOWN = (Aggregate("rows", COUNT, True), Aggregate("known", COUNT, True))


def of(m: Metric) -> Kind:
    return KINDS[m.kind]


def aggregates(m: Metric) -> tuple[Aggregate, ...]:
    """The aggregates of ``m`` in result order (with ``needs``: then ``rows`` and ``known``)."""
    return of(m).aggregates + (KNOWN if m.needs else ())


def row_aggregates(m: Metric, x: Ctx, fact: sa.Table, fold_where: bool = False) -> list[sa.ColumnElement]:
    """The aggregates of ``m`` over event rows, labelled with their names. ``fold_where``: the
    metric's ``where`` is folded into each aggregate (a cube); otherwise the caller applies it as a
    WHERE clause (the compiler). A metric with ``needs`` counts only rows with its columns known."""
    kind = of(m)
    if m.needs:
        exprs = _known_exprs(m, x)
    else:
        where = m.where(x) if (fold_where and m.where is not None) else None
        exprs = kind.exprs(m, x, fact, _Rows(where))
    return [e.label(a.name) for e, a in zip(exprs, aggregates(m), strict=True)]


def _known_exprs(m: Metric, x: Ctx) -> list[sa.ColumnElement]:
    """A metric whose ``needs`` columns may be unknown: its ``where`` is always folded in (not a
    WHERE clause), only rows with the columns known count, then ``rows`` (the rows ``m.covered``)
    and ``known`` (those with every needed column known)."""
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
