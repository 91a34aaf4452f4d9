"""Did the retention actions work (metrics.churn.action_effect): a published Newcombe interval, coverage
of the true difference on simulated trials with a known effect, Kaplan–Meier and log-rank against
lifelines, customers needed to treat by hand, the demo's planted effect recovered, and the scope."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.statistics import logrank_test

from metrics.access.users import Scope
from metrics.churn import action_effect as ae
from metrics.demo import retention
from metrics.model.filters import Filters


def _trial(rng: np.random.Generator, n_t: int, n_h: int, p_t: float, p_h: float) -> pd.DataFrame:
    """Rows of a simulated trial: 90-day churn p_t (treated) and p_h (holdout), times uniform in 1..180
    days for those who left within 180 days (twice the 90-day chance), censored at 180 otherwise."""
    arm = np.array(["treated"] * n_t + ["holdout"] * n_h, dtype=object)
    p = np.where(arm == "treated", p_t, p_h)
    left180 = rng.random(len(arm)) < np.minimum(2 * p, 1)
    day = rng.integers(1, 181, len(arm))
    duration = np.where(left180, day, 180)
    # left within 90 days exactly with probability p: half of the 180-day leavers fall in 1..90
    return pd.DataFrame({
        "action_id": np.arange(len(arm)), "customer_id": np.arange(len(arm)), "action_type": "care_visit",
        "arm": arm, "risk_decile": 7, "risk_band": "mid", "cost": 100.0, "monthly_revenue": 500.0,
        "duration_days": duration, "event": left180, "left_90": left180 & (duration <= 90), "followed_90": True})


def test_newcombe_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, Table II: 56/70 − 48/80, method 10: 0.0524 to 0.3339
    d, lo, hi = ae.newcombe(56, 70, 48, 80)
    assert d == pytest.approx(0.2)
    assert lo == pytest.approx(0.0524, abs=5e-5) and hi == pytest.approx(0.3339, abs=5e-5)


def test_interval_covers_the_true_difference_in_about_95_percent_of_seeds() -> None:
    # 200 simulated trials, true difference 0.20 − 0.30 = −0.10; coverage ~ Binomial(200, 0.95):
    # mean 190, sd 3.1; accepted 181–199 (±3 sd, and never all 200: an interval too wide fails too)
    covered = 0
    for seed in range(200):
        r = ae.effect(_trial(np.random.default_rng(seed), 900, 100, 0.20, 0.30), by=[]).iloc[0]
        covered += r["diff_low"] <= -0.10 <= r["diff_high"]
    assert 181 <= covered <= 199, covered


def test_kaplan_meier_and_log_rank_equal_lifelines() -> None:
    rows = _trial(np.random.default_rng(3), 300, 80, 0.15, 0.3)
    curves = ae.km_curves(rows)
    for arm, d in rows.groupby("arm"):
        kmf = KaplanMeierFitter().fit(d["duration_days"], d["event"])
        cv = curves[curves["group"] == arm].set_index("time_days")
        times = cv.index.to_numpy(float)
        np.testing.assert_allclose(kmf.survival_function_.iloc[:, 0].reindex(times), cv["survival"], atol=1e-9)
        ci = kmf.confidence_interval_.reindex(times)
        np.testing.assert_allclose(ci.iloc[:, 0], cv["lower"], atol=1e-9)
        np.testing.assert_allclose(ci.iloc[:, 1], cv["upper"], atol=1e-9)
    t, h = rows[rows["arm"] == "treated"], rows[rows["arm"] == "holdout"]
    ref = logrank_test(t["duration_days"], h["duration_days"], t["event"], h["event"])
    got = ae.effect(rows, by=[]).iloc[0]
    assert got["logrank_p"] == pytest.approx(ref.p_value, rel=1e-9)


def test_customers_needed_to_treat_revenue_and_cost_by_hand() -> None:
    rows = _trial(np.random.default_rng(0), 10, 10, 0, 0)
    n = 1000
    rows = pd.concat([rows.iloc[:1]] * 2 * n, ignore_index=True)
    rows["arm"] = ["treated"] * n + ["holdout"] * n
    rows["customer_id"] = np.arange(2 * n)
    rows["left_90"] = np.r_[np.arange(n) < 200, np.arange(n) < 300]  # 20% against 30%
    r = ae.effect(rows, by=[]).iloc[0]
    d, lo, hi = ae.newcombe(200, n, 300, n)
    assert r["difference"] == pytest.approx(-0.1) and hi < 0 and not r["too_small"]
    assert r["nnt"] == pytest.approx(10.0)
    assert (r["nnt_low"], r["nnt_high"]) == (pytest.approx(-1 / lo), pytest.approx(-1 / hi))
    assert r["customers_kept"] == pytest.approx(100.0)  # 1,000 treated × 0.1
    assert r["revenue_kept"] == pytest.approx(100 * 500 * ae.REVENUE_MONTHS)
    assert r["cost"] == pytest.approx(n * 100.0) and r["net"] == pytest.approx(100 * 500 * 12 - n * 100.0)
    assert r["revenue_kept_low"] == pytest.approx(n * -hi * 500 * 12)


def test_customers_kept_count_only_the_treated_with_a_90_day_outcome() -> None:
    """500 treated customers too recent to have a 90-day outcome do not add customers kept."""
    rows = _trial(np.random.default_rng(0), 10, 10, 0, 0)
    n, recent = 1000, 500
    rows = pd.concat([rows.iloc[:1]] * (2 * n + recent), ignore_index=True)
    rows["arm"] = ["treated"] * n + ["holdout"] * n + ["treated"] * recent
    rows["customer_id"] = np.arange(len(rows))
    rows["left_90"] = np.r_[np.arange(n) < 200, np.arange(n) < 300, np.zeros(recent, bool)]
    rows["followed_90"] = np.r_[np.ones(2 * n, bool), np.zeros(recent, bool)]
    r = ae.effect(rows, by=[]).iloc[0]
    assert r["n_treated"] == n and r["too_recent"] == recent
    assert r["customers_kept"] == pytest.approx(100.0)  # 1,000 × 0.1, not 1,500 × 0.1
    assert r["revenue_kept"] == pytest.approx(100 * 500 * ae.REVENUE_MONTHS)


def test_a_small_holdout_cannot_tell() -> None:
    r = ae.effect(_trial(np.random.default_rng(1), 200, 12, 0.1, 0.2), by=[]).iloc[0]
    assert r["too_small"] and r["n_holdout"] == 12
    assert pd.isna(r["nnt"])  # the interval includes 0: no number needed to treat


def test_rows_follow_up_from_creation() -> None:
    df = pd.DataFrame({"action_id": [1, 2, 3], "customer_id": [1, 2, 3], "action_type": "call",
                       "arm": ["treated", "holdout", "treated"], "risk_decile": [6, 9, 3], "cost": [20.0, None, 20.0],
                       "monthly_revenue": [100.0, 200.0, 50.0],
                       "created_date": pd.to_datetime(["2026-01-01", "2026-01-01", "2026-03-20"]),
                       "end_date": pd.to_datetime(["2026-02-15", "2026-06-01", None])})
    rows = ae.rows_from(df, date(2026, 4, 30))
    assert rows["duration_days"].tolist() == [45, 119, 41]
    assert rows["event"].tolist() == [True, False, False]  # left after the as-of date: censored
    assert rows["left_90"].tolist() == [True, False, False]
    assert rows["followed_90"].tolist() == [True, True, False]  # 41 days of follow-up: too recent
    assert rows["risk_band"].tolist() == ["mid", "high", "low"]


def test_an_action_created_after_the_customer_left_is_left_out(duckdb_url: str, tmp_path) -> None:  # noqa: ANN001
    """A customer who had left before the action was created is not counted as churned at day 0."""
    import shutil
    from pathlib import Path

    import sqlalchemy as sa

    from metrics.backends.connect import make_engine
    from metrics.model import schema
    from metrics.query.warehouse import Warehouse

    dst = tmp_path / "sw.duckdb"
    shutil.copy(Path(sa.engine.make_url(duckdb_url).database or ""), dst)
    c, a = schema.customers, schema.retention_actions
    eng = make_engine(f"duckdb:///{dst}")
    with eng.begin() as conn:
        cid, end = conn.execute(sa.select(c.c.customer_id, c.c.end_date).where(c.c.end_date.is_not(None))
                                .order_by(c.c.end_date).limit(1)).one()
        aid = int(conn.execute(sa.select(sa.func.max(a.c.action_id))).scalar_one()) + 1
        conn.execute(a.insert(), [
            {"action_id": aid, "customer_id": cid, "action_type": "call", "created_date": end + pd.Timedelta(days=10),
             "due_date": end + pd.Timedelta(days=20), "status": "open", "arm": "treated"},
            {"action_id": aid + 1, "customer_id": cid, "action_type": "call", "created_date": end,
             "due_date": end + pd.Timedelta(days=20), "status": "open", "arm": "treated"}])
    eng.dispose()
    wh = Warehouse.open(f"duckdb:///{dst}")
    rows = ae.action_rows(wh, Filters(start=date(2024, 5, 1), end=date(2026, 10, 31)))
    wh.engine.dispose()
    assert aid not in set(rows["action_id"])  # created 10 days after the customer left
    mine = rows[rows["action_id"] == aid + 1].iloc[0]  # created the day they left: an event at day 0
    assert mine["event"] and mine["duration_days"] == 0


def test_the_demo_planted_effect_is_recovered_within_its_interval(wh) -> None:  # noqa: ANN001
    f = Filters(start=date(2024, 5, 1), end=date(2026, 10, 31))
    rows = ae.action_rows(wh, f)
    assert set(rows["arm"]) == {"treated", "holdout"}
    share = (rows["arm"] == "holdout").mean()
    assert 0.07 < share < 0.13  # about 10% held out
    eff = ae.effect(rows, ["action_type", "risk_band"])
    care = eff[eff["action_type"] == "care_visit"]
    assert set(care["risk_band"]) == {"mid", "high"}
    for _, r in care.iterrows():
        part = rows[(rows["action_type"] == "care_visit") & (rows["risk_band"] == r["risk_band"]) & rows["followed_90"]]
        truth = retention.true_difference(part["left_90"].mean(), retention.PLANTED[("care_visit", r["risk_band"])])
        assert r["diff_low"] <= truth <= r["diff_high"], (r["risk_band"], truth, r["diff_low"], r["diff_high"])


def test_an_account_manager_sees_only_their_customers(wh, demo_frames) -> None:  # noqa: ANN001
    cust = demo_frames["customers"]
    acts = demo_frames["retention_actions"].merge(cust[["customer_id", "account_manager_id"]], on="customer_id")
    manager = int(acts["account_manager_id"].dropna().value_counts().index[0])
    f = Filters(start=date(2024, 5, 1), end=date(2026, 10, 31), scope=Scope("am", manager_id=manager))
    rows = ae.action_rows(wh, f)
    assert len(rows) > 0
    assert set(rows["customer_id"]) == set(acts.loc[acts["account_manager_id"] == manager, "customer_id"])
    viewer = Filters(start=date(2024, 5, 1), end=date(2026, 10, 31),
                     scope=Scope("v", aggregates_only=True, min_group_size=10_000))
    eff = ae.action_effect(wh, viewer, ["risk_band"])
    assert eff["withheld"].all() and eff["difference"].isna().all()


def test_curves_per_group_are_the_group_curves() -> None:
    a = _trial(np.random.default_rng(5), 100, 30, 0.1, 0.2)
    b = _trial(np.random.default_rng(6), 100, 30, 0.1, 0.2).assign(risk_band="high")
    rows = pd.concat([a, b], ignore_index=True)
    cv = ae.curves_by(rows, ["risk_band"])
    assert list(cv.columns[:2]) == ["risk_band", "arm"]
    mid = cv[cv["risk_band"] == "mid"].drop(columns="risk_band").reset_index(drop=True)
    pd.testing.assert_frame_equal(mid, ae.km_curves(a).rename(columns={"group": "arm"}), check_dtype=False)


def test_curves_of_a_group_whose_risk_band_is_unknown(duck: str) -> None:
    """Actions without a risk decile form their own group (code ``none``): its curves are those of
    exactly those actions, not empty (a NaN band compared with == matched nothing)."""
    import sqlalchemy as sa

    from metrics.query.warehouse import Warehouse

    eng = sa.create_engine(duck)
    with eng.begin() as conn:
        conn.execute(sa.text("UPDATE retention_actions SET risk_decile = NULL, risk_score = NULL "
                             "WHERE action_type = 'care_visit' AND action_id % 3 = 0"))
    eng.dispose()
    wh = Warehouse.open(duck)
    f = Filters(start=date(2024, 5, 1), end=date(2026, 10, 31))
    rows = ae.action_rows(wh, f)
    part = rows[(rows["action_type"] == "care_visit") & rows["risk_band"].isna()]
    assert len(part) > 0 and set(part["arm"]) == {"treated", "holdout"}
    eff = ae.effect(rows, ["action_type", "risk_band"])
    none = eff[(eff["action_type"] == "care_visit") & eff["risk_band"].isna()]
    assert len(none) == 1 and ae.band_code(none["risk_band"].iloc[0]) == "none"
    for band in (None, float("nan")):
        cv = ae.curves(wh, f, "care_visit", band)
        pd.testing.assert_frame_equal(cv, ae.curves_by(part, (), f))
        assert cv.groupby("arm")["at_risk"].max().sum() == len(part)  # everyone at risk at the start
    mid = ae.curves(wh, f, "care_visit", "mid")
    n_mid = int(((rows["action_type"] == "care_visit") & (rows["risk_band"] == "mid")).sum())
    assert mid.groupby("arm")["at_risk"].max().sum() == n_mid > 0
    assert ae.has_actions(wh)
    wh.engine.dispose()
