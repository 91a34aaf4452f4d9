"""Where a KPI is heading: a forecast to the end of the current period and the next two, with 80% and
95% intervals, the probability of meeting the target, and the forecast error measured on the history.

The method, stated once:

* **Series.** The metric by calendar month over the last :data:`HISTORY_MONTHS` *complete* months up
  to the as-of date (a month is complete when the as-of is on or after its last day), for the
  filters' slices, read through :meth:`Warehouse.metric` (the rollups when exact). Months without
  observations end the series' usable run: only the months after the last such gap are used. Fewer
  than :data:`MIN_MONTHS` usable months: no forecast, a reason (``too_short``).
* **Scale, models, intervals and their calibration**: :mod:`metrics.analysis.forecast_models`
  (the candidates chosen by AICc on a scale that keeps the metric in bounds, exact model intervals
  widened or narrowed by the series' own rolling-origin back-test).
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

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from metrics.analysis import drill
from metrics.analysis.forecast_models import MIN_MONTHS, Fit, bounds_for, fit_history
from metrics.model.filters import Filters, add_months
from metrics.model.registry import get
from metrics.query.warehouse import Warehouse

HISTORY_MONTHS = 36  # months read for the fit
SIMULATIONS = 4000  # paths for a period's value and the probability of meeting the target (MC s.e. ≤ 0.008)
SEED = 20261206
LIKELY = 0.75  # probability ≥ this: likely to meet; ≤ 1 − this: likely to miss
BANDS = {"lower80": 0.10, "upper80": 0.90, "lower95": 0.025, "upper95": 0.975}  # a band's edges as probabilities
PERIODS_AHEAD = 2  # the current period and this many after it


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
    out = out.reindex(every)
    # a month that begins before the data records the metric's source was not (wholly) observed: its 0
    # complaints or departures are the absence of records, not a figure, and a partly recorded first month
    # counts its events over part of the month against a whole month's exposure — a gap either way, as
    # a comparison period that begins before the data has no change. Where each source's records begin
    # (availability's not at its first outage: a month without outages is 100%, a figure) is declared
    # once, in metrics.query.comparable.SOURCE_EVENTS.
    first = wh.first_records().get(get(metric_id).source)
    if first is not None:
        out.loc[out.index < pd.Timestamp(first), ["value", "weight"]] = np.nan
    return out.reset_index()


CACHE_ANCHOR = date(2000, 1, 1)  # cache_filters' period starts here (any fixed day would do)


def cache_filters(f: Filters) -> Filters:
    """``f`` with what :func:`forecast` and the back-test do not read set to fixed values, for their
    cache keys: the period kept only as its kind (:func:`period_kind`: one day for "month", a year for
    "quarter", from :data:`CACHE_ANCHOR`) and no comparison. The forecast reads the last
    :data:`HISTORY_MONTHS` complete months up to the as-of (``f.as_of`` or the data's) and the targets
    on its periods' last days, never ``f``'s dates, so views of the same slices that differ only in the
    period preset or the comparison share one cached forecast: ``forecast(wh, m, cache_filters(f))``
    equals ``forecast(wh, m, f)``."""
    end = CACHE_ANCHOR if period_kind(f) == "month" else add_months(CACHE_ANCHOR, 12) - timedelta(days=1)
    return f.with_(start=CACHE_ANCHOR, end=end, comparison="none")


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
