"""metrics.analysis.stats against published values and independent implementations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from metrics.analysis import stats


def test_wilson_matches_newcombe_1998_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857-872, Table I, 81/263: 0.2553 to 0.3662 (method 3)
    lo, hi = stats.wilson(81, 263)
    assert lo == pytest.approx(0.2553, abs=5e-5)
    assert hi == pytest.approx(0.3662, abs=5e-5)


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 10), (5, 10), (10, 10), (15, 148), (0, 1), (29, 30)])
def test_wilson_matches_statsmodels(k: int, n: int) -> None:
    lo, hi = stats.wilson(k, n)
    want = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert (lo, hi) == pytest.approx(want, abs=1e-12)


def test_wilson_is_vectorised_and_nan_for_no_trials() -> None:
    lo, hi = stats.wilson(np.array([0, 3, 0]), np.array([5, 9, 0]))
    assert lo.shape == (3,) and np.isnan(lo[2]) and np.isnan(hi[2])
    assert lo[0] == 0 and 0 < hi[0] < 1 and lo[1] < 3 / 9 < hi[1]


# Garwood (1936) exact 95% limits for a Poisson count, as tabulated e.g. by Ulm (1990), Am J Epidemiol
# 131:373: k=0: 0–3.689; k=1: 0.0253–5.572; k=10: 4.795–18.39.
@pytest.mark.parametrize(("k", "lower", "upper"), [(0, 0.0, 3.6889), (1, 0.0253, 5.5716), (10, 4.7954, 18.3904)])
def test_garwood_exact_poisson_limits(k: int, lower: float, upper: float) -> None:
    lo, hi = stats.poisson_rate_interval(k, 1.0)
    assert lo == pytest.approx(lower, abs=1e-4)
    assert hi == pytest.approx(upper, abs=1e-4)


def test_poisson_rate_interval_scales_with_exposure_and_factor() -> None:
    lo, hi = stats.poisson_rate_interval(10, 2000.0, scale=1000.0)  # per 1,000 customer-months
    assert lo == pytest.approx(4.7954 / 2, abs=1e-4) and hi == pytest.approx(18.3904 / 2, abs=1e-4)


def test_mean_interval_equals_scipy_t_interval() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(1, 6, 57).astype(float)
    lo, hi = stats.mean_interval(x.sum(), (x * x).sum(), len(x))
    want = sps.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=sps.sem(x))
    assert (lo, hi) == pytest.approx(want, rel=1e-10)
    lo1, hi1 = stats.mean_interval(4.0, 16.0, 1)  # one answer: no interval
    assert np.isnan(lo1) and np.isnan(hi1)


def test_nps_interval_is_the_normal_interval_of_the_plus_minus_one_score() -> None:
    scores = np.array([1] * 50 + [0] * 30 + [-1] * 20, float)  # 50 promoters, 20 detractors, n = 100
    lo, hi = stats.nps_interval(50, 20, 100)
    half = sps.norm.ppf(0.975) * scores.std(ddof=0) / np.sqrt(len(scores))
    assert lo == pytest.approx(100 * (scores.mean() - half), rel=1e-12)
    assert hi == pytest.approx(100 * (scores.mean() + half), rel=1e-12)
    assert (lo + hi) / 2 == pytest.approx(30.0)


def test_nps_interval_sanity() -> None:
    lo, hi = stats.nps_interval(10, 0, 10)  # all promoters: no variance, clipped to the scale
    assert lo == hi == 100.0
    lo, hi = stats.nps_interval(np.array([0, 400]), np.array([1, 100]), np.array([1, 1000]))
    assert lo[0] == hi[0] == -100.0
    assert -100 <= lo[1] < 30 < hi[1] <= 100
    narrow = stats.nps_interval(4000, 1000, 10000)
    assert narrow[1] - narrow[0] < hi[1] - lo[1]  # ten times the answers: a narrower interval


def test_holm_matches_statsmodels() -> None:
    rng = np.random.default_rng(5)
    for p in ([0.01, 0.04, 0.03, 0.005], rng.uniform(0, 0.2, 12), [0.5], [0.02, 0.02, 0.9]):
        want = multipletests(p, method="holm")[1]
        np.testing.assert_allclose(stats.holm(p), want, rtol=1e-12)


def test_two_proportion_p_matches_a_chi_square_test() -> None:
    table = np.array([[45, 55], [30, 70]])
    chi2, p, _, _ = sps.chi2_contingency(table, correction=False)
    assert stats.two_proportion_p(45, 100, 30, 100) == pytest.approx(p, rel=1e-10)


def test_annualise() -> None:
    assert stats.annualise(0.01) == pytest.approx(1 - 0.99**12)
    assert stats.annualise(0.0) == 0.0


def test_cox_score_residuals_equal_statsmodels() -> None:
    """Vectorised Breslow score residuals = statsmodels' PHReg (which loops over event times), with ties."""
    import statsmodels.api as sm

    rng = np.random.default_rng(11)
    x = np.column_stack([rng.normal(size=3000), rng.integers(0, 2, 3000), rng.poisson(2, 3000)]).astype(float)
    days = np.minimum(rng.integers(1, 60, 3000), 45).astype(float)  # many ties, and censoring at 45
    event = (days < 45).astype(int)
    beta = np.array([0.3, -0.5, 0.1])
    ref = sm.PHReg(days, x, status=event, ties="breslow").score_residuals(beta)
    np.testing.assert_allclose(stats.cox_score_residuals(x, days, event, beta), ref, rtol=1e-9, atol=1e-9)
