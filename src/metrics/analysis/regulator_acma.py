"""ACMA's record-keeping figures of a quarter (issue 20; :mod:`metrics.analysis.regulator` for the
rest): complaints of every source received per 10,000 services at the count point; of those resolved in
the quarter the average days to resolve and the days within which 80% were resolved (nearest rank: the
⌈0.8 n⌉-th shortest); the top three complaint categories received, with Wilson intervals of their shares.
A viewer (``Scope.aggregates_only``) gets nothing behind fewer than ``min_group_size``: the rate blanked
below that many users, the days below that many resolved complaints, a type below that many complaints
left out of the top (``suppressed`` says the rate was)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.analysis.regulator import ALL, DEFAULT_POINT, PER, Figures, ticket_slices
from metrics.analysis.regulator_quarters import Quarter, point_months
from metrics.analysis.regulator_users import users
from metrics.analysis.stats import poisson_rate_interval, wilson
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.query.where import slice_conditions
from metrics.query.where import timestamp_literal as _ts

RESOLVED_SHARE = 0.8  # the days within which this share of complaints was resolved


def acma(wh, f: Filters, quarter: Quarter, base: str | None = None, point: str | None = None,  # noqa: ANN001
         top: int = 3) -> Figures:
    """ACMA's record-keeping figures for ``quarter``: complaints received (every source) per 10,000
    services at ``point``; of those resolved in the quarter the mean days to resolve and the days
    within which 80% were resolved; the ``top`` categories received with their shares."""
    point = point or DEFAULT_POINT["acma"]
    t, c = s.tickets, s.customers
    lo_ts, hi_ts = map(_ts, quarter.instants())
    j = t.join(c, c.c.customer_id == t.c.customer_id)
    conds = [t.c.kind == "complaint", *slice_conditions(f, c, t.c.channel), *ticket_slices(f)]
    done = wh.read(sa.select(t.c.opened_at, t.c.resolved_at).select_from(j)
                   .where(*conds, t.c.resolved_at >= lo_ts, t.c.resolved_at < hi_ts))
    received = wh.read(sa.select(t.c.category, sa.func.count().label("n")).select_from(j)
                       .where(*conds, t.c.opened_at >= lo_ts, t.c.opened_at < hi_ts).group_by(t.c.category))
    days = resolution_days(done["opened_at"], done["resolved_at"])
    u, used, months, missing = users(wh, f, quarter, point, base)
    n_recv = int(received["n"].sum()) if len(received) else 0
    total = float(u["users"].iloc[0])
    rate = n_recv / total * PER["acma"] if total > 0 else float("nan")
    lo, hi = poisson_rate_interval([n_recv], [total if total > 0 else np.nan], PER["acma"])
    types = received.sort_values(["n", "category"], ascending=[False, True]).head(top).reset_index(drop=True)
    if len(types):
        types["share"] = types["n"] / n_recv
        types["share_lower"], types["share_upper"] = wilson(types["n"], n_recv)
    table = pd.DataFrame([{"regulator_category": ALL, "appeals": n_recv, "users": total, "rate": rate,
                           "lower": float(lo[0]), "upper": float(hi[0]), "resolved": len(days),
                           "mean_days": float(np.mean(days)) if len(days) else float("nan"),
                           "days_80": days_to_resolve(days)}])
    extra: dict = {"top_types": types}
    if f.scope is not None and f.scope.aggregates_only:  # a viewer: no group below the minimum
        least = extra["least"] = f.scope.min_group_size
        table["suppressed"] = total < least
        if total < least:
            table[["appeals", "rate", "lower", "upper"]] = np.nan
        if len(days) < least:
            table[["mean_days", "days_80"]] = np.nan
        if len(types):
            extra["top_types"] = types[(types["n"] >= least) & (total >= least)].reset_index(drop=True)
    reason = None if total > 0 else "regulator.reason.no_users"
    return Figures("acma", quarter, PER["acma"], used, point, months or point_months(quarter, point), table,
                   reason, extra, missing=missing)


def resolution_days(opened: pd.Series, resolved: pd.Series) -> np.ndarray:
    """Days from opening to resolution (fractional)."""
    delta = pd.to_datetime(resolved) - pd.to_datetime(opened)
    return (delta.dt.total_seconds() / 86400.0).to_numpy(dtype=float)


def days_to_resolve(days: np.ndarray, share: float = RESOLVED_SHARE) -> float:
    """The days within which ``share`` of the complaints were resolved: the ⌈share·n⌉-th shortest
    (nearest rank); NaN for none."""
    if len(days) == 0:
        return float("nan")
    ordered = np.sort(np.asarray(days, float))
    return float(ordered[max(1, math.ceil(share * len(ordered) - 1e-9)) - 1])


__all__ = ["RESOLVED_SHARE", "acma", "days_to_resolve", "resolution_days"]
