"""Whether a change against the comparison period can be shown honestly.

A comparison period that lies (wholly or partly) before the data begins holds no record of what
happened then: its complaint rate, churn or customer count would be computed from nothing and read
as 0 or as a fraction of the truth, and "+32.1 complaints" would be a change against nothing. Nor is
a change honest when the earlier period has no answers or too few (a share of 12 answers).

:func:`first_records` reads, per metric source, the first day the data records it (declared in
:data:`SOURCE_EVENTS`, shared by comparisons and forecasts, :mod:`metrics.analysis.forecast`);
:func:`mask` blanks ``value_cmp``, ``delta`` and ``delta_pct`` of a compare frame where the
comparison cannot be made and says why in ``no_cmp``: ``before_data`` (the earlier period begins
before the data), ``no_data`` (no rows in it), ``small`` (fewer than :data:`MIN_N`). Pure apart from
the one read; no Streamlit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.registry import Metric

MIN_N = 30  # answers, tickets or circuits behind an earlier share, mean, NPS or quantile: fewer, no change
SAMPLED_KINDS = ("share", "mean", "nps", "quantile")
REASONS = ("before_data", "no_data", "small")

# the first record of each table that says something happened (not a customer's own start date:
# a customers file lists who is a customer now, not who left before the records begin)
_EVENTS = {
    "tickets": (s.tickets, "opened_at"),
    "surveys": (s.surveys, "answered_at"),
    "billing": (s.billing_monthly, "month"),
    "outages": (s.outages, "started_at"),
    "departures": (s.customers, "end_date"),
}
# which of those a metric source's comparison needs (its first record: the earliest of them). A source
# whose events are the figure itself is recorded from its first event (no ticket, no complaint rate).
# Customers (churn, stock) are recorded from a customer's first record (a ticket, an answer, a bill, a
# departure), not from an outage: outages record the network, and an outage history that begins before
# the customer records says nothing of who left then. Availability is recorded from the first activity
# of any kind, outages included: a month without outages is a real 100%, not a month before the data, so
# its first outage (which may come months after the circuits went into service) is not where its records
# begin; nor is a circuit's start date (a services file lists the circuits in service now, started long
# before the records, as a customers file does).
ANY_ACTIVITY = ("tickets", "surveys", "billing", "outages", "departures")
SOURCE_EVENTS = {
    "tickets": ("tickets",),
    "complaints": ("tickets",),
    "surveys": ("surveys",),
    "billing": ("billing",),
    "availability": ANY_ACTIVITY,
    "customers": ("tickets", "surveys", "billing", "departures"),
}


def _day(value: object) -> date | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()


def first_records(read: Callable[[sa.Select], pd.DataFrame]) -> dict[str, date | None]:
    """Metric source → the first day its data records (None: nothing recorded, no limit), from one
    statement of scalar subqueries run by ``read``."""
    cols = [sa.select(sa.func.min(table.c[col])).scalar_subquery().label(name)
            for name, (table, col) in _EVENTS.items()]
    row = read(sa.select(*cols)).iloc[0]
    events = {name: _day(row[name]) for name in _EVENTS}
    out: dict[str, date | None] = {}
    for source, names in SOURCE_EVENTS.items():
        days = [events[n] for n in names if events[n] is not None]
        out[source] = min(days) if days else None
    return out


def reason(metric: Metric, cf: Filters | None, n_cmp: float, first: date | None) -> str | None:
    """Why the change of one group cannot be shown (a :data:`REASONS` code), or None when it can.
    ``cf``: the comparison filters (None: no comparison asked, no reason to give); ``first``: the first
    day the metric's source records."""
    if cf is None:
        return None
    if first is not None and cf.start < first:
        return "no_data" if cf.end < first else "before_data"
    if pd.isna(n_cmp) or n_cmp <= 0:
        return "no_data" if metric.kind != "rate" or pd.isna(n_cmp) else None  # a rate: 0 events is a 0
    if metric.kind in SAMPLED_KINDS and n_cmp < MIN_N:
        return "small"
    return None


def mask(metric: Metric, frame: pd.DataFrame, cf: Filters | None, firsts: Mapping[str, date | None]) -> pd.DataFrame:
    """``frame`` (from ``Warehouse.compare``) with ``no_cmp`` (a :data:`REASONS` code or None per row)
    and ``value_cmp``, ``delta``, ``delta_pct`` blanked (NaN) on the rows that have a reason."""
    out = frame.copy()
    first = firsts.get(metric.source)
    out["no_cmp"] = [reason(metric, cf, n, first) for n in out["n_cmp"]] if len(out) else pd.Series(dtype=object)
    blank = out["no_cmp"].notna().to_numpy(dtype=bool) if len(out) else np.zeros(0, dtype=bool)
    out.loc[blank, ["value_cmp", "delta", "delta_pct"]] = np.nan
    out["no_cmp"] = out["no_cmp"].astype(object).where(blank, None)
    return out
