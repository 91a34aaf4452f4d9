"""Holdout checks of a churn model: discrimination (AUC, concordance, each with a 95% interval) and
calibration (observed vs predicted by decile, calibration slope, observed/expected)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.analysis.stats import Z95, scipy_stats

CONCORDANCE_RESAMPLES = 100


def auc(y: np.ndarray, score: np.ndarray) -> tuple[float, float, float]:
    """Area under the ROC curve (Mann–Whitney, ties averaged) with a Hanley–McNeil 95% interval."""
    y = np.asarray(y).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return np.nan, np.nan, np.nan
    sps = scipy_stats()  # scipy.stats imported on use (a second of start-up otherwise)

    ranks = sps.rankdata(score)
    a = (ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = np.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0))
    return float(a), float(a - Z95 * se), float(a + Z95 * se)


def concordance(time: np.ndarray, risk: np.ndarray, event: np.ndarray,
                reps: int = CONCORDANCE_RESAMPLES) -> tuple[float, float, float]:
    """Harrell's concordance of a risk score (higher = leaves sooner) with a percentile bootstrap 95%
    interval over holdout rows (``reps`` resamples, seed 0)."""
    from lifelines.utils import concordance_index

    time, risk, event = np.maximum(np.asarray(time, float), 0.5), np.asarray(risk, float), np.asarray(event)
    if event.sum() == 0:
        return np.nan, np.nan, np.nan
    c = concordance_index(time, -risk, event)
    if reps < 1:
        return float(c), np.nan, np.nan
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(reps):
        i = rng.integers(0, len(time), len(time))
        if event[i].sum():
            boot.append(concordance_index(time[i], -risk[i], event[i]))
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(c), float(lo), float(hi)


def auc_diff_interval(y: np.ndarray, a: np.ndarray, b: np.ndarray, reps: int = 200) -> tuple[float, float]:
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


def calibration(y: np.ndarray, p: np.ndarray, groups: int = 10) -> tuple[pd.DataFrame, float, float]:
    """(by decile of predicted probability: decile, n, predicted (mean), observed (share that left);
    calibration slope — the coefficient of logit(p) in a logistic regression of the outcome on it, 1
    when the spread of the predictions is right; observed / expected departures)."""
    import statsmodels.api as sm

    y, p = np.asarray(y, float), np.clip(np.asarray(p, float), 1e-9, 1 - 1e-9)
    decile = pd.qcut(pd.Series(p).rank(method="first"), groups, labels=False) + 1
    table = (pd.DataFrame({"decile": decile, "p": p, "y": y}).groupby("decile")
             .agg(n=("y", "size"), predicted=("p", "mean"), observed=("y", "mean")).reset_index())
    lp = np.log(p / (1 - p))
    try:
        slope = float(sm.GLM(y, sm.add_constant(lp), family=sm.families.Binomial()).fit().params[1])
    except Exception:  # noqa: BLE001 - perfect separation or a constant prediction
        slope = np.nan
    return table, slope, float(y.sum() / p.sum())
