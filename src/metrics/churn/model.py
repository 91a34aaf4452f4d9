"""The churn-risk model: a landmark Cox model on service history, checked against a logistic baseline.

Design (see ``docs/churn.md``): every 90 days back from the as-of date is a landmark; each customer
active on a landmark is one row whose covariates are what was known that day (windowed counts from
:mod:`metrics.churn.features`) and whose outcome is leaving within the next 90 days. Two Cox models
(lifelines ``CoxPHFitter``, time since the landmark): the *risk* model with every covariate gives
the scores; the *drivers* model leaves out the spend trend — falling spend follows the decision to
leave, so adjusting for it would hide the service failures that caused it — and gives the hazard
ratios of service failures. The last landmark (whose 90 days end at the as-of date) is held out:
concordance and AUC there are a time-split validation. A logistic regression (statsmodels, cluster-
robust by customer) on the same rows and features is the baseline. Large bases are fitted on a
proportional stratified sample of customers (the same fraction of every tier). Scores use the day
after the as-of date as landmark, for every customer.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import stats as sps

from metrics.analysis.stats import Z95, cox_score_residuals
from metrics.churn.features import CAP, HORIZON_DAYS, features, landmarks, read_frame, table_counts
from metrics.churn.survival import observed_from
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

TIERS = ("diamond", "gold", "silver", "enterprise")  # reference: standard
CHANNELS = ("partner_hall", "hotline", "account_manager", "agent", "web_app")  # reference: service_hall
SERVICE_TERMS = {  # term -> source table it needs
    "complaints_90d": "tickets", "unresolved_complaints_90d": "tickets", "sla_breaches_90d": "tickets",
    "dissatisfied": "surveys", "detractor": "surveys", "spend_decline_10pct": "billing_monthly",
}
MAX_TRAIN_ROWS = 100_000
PH_ROWS = 10_000
DRIVER_P = 0.05  # a term is named as a driver only when its hazard ratio is significant


class ChurnModelError(ValueError):
    """The data cannot support a model (no leavers, no customers); worded for users."""


def design(df: pd.DataFrame, terms: list[str] | None = None) -> pd.DataFrame:
    """The model matrix of a feature frame: dummies for tier and acquisition channel, tenure in years
    (capped at 10), counts capped at 5, dissatisfied (latest CSAT ≤ 3), detractor (latest NPS ≤ 6),
    spend decline in tens of percent (recent 90 days' monthly average vs the 90 days before)."""
    x = pd.DataFrame(index=df.index)
    for t in TIERS:
        x[f"tier_{t}"] = (df["tier"] == t).astype(float)
    for ch in CHANNELS:
        x[f"channel_{ch}"] = (df["channel"] == ch).astype(float)
    x["tenure_years"] = np.minimum(df["tenure_days"] / 365.25, 10.0)
    for col in ("complaints_90d", "unresolved_complaints_90d", "sla_breaches_90d"):
        x[col] = np.minimum(df[col], CAP)
    x["dissatisfied"] = (df["csat_latest"] <= 3).astype(float)
    x["detractor"] = (df["nps_latest"] <= 6).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        recent = df["revenue_recent"] / df["months_recent"]
        prior = df["revenue_prior"] / df["months_prior"]
        decline = np.where((df["months_recent"] > 0) & (df["months_prior"] > 0) & (prior > 0),
                           np.clip(1 - recent / prior, 0, 1), 0.0)
    x["spend_decline_10pct"] = 10 * decline
    return x[terms] if terms is not None else x


def auc(y: np.ndarray, score: np.ndarray) -> tuple[float, float, float]:
    """Area under the ROC curve (Mann–Whitney, ties averaged) with a Hanley–McNeil 95% interval."""
    y = np.asarray(y).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return np.nan, np.nan, np.nan
    ranks = sps.rankdata(score)
    a = (ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = np.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0))
    return float(a), float(a - Z95 * se), float(a + Z95 * se)


def _sample_fractions(wh: Warehouse, f: Filters, n_landmarks: int, max_rows: int) -> dict[str, float]:
    c = s.customers
    counts = read_frame(wh, sa.select(c.c.tier, sa.func.count().label("n")).group_by(c.c.tier))
    rows = {str(t): int(n) * n_landmarks * 0.8 for t, n in zip(counts["tier"], counts["n"], strict=True)}
    total = sum(rows.values())
    if total <= max_rows:
        return {}
    return {t: max_rows / total for t in rows}  # proportional allocation: the tier mix is the base's


@dataclass
class ChurnFit:
    """Everything a fit produces: the model summary (one dict), the terms and the scores (tidy)."""

    summary: dict
    terms: pd.DataFrame
    scores: pd.DataFrame
    cox: object = field(repr=False, default=None)
    logit: object = field(repr=False, default=None)


def fit(wh: Warehouse, as_of: date | None = None, max_train_rows: int = MAX_TRAIN_ROWS,
        f: Filters | None = None) -> ChurnFit:
    """Fit the landmark Cox model and the logistic baseline, validate on the last 90 days and score
    every customer in scope for the 90 days after ``as_of`` (default: the data's as-of date)."""
    import statsmodels.api as sm
    from lifelines.utils import concordance_index

    started = time.perf_counter()
    as_of = as_of or wh.as_of()
    f = (f or Filters(start=as_of, end=as_of)).with_(as_of=as_of)
    sources = table_counts(wh)
    missing = [k for k, v in sources.items() if not v]
    history = observed_from(wh)
    if history is None:
        start = read_frame(wh, sa.select(sa.func.min(s.customers.c.start_date).label("d")))["d"].iloc[0]
        if start is None or pd.isna(start):
            raise ChurnModelError("the database holds no customers; load data first")
        history = pd.Timestamp(start).date()
    # each training landmark needs 180 days of history before it (two spend windows)
    train_lms, test_lm, score_lm = landmarks(as_of, history + timedelta(days=2 * HORIZON_DAYS))
    if not train_lms:
        raise ChurnModelError(f"too little history before {as_of}: a model needs at least 360 days of data")
    fractions = _sample_fractions(wh, f, len(train_lms) + 1, max_train_rows)
    rows = features(wh, f, [*train_lms, test_lm], fractions, sources)
    scoring = features(wh, f, [score_lm], None, sources)
    features_s = time.perf_counter() - started

    terms = [c for c in design(rows.head(1)).columns
             if SERVICE_TERMS.get(c) is None or SERVICE_TERMS[c] not in missing]
    train, test = rows[rows["lm_id"] >= 2], rows[rows["lm_id"] == 1]
    if train["event"].sum() < 10:
        raise ChurnModelError("fewer than 10 customers left in the training period: too few to fit a model")
    x_train = design(train, terms)
    terms = [t for t in terms if x_train[t].std() > 0]  # e.g. a tier absent under the filters
    x_train = x_train[terms]
    d = x_train.assign(time=np.maximum(train["time"].to_numpy(float), 0.5), event=train["event"].to_numpy())
    t0 = time.perf_counter()
    customers = train["customer_id"].to_numpy()  # a customer appears at up to seven landmarks
    cph = _cox(d)  # the risk model: every term
    driver_terms = [t for t in terms if t != "spend_decline_10pct"]
    d_drivers = d.drop(columns=["spend_decline_10pct"], errors="ignore")
    cph_drivers = _cox(d_drivers)  # service effects in full
    se, se_drivers = _robust_se(cph, d, customers), _robust_se(cph_drivers, d_drivers, customers)
    cox_s = time.perf_counter() - t0
    ph_p = _ph_check(d)

    xl = sm.add_constant(x_train, has_constant="add")
    logit = sm.GLM(train["event"].to_numpy(float), xl, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": train["customer_id"].to_numpy()})

    h0 = _baseline_hazard(cph, HORIZON_DAYS)
    x_test = design(test, terms)
    p_cox = _prob(cph, x_test, h0)
    p_logit = logit.predict(sm.add_constant(x_test, has_constant="add")).to_numpy()
    y = test["event"].to_numpy()
    a_cox, a_logit = auc(y, p_cox), auc(y, p_logit)
    c_cox = concordance_index(np.maximum(test["time"], 0.5), -p_cox, y) if y.sum() else np.nan
    c_logit = concordance_index(np.maximum(test["time"], 0.5), -p_logit, y) if y.sum() else np.nan
    diff = _auc_diff_interval(y, p_cox, p_logit)

    terms_df = pd.concat([_terms_frame(cph, se, logit, ph_p, terms).assign(model="risk"),
                          _terms_frame(cph_drivers, se_drivers, None, ph_p, driver_terms).assign(model="drivers")],
                         ignore_index=True)
    scores = _scores(scoring, terms, cph, h0, terms_df)
    better = "cox" if a_cox[0] >= a_logit[0] else "logistic"
    summary = {
        "fitted_at": datetime.now(UTC).replace(tzinfo=None, microsecond=0), "as_of": as_of,
        "method": "landmark_cox", "horizon_days": HORIZON_DAYS, "history_start": history,
        "n_landmarks": len(train_lms), "first_landmark": min(lm.day for lm in train_lms),
        "holdout_landmark": test_lm.day,
        "n_train_customers": int(train["customer_id"].nunique()), "n_train_rows": len(train),
        "n_train_events": int(train["event"].sum()), "n_test_rows": len(test), "n_test_events": int(y.sum()),
        "sampled": bool(fractions), "sample_fractions": ", ".join(f"{k} {v:.2f}" for k, v in fractions.items()),
        "concordance_cox": float(c_cox), "concordance_logit": float(c_logit),
        "auc_cox": a_cox[0], "auc_cox_lower": a_cox[1], "auc_cox_upper": a_cox[2],
        "auc_logit": a_logit[0], "auc_logit_lower": a_logit[1], "auc_logit_upper": a_logit[2],
        "auc_diff_lower": diff[0], "auc_diff_upper": diff[1], "better": better,
        "ph_global_min_p": float(ph_p.min()) if len(ph_p) else np.nan,
        "ph_violations": ", ".join(ph_p[ph_p < 0.01].index),
        "missing": ", ".join(missing), "baseline_hazard_90d": h0,
        "n_scored": len(scores), "features_seconds": features_s, "cox_seconds": cox_s,
        "fit_seconds": time.perf_counter() - started,
    }
    return ChurnFit(summary, terms_df, scores, cph, logit)


def _cox(d: pd.DataFrame):
    from lifelines import CoxPHFitter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CoxPHFitter(penalizer=1e-4).fit(d, "time", "event")


def _robust_se(cph, d: pd.DataFrame, customers: np.ndarray) -> pd.Series:
    """Cluster-robust (sandwich) standard errors by customer of a Cox fit, at its coefficients.

    A customer contributes a row at each landmark, so the model-based errors are too small. As
    lifelines does with ``cluster_col``: V = I⁻¹ (Σ_c U_c U_cᵀ) I⁻¹ with I⁻¹ the fit's own variance
    and U_c the score residuals summed within customer — computed by
    :func:`stats.cox_score_residuals` (linear in the rows; lifelines' are quadratic: minutes at 100k rows).
    """
    cols = list(cph.params_.index)
    residuals = cox_score_residuals(d[cols].to_numpy(float), d["time"].to_numpy(float),
                                    d["event"].to_numpy(), cph.params_.to_numpy())
    per_customer = pd.DataFrame(residuals).groupby(customers).sum().to_numpy()
    bread = cph.variance_matrix_.to_numpy()
    return pd.Series(np.sqrt(np.diag(bread @ (per_customer.T @ per_customer) @ bread)), index=cols)


def _ph_check(d: pd.DataFrame, rows: int = PH_ROWS) -> pd.Series:
    """p-value per term of lifelines' proportional-hazards test (scaled Schoenfeld residuals against
    rank(time)), on a refit to a random subsample: the test is quadratic in the rows."""
    from lifelines.statistics import proportional_hazard_test

    sub = d.sample(rows, random_state=0) if len(d) > rows else d
    sub = sub.loc[:, (sub.std() > 0) | sub.columns.isin(["time", "event"])]
    if sub["event"].sum() < 10:
        return pd.Series(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ph = proportional_hazard_test(_cox(sub), sub, time_transform="rank")
    return pd.Series(ph.summary["p"].to_numpy(), index=[str(i) for i in ph.summary.index])


def _baseline_hazard(cph, horizon: float) -> float:
    """Cumulative baseline hazard at ``horizon`` days (lifelines' baseline is at the mean covariates)."""
    bch = cph.baseline_cumulative_hazard_.iloc[:, 0]
    return float(bch[bch.index <= horizon].iloc[-1]) if (bch.index <= horizon).any() else 0.0


def _prob(cph, x: pd.DataFrame, h0: float) -> np.ndarray:
    """P(leaving within the horizon) = 1 − exp(−H0(90) · exp((x − mean)·β))."""
    lp = (x[cph.params_.index].to_numpy(float) - cph._norm_mean[cph.params_.index].to_numpy()) @ cph.params_.to_numpy()
    return 1 - np.exp(-h0 * np.exp(lp))


def _auc_diff_interval(y: np.ndarray, a: np.ndarray, b: np.ndarray, reps: int = 200) -> tuple[float, float]:
    """Paired bootstrap 95% interval of AUC(a) − AUC(b) on the holdout."""
    if y.sum() == 0 or y.sum() == len(y):
        return np.nan, np.nan
    rng = np.random.default_rng(0)
    out = []
    for _ in range(reps):
        i = rng.integers(0, len(y), len(y))
        out.append(auc(y[i], a[i])[0] - auc(y[i], b[i])[0])
    lo, hi = np.nanpercentile(out, [2.5, 97.5])
    return float(lo), float(hi)


def _terms_frame(cph, se: pd.Series, logit, ph_p: pd.Series, terms: list[str]) -> pd.DataFrame:
    """One row per term: hazard ratio with its 95% interval and Wald p from the robust ``se``."""
    from scipy.stats import norm

    ci = logit.conf_int() if logit is not None else None
    nan = float("nan")
    rows = []
    for t in terms:
        coef, err = float(cph.params_[t]), float(se[t])
        rows.append({
            "term": t, "coef": coef, "se": err, "hr": float(np.exp(coef)),
            "hr_lower": float(np.exp(coef - Z95 * err)), "hr_upper": float(np.exp(coef + Z95 * err)),
            "p": float(2 * norm.sf(abs(coef / err))), "ph_p": float(ph_p.get(t, np.nan)),
            "odds_ratio": float(np.exp(logit.params[t])) if ci is not None else nan,
            "or_lower": float(np.exp(ci.loc[t, 0])) if ci is not None else nan,
            "or_upper": float(np.exp(ci.loc[t, 1])) if ci is not None else nan,
            "or_p": float(logit.pvalues[t]) if ci is not None else nan,
            "mean": float(cph._norm_mean[t]),
        })
    return pd.DataFrame(rows)


def _scores(df: pd.DataFrame, terms: list[str], cph, h0: float, terms_df: pd.DataFrame) -> pd.DataFrame:
    """Per customer: probability of leaving in 90 days, revenue at risk and the top three drivers
    (terms with a significant HR > 1 ranked by their contribution β·(x − reference) to the log hazard;
    reference 0 — no complaints, standard tier — or the mean tenure)."""
    x = design(df, terms)
    p = _prob(cph, x, h0)
    out = pd.DataFrame({"customer_id": df["customer_id"].to_numpy(), "churn_probability_90d": p,
                        "monthly_revenue": df["monthly_revenue"].to_numpy(float)})
    out["revenue_at_risk"] = out["churn_probability_90d"] * out["monthly_revenue"] * 12
    # service terms: the drivers model (their full effect); the spend trend: the risk model
    drv = terms_df[terms_df["model"] == "drivers"]
    risk = terms_df[(terms_df["model"] == "risk") & (terms_df["term"] == "spend_decline_10pct")]
    beta = pd.concat([drv, risk]).set_index("term")
    ok = beta.index[(beta["p"] < DRIVER_P) & ((beta["hr"] > 1) | (beta.index == "tenure_years"))]
    ref = pd.Series(0.0, index=ok)
    if "tenure_years" in ok:
        ref["tenure_years"] = beta.loc["tenure_years", "mean"]
    contrib = (x[list(ok)] - ref) * beta.loc[ok, "coef"]
    values = x[list(ok)].copy()
    if "spend_decline_10pct" in values:
        values["spend_decline_10pct"] = values["spend_decline_10pct"] * 10  # percent
    c = contrib.to_numpy()
    order = np.argsort(-c, axis=1)[:, :3] if c.shape[1] else np.zeros((len(x), 0), int)
    names = np.array(list(ok))
    for k in range(3):
        if k < order.shape[1]:
            idx = order[:, k]
            pos = c[np.arange(len(c)), idx] > 1e-9
            out[f"driver_{k + 1}"] = np.where(pos, names[idx], None)
            out[f"driver_{k + 1}_value"] = np.where(pos, values.to_numpy()[np.arange(len(c)), idx], np.nan)
        else:
            out[f"driver_{k + 1}"], out[f"driver_{k + 1}_value"] = None, np.nan
    return out.sort_values("revenue_at_risk", ascending=False).reset_index(drop=True)
