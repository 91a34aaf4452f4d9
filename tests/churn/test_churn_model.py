"""Churn-risk model: features from SQL equal a pandas reference (and agree across databases), the fit
recovers the planted drivers, scores are stored and read back, the CLI works, missing data is said."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from metrics.churn import features as cf
from metrics.churn import model as cm
from metrics.churn import store as churn_store
from metrics.cli.main import main
from metrics.demo.generator import generate
from metrics.ingest.load import replace_all
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

CUSTOMERS = 12_000


@pytest.fixture(scope="module")
def demo12k(tmp_path_factory: pytest.TempPathFactory) -> dict:
    frames = generate(customers=CUSTOMERS, seed=5)
    path = tmp_path_factory.mktemp("churn") / "sw.duckdb"
    url = f"duckdb:///{path}"
    replace_all(url, frames)
    return {"url": url, "path": path, "frames": frames}


@pytest.fixture(scope="module")
def fitted(demo12k: dict) -> dict:
    wh = Warehouse.open(demo12k["url"], read_only=False)
    result = cm.fit(wh)
    model_id = churn_store.save(wh.engine, result)
    wh.engine.dispose()
    return {"result": result, "model_id": model_id, **demo12k}


def _landmarks(wh: Warehouse):
    as_of = wh.as_of()
    train, test, score = cf.landmarks(as_of, cm.observed_from(wh) + timedelta(days=180))
    return as_of, train, test, score


def test_features_equal_pandas(duckdb_url: str, demo_frames: dict) -> None:
    wh = Warehouse.open(duckdb_url)
    as_of, train, test, score = _landmarks(wh)
    lm = train[0]
    df = cf.features(wh, Filters(start=as_of, end=as_of), [lm]).set_index("customer_id")
    c, t = demo_frames["customers"].set_index("customer_id"), demo_frames["tickets"]
    day = pd.Timestamp(lm.day)
    start, end = pd.to_datetime(c["start_date"]), pd.to_datetime(c["end_date"])
    active = (start < day) & (end.isna() | (end >= day))
    assert set(df.index) == set(c.index[active])
    left = end.notna() & (end >= day) & (end < day + pd.Timedelta(days=90))
    assert (df["event"] == left.reindex(df.index).astype(int)).all()
    win = t[(t["opened_at"] >= day - pd.Timedelta(days=90)) & (t["opened_at"] < day)]
    comp = win[win["kind"] == "complaint"]
    unresolved = comp[comp["resolved_at"].isna() | (comp["resolved_at"] >= day)
                      | ((comp["revisited_at"] < day) & (comp["revisit_satisfied"] == False))]  # noqa: E712
    breached = win[win["resolution_due_at"].notna() & (win["resolution_due_at"] < day)
                   & (win["resolved_at"].isna() | (win["resolved_at"] > win["resolution_due_at"]))]
    for col, ref in (("complaints_90d", comp), ("unresolved_complaints_90d", unresolved),
                     ("sla_breaches_90d", breached)):
        expected = ref.groupby("customer_id").size().reindex(df.index, fill_value=0)
        np.testing.assert_array_equal(df[col].to_numpy(), expected.to_numpy(), err_msg=col)
    sv = demo_frames["surveys"]
    sv = sv[sv["csat"].notna() & (sv["answered_at"] < day) & (sv["answered_at"] >= day - pd.Timedelta(days=360))]
    latest = sv.sort_values(["answered_at", "survey_id"]).groupby("customer_id")["csat"].last()
    np.testing.assert_array_equal(df["csat_latest"].to_numpy(), latest.reindex(df.index).to_numpy(float))


def test_features_agree_across_databases(db_url: str, duckdb_url: str) -> None:
    ref_wh, wh = Warehouse.open(duckdb_url), Warehouse.open(db_url)
    as_of, train, test, score = _landmarks(ref_wh)
    f = Filters(start=as_of, end=as_of, tiers=("standard", "enterprise"))
    lms = [*train[:2], test, score]
    a = cf.features(ref_wh, f, lms).sort_values(["customer_id", "lm_id"]).reset_index(drop=True)
    b = cf.features(wh, f, lms).sort_values(["customer_id", "lm_id"]).reset_index(drop=True)
    cols = ["customer_id", "lm_id", "event", "time", "tenure_days", "complaints_90d", "unresolved_complaints_90d",
            "sla_breaches_90d", "csat_latest", "nps_latest", "revenue_recent", "revenue_prior"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_dtype=False, atol=1e-6)


def test_planted_drivers(fitted: dict) -> None:
    terms = fitted["result"].terms.set_index(["model", "term"])
    for term in ("unresolved_complaints_90d", "sla_breaches_90d"):
        row = terms.loc[("drivers", term)]
        assert row["hr"] > 1 and row["hr_lower"] > 1, (term, row.to_dict())
    spend = terms.loc[("risk", "spend_decline_10pct")]
    assert spend["hr"] > 1 and spend["hr_lower"] > 1
    # planted: higher tiers leave less
    assert terms.loc[("drivers", "tier_diamond"), "hr_upper"] < 1


def test_quality_and_speed(fitted: dict) -> None:
    m = fitted["result"].summary
    assert m["concordance_cox"] > 0.7 and m["auc_cox"] > 0.7 and m["auc_logit"] > 0.7
    assert m["better"] in ("cox", "logistic")
    assert m["n_test_events"] > 50 and m["n_train_events"] > 500
    assert m["holdout_landmark"] + timedelta(days=90) == m["as_of"] + timedelta(days=1)
    assert 0 <= m["ph_global_min_p"] <= 1
    assert m["fit_seconds"] < 120


def test_robust_errors_equal_lifelines_sandwich() -> None:
    """Cluster-robust Cox errors equal lifelines' own ``cluster_col`` sandwich (quadratic, so checked on
    5,000 rows of clustered data with tied integer days; tie handling differs slightly: 5%)."""
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(3)
    customers = np.repeat(np.arange(1500), 3)  # each customer at three landmarks, as in the model
    x = pd.DataFrame({"a": rng.normal(size=1500)[customers], "b": rng.integers(0, 2, 1500)[customers].astype(float)})
    frailty = rng.normal(0, 0.7, 1500)[customers]
    days = np.ceil(rng.exponential(60 / np.exp(0.5 * x["a"] + 0.7 * x["b"] + frailty)))
    d = x.assign(time=np.minimum(days, 90), event=(days <= 90).astype(int))
    mine = cm._robust_se(cm._cox(d), d, customers)
    ref = CoxPHFitter(penalizer=1e-4).fit(d.assign(c=customers), "time", "event", cluster_col="c")
    np.testing.assert_allclose(mine, ref.standard_errors_[mine.index], rtol=0.05)
    naive = np.sqrt(np.diag(ref.variance_matrix_))
    assert (mine.to_numpy() > naive * 1.1).all()  # rows of one customer share its frailty


def test_stored_intervals_use_robust_errors(fitted: dict) -> None:
    terms = fitted["result"].terms
    np.testing.assert_allclose(terms["hr_lower"], np.exp(terms["coef"] - 1.959964 * terms["se"]), rtol=1e-5)
    model_based = np.sqrt(np.diag(fitted["result"].cox.variance_matrix_))
    risk = terms[terms["model"] == "risk"].set_index("term")["se"]
    assert not np.allclose(risk[fitted["result"].cox.params_.index], model_based, rtol=1e-3)


def test_probability_equals_lifelines(fitted: dict) -> None:
    r = fitted["result"]
    terms = list(r.cox.params_.index)
    wh = Warehouse.open(fitted["url"])
    as_of, train, test, score = _landmarks(wh)
    rows = cf.features(wh, Filters(start=as_of, end=as_of), [score]).head(50)
    x = cm.design(rows, r.design)
    assert list(x.columns) == terms
    mine = cm._prob(r.cox, x, cm._baseline_hazard(r.cox, 90))
    ref = 1 - r.cox.predict_survival_function(x, times=[90]).iloc[0].to_numpy()
    np.testing.assert_allclose(mine, ref, rtol=1e-9)


def test_scores_stored_and_read(fitted: dict) -> None:
    wh = Warehouse.open(fitted["url"])
    model = churn_store.latest_model(wh)
    assert model["model_id"] == fitted["model_id"] and model["n_scored"] > 0
    as_of = wh.as_of()
    top = churn_store.scores(wh, Filters(start=as_of, end=as_of), 100, "en")
    assert len(top) == 100 and top["revenue_at_risk"].is_monotonic_decreasing
    np.testing.assert_allclose(top["revenue_at_risk"], top["churn_probability_90d"] * top["monthly_revenue"] * 12)
    assert top["drivers"].str.len().gt(0).mean() > 0.5
    city = int(wh.regions().query("level == 'city'")["region_id"].iloc[0])
    in_city = churn_store.scores(wh, Filters(start=as_of, end=as_of, regions=(city,)), None, "en")
    closure = wh.read(sa.select(s.region_closure).where(s.region_closure.c.ancestor_id == city))
    assert set(in_city["region_id"]) <= set(closure["descendant_id"])
    terms = churn_store.model_terms(wh, fitted["model_id"])
    assert set(terms["model"]) == {"risk", "drivers"}


def test_driver_words() -> None:
    assert churn_store.driver_text("unresolved_complaints_90d", 3.0, "en") == "3 unresolved complaints in 90 days"
    assert churn_store.driver_text("sla_breaches_90d", 2.0, "en") == "SLA breached twice in 90 days"
    assert churn_store.driver_text("tier_enterprise", 1.0, "zh").startswith("客户等级：")
    assert churn_store.driver_text(None, None) is None


def test_cli_fit_and_scores(fitted: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = fitted["url"]
    assert main(["churn", "scores", "--db", url, "--top", "5", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 5
    assert {"customer_id", "churn_probability_90d", "revenue_at_risk", "drivers"} <= set(rows[0])
    assert main(["churn", "scores", "--db", url, "--tier", "gold", "--format", "csv", "--top", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 4 and all(",gold," in line for line in out[1:])
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(fitted["path"], copy)
    assert main(["churn", "fit", "--db", f"duckdb:///{copy}"]) == 0
    assert "churn model 2 stored" in capsys.readouterr().out


def test_no_model_and_missing_sources(tmp_path: Path, demo_frames: dict, capsys: pytest.CaptureFixture[str]) -> None:
    """Customers only: scores say there is no model; fit works on what exists and says what is missing."""
    frames = {k: v for k, v in demo_frames.items() if k in ("regions", "account_managers", "customers")}
    url = f"duckdb:///{tmp_path / 'customers_only.duckdb'}"
    replace_all(url, frames)
    assert main(["churn", "scores", "--db", url]) == 1
    assert "no churn model" in capsys.readouterr().err
    wh = Warehouse.open(url, read_only=False)
    result = cm.fit(wh)
    assert result.summary["missing"] == "tickets, surveys, billing_monthly"
    assert not set(cm.SERVICE_TERMS) & set(result.terms["term"])
    assert len(result.scores) > 0
