"""The forecast error measured on the history: a rolling-origin back-test of the whole forecasting
procedure of :mod:`metrics.analysis.forecast` (the model's choice, fit and the band's calibration on
the months before the origin rerun at each origin; the calibration's own fits of the chosen model on
shorter prefixes are shared between origins).

At every month of the history with at least ``MIN_MONTHS`` months before it (the whole history: up to
24 origins of the 36 months read), the months before it are forecast 1 to :data:`BACKTEST_HORIZON`
months ahead; MAE, MAPE (months with a zero actual left out) and how often the actual fell inside the
80% and 95% intervals, with the number of (origin, horizon) points. Origins with fewer than
``MIN_MONTHS + CALIBRATION_MIN`` months before them use the model's own band (as a forecast on so short
a history would). Points of one origin share its fit, so they are not independent: read the coverage
with its ``n`` in mind. Slower than a forecast (a fit per origin): cached apart from it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.analysis.forecast import monthly_series, usable
from metrics.analysis.forecast_models import MIN_MONTHS, bounds_for, fit_history
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

BACKTEST_ORIGINS: int | None = None  # origins: the last this many, None for every month the history allows
BACKTEST_HORIZON = 3
EDGES = (0.10, 0.90, 0.025, 0.975)  # the 80% and 95% bands' edges as probabilities


def backtest_series(history: pd.DataFrame, metric_id: str, origins: int | None = BACKTEST_ORIGINS,
                    horizon: int = BACKTEST_HORIZON, bounds: tuple | None = None) -> pd.DataFrame:
    """Rolling-origin back-test of the whole procedure on ``history`` (month, value, weight): one
    row per (origin, horizon) with the actual, the forecast median and whether the actual fell
    inside the 80% and 95% intervals. Empty when the history is too short for one origin; an origin
    whose history no model can be fitted to (``choose`` raises, a forecast's ``no_fit``) is skipped."""
    h = usable(history)
    values = h["value"].to_numpy(dtype=float)
    rows = []
    first = MIN_MONTHS if origins is None else max(MIN_MONTHS, len(values) - origins)
    memo: dict = {}  # fits of the prefixes, shared by the origins' calibrations
    for origin in range(first, len(values)):
        steps = min(horizon, len(values) - origin)
        try:
            scale, fit = fit_history(values[:origin], bounds or bounds_for(metric_id), horizon, memo)
        except ValueError:  # no candidate could be fitted at this origin (a degenerate history)
            continue
        sd = np.sqrt(np.maximum(np.diag(fit.covariance()), 0))
        for k in range(steps):
            actual = values[origin + k]
            lo80, hi80, lo95, hi95 = scale.from_model(fit.mean[k] + np.array([fit.quantile(p) for p in EDGES]) * sd[k])
            rows.append({"origin": h["month"].iloc[origin], "horizon": k + 1, "actual": actual,
                         "forecast": float(scale.from_model(fit.mean[k])), "model": fit.name,
                         "calibrated": fit.calibration_n > 0, "in80": bool(lo80 <= actual <= hi80),
                         "in95": bool(lo95 <= actual <= hi95)})
    return pd.DataFrame(rows, columns=["origin", "horizon", "actual", "forecast", "model", "calibrated", "in80",
                                       "in95"])


def backtest_summary(points: pd.DataFrame) -> dict[str, float | int]:
    """MAE, MAPE (months with a zero actual left out), coverage of the 80% and 95% intervals and the
    number of points (``n``); NaN figures when there are none."""
    if points.empty:
        return {"n": 0, "mae": float("nan"), "mape": float("nan"), "cover80": float("nan"), "cover95": float("nan")}
    err = (points["actual"] - points["forecast"]).abs()
    nonzero = points["actual"] != 0
    mape = float((err[nonzero] / points.loc[nonzero, "actual"].abs()).mean()) if nonzero.any() else float("nan")
    return {"n": len(points), "mae": float(err.mean()), "mape": mape, "cover80": float(points["in80"].mean()),
            "cover95": float(points["in95"].mean())}


def backtest(wh: Warehouse, metric_id: str, f: Filters) -> dict[str, float | int]:
    """:func:`backtest_summary` of :func:`backtest_series` on the metric's monthly history for the
    filters' slices (the app caches it by the data version, apart from the forecast)."""
    return backtest_summary(backtest_series(monthly_series(wh, metric_id, f), metric_id))
