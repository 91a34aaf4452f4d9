"""Demo account-manager visits and retention actions with a random holdout and a planted effect (issue 18).

Design — every existing demo figure stays as it was. This module runs after the rest of the demo, on
its own generator (``np.random.default_rng(seed + SEED_OFFSET)``), reads the finished ``customers``
frame and changes none of it: no churn date moves, no earlier random draw is consumed.

* **Visits** (``visits``): every customer with an account manager (enterprise and diamond in the
  demo) is contacted while active, as a Poisson process whose mean gap depends on the tier and SLA
  level (:data:`VISIT_GAP_DAYS`); 60% on-site visits (``visit``), 40% calls (``call``). A treated,
  done ``care_visit`` also leaves its visit row.
* **Retention programme** (``retention_actions``): monthly waves on the first day of each of the
  :data:`WAVES` last months that still leave 90 days of follow-up before ``end``. At a wave every
  active customer gets a risk score — as a churn model would give one: a logistic function of a
  hidden signal, higher for those who go on to leave within 90 days (AUC about 0.8), plus noise —
  and a risk decile among the active customers (1 lowest … 10 highest). Customers in deciles
  ``ELIGIBLE_DECILE``–10 not enrolled before are enrolled with probability ``ENROL_P`` (capacity).
  Customers with an account manager get a ``care_visit`` (70%) or a ``call``; the others a
  ``tailored_offer`` (60%) or a ``service_fix``.
* **Holdout and planted effect.** The churn in ``customers`` is the world *with* the programme. For
  an enrolled customer whose 90-day outcome (left within 90 days of the wave or not) is already
  known, the arm is drawn so that arm and outcome are jointly distributed exactly as in a Bernoulli
  randomised trial with holdout share ``h`` (:data:`HOLDOUT_SHARE`, 10% in every risk decile) in
  which the action cuts the 90-day churn by the relative amount ``r`` of :data:`PLANTED`:
  with ``q`` the observed churn share of the stratum (wave × decile × action type),
  ``p0 = q / (h + (1 − h)(1 − r))`` is the churn without the action and ``p1 = (1 − r) p0`` with it;
  ``P(holdout | left) = h p0 / q`` and ``P(holdout | stayed) = h (1 − p0) / (1 − q)``. The holdout
  is therefore a random ~10% of each decile in expectation, and treated minus holdout 90-day churn
  estimates ``−r p0`` (:func:`true_difference`). Planted: a care visit cuts the 90-day churn of
  mid-risk customers (deciles 6–8) by 40% (relative) and that of the highest risk (9–10) by 5%.

Holdout rows are recorded with status ``cancelled`` (no action carried out), no cost and no outcome.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from metrics.demo.util import Clock
from metrics.model import schema

SEED_OFFSET = 18_018  # the programme's own generator: seed + this
HOLDOUT_SHARE = 0.10
WAVES = 6
ELIGIBLE_DECILE = 6
ENROL_P = 0.5
HORIZON_DAYS = 90
MID_DECILES = (6, 7, 8)  # the "mid" risk band; 9-10 are the "high" band
# relative cut of the 90-day churn, per (action type, band): the planted effect
PLANTED: dict[tuple[str, str], float] = {
    ("care_visit", "mid"): 0.40, ("care_visit", "high"): 0.05,
    ("call", "mid"): 0.15, ("call", "high"): 0.0,
    ("tailored_offer", "mid"): 0.25, ("tailored_offer", "high"): 0.10,
    ("service_fix", "mid"): 0.20, ("service_fix", "high"): 0.10,
}
# CNY per action (a tailored offer: 15% off two months of the customer's revenue instead)
COST = {"care_visit": 300.0, "call": 20.0, "tailored_offer": 0.0, "service_fix": 150.0}
# mean days between contacts per tier (enterprise per SLA level)
VISIT_GAP_DAYS = {"diamond": 120.0, "gold": 45.0, "silver": 75.0, "bronze": 110.0}
PURPOSES = ("季度走访：了解业务使用情况", "续约沟通", "新业务推介", "投诉回访", "满意度回访", "账单与资费沟通")
OUTCOMES = ("客户满意", "提出扩容需求", "对资费有异议", "反映网络质量问题", "同意续约", "暂无需求")
NEXT_STEPS = ("两周内提交方案", "安排技术人员上门", "下月再次回访", "提交资费优惠申请", None, None)
CARE_PURPOSE = "维系关怀走访"


def true_difference(observed_share: float, relative_cut: float, holdout: float = HOLDOUT_SHARE) -> float:
    """The planted treated − holdout difference in 90-day churn (a share, negative = fewer leave) of a
    group whose observed 90-day churn share is ``observed_share`` (see the module docstring)."""
    p0 = observed_share / (holdout + (1 - holdout) * (1 - relative_cut))
    return -relative_cut * p0


def band_of(decile: np.ndarray) -> np.ndarray:
    """'mid' for deciles 6–8, 'high' for 9–10, 'low' below."""
    d = np.asarray(decile)
    return np.where(d >= 9, "high", np.where(d >= ELIGIBLE_DECILE, "mid", "low")).astype(object)


def _days(clock: Clock, col: pd.Series) -> np.ndarray:
    """Date column -> float days since t0 (NaN where missing)."""
    base = np.datetime64(clock.t0, "D")
    v = pd.to_datetime(col).to_numpy("datetime64[D]")
    out = (v - base).astype("timedelta64[D]").astype(float)
    out[np.isnat(v)] = np.nan
    return out


def _wave_days(clock: Clock) -> list[int]:
    """Days since t0 of the programme's waves: first days of months leaving 90 days before the end."""
    out, d = [], clock.end - dt.timedelta(days=HORIZON_DAYS)
    d = d.replace(day=1)
    while len(out) < WAVES and d > clock.t0:
        out.append(clock.day_of(d))
        d = (d - dt.timedelta(days=1)).replace(day=1)
    return sorted(out)


def draw_retention(seed: int, clock: Clock, customers: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``visits`` and ``retention_actions`` frames (columns in table order) for the demo's customers."""
    rng = np.random.default_rng(seed + SEED_OFFSET)
    start = _days(clock, customers["start_date"])
    end = _days(clock, customers["end_date"])
    left = np.where(np.isnan(end), np.inf, end)
    mgr = customers["account_manager_id"].to_numpy(dtype=float, na_value=np.nan)
    managed = ~np.isnan(mgr)
    ids = customers["customer_id"].to_numpy()
    enrolled = np.zeros(len(ids), dtype=bool)
    rows = []
    for w in _wave_days(clock):
        active = (start <= w) & (left > w)
        gone = active & (left <= w + HORIZON_DAYS)
        score = 1 / (1 + np.exp(-(-2.5 + 1.6 * gone + rng.normal(0, 1, len(ids)))))
        rank = pd.Series(np.where(active, score, np.nan)).rank(pct=True).to_numpy()
        decile = np.where(active, np.minimum(10, np.ceil(rank * 10)), 0).astype(int)
        take = active & ~enrolled & (decile >= ELIGIBLE_DECILE) & (rng.random(len(ids)) < ENROL_P)
        enrolled |= take
        idx = np.flatnonzero(take)
        u = rng.random(len(idx))
        kind = np.where(managed[idx], np.where(u < 0.7, "care_visit", "call"),
                        np.where(u < 0.6, "tailored_offer", "service_fix")).astype(object)
        rows.append(pd.DataFrame({"i": idx, "wave": w, "action_type": kind, "score": score[idx],
                                  "decile": decile[idx], "gone": gone[idx]}))
    prog = pd.concat(rows, ignore_index=True)
    prog["band"] = band_of(prog["decile"].to_numpy())
    prog["arm"] = _arms(rng, prog)
    return {"visits": _visits(rng, clock, customers, start, left, mgr, prog),
            "retention_actions": _actions(rng, clock, customers, mgr, prog)}


def _arms(rng: np.random.Generator, prog: pd.DataFrame) -> np.ndarray:
    """'treated' / 'holdout' drawn given the known outcome (the module docstring's construction)."""
    h = HOLDOUT_SHARE
    r = np.array([PLANTED[(a, b)] for a, b in zip(prog["action_type"], prog["band"], strict=True)])
    q = prog.groupby(["wave", "decile", "action_type"])["gone"].transform("mean").to_numpy()
    p0 = np.minimum(q / (h + (1 - h) * (1 - r)), 1.0)
    gone = prog["gone"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        p_hold = np.where(gone, h * p0 / np.where(q > 0, q, 1), h * (1 - p0) / np.where(q < 1, 1 - q, 1))
    return np.where(rng.random(len(prog)) < np.clip(p_hold, 0, 1), "holdout", "treated").astype(object)


def _actions(rng: np.random.Generator, clock: Clock, customers: pd.DataFrame, mgr: np.ndarray,
             prog: pd.DataFrame) -> pd.DataFrame:
    n = len(prog)
    treated = (prog["arm"] == "treated").to_numpy()
    kind = prog["action_type"].to_numpy()
    revenue = customers["monthly_revenue"].to_numpy()[prog["i"]]
    cost = np.array([COST[k] for k in kind]) * np.exp(rng.normal(0, 0.2, n))
    cost = np.where(kind == "tailored_offer", 2 * 0.15 * revenue, cost)
    status = np.where(treated, np.where(rng.random(n) < 0.9, "done", "open"), "cancelled").astype(object)
    outcome = np.where(status == "done", np.where(prog["gone"].to_numpy(), "客户仍离网", "客户接受维系"), None)
    owner = pd.array(np.where(np.isnan(mgr[prog["i"]]), np.nan, mgr[prog["i"]]), dtype="Float64").astype("Int64")
    df = pd.DataFrame({
        "action_id": np.arange(1, n + 1, dtype=np.int64),
        "customer_id": customers["customer_id"].to_numpy()[prog["i"]],
        "action_type": kind,
        "owner": owner,
        "created_date": clock.dates(prog["wave"].to_numpy()),
        "due_date": clock.dates(prog["wave"].to_numpy() + 14),
        "status": status,
        "outcome": outcome.astype(object),
        "cost": np.where(treated, np.round(cost, 2), np.nan),
        "arm": prog["arm"].to_numpy(),
        "risk_score": np.round(prog["score"].to_numpy(), 4),
        "risk_decile": prog["decile"].to_numpy().astype(np.int64),
    })
    return df[[c.name for c in schema.retention_actions.columns]]


def _visits(rng: np.random.Generator, clock: Clock, customers: pd.DataFrame, start: np.ndarray,
            left: np.ndarray, mgr: np.ndarray, prog: pd.DataFrame) -> pd.DataFrame:
    tier = customers["tier"].to_numpy()
    sla = customers["sla_level"].to_numpy()
    key = np.where(tier == "enterprise", sla, tier)
    gap = pd.Series(key).map(VISIT_GAP_DAYS).to_numpy(dtype=float)
    who = np.flatnonzero(~np.isnan(mgr) & np.isfinite(gap))
    lo = np.maximum(start[who], 0)
    hi = np.minimum(left[who], clock.days - 1)
    span = np.maximum(hi - lo, 0)
    count = rng.poisson(span / gap[who])
    cust = np.repeat(who, count)
    day = np.floor(np.repeat(lo, count) + rng.random(len(cust)) * np.repeat(span, count))
    care = prog[(prog["action_type"] == "care_visit") & (prog["arm"] == "treated")]
    care_day = care["wave"].to_numpy() + rng.integers(1, 14, len(care))
    alive = care_day < np.minimum(left[care["i"].to_numpy()], clock.days)
    care, care_day = care[alive], care_day[alive]
    n, m = len(cust), len(care)
    df = pd.DataFrame({
        "customer_id": customers["customer_id"].to_numpy()[np.r_[cust, care["i"].to_numpy()]],
        "manager_id": mgr[np.r_[cust, care["i"].to_numpy()]].astype(np.int64),
        "visit_date": clock.dates(np.r_[day, care_day].astype(np.int64)),
        "kind": np.r_[np.where(rng.random(n) < 0.6, "visit", "call"), np.full(m, "visit")].astype(object),
        "purpose": np.r_[np.array(PURPOSES, dtype=object)[rng.integers(0, len(PURPOSES), n)],
                         np.full(m, CARE_PURPOSE, dtype=object)],
        "outcome": np.array(OUTCOMES, dtype=object)[rng.integers(0, len(OUTCOMES), n + m)],
        "next_step": np.array(NEXT_STEPS, dtype=object)[rng.integers(0, len(NEXT_STEPS), n + m)],
    }).sort_values(["visit_date", "customer_id"], kind="stable", ignore_index=True)
    df.insert(0, "visit_id", np.arange(1, len(df) + 1, dtype=np.int64))
    return df[[c.name for c in schema.visits.columns]]
