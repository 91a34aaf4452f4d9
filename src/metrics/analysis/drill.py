"""Drill-down: the tickets or customers behind a number, for the same filters.

The lists use exactly the filter conditions of the metric compiler, so the rows behind a bar are
the rows the bar counted (for ticket metrics: tickets opened in the window).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from metrics.access.users import require_rows
from metrics.model import schema as s
from metrics.model import ticket_status
from metrics.model.filters import Filters
from metrics.query.compiler import Window
from metrics.query.warehouse import Warehouse
from metrics.query.where import slice_conditions, timestamp_literal

TICKET_COLUMNS = ("ticket_id", "opened_at", "customer_id", "name", "tier", "region_id", "channel", "kind",
                  "category", "priority", "first_response_at", "resolved_at", "resolution_due_at",
                  "escalated", "reopened", "compensation")
CUSTOMER_COLUMNS = ("customer_id", "name", "segment", "tier", "sla_level", "region_id", "acquisition_channel",
                    "start_date", "end_date", "churn_reason", "monthly_revenue")
# the ids the lists show as the source's keys (text); region_id stays the id (shown by its name)
LIST_KEYS = {"ticket_id": "tickets", "customer_id": "customers"}


def _window(wh: Warehouse, f: Filters) -> Window:
    require_rows(f.scope)  # viewers: aggregates only
    return Window.of(f, wh.resolve_as_of(f))


def tickets(wh: Warehouse, f: Filters, limit: int = 1000, only_breached: bool = False) -> pd.DataFrame:
    """Tickets opened in the window for the filters, newest first (at most ``limit`` rows); ticket
    and customer as the source's keys (text, :data:`LIST_KEYS`).

    ``only_breached``: tickets whose resolution clock is breached as of the as-of date, open ones
    first, then by age (oldest first); adds ``age_hours`` (hours open, or open-to-resolution).
    """
    w = _window(wh, f)
    t, c = s.tickets, s.customers
    as_of_end = timestamp_literal(w.as_of_end)
    conds = [t.c.opened_at >= timestamp_literal(w.start_ts), t.c.opened_at < timestamp_literal(w.stop_ts)]
    conds += slice_conditions(f, c, t.c.channel)
    for name, col in (("categories", t.c.category), ("priorities", t.c.priority), ("kinds", t.c.kind)):
        if getattr(f, name):
            conds.append(col.in_(getattr(f, name)))
    cols = [t.c[n] if n in t.c else c.c[n] for n in TICKET_COLUMNS]
    from metrics.query.dialect import hours_between

    still_open = ticket_status.still_open(t, as_of_end)  # resolved by its status: not open, age unknown
    end = sa.case((still_open, as_of_end), else_=t.c.resolved_at)
    age = hours_between(t.c.opened_at, end).label("age_hours")
    stmt = sa.select(*cols, still_open.label("open"), age).select_from(t.join(c, c.c.customer_id == t.c.customer_id))
    if only_breached:
        breached = sa.and_(t.c.resolution_due_at.isnot(None), t.c.resolution_due_at < as_of_end,
                           sa.or_(still_open, t.c.resolved_at > t.c.resolution_due_at))
        conds.append(breached)
        stmt = stmt.order_by(sa.case((still_open, 0), else_=1), t.c.opened_at)
    else:
        stmt = stmt.order_by(t.c.opened_at.desc())
    return wh.read(stmt.where(*conds).limit(limit), keys=LIST_KEYS)


def customers(wh: Warehouse, f: Filters, limit: int = 1000, churned_only: bool = False) -> pd.DataFrame:
    """Customers in scope: active at some time in the window (or, with ``churned_only``, those who
    left in it), highest revenue first; the customer as the source's key (text)."""
    w = _window(wh, f)
    c = s.customers
    as_of_excl = w.as_of_end.date()
    conds = [c.c.start_date < w.stop]
    if churned_only:
        conds += [c.c.end_date >= w.start, c.c.end_date < w.stop]
    else:
        conds.append(sa.or_(c.c.end_date.is_(None), c.c.end_date >= w.start, c.c.end_date >= as_of_excl))
    conds += slice_conditions(f, c, c.c.acquisition_channel)
    stmt = sa.select(*[c.c[n] for n in CUSTOMER_COLUMNS]).where(*conds)
    return wh.read(stmt.order_by(c.c.monthly_revenue.desc(), c.c.customer_id).limit(limit), keys=LIST_KEYS)


def target_for(targets_df: pd.DataFrame, metric_id: str, f: Filters, ancestors: dict[int, list[int]],
               on: date | None = None) -> float | None:
    """The target that applies to a metric under filters: the most specific matching row (region
    among the selected region's ancestors, single tier, single channel), the latest valid one."""
    on = pd.Timestamp(on or f.end)
    region_ids = set(ancestors.get(f.regions[0], [f.regions[0]])) if len(f.regions) == 1 else set()
    tiers = set(f.tiers) if len(f.tiers) == 1 else set()
    channels = set(f.channels) if len(f.channels) == 1 else set()
    best: tuple[int, pd.Timestamp, float] | None = None
    # plain Python over a table of a few dozen rows: ~100× faster than the same in pandas operations,
    # and every KPI card asks for its target
    for row in targets_df.itertuples(index=False):
        valid_from = pd.Timestamp(row.valid_from)
        if row.metric != metric_id or valid_from > on:
            continue
        region, tier, channel = (None if pd.isna(v) else v for v in (row.region_id, row.tier, row.channel))
        if (region is not None and int(region) not in region_ids) or (tier is not None and tier not in tiers) or (
                channel is not None and channel not in channels):
            continue
        key = (sum(v is not None for v in (region, tier, channel)), valid_from, float(row.value))
        if best is None or key[:2] > best[:2]:
            best = key
    return None if best is None else best[2]


def status(value: float | None, target: float | None, higher_is_better: bool | None,
           lower: float | None = None, upper: float | None = None) -> str:
    """red / amber / green against a target: green when met; amber when within 5% of the target
    or when the 95% interval still reaches it; red otherwise; no_target without one."""
    if target is None or value is None or pd.isna(value) or higher_is_better is None:
        return "no_target"
    good = value >= target if higher_is_better else value <= target
    if good:
        return "green"
    near = abs(value - target) <= 0.05 * abs(target)
    reach = (upper is not None and not pd.isna(upper) and upper >= target) if higher_is_better else (
        lower is not None and not pd.isna(lower) and lower <= target)
    return "amber" if near or reach else "red"


def ancestors(regions: pd.DataFrame) -> dict[int, list[int]]:
    """region_id → [itself, parent, grandparent …]."""
    parent = dict(zip(regions["region_id"].astype(int), regions["parent_id"], strict=True))
    out = {}
    for r in parent:
        chain, cur = [], r
        while cur is not None and not pd.isna(cur):
            chain.append(int(cur))
            cur = parent.get(int(cur))
        out[r] = chain
    return out
