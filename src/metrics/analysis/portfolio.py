"""Account managers' portfolios (issue 18 item 2): the figures a manager's manager judges a portfolio by,
and the account manager's own list of customers with the manuals' warning signs.

A portfolio is the customers whose ``customers.account_manager_id`` is the manager, inside the
filters' slices and the user's scope (:func:`metrics.query.where.slice_conditions`: an account manager
sees their own customers only, a city manager the customers of their city). Every figure is one
aggregate Select per source pushed to the database; pandas only joins the per-manager rows and adds
the intervals. Definitions (docs/portfolio.md):

* the day a portfolio is looked at, ``D``: the period's end, or the as-of date when earlier;
* customers: active on ``D`` (started on or before it, not ended by it); revenue: billed revenue of
  the months that start in the period (CNY), both also by tier (``Portfolio.tiers``);
* visit coverage 30/90 days: the share of the customers active on ``D`` with a visit or call (by any
  manager) dated in the 30 (90) days ending on ``D``, with its Wilson 95% interval; without a
  ``visits`` table, or with an empty one, "no visits recorded" (NaN and a note, never 0%);
* complaints: tickets of kind complaint opened in the period; open complaints: complaints opened by
  ``D`` and not resolved as of it; SLA breaches: tickets opened in the period whose resolution was
  due and late (the registry's ``sla_resolution_compliance``, its compliance with a Wilson interval);
* CSAT: the registry's ``csat`` (share of answers 4–5 in the period) with a Wilson interval;
* churned: customers whose end date lies in the period; churn share: churned ÷ customers in the
  portfolio at some time in the period (Wilson); revenue lost: 12 × their monthly revenue (CNY a year);
* revenue at risk: the stored churn scores' ``revenue_at_risk`` (CNY a year, the newest fit,
  :mod:`metrics.churn.store`) summed over the customers active on ``D``; NaN and a note without a model.

The league (:func:`league`) ranks on one rate by the bound of its 95% interval (the lower bound when
higher is better): a small portfolio's wide interval never puts it first on noise; fewer than
:data:`MIN_RANK_N` observations behind the rate leaves a manager unranked. Each manager is also tested
against the rest of the scope (two-proportion z test, Holm-corrected), as :mod:`metrics.analysis.league`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.access.users import ScopeError, require_rows, withheld
from metrics.analysis import portfolio_sql as q
from metrics.analysis import stats
from metrics.backends.connect import DatabaseError
from metrics.model.filters import Filters
from metrics.query.comparable import MIN_N
from metrics.query.warehouse import Warehouse
from metrics.query.where import midnight

SPEND_DROP = 0.20  # the warning sign: the last three months' spend more than 20% below the three before
MIN_RANK_N = MIN_N  # observations (customers, answers, tickets) behind a ranked rate: fewer, no rank
# the rates a league can rank on -> (numerator, denominator, higher is better)
RATES: dict[str, tuple[str, str, bool]] = {
    "csat": ("csat_good", "csat_n", True),
    "sla_compliance": ("sla_met", "sla_decided", True),
    "coverage_90d": ("visited_90d", "customers", True),
    "coverage_30d": ("visited_30d", "customers", True),
    "churn": ("churned", "in_period", False),
}
# whole numbers of the league (Int64: missing stays missing)
COUNTS = ("customers", "in_period", "churned", "visited_30d", "visited_90d", "complaints", "open_complaints",
          "sla_decided", "sla_met", "sla_breaches", "csat_n", "csat_good")
NOTE_NO_VISITS = "portfolio.note.no_visits"
NOTE_NO_MODEL = "portfolio.note.no_model"


@dataclass
class Portfolio:
    """What :func:`league` answers: one row per manager (``managers``), customers and revenue by tier
    (``tiers``), the day ``D`` and the catalogue keys of the notes (a figure that could not be made)."""

    managers: pd.DataFrame
    tiers: pd.DataFrame
    day: date
    rank_by: str
    notes: list[str] = field(default_factory=list)


def look_day(wh: Warehouse, f: Filters) -> date:
    """The day a portfolio is looked at: the period's end, or the as-of date when earlier (refuses a
    region outside the user's scope)."""
    return max(f.start, min(f.end, wh.resolve_as_of(f)))


def visits_status(wh: Warehouse) -> str | None:
    """None when the database records visits; else the note's catalogue key ("no visits recorded")."""
    try:
        n = wh.read(sa.select(sa.func.count()).select_from(q.visits_table())).iloc[0, 0]
    except DatabaseError:  # no such table (a database made before visits)
        return NOTE_NO_VISITS
    return None if n and int(n) > 0 else NOTE_NO_VISITS


def model_status(wh: Warehouse) -> str | None:
    """None when churn scores are stored; else the note's catalogue key."""
    from metrics.churn import store as churn_store

    return None if churn_store.latest_model(wh) is not None else NOTE_NO_MODEL


def _bounds(wh: Warehouse, f: Filters) -> q.Bounds:
    """The period's bounds up to ``D`` (:func:`look_day`); what is known: up to the as-of date."""
    stop = look_day(wh, f) + timedelta(days=1)
    known = wh.resolve_as_of(f) + timedelta(days=1)
    return q.Bounds(start=f.start, stop=stop, start_ts=midnight(f.start),
                    stop_ts=midnight(stop), known_ts=midnight(known))


def _manager_condition(manager_id: int | None, f: Filters) -> int | None:
    """The manager asked for, checked against an account manager's scope."""
    if manager_id is None:
        return None
    own = f.scope.manager_id if f.scope is not None else None
    if own is not None and own != manager_id:
        raise ScopeError.said("scope_refusal.portfolio")
    return manager_id


def league(wh: Warehouse, f: Filters, rank_by: str = "csat", manager_id: int | None = None) -> Portfolio:
    """Every manager's portfolio figures in the filters and scope, ranked on ``rank_by`` (a key of
    :data:`RATES`). Columns: manager_id, manager_name, customers, revenue (CNY), visited_30d,
    coverage_30d(_lower/_upper), visited_90d, coverage_90d(_lower/_upper), complaints,
    open_complaints, sla_decided, sla_breaches, sla_compliance(_lower/_upper), csat_n,
    csat(_lower/_upper), in_period, churned, churn_share(_lower/_upper), revenue_lost and
    revenue_at_risk (CNY a year), then rank (1 = best; NaN: unranked), rank_note (``small`` when fewer
    than :data:`MIN_RANK_N` observations), p_adjusted and verdict against the rest (better, worse,
    no_evidence, not_tested). For aggregate-only users, managers with fewer than the scope's minimum
    customers have their figures blanked (``suppressed``)."""
    if rank_by not in RATES:
        raise ValueError(f"unknown ranking {rank_by!r}; use one of {', '.join(RATES)}")
    b = _bounds(wh, f)
    day = b.stop - timedelta(days=1)
    manager_id = _manager_condition(manager_id, f)
    notes = [n for n in (visits_status(wh), model_status(wh)) if n]
    cust = wh.read(q.customer_figures(f, b, manager_id, NOTE_NO_VISITS not in notes, NOTE_NO_MODEL not in notes))
    bill = wh.read(q.billing_figures(f, b, manager_id))
    tiers = _tiers(cust, bill, f)
    sums = [c for c in cust.columns if c not in ("manager_id", "tier", "manager_name")]
    df = (_numeric(cust.drop(columns="tier"), exclude=("manager_name",)).groupby("manager_id", as_index=False)
          .agg(manager_name=("manager_name", "max"), **{c: (c, lambda v: v.sum(min_count=1)) for c in sums}))
    parts = [_numeric(bill.drop(columns="tier"), exclude=()).groupby("manager_id", as_index=False)["revenue"].sum(),
             *[wh.read(sel) for sel in (q.ticket_figures(f, b, manager_id), q.survey_figures(f, b, manager_id))]]
    for part in parts:
        df = df.merge(part, on="manager_id", how="left")
    df = _numeric(df, exclude=("manager_name",))
    for col in ("revenue", "complaints", "open_complaints", "sla_decided", "sla_met", "csat_n", "csat_good"):
        df[col] = df[col].fillna(0.0)
    df["sla_breaches"] = df["sla_decided"] - df["sla_met"]
    if NOTE_NO_VISITS in notes:
        df[["visited_30d", "visited_90d"]] = np.nan
    if NOTE_NO_MODEL in notes:
        df["revenue_at_risk"] = np.nan
    for name, (num, den, _) in RATES.items():
        col = "churn_share" if name == "churn" else name
        k, n = df[num].to_numpy(float), df[den].to_numpy(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            df[col] = np.where(n > 0, k / n, np.nan)
        lo, hi = stats.wilson(k, n)
        df[f"{col}_lower"], df[f"{col}_upper"] = np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)
    df = _rank(df, rank_by, ~_small(df, f))  # only the managers shown take rank positions
    for col in COUNTS:
        df[col] = df[col].round().astype("Int64")
    df = _suppress(df, f)
    return Portfolio(df.reset_index(drop=True), tiers, day, rank_by, notes)


def _numeric(df: pd.DataFrame, exclude: tuple[str, ...]) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns.difference(list(exclude)):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    out["manager_id"] = out["manager_id"].astype("int64")
    return out


def _rank(df: pd.DataFrame, rank_by: str, shown: np.ndarray | None = None) -> pd.DataFrame:
    """Rank on the interval's bound of ``rank_by``, test each manager against the rest (Holm). Only
    the ``shown`` managers (all when None) are ranked, so a withheld one leaves no gap in the ranks."""
    num, den, higher = RATES[rank_by]
    col = "churn_share" if rank_by == "churn" else rank_by
    k, n = df[num].to_numpy(float), df[den].to_numpy(float)
    k_all, n_all = np.nansum(k), np.nansum(n)
    p = stats.two_proportion_p(k, n, k_all - k, n_all - n)
    p = np.where((n > 0) & (n_all - n > 0), p, np.nan)
    adjusted = np.full(len(df), np.nan)
    tested = np.isfinite(p)
    if tested.any():
        adjusted[tested] = stats.holm(p[tested])
    with np.errstate(invalid="ignore", divide="ignore"):
        above = k / n > (k_all - k) / (n_all - n)
    better = above if higher else ~above
    df = df.assign(p_adjusted=adjusted, verdict=np.where(
        ~tested, "not_tested", np.where(adjusted < 0.05, np.where(better, "better", "worse"), "no_evidence")))
    rankable = np.isfinite(df[col].to_numpy(float)) & (n >= MIN_RANK_N)
    if shown is not None:
        rankable &= shown
    basis = df[f"{col}_lower"] if higher else -df[f"{col}_upper"]
    df["rank_note"] = np.where(n >= MIN_RANK_N, None, np.where(n > 0, "small", "no_data"))
    order = basis.where(rankable).rank(ascending=False, method="min")
    df["rank"] = order
    return df.sort_values(["rank", "customers", "manager_id"], ascending=[True, False, True],
                          na_position="last", kind="stable")


def _small(df: pd.DataFrame, f: Filters) -> np.ndarray:
    """Per row: withheld from the user (aggregate-only, fewer customers than the scope's minimum)."""
    return np.array([withheld(f.scope, int(c) if pd.notna(c) else 0) for c in df["customers"]], dtype=bool)


def _suppress(df: pd.DataFrame, f: Filters) -> pd.DataFrame:
    """Aggregate-only users: managers with fewer customers than the scope's minimum are blanked."""
    small = _small(df, f)
    if not small.any():
        return df
    keep = {"manager_id", "manager_name"}
    df = df.copy()
    for col in df.columns.difference(list(keep)):
        df.loc[small, col] = None
    df["suppressed"] = small
    return df


def _tiers(cust: pd.DataFrame, bill: pd.DataFrame, f: Filters) -> pd.DataFrame:
    """Customers active on ``D`` and revenue billed in the period (CNY) per manager and tier:
    manager_id, tier, customers, revenue (tiers from the data). Withheld groups (aggregate-only users)
    are left out."""
    out = cust[["manager_id", "tier", "customers"]].merge(bill, on=["manager_id", "tier"], how="outer")
    out["customers"] = pd.to_numeric(out["customers"]).fillna(0).astype(int)
    out["revenue"] = pd.to_numeric(out["revenue"]).fillna(0.0).astype(float)
    out["manager_id"] = out["manager_id"].astype("int64")
    out = out[(out["customers"] > 0) | (out["revenue"] != 0)]
    if f.scope is not None and f.scope.aggregates_only:
        out = out[out["customers"] >= f.scope.min_group_size]
    return out.sort_values(["manager_id", "tier"]).reset_index(drop=True)


# -- one manager's customers ----------------------------------------------------------------------
def spend_months(day: date) -> tuple[date, date, date]:
    """(first month, first of the last three, first month after) of the six complete calendar months
    ending on ``day`` (its own month when ``day`` is the month's last day, else the month before)."""
    next_day = day + timedelta(days=1)
    end = next_day.replace(day=1) if next_day.day == 1 else day.replace(day=1)  # exclusive
    return _add_months(end, -6), _add_months(end, -3), end


def _add_months(d: date, k: int) -> date:
    m = d.year * 12 + d.month - 1 + k
    return date(m // 12, m % 12 + 1, 1)


def spend_trend(prev3: pd.Series, last3: pd.Series, months_prev: pd.Series,
                threshold: float = SPEND_DROP) -> pd.DataFrame:
    """The six-month spend trend: ``spend_change`` = last three months ÷ the three before − 1
    (a fraction), ``spend_falling`` when it is below −``threshold``, and ``spend_note`` why there is
    no change (``new``: fewer than three billed months before the last three; ``no_spend``: nothing
    billed in them). Pure: the engine's SQL gives the sums (CNY) and the count of billed months."""
    prev3, last3 = prev3.astype(float), last3.astype(float)
    months_prev = months_prev.fillna(0).astype(int)
    ok = (months_prev >= 3) & (prev3 > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        change = np.where(ok, last3 / prev3 - 1.0, np.nan)
    note = np.where(ok, None, np.where(months_prev < 3, "new", "no_spend"))
    return pd.DataFrame({"spend_change": change, "spend_falling": ok & (change < -threshold),
                         "spend_note": note}, index=prev3.index)


def customers(wh: Warehouse, f: Filters, manager_id: int) -> tuple[pd.DataFrame, list[str]]:
    """The customers of one manager active on ``D`` in the filters and scope, and the notes: customer_id,
    name, tier, region_id, monthly_revenue, spend_prev3, spend_last3 (CNY), spend_change, spend_falling,
    spend_note (:func:`spend_trend`), last_visit (None: no visit on record up to ``D``),
    days_since_visit, open_complaints, complaints (in the period), churn_probability_90d and
    revenue_at_risk (NaN without a stored model). Falling spend first, then most revenue at risk."""
    require_rows(f.scope, "portfolio_customer_lists")
    b = _bounds(wh, f)
    day = b.stop - timedelta(days=1)
    manager_id = _manager_condition(manager_id, f)
    notes = [n for n in (visits_status(wh), model_status(wh)) if n]
    months = spend_months(day)
    df = wh.read(q.customer_rows(f, b, manager_id, months, NOTE_NO_VISITS not in notes,
                                 NOTE_NO_MODEL not in notes))
    for col in ("monthly_revenue", "spend_prev3", "spend_last3", "months_prev", "open_complaints", "complaints",
                "churn_probability_90d", "revenue_at_risk"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    for col in ("spend_prev3", "spend_last3"):
        df[col] = df[col].fillna(0.0)
    for col in ("open_complaints", "complaints"):
        df[col] = df[col].fillna(0).round().astype("Int64")
    trend = spend_trend(df["spend_prev3"], df["spend_last3"], df["months_prev"])
    df = pd.concat([df.drop(columns="months_prev"), trend], axis=1)
    last = pd.to_datetime(df["last_visit"])
    df["last_visit"] = pd.Series([v.date() if pd.notna(v) else None for v in last], index=df.index, dtype=object)
    df["days_since_visit"] = (pd.Timestamp(day) - last).dt.days.astype("Int64")
    df = df.sort_values(["spend_falling", "revenue_at_risk", "customer_id"], ascending=[False, False, True],
                        na_position="last", kind="stable")
    return df.reset_index(drop=True), notes
