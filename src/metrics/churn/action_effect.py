"""Did the retention actions work? Treated against the random holdout, per action type and risk band.

Rows are ``retention_actions`` joined to their customers, inside the user's scope (the compiler's
customer conditions and :func:`metrics.access.users.scope_conditions`: an account manager sees only
their own customers; a viewer's small groups are withheld). Follow-up starts on ``created_date``;
a customer who left (``end_date``) on or before the as-of date is an event at end − created days,
anyone else is censored at as-of − created. The period of the filters does not restrict the actions
(as for the survival curves): every action created up to the as-of date counts.

Per group (action type, risk band, or both):

* **90-day churn** of treated and holdout: left within :data:`HORIZON_DAYS` days, among those
  followed 90 days or who left before (a customer with less follow-up who has not left is left out
  of this comparison and counted as ``too_recent``). The difference treated − holdout (negative:
  fewer left) has **Newcombe's hybrid score interval** (method 10, from two Wilson intervals; 95%).
* **Kaplan–Meier** curves per arm (product limit, Greenwood log-log 95% bands, as lifelines'
  ``KaplanMeierFitter``) and the **log-rank** test of treated against holdout.
* **Customers needed to treat** per customer kept: 1 / (holdout − treated churn), with the interval
  from inverting the difference's when that excludes 0, else "cannot tell" (None, ``nnt_note``).
* **Revenue kept against cost (服务投入产出)**: customers kept = treated with a 90-day outcome ×
  (holdout − treated churn); revenue kept = that × those customers' mean ``monthly_revenue`` ×
  :data:`REVENUE_MONTHS` (a year of a kept customer's revenue), with the difference's interval
  carried through (the mean revenue is taken as known); net = revenue kept − the treated actions'
  recorded cost (unknown cost counted as 0 and the number of such actions reported).
* **Too small to tell**: fewer than :data:`MIN_HOLDOUT` holdout customers with a 90-day outcome, or
  a minimum detectable difference (two-sided 5%, 80% power, at the observed shares) larger than the
  observed one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.access.users import withheld
from metrics.analysis.stats import Z95, scipy_stats, wilson
from metrics.churn.features import read_frame
from metrics.churn.survival import km_from_life_table, logrank
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse
from metrics.query.where import slice_conditions

HORIZON_DAYS = 90
REVENUE_MONTHS = 12
MIN_HOLDOUT = 30
POWER_Z = 0.8416212335729143  # the standard normal's 0.8 quantile (scipy.stats.norm.ppf(0.8)): 80% power
# risk bands from the decile at assignment: (band, lowest decile); the first that fits
BANDS: tuple[tuple[str, int], ...] = (("high", 9), ("mid", 6), ("low", 1))
BY_CHOICES = ("action_type", "risk_band")
ROW_COLUMNS = ("action_id", "customer_id", "action_type", "arm", "risk_decile", "risk_band", "cost",
               "monthly_revenue", "duration_days", "event", "left_90", "followed_90")
EFFECT_COLUMNS = (
    "n_treated", "n_holdout", "churn_treated", "churn_holdout", "difference", "diff_low", "diff_high",
    "logrank_p", "nnt", "nnt_low", "nnt_high", "customers_kept", "revenue_kept", "revenue_kept_low",
    "revenue_kept_high", "cost", "cost_unknown", "net", "net_low", "net_high", "mde", "too_small",
    "too_recent", "withheld")


def band_of(decile: object) -> str | None:
    """The risk band of a decile at assignment (1 lowest … 10 highest); None when unknown."""
    if decile is None or pd.isna(decile):
        return None
    return next(b for b, lo in BANDS if int(decile) >= lo)


def action_rows(wh: Warehouse, f: Filters, as_of: date | None = None) -> pd.DataFrame:
    """One row per retention action in ``f``'s slice and scope (:data:`ROW_COLUMNS`), with its
    follow-up as of ``as_of`` (default: the data's as-of date). Durations in days. Actions on customers
    who had left before the action was created are left out (they were never at risk)."""
    a, c = s.retention_actions, s.customers
    as_of = as_of or f.as_of or wh.as_of()
    stmt = (sa.select(a.c.action_id, a.c.customer_id, a.c.action_type, a.c.arm, a.c.risk_decile, a.c.cost,
                      a.c.created_date, c.c.end_date, c.c.monthly_revenue)
            .select_from(a.join(c, c.c.customer_id == a.c.customer_id))
            .where(*slice_conditions(f, c, c.c.acquisition_channel), a.c.created_date <= as_of,
                   # a customer who had already left when the action was created cannot be followed up
                   sa.or_(c.c.end_date.is_(None), c.c.end_date >= a.c.created_date))
            .order_by(a.c.action_id))
    return rows_from(read_frame(wh, stmt), as_of)


def rows_from(df: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Follow-up columns from actions with ``created_date`` and their customer's ``end_date``."""
    df = df.copy()
    created = pd.to_datetime(df["created_date"])
    end = pd.to_datetime(df["end_date"])
    cut = pd.Timestamp(as_of)
    event = end.notna() & (end <= cut)
    stop = end.where(event, cut)
    df["duration_days"] = (stop - created).dt.days.clip(lower=0).astype("int64")
    df["event"] = event.to_numpy()
    df["left_90"] = (event & (df["duration_days"] <= HORIZON_DAYS)).to_numpy()
    df["followed_90"] = (df["left_90"] | ((cut - created).dt.days >= HORIZON_DAYS)).to_numpy()
    df["risk_band"] = [band_of(d) for d in df["risk_decile"]]
    df["cost"] = pd.to_numeric(df["cost"], errors="coerce")
    df["monthly_revenue"] = pd.to_numeric(df["monthly_revenue"], errors="coerce")
    return df[list(ROW_COLUMNS)].reset_index(drop=True)


def newcombe(k1: float, n1: float, k2: float, n2: float, z: float = Z95) -> tuple[float, float, float]:
    """p1 − p2 and Newcombe's hybrid score 95% interval (method 10) for shares k1/n1 and k2/n2."""
    sps = scipy_stats()  # scipy.stats imported on use (a second of start-up otherwise)

    p1, p2 = k1 / n1, k2 / n2
    conf = float(2 * sps.norm.cdf(z) - 1)
    l1, u1 = (float(x) for x in wilson(k1, n1, conf))
    l2, u2 = (float(x) for x in wilson(k2, n2, conf))
    d = p1 - p2
    return d, d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def life_table_of(rows: pd.DataFrame, group: str = "arm") -> pd.DataFrame:
    """The life table (group, time_days, entered, at_risk, events, censored) of rows with
    ``duration_days`` and ``event``, everyone entering at day 0 (the action's creation)."""
    out = []
    for g, part in rows.groupby(group, sort=True):
        t = part["duration_days"].to_numpy()
        e = part["event"].to_numpy(bool)
        times = np.union1d([0], t)  # a row at day 0 for everyone: the risk set before the first exit
        events = np.array([np.sum(e & (t == x)) for x in times])
        cens = np.array([np.sum(~e & (t == x)) for x in times])
        at_risk = len(t) - np.r_[0, np.cumsum(events + cens)[:-1]]
        out.append(pd.DataFrame({"group": g, "time_days": times, "entered": 0, "at_risk": at_risk,
                                 "events": events, "censored": cens}))
    cols = ["group", "time_days", "entered", "at_risk", "events", "censored"]
    return pd.concat(out, ignore_index=True)[cols] if out else pd.DataFrame(columns=cols)


def km_curves(rows: pd.DataFrame) -> pd.DataFrame:
    """Kaplan–Meier survival per arm: group, time_days, at_risk, events, censored, survival, lower,
    upper (Greenwood log-log 95%), time in days since the action was created."""
    return km_from_life_table(life_table_of(rows)).drop(columns="var_sum")


def curves_by(rows: pd.DataFrame, by: Sequence[str] = ("action_type", "risk_band"),
              f: Filters | None = None) -> pd.DataFrame:
    """:func:`km_curves` per group of ``by`` (group columns, then ``arm`` for the curve's group);
    groups a viewer may not see (:func:`metrics.access.users.withheld`) left out."""
    by = list(by)
    scope = f.scope if f is not None else None
    out = []
    for key, part in (rows.groupby(by, sort=True) if by else [((), rows)]):
        if withheld(scope, int(part["customer_id"].nunique())):
            continue
        cv = km_curves(part).rename(columns={"group": "arm"})
        for col, value in zip(by, key if isinstance(key, tuple) else (key,), strict=True):
            cv.insert(len(by) and by.index(col), col, value)
        out.append(cv)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=[*by, "arm"])


def effect(rows: pd.DataFrame, by: Sequence[str] = ("action_type", "risk_band"),
           f: Filters | None = None) -> pd.DataFrame:
    """Per group of ``by`` (columns of :data:`ROW_COLUMNS`; empty: one row for all): the figures of
    the module docstring (:data:`EFFECT_COLUMNS`). Shares 0–1; revenue and cost in CNY."""
    by = list(by)
    scope = f.scope if f is not None else None
    groups = rows.groupby(by, sort=True, dropna=False) if by else [((), rows)]
    out = []
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        rec = dict(zip(by, key, strict=True))
        rec.update(_one(part))
        rec["withheld"] = withheld(scope, int(part["customer_id"].nunique()))
        if rec["withheld"]:
            rec.update({k: None for k in EFFECT_COLUMNS if k not in ("withheld",)})
        out.append(rec)
    return pd.DataFrame(out, columns=[*by, *EFFECT_COLUMNS])


def _one(part: pd.DataFrame) -> dict[str, object]:
    t = part[part["arm"] == "treated"]
    h = part[part["arm"] == "holdout"]
    t90, h90 = t[t["followed_90"]], h[h["followed_90"]]
    n1, n2 = len(t90), len(h90)
    k1, k2 = int(t90["left_90"].sum()), int(h90["left_90"].sum())
    rec: dict[str, object] = {"n_treated": n1, "n_holdout": n2,
                              "too_recent": int((~part["followed_90"]).sum()),
                              "cost": float(t["cost"].fillna(0).sum()), "cost_unknown": int(t["cost"].isna().sum())}
    empty = dict.fromkeys(("churn_treated", "churn_holdout", "difference", "diff_low", "diff_high", "logrank_p",
                           "nnt", "nnt_low", "nnt_high", "customers_kept", "revenue_kept", "revenue_kept_low",
                           "revenue_kept_high", "net", "net_low", "net_high", "mde"))
    rec.update(empty)
    if n1 == 0 or n2 == 0:
        rec["too_small"] = True
        return rec
    d, lo, hi = newcombe(k1, n1, k2, n2)
    p1, p2 = k1 / n1, k2 / n2
    mde = (Z95 + POWER_Z) * np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    rec.update(churn_treated=p1, churn_holdout=p2, difference=d, diff_low=lo, diff_high=hi, mde=float(mde),
               too_small=bool(n2 < MIN_HOLDOUT or mde > abs(d)))
    lt = life_table_of(part[part["arm"].isin(["treated", "holdout"])])
    rec["logrank_p"] = logrank(lt, "treated", "holdout")[1] if len(t) and len(h) else None
    if hi < 0:  # fewer left among the treated, surely: customers needed to treat per customer kept
        rec.update(nnt=-1 / d, nnt_low=-1 / lo, nnt_high=-1 / hi)
    # scaled to the treated customers whose 90-day outcome the difference was measured on (n1)
    revenue = float(t90["monthly_revenue"].mean())
    kept = n1 * np.array([-d, -hi, -lo])  # point, low, high
    money = kept * revenue * REVENUE_MONTHS
    rec.update(customers_kept=float(kept[0]), revenue_kept=float(money[0]), revenue_kept_low=float(money[1]),
               revenue_kept_high=float(money[2]), net=float(money[0] - rec["cost"]),
               net_low=float(money[1] - rec["cost"]), net_high=float(money[2] - rec["cost"]))
    return rec


def has_actions(wh: Warehouse) -> bool:
    """Whether the database has a ``retention_actions`` table (the page and the CLI say so when not)."""
    with wh.engine.connect() as conn:
        return sa.inspect(conn).has_table("retention_actions")


def band_code(band: object) -> str:
    """A group's risk band as a code for links: the band, or ``none`` when the decile was unknown."""
    return "none" if band is None or pd.isna(band) else str(band)


def curves(wh: Warehouse, f: Filters, action_type: str, risk_band: str | None,
           as_of: date | None = None) -> pd.DataFrame:
    """:func:`km_curves` of treated and holdout (column ``arm``) for the actions of ``action_type``
    in ``risk_band`` (None or NaN: the actions whose risk decile was unknown), in ``f``'s slice and
    scope; empty when the group is withheld from a viewer. Time in days since the action was created."""
    rows = action_rows(wh, f, as_of)
    band = rows["risk_band"].isna() if risk_band is None or pd.isna(risk_band) else rows["risk_band"] == risk_band
    return curves_by(rows[(rows["action_type"] == action_type) & band], (), f)


def action_effect(wh: Warehouse, f: Filters, by: Sequence[str] = ("action_type", "risk_band"),
                  as_of: date | None = None) -> pd.DataFrame:
    """:func:`effect` on the actions in ``f``'s slice and scope (see the module docstring)."""
    bad = [b for b in by if b not in BY_CHOICES]
    if bad:
        raise ValueError(f"unknown grouping {bad[0]!r}; use {' or '.join(BY_CHOICES)}")
    return effect(action_rows(wh, f, as_of), by, f)
