"""Time at risk, declared once: what a rate or an availability divides by.

An :class:`Exposure` names its rows (customers, circuits), when each row is at risk and in which unit
its days count; a metric of the registry (:mod:`metrics.model.registry`) names its exposure and the
expressions over a :class:`Span` (one bucket of the period) that count on it. The kinds of
:mod:`metrics.query.kinds` make the SQL, over the raw rows and over the month cubes alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from metrics.model import schema as s

DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class Span:
    """What an expression over time at risk may refer to: one bucket [``start``, ``stop``) of the
    period [``period_start``, ``period_stop``) — the whole period, or one calendar month of it — as
    dates, the as-of date (``as_of_day``: the day after it, exclusive; ``as_of_end``: that midnight)
    and the tables of the exposure sources."""

    start: sa.ColumnElement
    stop: sa.ColumnElement
    period_start: sa.ColumnElement
    period_stop: sa.ColumnElement
    as_of_day: sa.ColumnElement
    as_of_end: sa.ColumnElement
    c: sa.Table = s.customers
    sv: sa.Table = s.services
    o: sa.Table = s.outages

    @property
    def ended(self) -> sa.ColumnElement:
        """A customer's end date when known as of the as-of date, else NULL."""
        return sa.case((self.c.c.end_date < self.as_of_day, self.c.c.end_date), else_=None)

    @property
    def start_ts(self) -> sa.ColumnElement:
        return sa.cast(self.start, sa.DateTime)

    @property
    def stop_ts(self) -> sa.ColumnElement:
        return sa.cast(self.stop, sa.DateTime)


SpanExpr = Callable[[Span], sa.ColumnElement]


@dataclass(frozen=True)
class Exposure:
    """Time at risk that a rate or an availability divides by: the rows at risk (``table``, one per
    ``key``), each from ``begin`` to ``end`` (dates, over the period's :class:`Span`), counted in a
    period where ``alive``; the days of each bucket become the unit by ``unit`` (customer-months:
    ÷ 365.25/12; hours: × 24). ``end_event``: the end day is itself an event (a churn), so the month
    that starts on it is a bucket too. ``events``: the table of events on these rows (outages)."""

    name: str
    table: sa.Table
    key: str
    begin: SpanExpr
    end: SpanExpr
    alive: SpanExpr
    unit: Callable[[sa.ColumnElement], sa.ColumnElement]
    end_event: bool = False
    events: sa.Table | None = None


# customers from their start to their departure (known as of the as-of date) or the as-of date
CUSTOMER_MONTHS = Exposure(
    name="customer_months", table=s.customers, key="customer_id", end_event=True,
    begin=lambda x: x.c.c.start_date, end=lambda x: sa.func.coalesce(x.ended, x.as_of_day),
    alive=lambda x: sa.and_(x.c.c.start_date < x.period_stop,
                            sa.or_(x.ended.is_(None), x.ended >= x.period_start)),
    unit=lambda days: days / DAYS_PER_MONTH)


def _service_end(x: Span) -> sa.ColumnElement:
    return sa.func.coalesce(x.sv.c.end_date, x.period_stop)


# enterprise circuits from their start to their end (or the period's end), with their outages
SERVICE_HOURS = Exposure(
    name="service_hours", table=s.services, key="service_id", events=s.outages,
    begin=lambda x: x.sv.c.start_date, end=_service_end,
    alive=lambda x: sa.and_(x.sv.c.start_date < x.period_stop, _service_end(x) > x.period_start),
    unit=lambda days: days * 24.0)
EXPOSURES = {e.name: e for e in (CUSTOMER_MONTHS, SERVICE_HOURS)}
