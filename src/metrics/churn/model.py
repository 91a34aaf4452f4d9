"""The churn-risk model: a Cox model on service history, checked against a logistic baseline.

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

Which terms enter is decided by the data (:mod:`metrics.churn.design`). A **snapshot** extract —
every departure in the last 90 days, so no training landmark has departures — is fitted on that one
window instead (``method = snapshot_cox``): one row per customer active at its start, the snapshot's
customer attributes as covariates, and as holdout a random 30% of customers drawn separately among
leavers and stayers. A fit whose holdout has fewer than 10 departures raises: it could not be judged.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.analysis.stats import Z95, cox_score_residuals, scipy_stats
from metrics.backends.connect import DatabaseError
from metrics.churn.design import SERVICE_TERMS, Design, decide
from metrics.churn.features import HORIZON_DAYS, Landmark, features, landmarks, read_frame, table_counts
from metrics.churn.survival import observed_from
from metrics.churn.validate import auc, auc_diff_interval, calibration, concordance
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

__all__ = ["SERVICE_TERMS", "ChurnFit", "ChurnModelError", "auc", "design", "fit"]

MAX_TRAIN_ROWS = 100_000
PH_ROWS = 10_000
DRIVER_P = 0.05  # a term is named as a driver only when its hazard ratio is significant
MIN_EVENTS = 10  # departures needed to fit (training) and to judge (holdout) a model
SNAPSHOT_HOLDOUT = 0.3  # a snapshot's holdout: this share of customers, drawn within leavers and stayers


class ChurnModelError(ValueError):
    """The data cannot support a model (no leavers, no customers); worded for users."""


def design(df: pd.DataFrame, d: Design) -> pd.DataFrame:
    """The model matrix of a feature frame under a fit's :class:`Design` (its levels and terms)."""
    return d.matrix(df)


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
    """Everything a fit produces: the model summary (one dict), the terms and the scores (tidy), the
    design (references, pooled levels, dropped candidates) and the holdout calibration table."""

    summary: dict
    terms: pd.DataFrame
    scores: pd.DataFrame
    cox: object = field(repr=False, default=None)
    logit: object = field(repr=False, default=None)
    design: Design | None = field(repr=False, default=None)
    calibration: pd.DataFrame | None = field(repr=False, default=None)
    holdout: pd.DataFrame | None = field(repr=False, default=None)  # customer_id, event, p_cox, p_logit


def _data_version(wh: Warehouse) -> str | None:
    try:
        df = wh.read(sa.select(s.meta.c.value).where(s.meta.c.key == s.DATA_VERSION_KEY))
    except Exception:  # noqa: BLE001 - no sw_meta table
        return None
    return None if df.empty else str(df.iloc[0, 0])


def _as_of(wh: Warehouse) -> date:
    """The data's as-of date; for customers alone (a snapshot with no tickets), their newest start or
    end date — the snapshot date when the flag put the end dates there."""
    try:
        return wh.as_of()
    except DatabaseError:
        c = s.customers
        newest = read_frame(wh, sa.select(sa.func.max(c.c.end_date).label("end"),
                                          sa.func.max(c.c.start_date).label("start"))).iloc[0]
        days = [pd.Timestamp(v).date() for v in newest if v is not None and not pd.isna(v)]
        if not days:
            raise ChurnModelError("the database holds no customers; load data first") from None
        return max(days)


def _snapshot_split(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A random ``SNAPSHOT_HOLDOUT`` of customers as holdout, drawn separately among leavers and
    stayers (seed 0, rows in customer order: reproducible)."""
    df = df.sort_values("customer_id").reset_index(drop=True)
    rng = np.random.default_rng(0)
    hold = np.zeros(len(df), bool)
    for ev in (0, 1):
        idx = np.flatnonzero(df["event"].to_numpy() == ev)
        hold[rng.choice(idx, int(round(len(idx) * SNAPSHOT_HOLDOUT)), replace=False)] = True
    return df[~hold], df[hold]


def fit(wh: Warehouse, as_of: date | None = None, max_train_rows: int = MAX_TRAIN_ROWS,
        f: Filters | None = None) -> ChurnFit:
    """Fit the Cox model and the logistic baseline, validate on a holdout and score every customer in
    scope for the 90 days after ``as_of`` (default: the data's as-of date). Landmark model when
    training landmarks hold departures, snapshot model when only the last 90 days do."""
    import statsmodels.api as sm

    started = time.perf_counter()
    version = _data_version(wh)  # before reading: a change after it leaves the scores stale (store.save)
    as_of = as_of or _as_of(wh)
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
    fractions = _sample_fractions(wh, f, len(train_lms) + 1, max_train_rows)
    rows = features(wh, f, [*train_lms, test_lm], fractions, sources)
    train, test = rows[rows["lm_id"] >= 2], rows[rows["lm_id"] == 1]
    n_train_ev, n_test_ev = int(train["event"].sum()), int(test["event"].sum())
    window = f"{test_lm.day} to {as_of}"
    snapshot = n_train_ev < MIN_EVENTS
    if snapshot:  # every departure in the last 90 days: a snapshot extract
        if n_test_ev < MIN_EVENTS / SNAPSHOT_HOLDOUT:
            raise ChurnModelError(
                f"only {n_train_ev} departures before {test_lm.day} and {n_test_ev} from {window}: a model "
                f"needs at least {MIN_EVENTS} to fit and {MIN_EVENTS} to judge; load customers with end dates "
                f"(or a churn flag with --snapshot-date), or choose an --as-of whose last 90 days hold departures")
        # stand on the first departure day of the last 90 days (a snapshot puts every end date on its
        # own date): every customer who joined before it is a row, the churn flag its outcome
        test_lm = Landmark(1, test_lm.day + timedelta(days=int(test.loc[test["event"] == 1, "time"].min())))
        fractions = _sample_fractions(wh, f, 1, max_train_rows)  # one landmark: a larger share fits
        train, test = _snapshot_split(features(wh, f, [test_lm], fractions, sources))
    elif n_test_ev < MIN_EVENTS:
        raise ChurnModelError(
            f"the holdout ({window}) has {n_test_ev} departures, too few to judge a model (need {MIN_EVENTS}); "
            f"not stored: choose an --as-of whose last 90 days hold departures, or load data through a later date")
    scoring = features(wh, f, [score_lm], None, sources)
    features_s = time.perf_counter() - started

    dsg = decide(train, missing, snapshot=snapshot)
    terms = list(dsg.terms)
    x_train = dsg.matrix(train)
    d = x_train.assign(time=np.maximum(train["time"].to_numpy(float), 0.5), event=train["event"].to_numpy())
    t0 = time.perf_counter()
    customers = train["customer_id"].to_numpy()  # a customer appears at up to seven landmarks
    cph = _cox(d)  # the risk model: every term
    driver_terms = [t for t in terms if t != "spend_decline_10pct"]
    d_drivers = d.drop(columns=["spend_decline_10pct"], errors="ignore")
    cph_drivers = _cox(d_drivers) if len(driver_terms) < len(terms) else cph  # service effects in full
    se = _robust_se(cph, d, customers)
    se_drivers = _robust_se(cph_drivers, d_drivers, customers) if cph_drivers is not cph else se
    cox_s = time.perf_counter() - t0
    ph_p = _ph_check(d)

    xl = sm.add_constant(x_train, has_constant="add")
    logit = sm.GLM(train["event"].to_numpy(float), xl, family=sm.families.Binomial()).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(train["customer_id"])[0]})  # text keys: ids < 0

    h0 = _snapshot_hazard(cph, x_train, int(d["event"].sum())) if snapshot else _baseline_hazard(cph, HORIZON_DAYS)
    x_test = dsg.matrix(test)
    p_cox = _prob(cph, x_test, h0)
    p_logit = logit.predict(sm.add_constant(x_test, has_constant="add")).to_numpy()
    y = test["event"].to_numpy()
    a_cox, a_logit = auc(y, p_cox), auc(y, p_logit)
    c_cox = concordance(test["time"], p_cox, y)
    c_logit = concordance(test["time"], p_logit, y, reps=0)
    diff = auc_diff_interval(y, p_cox, p_logit)
    cal, slope, oe = calibration(y, p_cox)
    holdout = pd.DataFrame({"customer_id": test["customer_id"].to_numpy(), "event": y,
                            "p_cox": p_cox, "p_logit": p_logit})

    terms_df = pd.concat([_terms_frame(cph, se, logit, ph_p, terms).assign(model="risk"),
                          _terms_frame(cph_drivers, se_drivers, None, ph_p, driver_terms).assign(model="drivers")],
                         ignore_index=True)
    scores = _scores(scoring, dsg, cph, h0, terms_df)
    better = "cox" if a_cox[0] >= a_logit[0] else "logistic"
    summary = {
        "fitted_at": datetime.now(UTC).replace(tzinfo=None, microsecond=0), "as_of": as_of,
        "method": "snapshot_cox" if snapshot else "landmark_cox", "horizon_days": HORIZON_DAYS,
        "history_start": history, "n_landmarks": 1 if snapshot else len(train_lms),
        "first_landmark": test_lm.day if snapshot else min(lm.day for lm in train_lms),
        "holdout_landmark": test_lm.day,
        "holdout": (f"random {SNAPSHOT_HOLDOUT:.0%} of the customers active on {test_lm.day}, drawn within leavers "
                    "and stayers"
                    if snapshot else f"the last 90 days ({window}), after every training outcome"),
        "n_train_customers": int(train["customer_id"].nunique()), "n_train_rows": len(train),
        "n_train_events": int(train["event"].sum()), "n_test_rows": len(test), "n_test_events": int(y.sum()),
        "sampled": bool(fractions), "sample_fractions": ", ".join(f"{k} {v:.2f}" for k, v in fractions.items()),
        "concordance_cox": c_cox[0], "concordance_cox_lower": c_cox[1], "concordance_cox_upper": c_cox[2],
        "concordance_logit": c_logit[0],
        "auc_cox": a_cox[0], "auc_cox_lower": a_cox[1], "auc_cox_upper": a_cox[2],
        "auc_logit": a_logit[0], "auc_logit_lower": a_logit[1], "auc_logit_upper": a_logit[2],
        "auc_diff_lower": diff[0], "auc_diff_upper": diff[1], "better": better,
        "calibration_slope": slope, "observed_expected": oe,
        "ph_global_min_p": float(ph_p.min()) if len(ph_p) else np.nan,
        "ph_violations": ", ".join(ph_p[ph_p < 0.01].index),
        "missing": ", ".join(missing), "reference_levels": dsg.describe_references()[:400],
        "pooled": dsg.describe_pooled()[:400], "dropped": dsg.describe_dropped()[:2000],
        "baseline_hazard_90d": h0, "n_scored": len(scores), "data_version": version,
        "features_seconds": features_s, "cox_seconds": cox_s, "fit_seconds": time.perf_counter() - started,
    }
    return ChurnFit(summary, terms_df, scores, cph, logit, dsg, cal, holdout)


def _cox(d: pd.DataFrame):
    """lifelines' Cox fit; when Newton–Raphson does not converge (seen on 2,000 demo customers: a
    first full step overshoots and the likelihood falls), refit with smaller steps; the best
    likelihood wins if none converges."""
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceWarning

    fits = []
    for step in (0.95, 0.5, 0.2):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            cph = CoxPHFitter(penalizer=1e-4).fit(d, "time", "event", fit_options={"step_size": step})
        if not any(issubclass(w.category, ConvergenceWarning) for w in seen):
            return cph
        fits.append(cph)
    return max(fits, key=lambda c: c.log_likelihood_)


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
    if sub["event"].sum() < 10 or sub.loc[sub["event"] == 1, "time"].nunique() < 2:
        return pd.Series(dtype=float)  # too few events, or all on one day (a snapshot): nothing to test
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ph = proportional_hazard_test(_cox(sub), sub, time_transform="rank")
    return pd.Series(ph.summary["p"].to_numpy(), index=[str(i) for i in ph.summary.index])


def _baseline_hazard(cph, horizon: float) -> float:
    """Cumulative baseline hazard at ``horizon`` days (lifelines' baseline is at the mean covariates)."""
    bch = cph.baseline_cumulative_hazard_.iloc[:, 0]
    return float(bch[bch.index <= horizon].iloc[-1]) if (bch.index <= horizon).any() else 0.0


def _snapshot_hazard(cph, x: pd.DataFrame, events: int) -> float:
    """A snapshot's departures share one day, so the Breslow baseline (a continuous-time estimate)
    understates a probability of ~25%: the cumulative hazard of the flag's period is instead the one
    whose predicted probabilities add up to the training departures (one interval, discrete time)."""
    from scipy.optimize import brentq

    risk = np.exp((x[cph.params_.index].to_numpy(float) - cph._norm_mean[cph.params_.index].to_numpy())
                  @ cph.params_.to_numpy())
    return float(brentq(lambda h: (1 - np.exp(-h * risk)).sum() - events, 0.0, 1e3 / risk.min()))


def _prob(cph, x: pd.DataFrame, h0: float) -> np.ndarray:
    """P(leaving within the horizon) = 1 − exp(−H0(90) · exp((x − mean)·β))."""
    lp = (x[cph.params_.index].to_numpy(float) - cph._norm_mean[cph.params_.index].to_numpy()) @ cph.params_.to_numpy()
    return 1 - np.exp(-h0 * np.exp(lp))


def _terms_frame(cph, se: pd.Series, logit, ph_p: pd.Series, terms: list[str]) -> pd.DataFrame:
    """One row per term: hazard ratio with its 95% interval and Wald p from the robust ``se``."""
    norm = scipy_stats().norm

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


def _scores(df: pd.DataFrame, dsg: Design, cph, h0: float, terms_df: pd.DataFrame) -> pd.DataFrame:
    """Per customer: probability of leaving in 90 days, revenue at risk and the top three drivers
    (terms with a significant HR > 1 ranked by their contribution β·(x − reference) to the log hazard;
    reference 0 — no complaints, the most common level — or the mean tenure)."""
    x = dsg.matrix(df)
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
    if "monthly_revenue_100" in values:
        values["monthly_revenue_100"] = values["monthly_revenue_100"] * 100  # the amount
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
