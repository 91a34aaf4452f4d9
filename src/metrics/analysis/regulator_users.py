"""The regulator's denominator (issue 20): the users at one or more month ends of a quarter — from
``user_base`` for a ``base`` (mobile, fixed, broadband, all) when given, present and applicable to the
filters, else the customers active at each month's end (:data:`CUSTOMERS_BASE`) — and which of the
point's months have a count. Read by :mod:`metrics.analysis.regulator`,
:mod:`metrics.analysis.regulator_acma` and the regulator's views."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa

from metrics.analysis.regulator_quarters import Quarter, month_end, point_months
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.regions import at_level, within
from metrics.query.where import date_literal as _d
from metrics.query.where import slice_conditions

CUSTOMERS_BASE = "customers"  # the base used when no user_base is given or present


def region_level_group(level: str | None, region_col: sa.ColumnElement) -> tuple[list, list, sa.FromClause | None]:
    """(select columns, group-by columns, closure alias) to cut by a region level; none for the total."""
    if level is None:
        return [], [], None
    rc = s.region_closure.alias("rc")
    return [rc.c.ancestor_id.label("region_id")], [rc.c.ancestor_id], rc


def present_tables(wh) -> tuple[bool, bool, bool]:  # noqa: ANN001
    """(tickets.source, regulator_categories, user_base) exist: one connection."""
    with wh.engine.connect() as conn:
        insp = sa.inspect(conn)
        return (s.has_column(conn, s.tickets.c.source), insp.has_table(s.regulator_categories.name),
                insp.has_table(s.user_base.name))


def _active_at(months: list[date], f: Filters, cols: list, group: list, rc: sa.FromClause | None,
               level: str | None) -> sa.Select:
    """Customers active at each month's end, one column ``m<i>`` per month."""
    c = s.customers
    j = c if rc is None else c.join(rc, at_level(rc, c.c.region_id, level))
    counts = []
    for i, month in enumerate(months):
        stop = _d(month_end(month) + timedelta(days=1))
        active = sa.and_(c.c.start_date < stop, sa.or_(c.c.end_date.is_(None), c.c.end_date >= stop))
        counts.append(sa.func.sum(sa.case((active, 1), else_=0)).label(f"m{i}"))
    return sa.select(*cols, *counts).select_from(j).where(*slice_conditions(f, c)).group_by(*group)


def _base_at(months: list[date], f: Filters, base: str, cols: list, group: list, rc: sa.FromClause | None,
             level: str | None) -> sa.Select:
    """``user_base`` users of ``base`` per month (``month``) in the regions of the filters and scope."""
    ub = s.user_base
    j = ub if rc is None else ub.join(rc, at_level(rc, ub.c.region_id, level))
    conds = [ub.c.month.in_([_d(m) for m in months]), ub.c.base == base]
    if f.regions:
        conds.append(within(ub.c.region_id, f.regions))
    if f.scope is not None and f.scope.regions is not None:  # the user's scope: their regions only
        conds.append(within(ub.c.region_id, f.scope.regions) if f.scope.regions else sa.false())
    return (sa.select(*cols, ub.c.month, sa.func.sum(ub.c.users).label("users")).select_from(j).where(*conds)
            .group_by(*group, ub.c.month))


def base_usable(wh, f: Filters, base: str | None, present: bool | None = None) -> bool:  # noqa: ANN001
    """A user_base ``base`` applies: given, the table present with rows of it, and no slice the
    regulator's count cannot follow (tier, segment, SLA level, channel, a manager's scope)."""
    if base is None or not (present if present is not None else present_tables(wh)[2]):
        return False
    if f.tiers or f.segments or f.sla_levels or f.channels or f.outlets or (
            f.scope is not None and (f.scope.manager_id or f.scope.outlet_ids is not None)):
        return False
    ub = s.user_base
    return int(wh.read(sa.select(sa.func.count()).select_from(ub).where(ub.c.base == base)).iloc[0, 0]) > 0


def bases(wh) -> list[str]:  # noqa: ANN001
    """The bases ``user_base`` holds (none when the table is absent or empty)."""
    if not present_tables(wh)[2]:
        return []
    ub = s.user_base
    return sorted(str(b) for b in wh.read(sa.select(ub.c.base).distinct())["base"])


def users_at(wh, f: Filters, months: list[date], used: str, level: str | None = None) -> pd.DataFrame:  # noqa: ANN001
    """[region_id,] month, users at each month's end of ``months`` (one query) for the base ``used``."""
    cols, group, rc = region_level_group(level, None)
    keys = ["region_id"] if level else []
    if used == CUSTOMERS_BASE:
        wide = wh.read(_active_at(months, f, cols, group, rc, level))
        long = wide.melt(id_vars=keys, value_vars=[f"m{i}" for i in range(len(months))], var_name="m",
                         value_name="users")
        long["month"] = [months[int(m[1:])] for m in long["m"]]
        long = long.drop(columns="m")
    else:
        long = wh.read(_base_at(months, f, used, cols, group, rc, level))
        long["month"] = pd.to_datetime(long["month"]).dt.date
    long["users"] = pd.to_numeric(long["users"]).fillna(0).astype(float)
    return long


def covered_months(at: pd.DataFrame, quarter: Quarter, point: str) -> tuple[list[date], list[date]]:
    """(months used, point months missing): the point's months that have a count in ``at``; when none
    has (a quarter in progress), the latest month of the quarter before the point's last that has one."""
    wanted = point_months(quarter, point)
    have = set(at["month"])
    used = [m for m in wanted if m in have]
    if not used:
        used = [m for m in quarter.months() if m <= wanted[-1] and m in have][-1:]
    return used, [m for m in wanted if m not in have]


def mean_users(at: pd.DataFrame, months: list[date], keys: list[str]) -> pd.DataFrame:
    """[region_id,] users: the mean over those of ``months`` that have a row (a month without one is
    left out, not counted 0); 0 users when none has."""
    sel = at[at["month"].isin(months)]
    if keys:
        return sel.groupby(keys, as_index=False)["users"].mean()
    return pd.DataFrame({"users": [float(sel["users"].mean()) if len(sel) else 0.0]})


def users(wh, f: Filters, quarter: Quarter, point: str, base: str | None,  # noqa: ANN001
          level: str | None = None) -> tuple[pd.DataFrame, str, list[date], list[date]]:
    """The denominator: [region_id,] users (mean over the months of ``point`` that have a count), the
    base used, the months used and the point's months missing (:func:`covered_months`)."""
    used = base if base_usable(wh, f, base) else CUSTOMERS_BASE
    at = users_at(wh, f, quarter.months(), used, level)
    months, missing = covered_months(at, quarter, point)
    return mean_users(at, months, ["region_id"] if level else []), used, months, missing
