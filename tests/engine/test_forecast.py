"""Forecasts (issue 17, item 3): the intervals cover what they say on simulated series of a known
process, the probability of meeting a target is calibrated, a period combines its months by volume,
bounded metrics stay in bounds, a short history gives its reason, and the demo's back-test reports
its coverage.

Tolerances: over N independent simulated series the share of outcomes inside a band with nominal
coverage p is binomial; we allow 3 binomial standard errors sqrt(p(1-p)/N) plus 0.03 for what the
intervals leave out by design (the parameters are estimated from 36 months, their uncertainty is
not in the band). Horizons 1-3 of one series are pooled but the standard error uses N series, so
the tolerance is conservative.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from metrics.analysis import forecast as fc
from metrics.analysis import forecast_backtest as fb
from metrics.analysis import forecast_models as fm
from metrics.model.filters import Filters, preset_period
from metrics.query.warehouse import Warehouse

N_SERIES = 80
LENGTH = 36


def _frame(values: np.ndarray, end: date = date(2026, 8, 1), weight: float = 100.0) -> pd.DataFrame:
    months = pd.date_range(end=pd.Timestamp(end), periods=len(values), freq="MS")
    return pd.DataFrame({"month": months, "value": values, "weight": weight})


def _ar1(rng: np.random.Generator, n: int, phi: float = 0.6, mean: float = 10.0) -> np.ndarray:
    y = np.empty(n)
    y[0] = mean + rng.normal() / np.sqrt(1 - phi**2)
    for i in range(1, n):
        y[i] = mean + phi * (y[i - 1] - mean) + rng.normal()
    return y


def _local_level(rng: np.random.Generator, n: int) -> np.ndarray:
    level = 10 + np.cumsum(rng.normal(0, 0.5, n))
    return level + rng.normal(0, 1.0, n)


def _tolerance(p: float, n: int) -> float:
    return 3 * np.sqrt(p * (1 - p) / n) + 0.03


@pytest.mark.parametrize("process", [_ar1, _local_level], ids=["ar1", "local_level"])
def test_bands_cover_what_they_say(process) -> None:
    rng = np.random.default_rng(7)
    inside80, inside95, p_meet, met = [], [], [], []
    for _ in range(N_SERIES):
        y = process(rng, LENGTH + 3)
        hist = _frame(y[:LENGTH])
        nxt = (pd.Timestamp(hist["month"].iloc[-1]) + pd.offsets.MonthBegin(1)).date()
        goal = float(y[LENGTH - 1])  # the last month: a target the next month meets about half the time
        out = fc.forecast_series(hist, "csat", "month", {nxt: goal}, bounds=(None, None))
        months = out.months
        actual = y[LENGTH:LENGTH + len(months)]
        inside80 += list((months["lower80"] <= actual) & (actual <= months["upper80"]))
        inside95 += list((months["lower95"] <= actual) & (actual <= months["upper95"]))
        p_meet.append(out.periods["p_meet"].iloc[0])
        met.append(actual[0] >= goal)  # csat: higher is better; a month's period is that month
    cover80, cover95 = np.mean(inside80), np.mean(inside95)
    assert abs(cover80 - 0.80) <= _tolerance(0.80, N_SERIES), cover80
    assert abs(cover95 - 0.95) <= _tolerance(0.95, N_SERIES), cover95
    # calibration in the large: the mean probability matches how often the target was met
    p, hit = np.array(p_meet), np.array(met, dtype=float)
    assert abs(p.mean() - hit.mean()) <= 3 * np.sqrt(np.sum(p * (1 - p))) / N_SERIES + 0.03
    # and the probabilities say more than their mean: a lower Brier score than the constant forecast
    assert np.mean((p - hit) ** 2) < np.mean((hit.mean() - hit) ** 2)


def test_no_band_would_fail_the_coverage_check() -> None:
    """The check can fail: bands a third as wide cover far less than 80%."""
    rng = np.random.default_rng(3)
    inside = []
    for _ in range(30):
        y = _ar1(rng, LENGTH + 3)
        m = fc.forecast_series(_frame(y[:LENGTH]), "csat", "month", bounds=(None, None)).months
        mid, half = m["value"], (m["upper80"] - m["lower80"]) / 6
        inside += list(((mid - half) <= y[LENGTH:]) & (y[LENGTH:] <= (mid + half)))
    assert abs(np.mean(inside) - 0.80) > _tolerance(0.80, 30)


def test_ets_intervals_equal_statsmodels() -> None:
    """The joint error covariance (MA(∞) weights) gives statsmodels' own prediction intervals, once its
    residual mean square is corrected to n/(n − k) and the normal quantile replaced by Student t's."""
    from scipy.stats import norm
    from scipy.stats import t as student
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    rng = np.random.default_rng(1)
    y = pd.Series(_local_level(rng, LENGTH), index=pd.date_range("2023-01-01", periods=LENGTH, freq="MS"))
    for damped in (False, True):
        res = ETSModel(y, error="add", trend="add" if damped else None, damped_trend=damped).fit(disp=False)
        sf = res.get_prediction(start=LENGTH, end=LENGTH + 5).summary_frame(alpha=0.05)
        fit = fm._ets(y.to_numpy(), 6, damped)
        k = len(res.params)
        assert fit.df == LENGTH - k and fit.sigma2 == pytest.approx(res.mse * LENGTH / (LENGTH - k))
        np.testing.assert_allclose(fit.mean, sf["mean"].to_numpy(), rtol=1e-6)
        ours = fit.quantile(0.975) * np.sqrt(np.diag(fit.covariance()))
        theirs = (sf["pi_upper"] - sf["mean"]).to_numpy()
        factor = student.ppf(0.975, LENGTH - k) / norm.ppf(0.975) * np.sqrt(LENGTH / (LENGTH - k))
        np.testing.assert_allclose(ours, factor * theirs, rtol=1e-4)


def test_ar1_equals_statsmodels_arima() -> None:
    """The AR(1) candidate's closed forms (likelihood, one-step errors, forecasts) on statsmodels' GLS
    Yule–Walker estimates equal ``ARIMA(...).fit(method="yule_walker")``'s own results on series of
    every persistence, noise and length the forecasts see, and both refuse the same series."""
    import warnings

    from statsmodels.tsa.arima.model import ARIMA

    rng = np.random.default_rng(11)
    compared = 0
    for _ in range(60):
        n = int(rng.integers(fm.MIN_MONTHS, 40))
        y = _ar1(rng, n, phi=float(rng.uniform(-0.9, 0.97)), mean=float(rng.normal(0, 5))) * rng.uniform(0.01, 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = ARIMA(y, order=(1, 0, 0), trend="c").fit(method="yule_walker")
            except ValueError:
                with pytest.raises(ValueError):
                    fm._ar1(y, 3)
                continue
            fit = fm._ar1(y, 3)
        phi, sigma2 = float(res.params[1]), float(res.params[-1])
        assert fit.aicc == pytest.approx(float(res.aicc), rel=1e-10, abs=1e-9)
        np.testing.assert_allclose(fit.mean, res.forecast(3), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(fit.resid, res.resid, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(fit.psi, phi ** np.arange(3), rtol=1e-12)
        assert fit.sigma2 == pytest.approx(sigma2 * n / (n - 2), rel=1e-12) and fit.df == n - 2
        compared += 1
    assert compared >= 50


def test_constant_series_choose_as_with_arima(monkeypatch: pytest.MonkeyPatch) -> None:
    """A flat history (a share clipped at 100%, counts all zero) picks the model it picked with
    ``ARIMA``: statsmodels gives the flat AR(1) a likelihood of 0, the closed form would be unbounded."""
    import warnings

    from statsmodels.tsa.arima.model import ARIMA

    def arima_ar1(z: np.ndarray, h: int, start: object = None) -> fm.Fit:
        res = ARIMA(z, order=(1, 0, 0), trend="c").fit(method="yule_walker")
        n = len(z)
        return fm.Fit("ARIMA(1,0,0)", float(res.aicc), np.asarray(res.forecast(h), dtype=float),
                      float(res.params[1]) ** np.arange(h), float(res.params[-1]) * n / (n - 2), n - 2)

    def chosen(z: np.ndarray) -> str:
        try:
            return fm.choose(z, 3).name
        except ValueError:  # no candidate (all zero: ETS's likelihood infinite, ARIMA's estimates NaN)
            return "none"

    cases = [np.full(n, v) for n in (12, 24, 36) for v in (0.0, 6.9068, -3.0, 1e-3, 250.0)]
    ours = [chosen(z) for z in cases]
    monkeypatch.setitem(fm.CANDIDATES, "ARIMA(1,0,0)", arima_ar1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = [chosen(z) for z in cases]
    assert ours == theirs and "ARIMA(1,0,0)" not in ours
    with pytest.raises(ValueError):
        fm._ar1(np.array([1.0, 2.0, 1.5, 1.7]), 3)  # AICc's correction undefined: refused, not divided by 0


def test_quarter_combines_known_and_forecast_months_by_volume() -> None:
    """History to August: Q3 is July and August as known (weights 100 and 300) and September forecast
    (weight: the mean of the last three months); a quantile of the quarter is that of September
    mapped through the weighted mean (monotone), up to the simulation's error."""
    rng = np.random.default_rng(5)
    hist = _frame(_ar1(rng, LENGTH), end=date(2026, 8, 1))
    hist.loc[hist.index[-2], "weight"] = 100.0
    hist.loc[hist.index[-1], "weight"] = 300.0
    out = fc.forecast_series(hist, "csat", "quarter", {date(2026, 7, 1): 10.0}, bounds=(None, None))
    q3 = out.periods.iloc[0]
    assert (q3["period"], q3["known"]) == ("2026 Q3", 2)
    assert list(out.periods["period"]) == ["2026 Q3", "2026 Q4", "2027 Q1"]
    w_sep = hist["weight"].tail(3).mean()
    known = hist["value"].iloc[-2] * 100 + hist["value"].iloc[-1] * 300
    sep = out.months.iloc[0]
    for col in ("value", "lower80", "upper80", "lower95", "upper95"):
        expected = (known + sep[col] * w_sep) / (400 + w_sep)
        assert q3[col] == pytest.approx(expected, abs=0.05 * (sep["upper95"] - sep["lower95"]) * w_sep / (400 + w_sep))
    assert pd.isna(out.periods["target"].iloc[1]) and out.periods["verdict"].iloc[1] == "no_target"


def test_lower_is_better_turns_the_probability() -> None:
    rng = np.random.default_rng(9)
    hist = _frame(np.clip(_ar1(rng, LENGTH, mean=20.0), 0.1, None))
    nxt = date(2026, 9, 1)
    hi = fc.forecast_series(hist, "complaint_rate", "month", {nxt: 1000.0}).periods["p_meet"].iloc[0]
    lo = fc.forecast_series(hist, "complaint_rate", "month", {nxt: 0.001}).periods["p_meet"].iloc[0]
    assert hi == 1.0 and lo == 0.0  # complaint rate: lower is better, far above the path is met


def test_bounded_metrics_stay_in_bounds() -> None:
    rng = np.random.default_rng(11)
    share = np.clip(0.985 + np.cumsum(rng.normal(0, 0.006, LENGTH)), 0, 1)  # a share near its ceiling
    out = fc.forecast_series(_frame(share), "sla_resolution_compliance", "quarter", {date(2026, 7, 1): 0.99})
    cols = ["value", "lower80", "upper80", "lower95", "upper95"]
    assert out.months[cols].to_numpy().min() >= 0 and out.months[cols].to_numpy().max() <= 1
    assert out.periods[cols].to_numpy().max() <= 1
    rate = np.abs(rng.normal(0.002, 0.002, LENGTH))  # a rate near zero
    r = fc.forecast_series(_frame(rate), "churn_rate", "month")
    assert r.months[cols].to_numpy().min() >= 0
    nps = np.clip(-95 + rng.normal(0, 4, LENGTH), -100, 100)
    n = fc.forecast_series(_frame(nps), "nps", "month")
    assert n.months[cols].to_numpy().min() >= -100


def test_short_history_gives_the_reason() -> None:
    out = fc.forecast_series(_frame(np.arange(fc.MIN_MONTHS - 1, dtype=float) + 1), "csat", "quarter")
    assert out.reason == "too_short" and out.months.empty and out.periods.empty
    # a gap (a month without observations) starts the usable run again
    values = np.r_[np.full(20, 0.8), np.nan, np.full(fc.MIN_MONTHS - 1, 0.8)]
    assert fc.forecast_series(_frame(values), "csat", "quarter").reason == "too_short"
    ok = fc.forecast_series(_frame(np.r_[np.nan, 0.8 + np.arange(fc.MIN_MONTHS) / 100]), "csat", "quarter")
    assert ok.reason is None and len(ok.history) == fc.MIN_MONTHS


def test_verdict_thresholds() -> None:
    assert fc.verdict(0.75) == "likely_meet" and fc.verdict(0.25) == "likely_miss"
    assert fc.verdict(0.5) == "uncertain" and fc.verdict(float("nan")) == "no_target"


def test_backtest_counts_and_coverage_on_simulations() -> None:
    rng = np.random.default_rng(2)
    points = fb.backtest_series(_frame(_ar1(rng, 30)), "csat", bounds=(None, None))
    # the whole history: origins 12 … 29 (18), horizons up to 3 but not past the data: 18*3 - (2 + 1)
    assert len(points) == 51 and set(points["horizon"]) == {1, 2, 3}
    assert list(points["calibrated"].groupby(points["origin"]).first()) == [False] * 8 + [True] * 10  # 20+ months
    last12 = fb.backtest_series(_frame(_ar1(rng, 30)), "csat", origins=12, bounds=(None, None))
    assert len(last12) == 33 and last12["origin"].nunique() == 12
    s = fb.backtest_summary(points)
    assert s["n"] == 51 and 0 <= s["cover80"] <= s["cover95"] <= 1 and s["mae"] > 0
    assert s["mae"] == pytest.approx((points["actual"] - points["forecast"]).abs().mean())
    assert fb.backtest_summary(fb.backtest_series(_frame(_ar1(rng, 12)), "csat"))["n"] == 0


def test_backtest_skips_an_origin_no_model_fits() -> None:
    """A flat zero history cannot be fitted (choose raises, a forecast says no_fit): the back-test
    skips those origins instead of raising, and keeps the origins that can be fitted."""
    values = np.concatenate([np.zeros(15), _ar1(np.random.default_rng(5), 5)])
    with pytest.raises(ValueError):
        fm.choose(np.zeros(12), 3)
    points = fb.backtest_series(_frame(values), "csat", bounds=(None, None))
    months = _frame(values)["month"]
    # origins 12 … 15 train on zeros only and are skipped; 16 … 19 remain
    assert set(points["origin"]) <= set(months.iloc[16:]) and len(points) > 0
    assert fb.backtest_summary(fb.backtest_series(_frame(np.zeros(20)), "csat", bounds=(None, None)))["n"] == 0


@pytest.fixture(scope="module")
def demo(duckdb_url: str) -> tuple[Warehouse, Filters]:
    wh = Warehouse.open(duckdb_url, read_only=True)
    start, end = preset_period("last_quarter", wh.data_span()[1])
    return wh, Filters(start, end)


def test_demo_forecast_and_backtest(demo: tuple[Warehouse, Filters]) -> None:
    wh, f = demo
    out = fc.forecast(wh, "sla_resolution_compliance", f)
    assert out.reason is None and out.model and len(out.periods) == 3
    first = out.periods.iloc[0]
    assert first["target"] == pytest.approx(0.95) and 0 <= first["p_meet"] <= 1
    last = fc.last_complete_month(wh.as_of())  # the months of the quarter up to it are known
    assert first["known"] == (last.month - 1) % 3 + 1 if last.month % 3 else first["known"] == 0
    assert (out.periods["lower95"] <= out.periods["lower80"]).all()
    per = out.periods
    assert (per["lower80"] <= per["value"]).all() and (per["value"] <= per["upper80"]).all()
    s = fb.backtest(wh, "sla_resolution_compliance", f)
    assert s["n"] > 0 and 0 <= s["cover80"] <= 1 and 0 <= s["cover95"] <= 1 and s["mae"] > 0
    monthly = fc.forecast(wh, "csat", f.with_(start=f.end.replace(day=1)))
    assert monthly.kind == "month" and list(monthly.periods["known"]) == [0, 0, 0]


def test_card_line_in_both_languages() -> None:
    from metrics.present import forecast_text as ft

    periods = pd.DataFrame([{"period": "2026 Q4", "start": pd.Timestamp("2026-10-01"), "known": 1, "value": 0.93,
                             "lower80": 0.92, "upper80": 0.94, "lower95": 0.91, "upper95": 0.95, "target": 0.95,
                             "p_meet": 0.23, "verdict": fc.verdict(0.23)}])
    out = fc.Forecast("sla_resolution_compliance", "quarter", model="ETS(A,N,N)", periods=periods,
                      history=pd.DataFrame({"month": range(30)}), higher_is_better=True)
    assert ft.card_line(out, "en") == "likely to miss: 23% chance of reaching 95%"
    assert ft.card_line(out, "zh") == "可能达不到目标：达到 95% 的概率为 23%"
    assert "2026年第4季度" in ft.period_sentence(out, "SLA", "zh")
    assert "91.0% – 95.0%" in ft.period_sentence(out, "SLA", "en")
    assert ft.fmt_chance(0.001) == "<1%" and ft.fmt_chance(0.999) == ">99%"
    short = fc.Forecast("csat", "quarter", reason="too_short", history=pd.DataFrame({"month": range(5)}))
    expected = f"No forecast: 5 months of continuous history, at least {fc.MIN_MONTHS} are needed"
    assert ft.card_line(short, "en") == expected


def test_months_without_rows_are_gaps(demo: tuple[Warehouse, Filters]) -> None:
    """A slice with months that have no rows at all: the series has every month up to the last complete
    one, the missing ones NaN (the forecast uses the run after the last of them)."""
    wh, f = demo
    series = fc.monthly_series(wh, "csat", f)
    months = pd.to_datetime(series["month"])
    assert (months.diff().dropna().dt.days.between(28, 31)).all()
    assert months.iloc[-1] == pd.Timestamp(fc.last_complete_month(wh.as_of()))
    small = wh.regions().sort_values("region_id")["region_id"].iloc[-1]  # a district: sparse months
    narrow = f.with_(regions=(int(small),), channels=("hotline",))
    sparse = fc.monthly_series(wh, "csat", narrow)
    gaps = pd.to_datetime(sparse["month"]).diff().dropna().dt.days
    assert gaps.between(28, 31).all() and sparse["value"].isna().any()
    out = fc.forecast(wh, "csat", narrow)
    assert out.reason == "too_short" and out.months.empty  # no run of 12 months: a reason, no forecast


# -- the band calibrated on the series' own back-test -------------------------------------------
def _level_shift(rng: np.random.Generator, n: int) -> np.ndarray:
    """AR(1) noise (phi 0.3) with one level shift of 2–4 noise standard deviations, up or down, at a
    random month of the second half: the kind of break the demo plants in its last months."""
    y = _ar1(rng, n, phi=0.3)
    y[rng.integers(n // 2, n):] += rng.choice([-1.0, 1.0]) * rng.uniform(2, 4)
    return y


SHIFT_SERIES = 30


def _shift_coverage(seed: int) -> tuple[np.ndarray, int]:
    """Per series, the 80% band's coverage over the last 12 origins' back-test of :data:`SHIFT_SERIES`
    level-shift series, and the number of points."""
    rng = np.random.default_rng(seed)
    covers, n = [], 0
    for _ in range(SHIFT_SERIES):
        points = fb.backtest_series(_frame(_level_shift(rng, LENGTH)), "csat", origins=12, bounds=(None, None))
        covers.append(points["in80"].mean())
        n += len(points)
    return np.array(covers), n


def test_calibrated_band_keeps_its_promise_on_level_shifts(monkeypatch: pytest.MonkeyPatch) -> None:
    """On series with a level shift the model's own 80% band covers too little in the back-test (the
    shift is a break the model does not foresee); the band calibrated on the series' own back-test
    covers 80% within the tolerance (3 binomial s.e. over the series, plus 0.03), n reported, and more
    than the model's own band on the same series by over 3 standard errors of the paired difference.
    The back-test reruns the whole procedure, the calibration on the months before each origin
    included (the last 12 origins of 36 months: every one has 8+ errors to calibrate on)."""
    calibrated, n = _shift_coverage(11)
    assert abs(calibrated.mean() - 0.80) <= _tolerance(0.80, SHIFT_SERIES), (calibrated.mean(), n)
    monkeypatch.setattr(fm, "CALIBRATION_MIN", 10**6)  # no origin has enough errors: the model's own band
    own, _ = _shift_coverage(11)
    gain = calibrated - own
    assert own.mean() < 0.75 and gain.mean() > 3 * gain.std(ddof=1) / np.sqrt(SHIFT_SERIES), (own.mean(), gain)


def test_calibration_falls_back_to_the_model_band_on_a_short_history() -> None:
    """Fewer than CALIBRATION_MIN back-test errors at the first horizon (a history shorter than
    MIN_MONTHS + CALIBRATION_MIN months): the model's own band, said by calibration_n 0."""
    rng = np.random.default_rng(4)
    short = fc.forecast_series(_frame(_ar1(rng, fc.MIN_MONTHS + fm.CALIBRATION_MIN - 1)), "csat", "month",
                               bounds=(None, None))
    assert short.calibration_n == 0 and short.widen == []
    long = fc.forecast_series(_frame(_ar1(rng, fc.MIN_MONTHS + fm.CALIBRATION_MIN)), "csat", "month",
                              bounds=(None, None))
    assert long.calibration_n == fm.CALIBRATION_MIN and len(long.widen) == len(long.months)


def test_calibration_widens_bands_and_the_chance_together() -> None:
    """The simulated paths behind the chance of meeting the target use the calibrated distribution:
    the 80% band of the paths' first month equals the calibrated band (to simulation error)."""
    y = _level_shift(np.random.default_rng(8), LENGTH)
    out = fc.forecast_series(_frame(y), "csat", "month", bounds=(None, None))
    assert out.calibration_n > 0
    first = out.months.iloc[0]
    period = out.periods.iloc[0]  # a month's period is that month: its quantiles come from the paths
    width = first["upper80"] - first["lower80"]
    assert period["upper80"] - period["lower80"] == pytest.approx(width, rel=0.06)


DEMO_SERIES = ("csat", "nps", "complaint_rate", "sla_resolution_compliance", "fcr_rate", "churn_rate")


def test_demo_monthly_series_calibrated_coverage(demo: tuple[Warehouse, Filters]) -> None:
    """The demo's six monthly series, back-tested over their whole history (origins from the 12th
    month on, 1–3 months ahead): before the planted deterioration (Dongjiang's ramp over the last
    three calendar months before the data's end, :func:`metrics.demo.model.quarter_start`) the 80%
    and 95% bands cover 80% and 95% within 3 binomial s.e. counted over the origins (the independent
    units: the points of one origin share a fit) plus 0.03. The outcomes in the ramp, which no model
    of the months before it foresees, are covered less often, and once the ramp is in the history the
    calibration widens the next forecast's band beyond the model's own."""
    from metrics.demo.model import quarter_start
    from metrics.demo.util import Clock

    wh, f = demo
    ramp = pd.Timestamp(quarter_start(Clock(wh.data_span()[0], wh.as_of())))
    points = pd.concat([fb.backtest_series(fc.monthly_series(wh, m, f), m).assign(metric=m) for m in DEMO_SERIES])
    months = points["origin"].to_numpy(dtype="datetime64[M]") + (points["horizon"].to_numpy() - 1)
    target = pd.Series(months.astype("datetime64[ns]"), index=points.index)
    before, during = points[target < ramp], points[target >= ramp]
    origins = before.groupby(["metric", "origin"]).ngroups
    assert len(before) >= 6 * 30 and origins >= 6 * 12, (len(before), origins)
    assert abs(before["in80"].mean() - 0.80) <= _tolerance(0.80, origins), (before["in80"].mean(), len(before))
    assert abs(before["in95"].mean() - 0.95) <= _tolerance(0.95, origins), (before["in95"].mean(), len(before))
    assert len(during) > 0 and during["in80"].mean() < before["in80"].mean()
    assert fc.forecast(wh, "csat", f).widen[0] > 1  # the ramp's months in the history widen the band


class _MonthlyStub:
    """A warehouse answering one metric by month (every month 2025-01 … 2026-06 observed, n 100) with a
    first record of its source on ``first`` — what :func:`fc.monthly_series` reads, nothing else."""

    def __init__(self, first: date) -> None:
        self.first = first

    def resolve_as_of(self, f: Filters) -> date:
        return date(2026, 6, 30)

    def metric(self, metric_id: str, f: Filters, by: tuple) -> pd.DataFrame:
        months = pd.date_range("2025-01-01", "2026-06-01", freq="MS")
        return pd.DataFrame({"month": months, "value": 0.9, "n": 100.0})

    def first_records(self) -> dict[str, date | None]:
        return {"surveys": self.first, "availability": self.first}


@pytest.mark.parametrize(("first", "gaps"), [(date(2025, 1, 1), 0), (date(2025, 1, 15), 1), (date(2025, 3, 1), 2)])
def test_months_before_the_first_record_are_gaps(first: date, gaps: int) -> None:
    """A month that begins before the source's first record is a gap — the partly recorded first month
    too (its events over part of the month against a whole month's exposure) — for every source alike:
    where availability's records begin (not at its first outage) is comparable.SOURCE_EVENTS' rule,
    tested in test_comparable_availability."""
    f = Filters(date(2026, 4, 1), date(2026, 6, 30))
    series = fc.monthly_series(_MonthlyStub(first), "csat", f)
    assert len(series) == 18 and int(series["value"].isna().sum()) == gaps
    assert series["value"].isna().to_numpy()[:gaps].all() and len(fc.usable(series)) == 18 - gaps
    assert int(fc.monthly_series(_MonthlyStub(first), "availability", f)["value"].isna().sum()) == gaps
