"""What the regulator counts (issue 20): MIIT's 申诉率 per quarter by its categories, and the Ofcom,
TIO and ACMA readings of the same complaints, each by the authority's own definition
(catalogue ``regulator.definition.<authority>``).

* **Appeals** (numerator of MIIT, Ofcom and TIO): tickets of kind ``complaint`` whose ``source`` is one
  of :data:`metrics.model.schema.REGULATOR_SOURCES` (工信部 / 通信管理局申诉), opened in the quarter,
  in the filters' slices and the user's scope. A ticket counts under the regulator category that
  ``regulator_categories`` maps its category to on the day it was opened (``unmapped`` when none).
* **Denominator**: the users at one or more month ends of the quarter — ``point`` (:data:`POINTS`):
  the quarter's last month end, the second month's end (TIO's count) or the mean of the three — from
  ``user_base`` for a ``base`` (mobile, fixed, broadband, all) when given and present, else the
  customers active at each month's end (``customers``). Only months with a ``user_base`` row
  count: the mean is over the months present, and when none of the point's months is present yet (a
  quarter in progress) the latest month end of the quarter before it that is. Every result says which
  (``base_used``, ``point``, ``months``, and ``missing``: the point's month ends without a count).
* **Rate** = appeals ÷ users × ``per`` (MIIT per million, Ofcom per 100,000, TIO per 10,000), with the
  exact (Garwood) Poisson interval; the change against the previous quarter and the same quarter a
  year before, with the exact conditional test's p-value (:func:`exact_rate_p`). A regulator category
  not in the mapping version in force in the comparison quarter (MIIT's 2021→2022 switch) has no
  comparison (NaN rate, change and p; ``in_use_prev`` / ``in_use_year`` False): only ``all`` compares
  across versions.
* **A viewer** (``Scope.aggregates_only``): groups behind fewer than ``min_group_size`` users are blanked.
* **ACMA**: :mod:`metrics.analysis.regulator_acma`.

The quarter is :mod:`metrics.analysis.regulator_quarters` and the denominator
:mod:`metrics.analysis.regulator_users`; this module re-exports their names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.analysis.regulator_quarters import (
    Quarter,
    point_months,
)
from metrics.analysis.regulator_users import (
    CUSTOMERS_BASE,
    base_usable,
    covered_months,
    mean_users,
    present_tables,
    region_level_group,
    users_at,
)
from metrics.analysis.stats import poisson_rate_interval, scipy_stats
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.regions import at_level
from metrics.query.where import slice_conditions
from metrics.query.where import timestamp_literal as _ts

AUTHORITIES = ("miit", "ofcom", "tio", "acma")
PER = {"miit": 1_000_000, "ofcom": 100_000, "tio": 10_000, "acma": 10_000}
DEFAULT_POINT = {"miit": "quarter_end", "ofcom": "quarter_end", "tio": "second_month_end",
                 "acma": "second_month_end"}
ALL = "all"  # the total row's regulator_category
UNMAPPED = "unmapped"


@dataclass
class Figures:
    """One authority's figures for a quarter. ``table``: one row per (region, regulator_category)
    with the ``all`` total; ``reason``: a catalogue key when nothing could be computed."""

    authority: str
    quarter: Quarter
    per: int
    base_used: str
    point: str
    months: list[date]
    table: pd.DataFrame
    reason: str | None = None
    extra: dict = field(default_factory=dict)
    missing: list[date] = field(default_factory=list)  # the point's months without a user_base count


def has_sources(wh) -> bool:  # noqa: ANN001 - a Warehouse
    """Whether the database's tickets have ``source`` (one created before issue 20 has not)."""
    return present_tables(wh)[0]


def ticket_slices(f: Filters) -> list:
    """The filters' ticket slices (category, priority) on ``tickets``."""
    t = s.tickets
    return ([t.c.category.in_(f.categories)] if f.categories else []) + (
        [t.c.priority.in_(f.priorities)] if f.priorities else [])


def appeals_by_day(wh, f: Filters, quarters: list[Quarter], level: str | None = None) -> pd.DataFrame:  # noqa: ANN001
    """Regulator appeals opened in any of ``quarters`` (one query): [region_id,] category, day, appeals,
    quarter (its text, ``2026Q3``)."""
    t, c = s.tickets, s.customers
    day = sa.cast(t.c.opened_at, sa.Date).label("day")
    cols, group, rc = region_level_group(level, c.c.region_id)
    j = t.join(c, c.c.customer_id == t.c.customer_id)
    if rc is not None:
        j = j.join(rc, at_level(rc, c.c.region_id, level))
    within_any = sa.or_(*(sa.and_(t.c.opened_at >= _ts(lo), t.c.opened_at < _ts(hi))
                          for lo, hi in (q.instants() for q in quarters)))
    stmt = (sa.select(*cols, t.c.category, day, sa.func.count().label("appeals")).select_from(j)
            .where(t.c.kind == "complaint", t.c.source.in_(s.REGULATOR_SOURCES), within_any,
                   *slice_conditions(f, c, t.c.channel), *ticket_slices(f))
            .group_by(*group, t.c.category, day))
    df = wh.read(stmt)
    df["day"] = pd.to_datetime(df["day"]).dt.date
    df["appeals"] = df["appeals"].astype(int)
    df["quarter"] = [str(Quarter.of(d)) for d in df["day"]]
    return df


def mapping(wh, authority: str, present: bool | None = None) -> pd.DataFrame:  # noqa: ANN001
    """The authority's rows of ``regulator_categories`` (empty when the table is absent)."""
    cols = [c.name for c in s.regulator_categories.columns]
    if not (present if present is not None else present_tables(wh)[1]):
        return pd.DataFrame(columns=cols)
    rc = s.regulator_categories
    return wh.read(sa.select(rc).where(rc.c.authority == authority))


def map_categories(counts: pd.DataFrame, rows: pd.DataFrame) -> pd.Series:
    """The regulator category of each row of ``counts`` (category, day) under the mapping ``rows``
    in force that day (valid_from ≤ day ≤ valid_to, NULL valid_to: open-ended); ``unmapped`` else."""
    out = pd.Series(UNMAPPED, index=counts.index, dtype=object)
    for r in rows.itertuples(index=False):
        frm = pd.Timestamp(r.valid_from).date()
        to = None if r.valid_to is None or pd.isna(r.valid_to) else pd.Timestamp(r.valid_to).date()
        hit = (counts["category"] == r.category) & (counts["day"] >= frm)
        if to is not None:
            hit &= counts["day"] <= to
        out[hit] = r.regulator_category
    return out


def _appeals(days: pd.DataFrame, rows: pd.DataFrame, quarter: Quarter, keys: list[str]) -> pd.DataFrame:
    """[region_id,] regulator_category, appeals of ``quarter`` — with the ``all`` total per region."""
    df = days[days["quarter"] == str(quarter)].copy()
    df["regulator_category"] = map_categories(df, rows) if len(df) else pd.Series(dtype=object)
    by_cat = df.groupby(keys + ["regulator_category"], as_index=False)["appeals"].sum()
    total = (df.groupby(keys, as_index=False)["appeals"].sum() if keys
             else pd.DataFrame({"appeals": [int(df["appeals"].sum())]}))
    total["regulator_category"] = ALL
    return pd.concat([by_cat, total], ignore_index=True)


def _one_quarter(a: pd.DataFrame, u: pd.DataFrame, per: int, keys: list[str]) -> pd.DataFrame:
    """Appeals and users of one quarter → rates with their Garwood intervals."""
    if keys:
        cats = a["regulator_category"].unique().tolist() or [ALL]
        grid = u[keys].merge(pd.DataFrame({"regulator_category": cats}), how="cross")
        a = grid.merge(a, on=keys + ["regulator_category"], how="outer")
    df = a.merge(u, on=keys, how="left") if keys else a.assign(users=float(u["users"].iloc[0]))
    df["appeals"] = df["appeals"].fillna(0).astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = df["users"] > 0
        df["rate"] = np.where(ok, df["appeals"] / df["users"] * per, np.nan)
        lo, hi = poisson_rate_interval(df["appeals"], df["users"].where(ok), per)
    df["lower"], df["upper"] = lo, hi
    return df


def exact_rate_p(k1, t1, k2, t2) -> np.ndarray:  # noqa: ANN001 - array-likes
    """Two-sided p-value that two Poisson rates (``k`` events on exposure ``t``) differ: the exact
    conditional test, ``k1`` of ``k1 + k2`` binomial with p = t1 / (t1 + t2) (scipy ``binomtest``);
    1 when there are no events, NaN when an exposure is missing or not positive."""
    sps = scipy_stats()  # scipy.stats imported on use (a second of start-up otherwise)

    k1, t1, k2, t2 = (np.asarray(v, float).ravel() for v in (k1, t1, k2, t2))
    out = np.full(len(k1), np.nan)
    for i in range(len(k1)):
        if not (np.isfinite([k1[i], k2[i], t1[i], t2[i]]).all() and t1[i] > 0 and t2[i] > 0):
            continue
        n = int(k1[i] + k2[i])
        out[i] = 1.0 if n == 0 else sps.binomtest(int(k1[i]), n, t1[i] / (t1[i] + t2[i])).pvalue
    return out


def in_force(rows: pd.DataFrame, quarter: Quarter) -> set[str]:
    """The regulator categories of the mapping version(s) in force on any day of ``quarter``."""
    out = set()
    for r in rows.itertuples(index=False):
        frm = pd.Timestamp(r.valid_from).date()
        to = None if r.valid_to is None or pd.isna(r.valid_to) else pd.Timestamp(r.valid_to).date()
        if frm < quarter.stop and (to is None or to >= quarter.start):
            out.add(str(r.regulator_category))
    return out


def _compare(now: pd.DataFrame, then: pd.DataFrame, tag: str, keys: list[str], region: list[str], per: int,
             in_use: pd.Series) -> pd.DataFrame:
    """``now`` with the comparison quarter's appeals, users, rate, change and exact p (``_<tag>``);
    none (NaN) for a category not in use then (``in_use_<tag>`` False)."""
    cols = {"appeals": f"appeals_{tag}", "users": f"users_{tag}", "rate": f"rate_{tag}"}
    now = now.merge(then[keys + list(cols)].rename(columns=cols), on=keys, how="left")
    now[f"appeals_{tag}"] = now[f"appeals_{tag}"].fillna(0).astype(int)
    # a category in use then without appeals: 0 on that quarter's users (the region's)
    total = then[then["regulator_category"] == ALL][region + ["users"]]
    filled = (now[region].merge(total, on=region, how="left")["users"].to_numpy() if region
              else np.full(len(now), float(total["users"].iloc[0])))
    now[f"users_{tag}"] = now[f"users_{tag}"].fillna(pd.Series(filled, index=now.index))
    with np.errstate(divide="ignore", invalid="ignore"):
        now[f"rate_{tag}"] = now[f"rate_{tag}"].fillna(pd.Series(np.where(
            now[f"users_{tag}"] > 0, now[f"appeals_{tag}"] / now[f"users_{tag}"] * per, np.nan), index=now.index))
    now[f"change_{tag}"] = now["rate"] - now[f"rate_{tag}"]
    now[f"p_{tag}"] = exact_rate_p(now["appeals"], now["users"], now[f"appeals_{tag}"], now[f"users_{tag}"])
    now[f"in_use_{tag}"] = in_use.to_numpy()
    now.loc[~now[f"in_use_{tag}"], [f"appeals_{tag}", f"rate_{tag}", f"change_{tag}", f"p_{tag}"]] = np.nan
    return now


def rates(wh, f: Filters, quarter: Quarter, authority: str = "miit", base: str | None = None,  # noqa: ANN001
          point: str | None = None, level: str | None = None) -> Figures:
    """``authority``'s appeal rate for ``quarter`` (MIIT by its categories, the others as the total),
    with the previous quarter's and the year-ago quarter's rates and the changes; by region ``level``
    (province, city) when given. ``base``: a user_base base, else the customers active at month ends."""
    point = point or DEFAULT_POINT[authority]
    per = PER[authority]
    months = point_months(quarter, point)
    sources, has_mapping, has_base = present_tables(wh)
    if not sources:
        return Figures(authority, quarter, per, CUSTOMERS_BASE, point, months, pd.DataFrame(),
                       "regulator.reason.no_source")
    region = ["region_id"] if level else []
    keys = region + ["regulator_category"]
    qs = {"now": quarter, "prev": quarter.shifted(-1), "year": quarter.shifted(-4)}
    days = appeals_by_day(wh, f, list(qs.values()), level)
    rows = mapping(wh, authority, has_mapping)
    used = base if base_usable(wh, f, base, has_base) else CUSTOMERS_BASE
    at = users_at(wh, f, [m for q in qs.values() for m in q.months()], used, level)
    covered = {tag: covered_months(at, q, point) for tag, q in qs.items()}
    figs = {tag: _one_quarter(_appeals(days, rows, q, region), mean_users(at, covered[tag][0], region), per,
                              region) for tag, q in qs.items()}
    now = figs["now"]
    mapped = set(rows["regulator_category"].astype(str))
    for tag in ("prev", "year"):
        then_cats = in_force(rows, qs[tag]) | {ALL}
        in_use = now["regulator_category"].map(lambda c, cats=then_cats: c in cats or c not in mapped)
        now = _compare(now, figs[tag], tag, keys, region, per, in_use)
    if authority != "miit":
        now = now[now["regulator_category"] == ALL].reset_index(drop=True)
    if f.scope is not None and f.scope.aggregates_only:  # a viewer: no rate behind too few users
        small = now["users"] < f.scope.min_group_size
        now.loc[small, ["appeals", "rate", "lower", "upper", "appeals_prev", "rate_prev", "change_prev", "p_prev",
                        "appeals_year", "rate_year", "change_year", "p_year"]] = np.nan
        now["suppressed"] = small
    reason = None if (now["users"] > 0).any() else "regulator.reason.no_users"
    used_months, missing = covered["now"]
    return Figures(authority, quarter, per, used, point, used_months or months, now.reset_index(drop=True), reason,
                   missing=missing)


def projection(fig: Figures, as_of: date) -> dict | None:
    """For a quarter not yet over on ``as_of``: the total's rate at the pace so far — appeals × days in
    the quarter ÷ days elapsed, its Garwood interval scaled alike — with ``elapsed`` and ``days``;
    None when the quarter is over (or has not begun, or there is no total)."""
    days = (fig.quarter.stop - fig.quarter.start).days
    elapsed = (as_of - fig.quarter.start).days + 1
    total = fig.table[fig.table["regulator_category"] == ALL] if not fig.table.empty else fig.table
    if not 0 < elapsed < days or len(total) != 1:
        return None
    r = total.iloc[0]
    k = days / elapsed
    return {"elapsed": elapsed, "days": days, "appeals": int(r["appeals"]), "rate": r["rate"] * k,
            "lower": r["lower"] * k, "upper": r["upper"] * k}


__all__ = ["ALL", "AUTHORITIES", "DEFAULT_POINT", "Figures", "PER", "UNMAPPED", "appeals_by_day", "exact_rate_p",
           "in_force", "map_categories", "mapping", "projection", "rates"]
