"""Retention curves: Kaplan–Meier survival of customers by a dimension, from a life table built in SQL.

The database does the heavy lifting: one SQLAlchemy Core query turns the customers in scope into a
life table — per group and time step the customers ``entered``, ``at_risk``, ``events`` (left) and
``censored`` (still active at the as-of date) — with a window sum for the risk set. Python then
finishes the product-limit estimate, Greenwood's variance with log-log 95% bands (as lifelines'
``KaplanMeierFitter``), the median and restricted mean lifetime and pairwise log-rank tests with
Holm's correction. A million customers is a few thousand life-table rows.

Time is **tenure in days** since ``start_date``. A customer who left on day d (``end_date`` known as
of the as-of date) is an event at d − start; anyone else is censored at as_of − start. Customers
who joined before the history the database records (``observed_from``: the first billing month, else
the first ticket) enter the risk set late, at their tenure on that day (left truncation); otherwise
long-tenured survivors would inflate the curve, since those who left before the history are not in
the data. Durations are rounded *up* to ``step_days`` (1 = exact days, equal to lifelines on the
same durations; 7 = weekly steps for charts). Filters are the compiler's customer conditions
(region, tier, segment, SLA level, channel = acquisition channel); the period does not restrict
the cohort: the curve uses everything known as of the as-of date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import chain, combinations

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import stats as sps

from metrics.access.users import withheld
from metrics.analysis.stats import Z95, holm
from metrics.churn.features import read_frame
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.registry import get
from metrics.query.compiler import REGION_LEVELS, CompileError, Window, _d, _Query
from metrics.query.dialect import days_between
from metrics.query.warehouse import Warehouse

DAYS_PER_MONTH = 365.25 / 12
DIMENSIONS = ("tier", "segment", "region", "channel", "sla_level")
RMST_MONTHS = (12, 24)
MIN_GROUP = 30  # fewer customers than this: the curve is shown but flagged as too small
LIFE_COLUMNS = ("group", "time_days", "at_risk", "events", "censored")
CURVE_COLUMNS = (*LIFE_COLUMNS, "survival", "lower", "upper")


# -- the life table, in SQL ---------------------------------------------------------------------
def observed_from(wh: Warehouse) -> date | None:
    """First day the database records departures for: the first billing month, else the first
    ticket day; None when neither exists (then nobody is left-truncated)."""
    b, t = s.billing_monthly, s.tickets
    stmt = sa.select(sa.func.min(b.c.month).label("b"), sa.select(sa.func.min(t.c.opened_at))
                     .scalar_subquery().label("t"))
    row = wh.read(stmt).iloc[0]
    for v in (row["b"], row["t"]):
        if v is not None and not pd.isna(v):
            return pd.Timestamp(v).date()
    return None


def _group_column(q: _Query, by: str | None, level: str) -> tuple[sa.ColumnElement, sa.FromClause]:
    c = s.customers
    if by is None:
        return sa.literal("all", sa.String(8)), c
    if by == "region":
        rg = s.region_closure.alias("rg")
        join = c.join(rg, sa.and_(rg.c.descendant_id == c.c.region_id, rg.c.ancestor_level == level))
        return rg.c.ancestor_id, join
    cols = {"tier": c.c.tier, "segment": c.c.segment, "sla_level": c.c.sla_level, "channel": c.c.acquisition_channel}
    if by not in cols:
        raise CompileError(f"cannot draw retention curves by {by!r}; use one of {', '.join(DIMENSIONS)}")
    return cols[by], c


def step_up(x: sa.ColumnElement, step_days: int) -> sa.ColumnElement:
    """Days rounded up to a multiple of ``step_days``, as an integer (unchanged for 1)."""
    if step_days == 1:
        return x
    return sa.cast(sa.func.floor((x + (step_days - 1)) / sa.literal(float(step_days))) * step_days, sa.Integer)


def tenure_columns(c: sa.Table, as_of: date, history_start: date | None
                   ) -> tuple[sa.ColumnElement, sa.ColumnElement, sa.ColumnElement, list]:
    """Per customer of ``c``: entry and exit tenure (days), event (1 = left by ``as_of``), and the
    conditions for being in a life table at all (joined by the as-of; not gone before the history)."""
    left = sa.and_(c.c.end_date.isnot(None), c.c.end_date <= _d(as_of))
    stop = sa.case((left, c.c.end_date), else_=_d(as_of))
    duration = days_between(c.c.start_date, stop)
    if history_start is not None:
        # observed from the start of the history day: at risk for tenures t > entry = day − 1
        entry = sa.case((c.c.start_date < _d(history_start),
                         days_between(c.c.start_date, _d(history_start)) - 1), else_=0)
    else:
        entry = sa.literal_column("0", sa.Integer)
    conds = [c.c.start_date <= _d(as_of)]
    if history_start is not None:  # left before the recorded history: not observable
        conds.append(sa.or_(sa.not_(left), c.c.end_date >= _d(history_start)))
    return entry, duration, sa.case((left, 1), else_=0), conds


def finish_life_table(agg: sa.Subquery) -> sa.Select:
    """From per (grp, t) counts ``entered``, ``events``, ``censored`` to the life table with the
    risk set (a window sum), ordered by group and time; counts as 64-bit integers."""
    removed = agg.c.events + agg.c.censored
    win = {"partition_by": agg.c.grp, "order_by": agg.c.t}
    # lifelines' convention: someone entering at t is at risk after t (entry < t ≤ duration), except
    # at a group's first time, where the entrants are the starting population.
    entered_before = sa.func.sum(agg.c.entered).over(**win, rows=(None, -1))
    at_risk = (sa.func.coalesce(entered_before, agg.c.entered)
               - sa.func.coalesce(sa.func.sum(removed).over(**win, rows=(None, -1)), 0))
    big = sa.BigInteger
    return sa.select(agg.c.grp.label("group"), agg.c.t.label("time_days"),
                     sa.cast(agg.c.entered, big).label("entered"), sa.cast(at_risk, big).label("at_risk"),
                     sa.cast(agg.c.events, big).label("events"), sa.cast(agg.c.censored, big).label("censored")
                     ).order_by(agg.c.grp, agg.c.t)


def _check(level: str, step_days: int) -> None:
    if level not in REGION_LEVELS:
        raise CompileError(f"unknown region level {level!r}; use {', '.join(REGION_LEVELS)}")
    if step_days < 1:
        raise CompileError("step_days must be at least 1")


def life_table_query(wh: Warehouse, f: Filters, by: str | None = None, level: str = "city",
                     step_days: int = 1, history_start: date | None = None) -> sa.Select:
    """The life-table Select over the customers table: group, time_days, entered, at_risk, events,
    censored; one row per group and time step at which someone enters, leaves or is censored."""
    _check(level, step_days)
    as_of = wh.resolve_as_of(f)
    q = _Query(get("churn_rate"), f, (), Window.of(f, as_of), level, wh.dialect)
    c = s.customers
    group, from_ = _group_column(q, by, level)
    entry, duration, ev, base = tenure_columns(c, as_of, history_start)
    conds = [*base, group.isnot(None), *q.customer_conditions(c, c.c.acquisition_channel)]

    # per customer: group, entry and exit step, event; then two grouped passes (exits by their step,
    # entries by theirs) and the small union of both
    per = (sa.select(group.label("grp"), step_up(entry, step_days).label("t_entry"),
                     step_up(duration, step_days).label("t_exit"), ev.label("ev"))
           .select_from(from_).where(*conds).subquery("per"))
    zero = sa.literal_column("0", sa.Integer)
    exits = (sa.select(per.c.grp, per.c.t_exit.label("t"), zero.label("entered"), sa.func.sum(per.c.ev).label("ev"),
                       sa.func.sum(1 - per.c.ev).label("cens"))
             .group_by(per.c.grp, per.c.t_exit))
    entries = (sa.select(per.c.grp, per.c.t_entry, sa.func.count().label("entered"), zero, zero)
               .group_by(per.c.grp, per.c.t_entry))
    u = sa.union_all(exits, entries).subquery("u")
    agg = (sa.select(u.c.grp, u.c.t, sa.func.sum(u.c.entered).label("entered"), sa.func.sum(u.c.ev).label("events"),
                     sa.func.sum(u.c.cens).label("censored"))
           .group_by(u.c.grp, u.c.t).subquery("agg"))
    return finish_life_table(agg)


def life_table(wh: Warehouse, f: Filters, by: str | None = None, level: str = "city", step_days: int = 1,
               history_start: date | None | str = "auto") -> pd.DataFrame:
    """The life table (all rows, including entry-only ones) as integers; ``group`` as text or
    region_id. ``history_start="auto"`` reads :func:`observed_from`.

    Read from the tenure rollup (:mod:`metrics.churn.tenure_rollup`) when that gives the identical
    table and ``wh.use_rollups``; from the customers otherwise."""
    from metrics.churn import tenure_rollup as survival_rollup  # it builds on this module's pieces

    _check(level, step_days)
    start = observed_from(wh) if history_start == "auto" else history_start
    stmt = survival_rollup.life_table_query(wh, f, by, level, step_days, start) if wh.use_rollups else None
    if stmt is None:
        stmt = life_table_query(wh, f, by, level, step_days, start)
    df = read_frame(wh, stmt)
    for col in ("time_days", "entered", "at_risk", "events", "censored"):
        df[col] = pd.to_numeric(df[col]).astype("int64")
    if by == "region":
        df["group"] = pd.to_numeric(df["group"]).astype("int64")
    elif len(df):
        df["group"] = df["group"].astype(object)
    if f.scope is not None and f.scope.aggregates_only and len(df):  # a viewer: small groups withheld
        customers = df.groupby("group", sort=False)["entered"].transform("sum")  # each customer enters once
        df = df[[not withheld(f.scope, int(n)) for n in customers]].reset_index(drop=True)
    return df


# -- Kaplan–Meier from the life table ----------------------------------------------------------
def _by_group(df: pd.DataFrame, cols: tuple[str, ...]) -> list[tuple[object, dict[str, np.ndarray]]]:
    """Per group (in order of first appearance, rows in their order): the columns as float arrays.
    Plain numpy slices: pandas' groupby costs more than the arithmetic on a few thousand rows."""
    if df.empty:
        return []
    codes, groups = pd.factorize(df["group"], sort=False)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(groups) + 1))
    arrays = {c: df[c].to_numpy(float)[order] for c in cols}
    return [(g, {c: a[bounds[i]:bounds[i + 1]] for c, a in arrays.items()}) for i, g in enumerate(groups)]


def km_from_life_table(lt: pd.DataFrame, conf_z: float = Z95) -> pd.DataFrame:
    """Survival with Greenwood log-log bands per group; rows where someone left or was censored.

    Columns: group, time_days, at_risk, events, censored, survival, lower, upper, var_sum
    (Σ d/(n(n−d)), Greenwood's sum, kept for the median and RMST intervals)."""
    out = []
    for g, a in _by_group(lt, ("time_days", "at_risk", "events", "censored")):
        keep = (a["events"] + a["censored"]) > 0
        d = {c: v[keep] for c, v in a.items()}
        n, e = d["at_risk"], d["events"]
        with np.errstate(divide="ignore", invalid="ignore"):
            surv = np.cumprod(np.where(n > 0, 1 - e / n, 1.0))
            term = np.where((n - e) > 0, e / (n * (n - e)), 0.0)
            var_sum = np.cumsum(np.nan_to_num(term))
            v = np.log(surv)
            lower = np.exp(-np.exp(np.log(-v) - conf_z * np.sqrt(var_sum) / v))
            upper = np.exp(-np.exp(np.log(-v) + conf_z * np.sqrt(var_sum) / v))
        lower, upper = np.nan_to_num(lower, nan=1.0), np.nan_to_num(upper, nan=1.0)
        out.append({"group": [g] * len(n), **d, "survival": surv, "lower": lower, "upper": upper, "var_sum": var_sum})
    cols = [*CURVE_COLUMNS, "var_sum"]
    if not out:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame({c: list(chain.from_iterable(o[c] for o in out)) if c == "group"
                       else np.concatenate([o[c] for o in out]) for c in cols})
    for c in ("time_days", "at_risk", "events", "censored"):
        df[c] = df[c].astype("int64")
    return df


def _first_at_or_below(times: np.ndarray, values: np.ndarray, q: float = 0.5) -> float:
    hit = np.nonzero(values <= q)[0]
    return float(times[hit[0]]) if len(hit) else np.inf


def rmst(times: np.ndarray, surv: np.ndarray, events: np.ndarray, at_risk: np.ndarray,
         tau: float) -> tuple[float, float]:
    """Restricted mean survival time up to ``tau`` (same unit as ``times``) and its variance
    (Klein & Moeschberger 4.5: Σ A_i² d_i / (n_i (n_i − d_i)), A_i = ∫_{t_i}^τ S)."""
    keep = times <= tau
    t, sv = np.concatenate([[0.0], times[keep], [tau]]), np.concatenate([[1.0], surv[keep]])
    widths = np.diff(t)
    area_pieces = sv * widths
    area = float(area_pieces.sum())
    tail = np.cumsum(area_pieces[::-1])[::-1]  # ∫ from each step start to tau
    a_i = tail[1:]  # from each event time t_i (the pieces after it)
    d, n = events[keep].astype(float), at_risk[keep].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(n - d > 0, a_i**2 * d / (n * (n - d)), 0.0)
    return area, float(np.nansum(term))


def summary(curves: pd.DataFrame, min_group: int = MIN_GROUP) -> pd.DataFrame:
    """Per group: n (customers ever at risk), events, median lifetime (days) with its 95% interval
    (where the bands cross 0.5; inf = not reached), RMST at 12 and 24 months (in months) with 95%
    intervals, and ``too_small`` (fewer than ``min_group`` customers)."""
    rows = []
    for g, d in _by_group(curves, ("time_days", "survival", "lower", "upper", "events", "censored", "at_risk")):
        t = d["time_days"]
        sv, lo, hi = d["survival"], d["lower"], d["upper"]
        n_total = int(d["events"].sum() + d["censored"].sum())
        row = {"group": g, "n": n_total, "events": int(d["events"].sum()),
               "median_days": _first_at_or_below(t, sv), "median_lower": _first_at_or_below(t, lo),
               "median_upper": _first_at_or_below(t, hi)}
        for m in RMST_MONTHS:
            area, var = rmst(t, sv, d["events"], d["at_risk"], m * DAYS_PER_MONTH)
            half = Z95 * np.sqrt(var)
            row[f"rmst_{m}m"] = area / DAYS_PER_MONTH
            row[f"rmst_{m}m_lower"] = (area - half) / DAYS_PER_MONTH
            row[f"rmst_{m}m_upper"] = (area + half) / DAYS_PER_MONTH
        row["too_small"] = n_total < min_group
        rows.append(row)
    return pd.DataFrame(rows)


def at_risk_at(lt: pd.DataFrame, days: list[float] | np.ndarray) -> pd.DataFrame:
    """Numbers at risk per group at given tenures (days), from the full life table: the customers
    entered at or before t and not removed before t. Columns: group, time_days, at_risk."""
    rows = []
    for g, d in _by_group(lt, LIFE_ARRAYS):
        n_at = _risk_step(d)
        rows += [{"group": g, "time_days": float(x), "at_risk": int(n_at(np.array([x]))[0])} for x in days]
    return pd.DataFrame(rows, columns=["group", "time_days", "at_risk"])


LIFE_ARRAYS = ("time_days", "entered", "at_risk", "events", "censored")


def _risk_step(d: dict[str, np.ndarray]):
    """The risk set n(t) of one group as a function of t, from its life-table rows (arrays sorted by
    time): at a row's time its ``at_risk``; between rows, the last row's at_risk less those it
    removed plus those who entered at it."""
    t, n = d["time_days"], d["at_risk"]
    entered_later = d["entered"] * (np.arange(len(t)) > 0)  # the first row's are in n
    after = n - d["events"] - d["censored"] + entered_later

    def n_at(x: np.ndarray) -> np.ndarray:
        i = np.searchsorted(t, x, side="right") - 1
        exact = (i >= 0) & (t[np.clip(i, 0, None)] == x)
        return np.where(i < 0, 0.0, np.where(exact, n[np.clip(i, 0, None)], after[np.clip(i, 0, None)]))

    return n_at


# -- log-rank ----------------------------------------------------------------------------------
def _risk_and_events(lt: pd.DataFrame) -> tuple[list, np.ndarray, np.ndarray]:
    """Per group (in order of appearance), on the times at which anyone of any group left: the
    numbers at risk and the events, as rows of two (groups × times) arrays."""
    per_group = _by_group(lt, LIFE_ARRAYS)
    times = np.unique(lt.loc[lt["events"] > 0, "time_days"].to_numpy(float))
    n = np.zeros((len(per_group), len(times)))
    e = np.zeros((len(per_group), len(times)))
    for i, (_, d) in enumerate(per_group):
        n[i] = _risk_step(d)(times)
        left = d["events"] > 0  # each of these times is in ``times``
        e[i, np.searchsorted(times, d["time_days"][left])] = d["events"][left]
    return [g for g, _ in per_group], n, e


def _logrank_test(na: np.ndarray, nb: np.ndarray, ea: np.ndarray, eb: np.ndarray) -> tuple[float, float]:
    """Log-rank chi² (1 df) and p from numbers at risk and events of two groups on common times
    (times where neither group has an event add nothing)."""
    n, e = na + nb, ea + eb
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(n > 0, e * na / n, 0.0)
        var = np.where(n > 1, na * nb * e * (n - e) / (n**2 * (n - 1)), 0.0)
    v = var.sum()
    if v <= 0:
        return 0.0, 1.0
    chi2 = float((ea.sum() - expected.sum()) ** 2 / v)
    return chi2, float(sps.chi2.sf(chi2, 1))


def logrank(lt: pd.DataFrame, a: object, b: object) -> tuple[float, float]:
    """Log-rank chi² (1 df) and p-value comparing groups ``a`` and ``b`` of a life table."""
    groups, n, e = _risk_and_events(lt[lt["group"].isin([a, b])])
    if len(groups) < 2:
        return 0.0, 1.0
    i, j = groups.index(a), groups.index(b)
    return _logrank_test(n[i], n[j], e[i], e[j])


def pairwise_logrank(lt: pd.DataFrame) -> pd.DataFrame:
    """Every pair of groups: group_a, group_b, chi2, p, p_holm (Holm-adjusted over all pairs).

    The risk sets and events of every group are evaluated once on all event times; a pair's test
    is then a few vector operations (equal to testing each pair on its own event times)."""
    groups, n, e = _risk_and_events(lt)
    rows = [{"group_a": groups[i], "group_b": groups[j],
             **dict(zip(("chi2", "p"), _logrank_test(n[i], n[j], e[i], e[j]), strict=True))}
            for i, j in combinations(range(len(groups)), 2)]
    df = pd.DataFrame(rows, columns=["group_a", "group_b", "chi2", "p"]).astype({"chi2": float, "p": float})
    df["p_holm"] = holm(df["p"]) if len(df) else pd.Series(dtype=float)
    return df


# -- one call for pages and the CLI ------------------------------------------------------------
@dataclass(frozen=True)
class Retention:
    """Curves (tidy, CURVE_COLUMNS), per-group summary, pairwise log-rank and numbers at risk."""

    curves: pd.DataFrame
    summary: pd.DataFrame
    logrank: pd.DataFrame
    at_risk: pd.DataFrame
    history_start: date | None
    as_of: date


def retention(wh: Warehouse, f: Filters, by: str | None = "tier", level: str = "city", step_days: int = 7,
              at_months: tuple[int, ...] = (0, 6, 12, 24, 36)) -> Retention:
    """Retention curves by one dimension (``tier``, ``segment``, ``region`` at ``level``,
    ``channel`` = acquisition channel, ``sla_level``) or overall (``by=None``)."""
    start = observed_from(wh)
    lt = life_table(wh, f, by, level, step_days, start)
    curves = km_from_life_table(lt)
    return Retention(
        curves=curves[list(CURVE_COLUMNS)].reset_index(drop=True),
        summary=summary(curves),
        logrank=pairwise_logrank(lt),
        at_risk=at_risk_at(lt, [m * DAYS_PER_MONTH for m in at_months]).assign(
            months=lambda d: (d["time_days"].astype(float) / DAYS_PER_MONTH).round().astype(int)),
        history_start=start,
        as_of=wh.resolve_as_of(f),
    )
