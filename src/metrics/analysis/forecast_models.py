"""The forecast's models, chosen, fitted and calibrated on one monthly series (oldest first), for
:mod:`metrics.analysis.forecast` (which reads the series, combines months into periods and weighs
the target) and its back-test. No database, no Streamlit.

* **Scale.** Bounded metrics are modelled on a scale that keeps them in bounds: shares (0–1) and NPS
  (−100…100) on the logit of their position in the range (values clipped to :data:`EDGE` of the range
  from either bound first), rates and other non-negative figures on the log (zeros raised to half
  the smallest positive month). Intervals are quantiles, so they transform back exactly; the point
  forecast is the median.
* **Models and the criterion.** Three candidates from statsmodels: exponential smoothing ETS(A,N,N)
  and ETS(A,Ad,N) (``ETSModel``, maximum likelihood) and ARIMA(1,0,0) with a mean (statsmodels'
  feasible-GLS Yule–Walker estimates, as ``ARIMA`` fits them; likelihood and forecasts in closed form). The one
  with the smallest **AICc** is used. The three likelihoods are Gaussian densities of the same months
  on the same scale (no differencing), so their AICc compare.
  No seasonal term: three years hold too few cycles to estimate one.
* **Intervals.** Each model is linear: the h-month-ahead errors are ``Psi @ eps`` (its MA(∞)
  weights, ``eps`` independent shocks). The shocks' variance is the residual mean square with the
  degrees-of-freedom correction n/(n − k) (k the model's estimated parameters), and the errors are
  taken as Student t with n − k degrees of freedom (a multivariate t: one scale for the whole path),
  which widens short histories' intervals a little for the parameters estimated from them; the
  rest of the parameters' uncertainty is not included. The monthly 80% and 95% intervals are exact
  quantiles on the model's scale.
* **Calibration on the series' own back-test.** The model's band assumes the model is right; a
  series with level shifts or a changing noise makes it too narrow (or too wide). So the band is
  calibrated on the series itself: the chosen model is refitted (its likelihood maximised from the
  whole history's estimates, for speed) at each of the last
  :data:`CALIBRATION_ORIGINS` months with at least ``MIN_MONTHS`` months before it (a rolling-origin
  back-test of that model), and its errors at each horizon are standardised by that origin's band.
  The conformal quantile of their absolute values (:func:`conformal_quantile`: the order statistic
  of rank 0.8·(m + 1) of the m errors, interpolated, so that about 80% of new errors fall below it)
  divided by the t quantile the 80% band uses is the horizon's widening (above 1 widens, below 1 narrows);
  horizons beyond those with at least :data:`CALIBRATION_MIN` errors take the last calibrated one's,
  and with fewer than that at the first horizon the model's own band is kept (``calibration_n`` 0).
  The whole error distribution is scaled by it (the 95% band keeps the model's shape at the same
  widening), and the simulated paths below use the same scaled distribution, so the bands and the
  chance of meeting the target agree.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from metrics.analysis.blas import one_blas_thread
from metrics.analysis.stats import scipy_stats
from metrics.model.registry import get

MIN_MONTHS = 12  # fewer usable months: no forecast
EDGE = 0.001  # bounded metrics: values clipped to this share of the range from a bound before the logit
CALIBRATION_ORIGINS = 12  # the band is calibrated on the chosen model's errors from this many last origins
CALIBRATION_MIN = 8  # fewer errors at the first horizon: the model's own band (needs MIN_MONTHS + 8 months)
CALIBRATION_LEVEL = 0.80  # the band the calibration makes honest


# -- scales ------------------------------------------------------------------------------------
def bounds_for(metric_id: str) -> tuple[float | None, float | None]:
    """The range a metric's values can take: (0, 1) for shares, (−100, 100) for NPS, (0, None) for
    rates, counts, durations and scores above zero; (None, None) otherwise."""
    m = get(metric_id)
    if m.unit == "share":
        return 0.0, 1.0
    if m.kind == "nps":
        return -100.0, 100.0
    if m.kind in ("rate", "count", "stock", "quantile", "mean") or m.unit in ("hours", "tickets", "customers"):
        return 0.0, None
    return None, None


@dataclass(frozen=True)
class Scale:
    """A monotone map of a metric's values to the modelling scale and back."""

    lower: float | None
    upper: float | None
    floor: float = 0.0  # log scale: the value zeros are raised to

    @classmethod
    def fit(cls, values: np.ndarray, bounds: tuple[float | None, float | None]) -> Scale:
        lo, hi = bounds
        if lo is not None and hi is None:
            above = values[values > lo] - lo
            floor = float(above.min()) / 2 if len(above) else 1e-6
            return cls(lo, None, floor)
        return cls(lo, hi)

    def to_model(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=float)
        if self.lower is not None and self.upper is not None:
            span = self.upper - self.lower
            p = np.clip((y - self.lower) / span, EDGE, 1 - EDGE)
            return np.log(p / (1 - p))
        if self.lower is not None:
            return np.log(np.maximum(y - self.lower, self.floor))
        return y

    def from_model(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        if self.lower is not None and self.upper is not None:
            return self.lower + (self.upper - self.lower) / (1 + np.exp(-z))
        if self.lower is not None:
            return self.lower + np.exp(z)
        return z


# -- models ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fit:
    """A fitted candidate: its name, AICc, the forecast means and MA(∞) weights on the model scale."""

    name: str
    aicc: float
    mean: np.ndarray  # h forecast means
    psi: np.ndarray  # psi[0] = 1, psi[j]: weight of the shock j months before
    sigma2: float  # the shocks' variance, n/(n − k) times the residual mean square
    df: int  # n − k: the Student t's degrees of freedom
    resid: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the one-step errors on the history
    widen: np.ndarray | None = None  # per horizon: the calibrated band's width over the model's (None: 1)
    calibration_n: int = 0  # the history's h-step errors the widening rests on (0: not calibrated)
    params: np.ndarray | None = None  # ETS: the estimates, where the calibration's refits start

    def quantile(self, p: float) -> float:
        """The ``p`` quantile of a standardised forecast error (Student t with :attr:`df`)."""
        return float(scipy_stats().t.ppf(p, self.df))

    def covariance(self) -> np.ndarray:
        """The h×h covariance of the forecast errors on the model scale."""
        h = len(self.mean)
        psi_mat = np.zeros((h, h))
        for i in range(h):
            psi_mat[i, : i + 1] = self.psi[: i + 1][::-1]
        cov = self.sigma2 * psi_mat @ psi_mat.T
        if self.widen is not None:
            cov = cov * np.outer(self.widen, self.widen)
        return cov


def _ets(z: np.ndarray, h: int, damped: bool, start: np.ndarray | None = None) -> Fit:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    model = ETSModel(z, error="add", trend="add" if damped else None, damped_trend=damped)
    res = model.fit(disp=False) if start is None else model.fit(disp=False, start_params=start)
    n, k = len(z), len(res.params)  # smoothing parameters and initial states (the variance is concentrated out)
    alpha = float(res.smoothing_level)
    j = np.arange(h)
    if damped:
        beta, phi = float(res.smoothing_trend), float(res.damping_trend)
        psi = alpha + beta * phi * (1 - phi**j) / (1 - phi)
    else:
        psi = np.full(h, alpha)
    psi[0] = 1.0
    return Fit("ETS(A,Ad,N)" if damped else "ETS(A,N,N)", float(res.aicc), np.asarray(res.forecast(h), dtype=float),
               psi, float(res.mse) * n / (n - k), n - k, np.asarray(res.resid, dtype=float),
               params=np.asarray(res.params, dtype=float))


def _ar1(z: np.ndarray, h: int) -> Fit:
    """ARIMA(1,0,0) with a mean: statsmodels' feasible-GLS Yule–Walker estimates (what
    ``ARIMA(order=(1, 0, 0), trend="c").fit(method="yule_walker")`` computes, parameter for parameter),
    with the exact Gaussian likelihood, one-step errors and forecasts of a stationary AR(1) in closed
    form instead of ``ARIMA``'s state-space results object (half the time of a fit; equal to it within
    1e-9, ``tests/engine/test_forecast.py``). A constant series is refused, as too few months are: ``ARIMA``
    gave it a likelihood of 0 and ETS won; the closed form's would be unbounded."""
    from statsmodels.tsa.arima.estimators.gls import gls

    n, k = len(z), 2  # the mean and phi (the likelihood's count adds sigma2)
    if n - k - 2 <= 0:  # AICc's correction undefined (ARIMA: infinite)
        raise ValueError("too few months for AR(1)")
    if np.ptp(z) <= 1e-12 * max(1.0, float(np.max(np.abs(z)))):  # ARIMA gives a flat series likelihood 0;
        raise ValueError("a constant series")  # the closed form would be unbounded: left to ETS, as before
    est, _ = gls(z, exog=np.ones((len(z), 1)), order=(1, 0, 0), include_constant=False,
                 arma_estimator="yule_walker")
    if not est.is_stationary:
        raise ValueError("non-stationary autoregressive parameter")
    mu, phi, sigma2 = (float(v) for v in est.params)
    resid = np.empty(n)
    resid[0] = z[0] - mu
    resid[1:] = z[1:] - mu - phi * (z[:-1] - mu)
    loglike = -0.5 * (n * math.log(2 * math.pi) + n * math.log(sigma2) - math.log(1 - phi**2)
                      + ((1 - phi**2) * resid[0] ** 2 + float(resid[1:] @ resid[1:])) / sigma2)
    m = k + 1
    aicc = -2 * loglike + 2 * m + 2 * m * (m + 1) / (n - m - 1)
    mean = mu + phi ** np.arange(1, h + 1) * (z[-1] - mu)
    return Fit("ARIMA(1,0,0)", aicc, mean, phi ** np.arange(h), sigma2 * n / (n - k), n - k, resid)


CANDIDATES = {"ETS(A,N,N)": lambda z, h, start: _ets(z, h, False, start),
              "ETS(A,Ad,N)": lambda z, h, start: _ets(z, h, True, start),
              "ARIMA(1,0,0)": lambda z, h, start: _ar1(z, h)}


def choose(z: np.ndarray, h: int, only: str | None = None, start: np.ndarray | None = None) -> Fit:
    """The candidate with the smallest AICc on the model-scale series ``z``, forecasting ``h`` months
    (``only``: that candidate alone, its likelihood maximised from ``start`` when given: the
    calibration's refits start from the whole history's estimates, four times faster). A candidate
    whose fit fails or gives a non-finite AICc is left out."""
    fits = []
    with warnings.catch_warnings(), np.errstate(all="ignore"), one_blas_thread():
        warnings.simplefilter("ignore")
        for name, make in CANDIDATES.items():
            if only is not None and name != only:
                continue
            try:
                fit = make(z, h, start)
            except (ValueError, np.linalg.LinAlgError):  # pragma: no cover - a degenerate series
                continue
            if math.isfinite(fit.aicc) and np.all(np.isfinite(fit.mean)) and fit.sigma2 >= 0:
                fits.append(fit)
    if not fits:
        raise ValueError("no model could be fitted")
    return min(fits, key=lambda f: f.aicc)


Fitted = dict  # (months, model or None) → (Scale, Fit or None): fits of a series' prefixes, shared


def _fit_prefix(values: np.ndarray, end: int, bounds: tuple, horizon: int, memo: Fitted,
                only: str | None = None, start: np.ndarray | None = None) -> tuple[Scale, Fit | None]:
    """The scale and fit of the first ``end`` months (the chosen candidate, or ``only``), remembered in
    ``memo`` (a back-test reuses the fits of the prefixes it shares with its origins)."""
    key = (end, only)
    if key not in memo:
        train = values[:end]
        scale = Scale.fit(train, bounds)
        try:
            memo[key] = scale, choose(scale.to_model(train), horizon, only, start)
        except ValueError:
            memo[key] = scale, None
    return memo[key]


def conformal_quantile(errors: list[float], level: float) -> float:
    """The value a new error of the same kind stays below with probability ``level`` on average: the
    order statistic of rank ``level · (m + 1)`` of the ``m`` errors (the expected share of new errors
    below the k-th smallest of m exchangeable ones is k / (m + 1)), interpolated between the two
    neighbouring ranks, the largest error when the rank is beyond ``m``. (The split-conformal rank
    ⌈level · (m + 1)⌉ guarantees *at least* the level and covers up to 1 / (m + 1) more: 89% for an
    80% band on 8 errors.)"""
    e = np.sort(np.asarray(errors, dtype=float))
    if not len(e):
        raise ValueError("no errors to take a quantile of")
    rank = level * (len(e) + 1)
    if rank >= len(e):
        return float(e[-1])
    if rank <= 1:  # below the smallest error: the smallest (never extrapolated)
        return float(e[0])
    below = max(int(math.floor(rank)), 1)
    return float(e[below - 1] + (rank - below) * (e[below] - e[below - 1]))


def calibrate(values: np.ndarray, fit: Fit, bounds: tuple, horizon: int, memo: Fitted | None = None) -> Fit:
    """``fit`` (of all of ``values``) with its band calibrated on the series' own rolling-origin
    back-test of the same model (module docstring, *Calibration*); unchanged with ``calibration_n`` 0
    when fewer than :data:`CALIBRATION_MIN` errors exist at the first horizon."""
    memo = {} if memo is None else memo
    end = len(values)
    errors: list[list[float]] = [[] for _ in range(horizon)]
    for origin in range(max(MIN_MONTHS, end - CALIBRATION_ORIGINS), end):
        scale, past = _fit_prefix(values, origin, bounds, horizon, memo, fit.name, fit.params)
        if past is None:
            continue
        sd = np.sqrt(np.maximum(np.diag(past.covariance()), 0))
        actual = scale.to_model(values[origin:origin + horizon])
        for k, z in enumerate(actual):
            if sd[k] > 0:
                errors[k].append(abs(float(z) - float(past.mean[k])) / float(sd[k]))
    if len(errors[0]) < CALIBRATION_MIN:
        return fit
    widen, last = np.ones(horizon), 1.0
    for k, e in enumerate(errors):
        if len(e) >= CALIBRATION_MIN:
            last = conformal_quantile(e, CALIBRATION_LEVEL) / fit.quantile(0.5 + CALIBRATION_LEVEL / 2)
        widen[k] = last
    return replace(fit, widen=widen, calibration_n=len(errors[0]))


def fit_history(values: np.ndarray, bounds: tuple, horizon: int, memo: Fitted | None = None) -> tuple[Scale, Fit]:
    """The whole procedure on ``values`` (oldest first): the scale, the candidate of smallest AICc and
    its calibrated band, forecasting ``horizon`` months. Raises ValueError when no model fits."""
    memo = {} if memo is None else memo
    scale, fit = _fit_prefix(values, len(values), bounds, horizon, memo)
    if fit is None:
        raise ValueError("no model could be fitted")
    return scale, calibrate(values, fit, bounds, horizon, memo)
