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

from metrics.access.users import withheld
from metrics.analysis.stats import Z95, holm, scipy_stats
from metrics.churn import tenure_rollup as survival_rollup
from metrics.churn.features import read_frame
from metrics.churn.life_table import (  # noqa: F401 - the life table's names, used through this module too
    CURVE_COLUMNS,
    DAYS_PER_MONTH,
    DIMENSIONS,
    LIFE_COLUMNS,
    check_request,
    finish_life_table,
    life_table_query,
    observed_from,
    step_up,
    tenure_columns,
)
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

RMST_MONTHS = (12, 24)
MIN_GROUP = 30  # fewer customers than this: the curve is shown but flagged as too small


def life_table(wh: Warehouse, f: Filters, by: str | None = None, level: str = "city", step_days: int = 1,
               history_start: date | None | str = "auto") -> pd.DataFrame:
    """The life table (all rows, including entry-only ones) as integers; ``group`` as text or
    region_id. ``history_start="auto"`` reads :func:`observed_from`.

    Read from the tenure rollup (:mod:`metrics.churn.tenure_rollup`) when that gives the identical
    table and ``wh.use_rollups``; from the customers otherwise."""

    check_request(level, step_days)
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
    sps = scipy_stats()  # scipy.stats imported on use (a second of start-up otherwise)

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
