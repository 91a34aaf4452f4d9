"""Filters to WHERE: the one public translation of a :class:`~metrics.model.filters.Filters` value
into conditions on the customers table (regions with their descendants, tiers, segments, SLA
levels, a fact's channel and outlet) with the user's scope always added. Every metric, list, distribution,
churn and survival query goes through :func:`slice_conditions`; values are bound parameters. The
period's bounds as the conditions compare them are here too: :func:`midnight`, :func:`end_of_day` and
:class:`DaySpan` (days [start, stop) with their timestamps)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from metrics.access.scope import outlet_condition, scope_conditions
from metrics.model.filters import Filters
from metrics.model.regions import within


def slice_conditions(
    f: Filters,
    customers: sa.FromClause,
    channel_col: sa.ColumnElement | None = None,
    outlet_col: sa.ColumnElement | None = None,
) -> list:
    """Conditions on ``customers`` (the table or an alias with its columns) for the slices of ``f``
    and the scope of its user; ``channel_col`` is the channel of the fact at hand (a ticket's, a
    survey's, or the customer's acquisition channel), None where channels do not apply.

    ``outlet_col`` is the outlet of the fact (``outlet_id``); when not given it is the ``outlet_id``
    of the table ``channel_col`` belongs to (tickets, surveys), so every query on those facts is cut
    by the outlet filter. A fact without an outlet (a customer: the acquisition channel's table has
    none) is not cut by the outlet filter, as a customer-level figure reads the channel filter as the
    acquisition channel; a hall manager's scope (``Scope.outlet_ids``) gives such a fact nothing."""
    c, conds = customers, []
    if f.regions:
        conds.append(within(c.c.region_id, f.regions))
    for values, name in ((f.tiers, "tier"), (f.segments, "segment"), (f.sla_levels, "sla_level")):
        if values:  # a cube may lack the columns of slices it cannot be asked for
            conds.append(c.c[name].in_(values))
    if f.channels and channel_col is not None:
        conds.append(channel_col.in_(f.channels))
    outlet = outlet_col if outlet_col is not None else fact_outlet(channel_col)
    if f.outlets:
        if outlet is not None:
            conds.append(outlet_condition(outlet, f.outlets))
    return conds + scope_conditions(f.scope, c, outlet)  # the user's scope, on every query


def fact_outlet(channel_col: sa.ColumnElement | None) -> sa.ColumnElement | None:
    """The ``outlet_id`` beside a fact's channel column (same table or alias), None when that table
    has none (customers, a cube without outlets)."""
    table = getattr(channel_col, "table", None)
    columns = getattr(table, "c", None)
    return columns.get("outlet_id") if columns is not None else None


def date_literal(value: date) -> sa.ColumnElement:
    """A bound date (typed, so every dialect compares it as a date)."""
    return sa.literal(value, sa.Date)


def timestamp_literal(value: datetime) -> sa.ColumnElement:
    """A bound timestamp."""
    return sa.literal(value, sa.DateTime)


def midnight(day: date) -> datetime:
    """The first instant of ``day``, a naive timestamp like the data's."""
    return datetime.combine(day, time())


def end_of_day(day: date) -> datetime:
    """The first instant after ``day``: the end of an as-of date (events known by then count)."""
    return midnight(day + timedelta(days=1))


@dataclass(frozen=True)
class DaySpan:
    """Days [start, stop) of a period (``stop``: the day after the last one), also as timestamps."""

    start: date
    stop: date

    @property
    def start_ts(self) -> datetime:
        return midnight(self.start)

    @property
    def stop_ts(self) -> datetime:
        return midnight(self.stop)
