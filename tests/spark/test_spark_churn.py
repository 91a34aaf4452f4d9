"""``churn fit`` and the stored scores on a real two-worker Spark cluster, against DuckDB on the same data.

Spark's Parquet tables cannot delete or update rows, so the churn store rewrites ``churn_models``,
``churn_model_terms``, ``churn_scores`` and ``sw_meta`` whole as new Parquet versions and swaps them in
(:mod:`metrics.backends.spark.rewrite`). The module fixtures fit the model once on Spark (``spark_url``,
loaded fresh for this module, so no churn table exists yet) and once on a copy of the DuckDB file of
the same demo frames (the session's file stays without a model), store both, and record what reads
back; then ``servicewatch churn fit`` runs as a subprocess on Spark for the second fit. DuckDB is the
reference: the features are the same SQL on both, so the fits agree to rounding (1e-9 relative; seen
2e-15), and the stored scores read back identically.

Runs in ``make test-spark`` (SERVICEWATCH_SPARK_FULL=1), not in ``make test``: its own Spark database load
and three fits cost about a quarter of an hour of ``make test``'s 90-minute budget on two cores. The cluster
is the session's (``tests/conftest.py``: ``spark_cluster``), shared with tests/spark/test_spark_engine.py;
this module loads its own Spark database (``spark_url``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from metrics.backends.connect import make_engine
from metrics.backends.spark import rewrite
from metrics.backends.spark.load import parquet_root
from metrics.backends.swap import writable
from metrics.churn import model as churn_model
from metrics.churn import store
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

FULL = os.environ.get("SERVICEWATCH_SPARK_FULL", "").lower() in ("1", "true", "yes")
pytestmark = [pytest.mark.spark, pytest.mark.skipif(not FULL, reason="full Spark set only (make test-spark)")]
RTOL = 1e-9
NUMS = ("coef", "se", "hr", "hr_lower", "hr_upper", "p", "ph_p", "odds_ratio", "or_lower", "or_upper", "or_p", "mean")
SUMMARY_COUNTS = ("n_train_customers", "n_train_rows", "n_train_events", "n_test_rows", "n_test_events", "n_scored")
TABLES = ("churn_models", "churn_model_terms", "churn_scores", "sw_meta")


def _meta(url: str) -> dict[str, str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(sa.select(s.meta.c.key, s.meta.c.value)).fetchall())
    finally:
        engine.dispose()


def _reads(url: str) -> dict:
    """What the dashboard reads of the stored model: model row, terms, lists and totals for two filters."""
    wh = Warehouse.open(url)
    try:
        model = store.latest_model(wh)
        day = store.model_date(model)
        whole, part = Filters(day, day), Filters(day, day, tiers=("gold", "silver"), regions=(2,))
        with wh.engine.connect() as conn:
            counts = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                      for t in store.TABLES}
            score_models = sorted(r[0] for r in conn.execute(sa.select(store.churn_scores.c.model_id).distinct()))
            ids = [r[0] for r in conn.execute(sa.select(store.churn_models.c.model_id).order_by("model_id"))]
        return {"model": model, "terms": store.model_terms(wh, int(model["model_id"])),
                "top": store.scores(wh, whole, 50, "en"), "all": store.scores(wh, part, None, "zh"),
                "totals": store.risk_totals(wh, whole), "part_totals": store.risk_totals(wh, part),
                "counts": counts, "score_models": score_models, "model_ids": ids, "meta": _meta(url)}
    finally:
        wh.engine.dispose()


def _fit_and_store(url: str) -> tuple[churn_model.ChurnFit, int]:
    wh = Warehouse.open(url)
    try:
        result = churn_model.fit(wh)
    finally:
        wh.engine.dispose()
    with writable(url) as engine:
        return result, store.save(engine, result)


@pytest.fixture(scope="module")
def duck(duckdb_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the session's demo DuckDB file: this module stores a model in it."""
    path = tmp_path_factory.mktemp("churn_duck") / "servicewatch.duckdb"
    shutil.copy(duckdb_url.removeprefix("duckdb:///"), path)
    return f"duckdb:///{path}"


@pytest.fixture(scope="module")
def first(spark_url: str, duck: str) -> dict:
    """One fit stored on each database, and what reads back right after."""
    before = _meta(spark_url)
    spark_fit, spark_id = _fit_and_store(spark_url)
    duck_fit, duck_id = _fit_and_store(duck)
    return {"before": before, "spark_fit": spark_fit, "spark_id": spark_id, "duck_fit": duck_fit,
            "duck_id": duck_id, "spark": _reads(spark_url), "duck": _reads(duck)}


@pytest.fixture(scope="module")
def second(first: dict, spark_url: str) -> dict:
    """``servicewatch churn fit --db <spark url> --format json`` as a subprocess, after the first fit."""
    run = subprocess.run([sys.executable, "-m", "metrics.cli", "churn", "fit", "--db", spark_url, "--format", "json"],
                         capture_output=True, text=True, timeout=600)
    return {"run": run, "spark": _reads(spark_url)}


def test_the_fit_on_spark_equals_the_fit_on_duckdb(first: dict) -> None:
    a, b = first["spark_fit"], first["duck_fit"]
    assert first["spark_id"] == first["duck_id"] == 1
    assert {k: a.summary[k] for k in SUMMARY_COUNTS} == {k: b.summary[k] for k in SUMMARY_COUNTS}
    assert a.summary["method"] == b.summary["method"] and a.summary["as_of"] == b.summary["as_of"]
    ta, tb = (t.sort_values(["model", "term"]).reset_index(drop=True) for t in (a.terms, b.terms))
    assert ta[["model", "term"]].equals(tb[["model", "term"]])  # the same features, pooled and dropped alike
    pd.testing.assert_frame_equal(ta[list(NUMS)], tb[list(NUMS)], rtol=RTOL, atol=0)
    # every figure, the bootstrap interval and the subsampled proportional-hazards check too (the
    # features come in key order, whatever order the database returned them in); not the timings
    figures = [k for k, v in b.summary.items() if isinstance(v, float) and not k.endswith("_seconds")]
    assert "concordance_cox_lower" in figures and "ph_global_min_p" in figures
    assert {k: a.summary[k] for k in figures} == pytest.approx({k: b.summary[k] for k in figures}, rel=RTOL,
                                                               nan_ok=True)
    assert a.summary["ph_violations"] == b.summary["ph_violations"]
    sa_, sb = (f.scores.sort_values("customer_id").reset_index(drop=True) for f in (a, b))
    pd.testing.assert_frame_equal(sa_, sb, rtol=RTOL, atol=0, check_dtype=False)


def test_the_stored_model_reads_back_as_fitted_and_as_on_duckdb(first: dict) -> None:
    sp, dk = first["spark"], first["duck"]
    assert sp["model_ids"] == [1] and sp["counts"]["churn_models"] == 1
    for k in (*SUMMARY_COUNTS, "method", "sampled", "holdout", "reference_levels", "pooled", "dropped"):
        assert sp["model"][k] == dk["model"][k], k
    assert pd.Timestamp(sp["model"]["as_of"]) == pd.Timestamp(dk["model"]["as_of"])
    assert pd.Timestamp(sp["model"]["fitted_at"]) == pd.Timestamp(first["spark_fit"].summary["fitted_at"])
    for k in ("auc_cox", "concordance_cox_lower", "calibration_slope", "observed_expected"):
        assert sp["model"][k] == pytest.approx(dk["model"][k], rel=RTOL), k
    ts, td = sp["terms"], dk["terms"]
    assert ts[["model", "term"]].equals(td[["model", "term"]])
    pd.testing.assert_frame_equal(ts[list(NUMS)].astype(float), td[list(NUMS)].astype(float), rtol=RTOL, atol=0)
    fitted = first["spark_fit"].terms.sort_values(["model", "term"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(ts[list(NUMS)].astype(float), fitted[list(NUMS)].astype(float), rtol=RTOL, atol=0)


def test_the_stored_scores_read_back_the_same(first: dict) -> None:
    sp, dk, fit = first["spark"], first["duck"], first["spark_fit"]
    assert sp["counts"]["churn_scores"] == dk["counts"]["churn_scores"] == fit.summary["n_scored"]
    for name in ("top", "all"):
        a, b = sp[name], dk[name]
        assert len(a) and list(a.columns) == list(b.columns), name
        assert a["customer_id"].tolist() == b["customer_id"].tolist(), name  # the same order
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), rtol=RTOL, atol=0,
                                      check_dtype=False)
    assert len(sp["top"]) == 50
    # totals: against the fit's own scores (every scored customer is in the whole-network filter)
    assert sp["totals"]["customers"] == fit.summary["n_scored"]
    assert sp["totals"]["revenue_at_risk"] == pytest.approx(fit.scores["revenue_at_risk"].sum(), rel=RTOL)
    assert sp["totals"]["mean_probability"] == pytest.approx(fit.scores["churn_probability_90d"].mean(), rel=RTOL)
    for k in ("totals", "part_totals"):
        assert sp[k]["customers"] == dk[k]["customers"]
        assert sp[k]["revenue_at_risk"] == pytest.approx(dk[k]["revenue_at_risk"], rel=RTOL)
        assert sp[k]["mean_probability"] == pytest.approx(dk[k]["mean_probability"], rel=RTOL)
    assert sp["part_totals"]["customers"] == len(sp["all"]) > 0


def test_a_fit_writes_a_new_data_version_and_keeps_the_other_keys(first: dict) -> None:
    before, after = first["before"], first["spark"]["meta"]
    assert after[s.DATA_VERSION_KEY] and after[s.DATA_VERSION_KEY] != before.get(s.DATA_VERSION_KEY)
    assert store.STALE_KEY not in after  # fitted on the version it stored beside
    assert {k: v for k, v in after.items() if k != s.DATA_VERSION_KEY} == \
        {k: v for k, v in before.items() if k != s.DATA_VERSION_KEY}


def test_the_cli_fit_replaces_the_scores_and_adds_a_model(first: dict, second: dict, spark_url: str) -> None:
    run = second["run"]
    assert run.returncode == 0, run.stderr[-2000:]
    report = json.loads(run.stdout)
    sp, n = second["spark"], first["spark_fit"].summary["n_scored"]
    assert report["model_id"] == 2 and sp["model_ids"] == [1, 2]
    assert sp["counts"]["churn_scores"] == n and sp["score_models"] == [2]  # replaced, not appended
    assert sp["counts"]["churn_model_terms"] == 2 * first["spark"]["counts"]["churn_model_terms"]
    assert sp["meta"][s.DATA_VERSION_KEY] != first["spark"]["meta"][s.DATA_VERSION_KEY]
    # the same data: the same model and the same list (but for the model id)
    hr = {t["term"]: t["hr"] for t in report["terms"]}
    risk = first["spark_fit"].terms.query("model == 'risk'")
    assert hr == pytest.approx(dict(zip(risk["term"], risk["hr"], strict=True)), rel=RTOL)
    pd.testing.assert_frame_equal(sp["top"].drop(columns="model_id"), first["spark"]["top"].drop(columns="model_id"),
                                  rtol=RTOL, atol=0)
    # one Parquet folder per table: the earlier versions were removed, no _swnew_ table is left
    engine = make_engine(spark_url)
    try:
        root = parquet_root(engine) / (engine.url.database or "default")
        with engine.connect() as conn:
            names = [r[1] for r in conn.exec_driver_sql("SHOW TABLES").fetchall()]
    finally:
        engine.dispose()
    assert {t: len([p for p in (root / t).iterdir() if p.is_dir()]) for t in TABLES} == dict.fromkeys(TABLES, 1)
    assert not [x for x in names if x.startswith("_swnew_")]


def test_a_failure_before_the_swap_leaves_the_old_tables(first: dict, spark_url: str) -> None:
    """The second table fails to convert: the first, already written, is discarded, not swapped in."""
    engine = make_engine(spark_url)
    try:
        root: Path = parquet_root(engine) / (engine.url.database or "default")
        folders = {t: sorted(p.name for p in (root / t).iterdir()) for t in ("churn_scores", "churn_models")}
        old = rewrite.read_table(engine, store.churn_scores)
        broken = rewrite.read_table(engine, store.churn_models).drop(columns="as_of")
        with pytest.raises(ValueError, match="missing columns"):
            rewrite.replace_tables(engine, {store.churn_scores: old.head(3), store.churn_models: broken})
        assert len(rewrite.read_table(engine, store.churn_scores)) == len(old)
        assert {t: sorted(p.name for p in (root / t).iterdir()) for t in folders} == folders
        with engine.connect() as conn:
            assert not [r for r in conn.exec_driver_sql("SHOW TABLES").fetchall() if r[1].startswith("_swnew_")]
    finally:
        engine.dispose()
