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

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.analysis import stats
from metrics.model.registry import Ctx, Metric
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


class Rate(Kind):
    """Events per exposure (complaints per 1,000 customer-months, churn per customer-month)."""

    name, from_rows = "rate", False

    def finish(self, m, df):
        scale = 1000.0 if m.unit == "per_1000_customer_months" else 1.0
        df["events"] = df["events"].fillna(0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            df["value"] = scale * df["events"] / df["exposure"]
        df["n"] = df["events"]
        df["lower"], df["upper"] = stats.poisson_rate_interval(df["events"], df["exposure"], scale)


class Availability(Kind):
    name, from_rows, interval = "availability", False, False

    def finish(self, m, df):
        with np.errstate(invalid="ignore", divide="ignore"):
            df["value"] = 1 - df["downtime_hours"] / df["service_hours"]
        super().finish(m, df)


class Stock(Count):
    name, from_rows = "stock", False


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
