"""Where a KPI is heading: a forecast to the end of the current period and the next two, with 80% and
95% intervals, the probability of meeting the target, and the forecast error measured on the history.

The method, stated once:

* **Series.** The metric by calendar month over the last :data:`HISTORY_MONTHS` *complete* months up
  to the as-of date (a month is complete when the as-of is on or after its last day), for the
  filters' slices, read through :meth:`Warehouse.metric` (the rollups when exact). Months without
  observations end the series' usable run: only the months after the last such gap are used. Fewer
  than :data:`MIN_MONTHS` usable months: no forecast, a reason (``too_short``).
* **Scale.** Bounded metrics are modelled on a scale that keeps them in bounds: shares (0–1) and NPS
  (−100…100) on the logit of their position in the range (values clipped to :data:`EDGE` of the range
  from either bound first), rates and other non-negative figures on the log (zeros raised to half
  the smallest positive month). Intervals are quantiles, so they transform back exactly; the point
  forecast is the median.
* **Models and the criterion.** Three candidates from statsmodels: exponential smoothing ETS(A,N,N)
  and ETS(A,Ad,N) (``ETSModel``, maximum likelihood) and ARIMA(1,0,0) with a mean (``ARIMA``, Yule–
  Walker estimates). The one with the smallest **AICc** is used. The three likelihoods are Gaussian
  densities of the same months on the same scale (no differencing), so their AICc compare.
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
  The split-conformal quantile of their absolute values (the ⌈(m + 1)·0.8⌉-th smallest of m) divided
  by the t quantile the 80% band uses is the horizon's widening (above 1 widens, below 1 narrows);
  horizons beyond those with at least :data:`CALIBRATION_MIN` errors take the last calibrated one's,
  and with fewer than that at the first horizon the model's own band is kept (``calibration_n`` 0).
  The whole error distribution is scaled by it (the 95% band keeps the model's shape at the same
  widening), and the simulated paths below use the same scaled distribution, so the bands and the
  chance of meeting the target agree.
* **The period and the target.** A period (month, or quarter when the filters' period is longer than
  a month) is the volume-weighted mean of its months: the months already known as they are, the
  rest from :data:`SIMULATIONS` paths drawn from the joint distribution of the forecast errors (fixed
  seed, so the same data gives the same answer), each month weighted by its volume (answers, tickets,
  or customer-months; a forecast month by the mean of the last three known months). The probability
  of meeting the target is the share of paths whose period value meets it (≥ for higher-is-better,
  ≤ otherwise). Categories: likely to meet at ≥ :data:`LIKELY`, likely to miss at ≤ 1 − LIKELY,
  uncertain between.
* **Back-test** (:mod:`metrics.analysis.forecast_backtest`): the whole procedure rerun at each
  rolling origin; MAE, MAPE and the coverage of the 80% and 95% intervals, with the number of points.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from metrics.analysis import drill
from metrics.analysis.blas import one_blas_thread
from metrics.model.filters import Filters, add_months
from metrics.model.registry import get
from metrics.query.warehouse import Warehouse

HISTORY_MONTHS = 36  # months read for the fit
MIN_MONTHS = 12  # fewer usable months: no forecast
EDGE = 0.001  # bounded metrics: values clipped to this share of the range from a bound before the logit
SIMULATIONS = 4000  # paths for a period's value and the probability of meeting the target (MC s.e. ≤ 0.008)
SEED = 20261206
LIKELY = 0.75  # probability ≥ this: likely to meet; ≤ 1 − this: likely to miss
BANDS = {"lower80": 0.10, "upper80": 0.90, "lower95": 0.025, "upper95": 0.975}  # a band's edges as probabilities
PERIODS_AHEAD = 2  # the current period and this many after it
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
        from scipy.stats import t as student

        return float(student.ppf(p, self.df))

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
    from statsmodels.tsa.arima.model import ARIMA

    res = ARIMA(z, order=(1, 0, 0), trend="c").fit(method="yule_walker")
    phi, sigma2 = float(res.params[1]), float(res.params[-1])
    n, k = len(z), 2  # the mean and phi
    return Fit("ARIMA(1,0,0)", float(res.aicc), np.asarray(res.forecast(h), dtype=float), phi ** np.arange(h),
               sigma2 * n / (n - k), n - k, np.asarray(res.resid, dtype=float))


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
            rank = math.ceil((len(e) + 1) * CALIBRATION_LEVEL)  # split-conformal: at least the level covered
            last = float(np.sort(e)[min(rank, len(e)) - 1]) / fit.quantile(0.5 + CALIBRATION_LEVEL / 2)
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


# -- periods -----------------------------------------------------------------------------------
def period_kind(f: Filters) -> str:
    """"month" when the filters' period is at most one calendar month long, else "quarter"."""
    return "month" if f.days <= 31 else "quarter"


def period_of(month: date, kind: str) -> tuple[date, date]:
    """(first month, last month) of the month or quarter holding ``month`` (first days of months)."""
    if kind == "month":
        return month, month
    first = date(month.year, (month.month - 1) // 3 * 3 + 1, 1)
    return first, add_months(first, 2)


def period_starts(month: date, kind: str) -> list[date]:
    """First months of the period holding ``month`` and of the :data:`PERIODS_AHEAD` after it."""
    first, step = period_of(month, kind)[0], 1 if kind == "month" else 3
    return [add_months(first, step * i) for i in range(PERIODS_AHEAD + 1)]


def period_label(start: date, kind: str) -> str:
    """"2026-10" or "2026 Q4"."""
    return f"{start:%Y-%m}" if kind == "month" else f"{start.year} Q{(start.month - 1) // 3 + 1}"


def last_complete_month(as_of: date) -> date:
    """First day of the last month that ends on or before ``as_of``."""
    return as_of.replace(day=1) if (as_of + timedelta(days=1)).day == 1 else add_months(as_of.replace(day=1), -1)


# -- results -----------------------------------------------------------------------------------
@dataclass
class Forecast:
    """A metric's forecast. ``reason`` (a catalogue key under ``forecast.reason``) when there is none.

    ``history``: month, value, weight (the months used). ``months``: month, value (median), lower80,
    upper80, lower95, upper95. ``periods``: period, start, end (first days of months), known (months
    already known), value (median), lower80 … upper95, target, p_meet, verdict (``likely_meet``,
    ``uncertain``, ``likely_miss``; ``no_target`` without a target)."""

    metric: str
    kind: str
    model: str = ""
    aicc: float = float("nan")
    reason: str | None = None
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    months: pd.DataFrame = field(default_factory=pd.DataFrame)
    periods: pd.DataFrame = field(default_factory=pd.DataFrame)
    higher_is_better: bool | None = None
    calibration_n: int = 0  # back-test errors the band is calibrated on (0: the model's own band)
    widen: list[float] = field(default_factory=list)  # per forecast month: calibrated width / model's


def verdict(p: float | None) -> str:
    """likely_meet (p ≥ :data:`LIKELY`), likely_miss (p ≤ 1 − LIKELY), uncertain; no_target for None/NaN."""
    if p is None or pd.isna(p):
        return "no_target"
    return "likely_meet" if p >= LIKELY else "likely_miss" if p <= 1 - LIKELY else "uncertain"


def usable(history: pd.DataFrame) -> pd.DataFrame:
    """The months after the last month without a value or observations (month, value, weight)."""
    h = history.sort_values("month").reset_index(drop=True)
    bad = h["value"].isna() | ~(h["weight"] > 0)
    if bad.any():
        h = h.iloc[int(np.flatnonzero(bad.to_numpy())[-1]) + 1:]
    return h.reset_index(drop=True)


def forecast_series(history: pd.DataFrame, metric_id: str, kind: str = "quarter",
                    targets: dict[date, float | None] | None = None, bounds: tuple | None = None) -> Forecast:
    """The forecast of a monthly ``history`` (month as first days, value, weight; complete months,
    oldest first) to the end of the period after the last month and :data:`PERIODS_AHEAD` more.
    ``targets``: a period's first month → its target (None: none). ``bounds``: the values' range
    (default :func:`bounds_for`)."""
    m = get(metric_id)
    out = Forecast(metric_id, kind, higher_is_better=m.higher_is_better)
    h = usable(history)
    out.history = h
    if len(h) < MIN_MONTHS:
        out.reason = "too_short"
        return out
    months = [pd.Timestamp(x).date() for x in h["month"]]
    nxt = add_months(months[-1], 1)
    starts = period_starts(nxt, kind)
    step = 1 if kind == "month" else 3
    end = period_of(starts[-1], kind)[1]
    horizon = (end.year - nxt.year) * 12 + end.month - nxt.month + 1
    values = h["value"].to_numpy(dtype=float)
    try:
        scale, fit = fit_history(values, bounds or bounds_for(metric_id), horizon)
    except ValueError:  # no candidate could be fitted (a degenerate series)
        out.reason = "no_fit"
        return out
    out.model, out.aicc, out.calibration_n = fit.name, fit.aicc, fit.calibration_n
    out.widen = [] if fit.widen is None else [float(w) for w in fit.widen]
    sd = np.sqrt(np.maximum(np.diag(fit.covariance()), 0))
    ahead = [add_months(nxt, i) for i in range(horizon)]
    band = {name: scale.from_model(fit.mean + fit.quantile(p) * sd) for name, p in BANDS.items()}
    out.months = pd.DataFrame({"month": pd.to_datetime(ahead), "value": scale.from_model(fit.mean), **band})
    paths = scale.from_model(_draws(fit))  # SIMULATIONS × horizon, on the metric's scale
    weight_ahead = float(h["weight"].tail(3).mean())
    known = dict(zip(months, zip(values, h["weight"].to_numpy(dtype=float), strict=True), strict=True))
    rows = []
    for start in starts:
        stop = period_of(start, kind)[1]
        in_period = [add_months(start, i) for i in range(step)] if kind == "quarter" else [start]
        num, den = np.zeros(len(paths)), 0.0
        n_known = 0
        for mo in in_period:
            if mo in known:
                v, w = known[mo]
                num, den, n_known = num + v * w, den + w, n_known + 1
            else:
                i = ahead.index(mo)
                num, den = num + paths[:, i] * weight_ahead, den + weight_ahead
        value = num / den
        goal = (targets or {}).get(start)
        p = float("nan")
        if goal is not None and m.higher_is_better is not None:
            p = float(np.mean(value >= goal if m.higher_is_better else value <= goal))
        q = np.quantile(value, [0.5, 0.1, 0.9, 0.025, 0.975])
        rows.append({"period": period_label(start, kind), "start": pd.Timestamp(start), "end": pd.Timestamp(stop),
                     "known": n_known, "value": q[0], "lower80": q[1], "upper80": q[2], "lower95": q[3],
                     "upper95": q[4], "target": np.nan if goal is None else float(goal), "p_meet": p,
                     "verdict": verdict(p)})
    out.periods = pd.DataFrame(rows)
    return out


def _draws(fit: Fit) -> np.ndarray:
    """:data:`SIMULATIONS` joint draws of the forecast path on the model scale (fixed seed): a
    multivariate t with the forecast errors' covariance and :attr:`Fit.df` degrees of freedom."""
    rng = np.random.default_rng(SEED)
    cov = fit.covariance()
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(len(cov)))
    normal = rng.standard_normal((SIMULATIONS, len(cov))) @ chol.T
    return fit.mean + normal / np.sqrt(rng.chisquare(fit.df, (SIMULATIONS, 1)) / fit.df)


# -- reading ------------------------------------------------------------------------------------
def monthly_series(wh: Warehouse, metric_id: str, f: Filters, months: int | None = None) -> pd.DataFrame:
    """``metric_id`` by month for the filters' slices over the ``months`` (default
    :data:`HISTORY_MONTHS`) complete months up to the as-of: month, value, weight (customer-months for
    rates, else the observations ``n``)."""
    months = HISTORY_MONTHS if months is None else months
    last = last_complete_month(wh.resolve_as_of(f))
    stop = add_months(last, 1) - timedelta(days=1)
    hf = f.with_(start=add_months(last, 1 - months), end=stop, comparison="none")
    df = wh.metric(metric_id, hf, ("month",))
    if df.empty:
        return pd.DataFrame({"month": pd.Series(dtype="datetime64[ns]"), "value": [], "weight": []})
    weight = df["exposure"] if "exposure" in df.columns else df["n"]
    out = pd.DataFrame({"month": pd.to_datetime(df["month"]), "value": pd.to_numeric(df["value"], errors="coerce"),
                        "weight": pd.to_numeric(weight, errors="coerce")}).set_index("month").sort_index()
    # every month from the first with data to the last complete one: a month without rows is a gap (NaN),
    # never skipped over as if its neighbours were adjacent
    every = pd.date_range(out.index.min(), pd.Timestamp(last), freq="MS", name="month")
    return out.reindex(every).reset_index()


def targets_by_period(table: pd.DataFrame, ancestors: dict[int, list[int]], metric_id: str, f: Filters,
                      starts: list[date], kind: str) -> dict[date, float | None]:
    """Each period's target (:func:`metrics.analysis.drill.target_for` on the period's last day) from
    the targets ``table`` (:meth:`Warehouse.targets`) and the regions' ``ancestors``."""
    out = {}
    for start in starts:
        last_day = add_months(period_of(start, kind)[1], 1) - timedelta(days=1)
        out[start] = drill.target_for(table, metric_id, f, ancestors, on=last_day)
    return out


def forecast(wh: Warehouse, metric_id: str, f: Filters, targets: pd.DataFrame | None = None,
             ancestors: dict[int, list[int]] | None = None) -> Forecast:
    """The forecast of ``metric_id`` for the filters' slices: the current period (month or quarter,
    :func:`period_kind`) holding the first month not yet complete at the as-of, and the next two,
    each with the target that applies to it (``targets``/``ancestors``: the targets table and
    :func:`metrics.analysis.drill.ancestors` when the caller has them; else read). A reason instead
    when the monthly history is too short (``too_short``) or there is no data (``no_data``)."""
    kind = period_kind(f)
    history = monthly_series(wh, metric_id, f)
    if history.empty or history["value"].isna().all():
        return Forecast(metric_id, kind, reason="no_data", history=history,
                        higher_is_better=get(metric_id).higher_is_better)
    starts = period_starts(add_months(last_complete_month(wh.resolve_as_of(f)), 1), kind)
    table = wh.targets() if targets is None else targets
    anc = drill.ancestors(wh.regions()) if ancestors is None else ancestors
    return forecast_series(history, metric_id, kind, targets_by_period(table, anc, metric_id, f, starts, kind))
