"""Retention curves: the SQL life table finished in Python equals lifelines on the same durations
(DuckDB, PostgreSQL, MariaDB), and reproduces published results on lifelines' own data sets."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from lifelines import KaplanMeierFitter
from lifelines.datasets import load_lung, load_waltons
from lifelines.statistics import logrank_test

from metrics.churn import survival as sv
from metrics.cli.main import main
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

AS_OF = date(2030, 1, 1)


def _filters(wh: Warehouse, **kw) -> Filters:
    as_of = wh.as_of()
    return Filters(start=as_of - timedelta(days=90), end=as_of, **kw)


def _durations(wh: Warehouse, f: Filters, start: date | None) -> pd.DataFrame:
    """Per customer, in pandas: tenure (days), event, entry — the documented definitions."""
    c = wh.read(sa.select(s.customers))
    as_of = pd.Timestamp(wh.resolve_as_of(f))
    c["start_date"], c["end_date"] = pd.to_datetime(c["start_date"]), pd.to_datetime(c["end_date"])
    left = c["end_date"].notna() & (c["end_date"] <= as_of)
    c["event"] = left.astype(int)
    c["duration"] = (c["end_date"].where(left, as_of) - c["start_date"]).dt.days
    if start is None:
        c["entry"] = 0
        keep = c["start_date"] <= as_of
    else:
        c["entry"] = ((pd.Timestamp(start) - c["start_date"]).dt.days - 1).clip(lower=0)
        keep = (c["start_date"] <= as_of) & (~left | (c["end_date"] >= pd.Timestamp(start)))
    for col, values in (("tier", f.tiers), ("segment", f.segments)):
        if values:
            keep &= c[col].isin(values)
    return c[keep]


def _compare(curves: pd.DataFrame, kmf: KaplanMeierFitter, entry: bool) -> None:
    cv = curves.set_index("time_days")
    times = cv.index.to_numpy(float)
    np.testing.assert_allclose(kmf.survival_function_.iloc[:, 0].reindex(times), cv["survival"], atol=1e-9)
    ci = kmf.confidence_interval_.reindex(times)
    np.testing.assert_allclose(ci.iloc[:, 0], cv["lower"], atol=1e-9)
    np.testing.assert_allclose(ci.iloc[:, 1], cv["upper"], atol=1e-9)
    et = kmf.event_table
    # lifelines' estimator uses the population at risk without those entering at t (but the first)
    population = et["at_risk"] - et["entrance"].where(et.index != et.index[0], 0) if entry else et["at_risk"]
    np.testing.assert_array_equal(population.reindex(times).to_numpy(), cv["at_risk"].to_numpy())
    np.testing.assert_array_equal(et["observed"].reindex(times).to_numpy(), cv["events"].to_numpy())


@pytest.mark.parametrize("truncate", [True, False], ids=["left_truncated", "from_start"])
def test_km_equals_lifelines(db_url: str, truncate: bool) -> None:
    wh = Warehouse.open(db_url)
    f = _filters(wh)
    start = sv.observed_from(wh) if truncate else None
    assert not truncate or start is not None
    curves = sv.km_from_life_table(sv.life_table(wh, f, "tier", step_days=1, history_start=start))
    df = _durations(wh, f, start)
    assert set(curves["group"]) == set(df["tier"])
    for tier, d in df.groupby("tier"):
        kmf = KaplanMeierFitter().fit(d["duration"], d["event"], entry=d["entry"] if truncate else None)
        _compare(curves[curves["group"] == tier], kmf, truncate)


def test_filters_and_weekly_steps(duckdb_url: str) -> None:
    """Filters are the compiler's; steps round durations up (equal to lifelines on rounded data)."""
    wh = Warehouse.open(duckdb_url)
    f = _filters(wh, segments=("consumer",))
    start = sv.observed_from(wh)
    lt = sv.life_table(wh, f, None, step_days=7, history_start=start)
    curves = sv.km_from_life_table(lt)
    d = _durations(wh, f, start)
    up = lambda x: np.ceil(x / 7) * 7  # noqa: E731
    kmf = KaplanMeierFitter().fit(up(d["duration"]), d["event"], entry=up(d["entry"]))
    _compare(curves, kmf, entry=True)
    assert int(curves["events"].sum() + curves["censored"].sum()) == len(d)


def test_logrank_equals_lifelines(db_url: str) -> None:
    wh = Warehouse.open(db_url)
    f = _filters(wh)
    lt = sv.life_table(wh, f, "tier", step_days=1, history_start=None)
    df = _durations(wh, f, None)
    pairs = sv.pairwise_logrank(lt)
    assert len(pairs) == 10  # five tiers
    for row in pairs.itertuples():
        a, b = df[df["tier"] == row.group_a], df[df["tier"] == row.group_b]
        ref = logrank_test(a["duration"], b["duration"], a["event"], b["event"])
        assert row.chi2 == pytest.approx(ref.test_statistic, rel=1e-9)
        assert row.p == pytest.approx(ref.p_value, rel=1e-6)
    assert (pairs["p_holm"] >= pairs["p"]).all()


# -- lifelines' data sets in a tiny customers table ----------------------------------------------
def _tiny_db(path: Path, durations, events, groups) -> str:
    """A DuckDB file whose customers have the given tenures (days): leavers from a fixed start,
    the censored ones starting ``T`` days before the as-of date; no tickets or billing."""
    url = f"duckdb:///{path}"
    engine = sa.create_engine(url)
    s.metadata.create_all(engine)
    rows = []
    for i, (t, e, g) in enumerate(zip(durations, events, groups, strict=True), start=1):
        t = int(t)
        start = AS_OF - timedelta(days=t) if not e else AS_OF - timedelta(days=5000)
        end = start + timedelta(days=t) if e else None
        rows.append({"customer_id": i, "name": f"c{i}", "segment": "consumer", "tier": str(g), "region_id": 201,
                     "acquisition_channel": "hotline", "account_manager_id": None, "sla_level": None,
                     "start_date": start, "end_date": end, "churn_reason": None, "monthly_revenue": 10.0})
    with engine.begin() as conn:
        conn.execute(s.customers.insert(), rows)
        conn.execute(s.meta.insert(), [{"key": "as_of", "value": AS_OF.isoformat()}])
    engine.dispose()
    return url


def test_waltons_published(tmp_path: Path) -> None:
    w = load_waltons()
    url = _tiny_db(tmp_path / "waltons.duckdb", w["T"], w["E"], w["group"])
    wh = Warehouse.open(url)
    r = sv.retention(wh, _filters(wh), "tier", step_days=1)
    assert r.history_start is None  # no billing or tickets: nobody is left-truncated
    for g, d in w.groupby("group"):
        _compare(r.curves[r.curves["group"] == g], KaplanMeierFitter().fit(d["T"], d["E"]), entry=False)
        assert r.summary.set_index("group").loc[g, "median_days"] == KaplanMeierFitter().fit(
            d["T"], d["E"]).median_survival_time_
    # lifelines' documentation: log-rank miR-137 vs control, test statistic 122.25
    assert r.logrank["chi2"].iloc[0] == pytest.approx(122.25, abs=0.005)


def test_lung_matches_r(tmp_path: Path) -> None:
    """R: survfit(Surv(time, status) ~ 1, lung): median 310 days, S(365) = 0.409;
    survdiff(Surv(time, status) ~ sex, lung): chisq = 10.3 on 1 df, p = 0.00131."""
    lung = load_lung()
    url = _tiny_db(tmp_path / "lung.duckdb", lung["time"], lung["status"], lung["sex"].map({1: "m", 2: "f"}))
    wh = Warehouse.open(url)
    overall = sv.retention(wh, _filters(wh), None, step_days=1)
    assert overall.summary["median_days"].iloc[0] == 310
    c = overall.curves
    assert c.loc[c["time_days"] <= 365, "survival"].iloc[-1] == pytest.approx(0.409, abs=5e-4)
    by_sex = sv.retention(wh, _filters(wh), "tier", step_days=1)
    assert by_sex.logrank["chi2"].iloc[0] == pytest.approx(10.3, abs=0.05)
    assert by_sex.logrank["p"].iloc[0] == pytest.approx(0.00131, abs=5e-6)


def test_rmst_equals_lifelines(tmp_path: Path) -> None:
    """The area equals lifelines'; the estimator's variance (Klein & Moeschberger) matches a bootstrap
    (lifelines' ``return_variance`` is the variance of min(T, τ) itself, not of the estimate)."""
    from lifelines.utils import restricted_mean_survival_time

    w = load_waltons()
    url = _tiny_db(tmp_path / "w.duckdb", w["T"], w["E"], w["group"])
    wh = Warehouse.open(url)
    curves = sv.km_from_life_table(sv.life_table(wh, _filters(wh), "tier", step_days=1, history_start=None))
    for g, d in w.groupby("group"):
        kmf = KaplanMeierFitter().fit(d["T"], d["E"])
        cg = curves[curves["group"] == g]
        for tau in (30.0, 50.0):
            area, var = sv.rmst(cg["time_days"].to_numpy(float), cg["survival"].to_numpy(),
                                cg["events"].to_numpy(), cg["at_risk"].to_numpy(), tau)
            assert area == pytest.approx(restricted_mean_survival_time(kmf, t=tau), rel=1e-9)
            if g == "control" and tau == 50.0:
                assert var == pytest.approx(0.2523, rel=0.1)  # 400 bootstrap resamples: 0.2523


# -- the demo: planted tier effect, speed of the shape, the command line -------------------------
def test_demo_tiers_and_summary(duckdb_url: str) -> None:
    wh = Warehouse.open(duckdb_url)
    r = sv.retention(wh, _filters(wh), "tier")
    summ = r.summary.set_index("group")
    # planted: higher tiers churn less (diamond 0.4%/month … standard 1.1%)
    assert summ.loc["diamond", "rmst_24m"] > summ.loc["standard", "rmst_24m"]
    assert {"median_days", "median_lower", "median_upper", "rmst_12m_lower", "too_small"} <= set(summ.columns)
    assert (r.curves["lower"] <= r.curves["survival"] + 1e-12).all()
    assert (r.curves["upper"] >= r.curves["survival"] - 1e-12).all()
    assert r.curves.groupby("group")["survival"].apply(lambda x: x.is_monotonic_decreasing).all()
    assert set(r.at_risk["months"]) == {0, 6, 12, 24, 36}


def test_region_groups_and_empty(duckdb_url: str) -> None:
    wh = Warehouse.open(duckdb_url)
    r = sv.retention(wh, _filters(wh), "region", level="city")
    regions = wh.regions()
    assert set(r.curves["group"]) <= set(regions.loc[regions["level"] == "city", "region_id"])
    none = sv.retention(wh, _filters(wh, tiers=("diamond",), segments=("enterprise",)), "tier")
    assert none.curves.empty and none.summary.empty and none.logrank.empty


def test_cli_survival(duckdb_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["survival", "--db", duckdb_url, "--by", "tier", "--format", "json", "--tier", "gold"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows and set(rows[0]) == set(sv.CURVE_COLUMNS) and {r["group"] for r in rows} == {"gold"}
    assert main(["survival", "--db", duckdb_url, "--by", "city", "--show", "summary", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("group,n,events,median_days")
    assert main(["survival", "--db", duckdb_url, "--tier", "platinum"]) == 1
    assert "unknown tier platinum" in capsys.readouterr().err
