"""Control charts (metrics.analysis.control): textbook limits, the run rules, simulations, min volume."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from metrics.analysis import control


def months(n: int) -> pd.Series:
    return pd.Series(pd.date_range("2020-01-01", periods=n, freq="MS"))


def all_points(n: int) -> tuple:
    p = months(n)
    return p.iloc[0].date(), p.iloc[-1].date()


# Montgomery, Introduction to Statistical Quality Control (6th ed.), Example 7.1: frozen orange-juice
# concentrate cans, 30 samples of n = 50, nonconforming cans per sample (Table 7.1). Published trial
# limits: p̄ = 0.2313, UCL = 0.4102, LCL = 0.0524; samples 15 and 23 plot above the UCL.
ORANGE_JUICE = [12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22, 8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7,
                13, 9, 6]
# Montgomery, Example 7.3: nonconformities in 26 successive samples of 100 printed circuit boards
# (Table 7.7). Published: c̄ = 19.85, UCL = 33.22, LCL = 6.48; samples 6 and 20 plot outside.
CIRCUIT_BOARDS = [21, 24, 16, 12, 15, 5, 28, 20, 31, 25, 20, 24, 16, 19, 10, 17, 13, 22, 18, 39, 30, 24, 16, 19, 17, 15]
# Montgomery, ch. 7, the u-chart with variable sample size (dyed cloth): nonconformities per roll and
# the roll's square metres; an inspection unit is 50 m², ū = 153 / 107.5 = 1.42.
CLOTH_DEFECTS = [14, 12, 20, 11, 7, 10, 21, 16, 19, 23]
CLOTH_M2 = [500, 400, 650, 500, 475, 500, 600, 525, 600, 625]


def test_p_chart_orange_juice_cans() -> None:
    """p-chart limits p̄ ± 3·sqrt(p̄(1 − p̄)/n), hand-computed, and the textbook's published values."""
    d = np.array(ORANGE_JUICE, dtype=float)
    frame = pd.DataFrame({"period": months(30), "value": d / 50, "n": 50.0})
    chart = control.compute(frame, "p", baseline=all_points(30))
    p = d.sum() / 1500
    half = 3 * math.sqrt(p * (1 - p) / 50)
    assert chart.centre == pytest.approx(p)
    assert chart.points["ucl"].to_numpy() == pytest.approx(np.full(30, p + half))
    assert chart.points["lcl"].to_numpy() == pytest.approx(np.full(30, p - half))
    assert (round(p, 4), round(p + half, 4), round(p - half, 4)) == (0.2313, 0.4102, 0.0524)
    beyond = chart.points.index[chart.points["rules"].str.contains("beyond_3sigma")] + 1
    assert list(beyond) == [15, 23]
    assert not chart.in_control


def test_u_chart_circuit_boards() -> None:
    """Constant units: the u-chart is the c-chart c̄ ± 3·sqrt(c̄) (exposure 100 boards, per 100)."""
    c = np.array(CIRCUIT_BOARDS, dtype=float)
    frame = pd.DataFrame({"period": months(26), "events": c, "exposure": 100.0})
    chart = control.compute(frame, "u", baseline=all_points(26), per=100.0)
    cbar = c.sum() / 26
    assert chart.centre == pytest.approx(cbar)
    assert chart.points["ucl"].iloc[0] == pytest.approx(cbar + 3 * math.sqrt(cbar))
    assert chart.points["lcl"].iloc[0] == pytest.approx(cbar - 3 * math.sqrt(cbar))
    # the book rounds c̄ to 19.85 before computing its limits (33.22, 6.48): equal within 0.01
    published = (19.85, 33.22, 6.48)
    assert (cbar, chart.points["ucl"].iloc[0], chart.points["lcl"].iloc[0]) == pytest.approx(published, abs=0.01)
    beyond = chart.points.index[chart.points["rules"].str.contains("beyond_3sigma")] + 1
    assert list(beyond) == [6, 20]


def test_u_chart_limits_vary_with_exposure() -> None:
    """Dyed cloth: ū = Σc / Σa, limits ū ± 3·sqrt(ū / a_i) with a_i = m² / 50; the process in control."""
    c, m2 = np.array(CLOTH_DEFECTS, float), np.array(CLOTH_M2, float)
    frame = pd.DataFrame({"period": months(10), "events": c, "exposure": m2})
    chart = control.compute(frame, "u", baseline=all_points(10), per=50.0)
    a = m2 / 50
    ubar = c.sum() / a.sum()
    assert round(ubar, 2) == 1.42
    assert chart.points["value"].to_numpy() == pytest.approx(c / a)
    assert chart.points["ucl"].to_numpy() == pytest.approx(ubar + 3 * np.sqrt(ubar / a))
    assert chart.points["lcl"].to_numpy() == pytest.approx(np.maximum(ubar - 3 * np.sqrt(ubar / a), 0))
    assert chart.points["ucl"].nunique() == 7  # seven distinct roll sizes
    assert chart.in_control


def test_individuals_chart_by_hand() -> None:
    """XmR: centre the baseline mean, σ = mean moving range / 1.128, limits ± 3σ."""
    x = np.array([5.1, 4.8, 5.3, 5.0, 4.7, 5.2, 5.4, 4.9, 5.0, 5.1, 5.2, 7.5])
    frame = pd.DataFrame({"period": months(12), "value": x, "n": 100.0})
    chart = control.compute(frame, "xmr", baseline=(months(12).iloc[0].date(), months(12).iloc[10].date()))
    base = x[:11]
    sigma = np.abs(np.diff(base)).mean() / 1.128
    assert chart.centre == pytest.approx(base.mean())
    assert chart.points["ucl"].iloc[0] == pytest.approx(base.mean() + 3 * sigma)
    assert chart.points["lcl"].iloc[0] == pytest.approx(base.mean() - 3 * sigma)
    assert chart.points["rules"].iloc[-1] == "beyond_3sigma"
    assert chart.points["signal"].sum() == 1
    assert chart.baseline == (months(12).iloc[0].date(), months(12).iloc[10].date())


def test_default_baseline_leaves_out_the_last_six() -> None:
    assert control.default_baseline(months(24)).tolist() == [True] * 18 + [False] * 6
    assert control.default_baseline(months(10)).all()  # 4 left would be too few: all points


@pytest.mark.parametrize(("z", "rule", "where"), [
    ([0, 0, 3.2, 0], "beyond_3sigma", [2]),
    ([0, -3.1, 0], "beyond_3sigma", [1]),
    ([0, 2.5, 0.3, 2.2, 0], "two_of_three_2sigma", [3]),
    ([0, 2.5, -2.5, 0.1], "two_of_three_2sigma", []),  # opposite sides
    ([2.5, 0, 0, 2.5], "two_of_three_2sigma", []),  # not within three
    ([0.1] * 8 + [-0.1], "eight_one_side", [7]),
    ([-0.2] * 9, "eight_one_side", [7, 8]),
    ([0.1] * 7, "eight_one_side", []),
    ([-1, -0.5, 0, 0.4, 0.9, 1.2, 1.0], "six_trend", [5]),
    ([1, 0.8, 0.5, 0.1, -0.2, -0.9], "six_trend", [5]),
    ([-1, -0.5, 0, 0.4, 0.9], "six_trend", []),
])
def test_run_rules(z: list[float], rule: str, where: list[int]) -> None:
    fired = control.run_rules(np.array(z, dtype=float))
    assert list(np.flatnonzero(fired[rule])) == where


def test_a_missing_point_breaks_runs() -> None:
    z = np.array([0.1] * 4 + [np.nan] + [0.1] * 4)
    assert not control.run_rules(z)["eight_one_side"].any()


def test_points_below_min_n_never_signal() -> None:
    """A point far above the limits signals with 40 observations, not with 20 (min_n 30)."""
    base = pd.DataFrame({"period": months(20), "value": 0.10, "n": 1000.0})
    for n, signals in ((20.0, False), (40.0, True)):
        frame = base.copy()
        frame.loc[19, ["value", "n"]] = [0.9, n]
        chart = control.compute(frame, "p")
        assert bool(chart.points["signal"].iloc[-1]) is signals
        assert bool(np.isnan(chart.points["z"].iloc[-1])) is (not signals)
    assert control.compute(frame, "p", min_n=50).in_control


def _p_process(rng: np.random.Generator, n_points: int, shift_at: int | None = None, shift: float = 0.0):
    n = rng.integers(200, 800, n_points).astype(float)
    p = np.full(n_points, 0.10)
    if shift_at is not None:
        p[shift_at:] += shift
    return pd.DataFrame({"period": months(n_points), "value": rng.binomial(n.astype(int), p) / n, "n": n})


def test_stable_process_false_alarms_within_theory() -> None:
    """A stable binomial process with varying n: the share of points on which any rule fires stays
    under the union of the rules' normal-theory rates (3σ 0.0027, 2-of-3 0.0021, 8 on one side
    2·0.5⁸ = 0.0078, 6 trending 2/6! = 0.0028), with room for three Monte-Carlo standard errors."""
    rng = np.random.default_rng(20261206)
    signals = points = 0
    for _ in range(300):
        chart = control.compute(_p_process(rng, 60), "p")
        judged = chart.points.iloc[8:]  # from the ninth point on every rule can fire
        signals += int(judged["signal"].sum())
        points += len(judged)
    rate = signals / points
    p2 = 0.02275
    bound = 0.0027 + 2 * p2 * (1 - (1 - p2) ** 2) + 2 * 0.5 ** 8 + 2 / 720
    assert 0 < rate < bound + 3 * math.sqrt(bound / points)


def test_planted_shift_fires() -> None:
    """p 0.10 → 0.13 over the last six of 60 points (≈ 2σ at n = 500): signals after the shift in
    at least 95% of 100 simulated charts, and the chart says it is out of control."""
    rng = np.random.default_rng(7)
    caught = 0
    for _ in range(100):
        frame = _p_process(rng, 60, shift_at=54, shift=0.03)
        chart = control.compute(frame, "p")
        caught += bool(chart.points["signal"].iloc[54:].any())
    assert caught >= 95


def test_u_chart_shift_and_stable() -> None:
    """Complaints per 1,000 customer-months: a rate tripled in the last quarter fires, a stable one
    of 24 months mostly does not."""
    rng = np.random.default_rng(3)
    exposure = rng.uniform(1500, 2300, 24)
    rate = np.full(24, 30 / 1000)
    stable = pd.DataFrame({"period": months(24), "events": rng.poisson(rate * exposure), "exposure": exposure})
    rate[-3:] *= 3
    shifted = stable.assign(events=rng.poisson(rate * exposure))
    chart = control.compute(shifted, "u", per=1000.0)
    assert chart.points["signal"].iloc[-3:].all()
    assert chart.centre == pytest.approx(shifted["events"][:18].sum() / (shifted["exposure"][:18].sum() / 1000))
    assert not control.compute(stable, "u", per=1000.0).points["signal"].iloc[-1]


def test_chart_kind_from_the_registry() -> None:
    assert control.chart_kind("complaint_rate") == "u"
    assert control.chart_kind("churn_rate") == "p"
    assert control.chart_kind("csat") == "p"
    assert control.chart_kind("resolution_hours_median") == "xmr"


def test_chart_figure() -> None:
    """The figure: limits step with the volume, centre flat, the signalled points marked, the subtitle
    saying in or out of control (metrics.present.charts.control)."""
    import json

    from metrics.model.i18n import t
    from metrics.present.charts.control import control_chart

    d = np.array(ORANGE_JUICE, dtype=float)
    n = np.where(np.arange(30) % 2 == 0, 50.0, 80.0)
    chart = control.compute(pd.DataFrame({"period": months(30), "value": d / 50, "n": n}), "p",
                            baseline=all_points(30))
    fig = json.loads(control_chart(chart.points, "share", "en", "Cans", "Line 1", kind="p",
                                   baseline=chart.baseline, min_n=30).to_json())
    traces = {tr["name"]: tr for tr in fig["data"]}
    upper = [tr for tr in fig["data"] if tr["name"] == t("alerts.limits", "en")][0]
    assert upper["y"] == pytest.approx(list(100 * chart.points["ucl"])) and len(set(upper["y"])) == 2
    assert traces[t("alerts.centre", "en")]["y"] == pytest.approx([100 * chart.centre] * 30)
    marked = traces[t("alerts.signal_points", "en")]
    assert len(marked["x"]) == int(chart.points["signal"].sum()) > 0
    title = fig["layout"]["title"]["text"]
    assert "Out of control: " in title and "beyond 3σ" in title and "fewer than 30 observations" in title
    calm = control.compute(pd.DataFrame({"period": months(12), "value": 0.2, "n": 100.0}), "p")
    calm_fig = control_chart(calm.points, "share", "zh", "罐", "一号线", kind="p")
    assert "受控：没有判异规则触发。" in calm_fig.layout.title.text
    assert t("alerts.signal_points", "zh") not in {tr.name for tr in calm_fig.data}
