"""The streamed demo (issue 21 item 1): drawn in chunks and appended to a DuckDB file, derived tables and
rollups once at the end. 3,000 customers in chunks of 1,000 (the path XL takes with chunks of 250,000)."""

from __future__ import annotations

import hashlib
import sys
import types
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from reference import reference

from metrics.demo import chunks
from metrics.demo.streamed import load_streamed
from metrics.model import schema
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

CUSTOMERS, CHUNK, SEED = 3_000, 1_000, 11
# foreign keys the model means (child table, column, parent table, column); NULLs allowed
KEYS = (
    ("customers", "region_id", "regions", "region_id"),
    ("customers", "account_manager_id", "account_managers", "manager_id"),
    ("tickets", "customer_id", "customers", "customer_id"),
    ("tickets", "outlet_id", "outlets", "outlet_id"),
    ("surveys", "customer_id", "customers", "customer_id"),
    ("surveys", "ticket_id", "tickets", "ticket_id"),
    ("surveys", "outlet_id", "outlets", "outlet_id"),
    ("services", "customer_id", "customers", "customer_id"),
    ("outages", "service_id", "services", "service_id"),
    ("billing_monthly", "customer_id", "customers", "customer_id"),
    ("visits", "customer_id", "customers", "customer_id"),
    ("visits", "manager_id", "account_managers", "manager_id"),
    ("retention_actions", "customer_id", "customers", "customer_id"),
    ("queue_records", "customer_id", "customers", "customer_id"),
    ("queue_records", "outlet_id", "outlets", "outlet_id"),
    ("audits", "outlet_id", "outlets", "outlet_id"),
    ("user_base", "region_id", "regions", "region_id"),
)
IDS = {"customers": "customer_id", "tickets": "ticket_id", "surveys": "survey_id", "services": "service_id",
       "outages": "outage_id", "visits": "visit_id", "retention_actions": "action_id", "queue_records": "queue_id",
       "outlets": "outlet_id", "audits": "audit_id"}


def _build(path: Path, **kw: object) -> None:
    load_streamed(f"duckdb:///{path}", CUSTOMERS, seed=SEED, chunk_customers=CHUNK, **kw)


@pytest.fixture(scope="module")
def streamed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("streamed") / "demo.duckdb"
    _build(path)
    return path


def _sql(path: Path, query: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def raw_frames(streamed_db: Path) -> dict[str, pd.DataFrame]:
    """The file's data tables as DataFrames (read before any engine opens it)."""
    con = duckdb.connect(str(streamed_db), read_only=True)
    try:
        return {t.name: con.execute(f"SELECT * FROM {t.name}").df() for t in schema.DATA_TABLES}
    finally:
        con.close()


def test_rows_are_the_chunks_rows(streamed_db: Path) -> None:
    """Every table holds the shared tables once plus each chunk's rows (drawn again here, one by one)."""
    shared = chunks.draw_shared(CUSTOMERS, SEED)
    want = {name: len(df) for name, df in shared.frames.items()}
    offsets = chunks.Offsets()
    for k, n in enumerate(chunks.chunk_sizes(CUSTOMERS, CHUNK)):
        for name, df in chunks.chunk_frames(shared, k, n, SEED, offsets).items():
            if name != "active":
                want[name] = want.get(name, 0) + len(df)
    assert chunks.chunk_sizes(CUSTOMERS, CHUNK) == [CHUNK] * 3
    got = {name: _sql(streamed_db, f"SELECT count(*) FROM {name}")[0][0] for name in want}
    assert got == want
    assert got["customers"] == CUSTOMERS
    assert _sql(streamed_db, "SELECT count(*) FROM user_base")[0][0] > 0
    assert {t.name for t in schema.DATA_TABLES} - set(want) == {"user_base"}


def test_ids_unique_and_keys_hold(streamed_db: Path) -> None:
    for table, column in IDS.items():
        n, distinct, lo, hi = _sql(streamed_db, f"SELECT count(*), count(DISTINCT {column}), min({column}), "
                                                f"max({column}) FROM {table}")[0]
        assert n == distinct and (lo, hi) == (1, n), f"{table}.{column}: ids 1..n without gaps"
    assert _sql(streamed_db, "SELECT count(*) FROM (SELECT customer_id, month FROM billing_monthly "
                             "GROUP BY ALL HAVING count(*) > 1)")[0][0] == 0
    for child, col, parent, pcol in KEYS:
        orphans = _sql(streamed_db, f"SELECT count(*) FROM {child} c WHERE c.{col} IS NOT NULL AND NOT EXISTS "
                                    f"(SELECT 1 FROM {parent} p WHERE p.{pcol} = c.{col})")[0][0]
        assert orphans == 0, f"{child}.{col} -> {parent}"
    # a survey after a ticket belongs to that ticket's customer (ids offset together, chunk by chunk)
    assert _sql(streamed_db, "SELECT count(*) FROM surveys s JOIN tickets t USING (ticket_id) "
                             "WHERE s.customer_id <> t.customer_id")[0][0] == 0


def test_meta_and_rollups_like_replace_all(streamed_db: Path) -> None:
    meta = dict(_sql(streamed_db, "SELECT key, value FROM sw_meta"))
    assert meta["demo_customers"] == str(CUSTOMERS) and meta["demo_chunk_customers"] == str(CHUNK)
    assert meta["as_of"] == "2026-10-31" and "data_version" in meta
    assert _sql(streamed_db, "SELECT count(*) FROM region_closure")[0][0] > 33
    n, last = _sql(streamed_db, "SELECT count(*), max(month_start) FROM calendar_months")[0]
    assert n >= 30 and str(last)[:7] == "2026-10"
    tables = {r[0] for r in _sql(streamed_db, "SELECT table_name FROM information_schema.tables")}
    assert {t.name for t in schema.metadata.sorted_tables} <= tables
    rollups = sorted(t for t in tables if "rollup" in t)
    assert rollups and all(_sql(streamed_db, f"SELECT count(*) FROM {t}")[0][0] > 0 for t in rollups), rollups


@pytest.mark.parametrize(("metric_id", "by"), [
    ("csat", ("tier",)), ("complaint_rate", ("region",)), ("sla_resolution_compliance", ()),
    ("churn_rate", ("segment",)), ("tickets", ("channel",)), ("revenue", ("month",)),
])
def test_metrics_equal_pandas_on_the_raw_tables(streamed_db: Path, raw_frames: dict, metric_id: str,
                                                by: tuple) -> None:
    """The engine (rollups on) on the streamed file equals tests/reference.py on the file's own raw rows."""
    f = Filters(date(2025, 4, 1), date(2026, 3, 31))
    engine = sa.create_engine(f"duckdb:///{streamed_db}", connect_args={"read_only": True},
                              poolclass=sa.pool.SingletonThreadPool)
    try:
        wh = Warehouse(engine)
        got = wh.metric(metric_id, f, by=by)
        want = reference(raw_frames, metric_id, f, by, wh.as_of())
    finally:
        engine.dispose()
    keys = ["region_id" if d == "region" else d for d in by]
    got = got.sort_values(keys).reset_index(drop=True) if keys else got
    want = want.sort_values(keys).reset_index(drop=True) if keys else want
    assert len(got) == len(want) > 0
    np.testing.assert_array_equal(got["n"].to_numpy(float), want["n"].to_numpy(float))
    np.testing.assert_allclose(got["value"].to_numpy(float), want["value"].to_numpy(float), rtol=1e-9)


def _digest(path: Path) -> str:
    """The data tables' content, row order aside."""
    h = hashlib.sha256()
    for t in schema.DATA_TABLES:
        cols = ", ".join(c.name for c in t.columns)
        rows = _sql(path, f"SELECT {cols} FROM {t.name} ORDER BY ALL")
        h.update(repr(rows).encode())
    return h.hexdigest()


@pytest.fixture(scope="module")
def streamed_digest(streamed_db: Path) -> str:
    return _digest(streamed_db)


def test_same_seed_same_database(streamed_digest: str, tmp_path: Path) -> None:
    again = tmp_path / "again.duckdb"
    _build(again)
    assert _digest(again) == streamed_digest


def test_failure_midway_leaves_the_old_file(streamed_db: Path, tmp_path: Path) -> None:
    """A chunk that fails (here: the progress hook raising after the first chunk) leaves the existing
    file byte for byte, and no temporary file beside it."""
    target = tmp_path / "demo.duckdb"
    target.write_bytes(streamed_db.read_bytes())
    before = hashlib.sha256(target.read_bytes()).hexdigest()

    def fail(k: int, n: int, _figures: object) -> None:
        if k == 1:
            raise RuntimeError("stop in the second chunk")

    with pytest.raises(RuntimeError, match="second chunk"):
        _build(target, progress=fail)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".write.lock")) == ["demo.duckdb"]


def test_workers_write_the_sequential_rows(streamed_digest: str, tmp_path: Path) -> None:
    """Chunks drawn in two worker processes (ids shifted as they are appended) give the file of the
    sequential path at the same seed and chunk size; the workers' chunk files are gone afterwards."""
    target = tmp_path / "parallel.duckdb"
    figures = load_streamed(f"duckdb:///{target}", CUSTOMERS, seed=SEED, chunk_customers=CHUNK, workers=2)
    assert figures.workers == 2 and figures.worker_peak_mb > 0
    assert _digest(target) == streamed_digest
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".write.lock")) == ["parallel.duckdb"]


def test_workers_off_the_main_thread_draw_in_this_process(streamed_digest: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A load asking for workers from a thread that is not a command's main thread (a page's script
    thread) starts no pool and swaps no ``__main__``: this process draws the chunks in turn, the same file."""
    import threading

    from metrics import processes

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("a pool was started off the main thread")

    monkeypatch.setattr(processes, "spawn_pool", refuse)
    target = tmp_path / "threaded.duckdb"
    got: list = []
    thread = threading.Thread(target=lambda: got.append(
        load_streamed(f"duckdb:///{target}", CUSTOMERS, seed=SEED, chunk_customers=CHUNK, workers=2)))
    thread.start()
    thread.join()
    assert got, "the load failed in the thread"
    assert got[0].workers == 1
    assert _digest(target) == streamed_digest


def test_workers_failure_leaves_the_old_file_and_no_chunk_files(streamed_db: Path, tmp_path: Path) -> None:
    """With workers, a failure after the first chunk (the progress hook raising) leaves the existing file
    byte for byte and neither the temporary file nor the folder of chunk files beside it."""
    target = tmp_path / "demo.duckdb"
    target.write_bytes(streamed_db.read_bytes())
    before = hashlib.sha256(target.read_bytes()).hexdigest()

    def fail(k: int, n: int, _figures: object) -> None:
        if k == 0:
            raise RuntimeError("stop after the first chunk")

    with pytest.raises(RuntimeError, match="first chunk"):
        _build(target, progress=fail, workers=2)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".write.lock")) == ["demo.duckdb"]


def test_bad_argument_leaves_the_old_file(streamed_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "demo.duckdb"
    target.write_bytes(streamed_db.read_bytes())
    before = hashlib.sha256(target.read_bytes()).hexdigest()
    with pytest.raises(ValueError, match="chunk_customers"):
        load_streamed(f"duckdb:///{target}", CUSTOMERS, chunk_customers=0)
    with pytest.raises(ValueError, match="workers"):
        load_streamed(f"duckdb:///{target}", CUSTOMERS, workers=0)
    with pytest.raises(ValueError, match="DuckDB"):
        load_streamed("postgresql://postgres@127.0.0.1:5432/test", CUSTOMERS)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == before


def test_cli_streams_into_duckdb_and_refuses_other_databases(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """``servicewatch demo --chunk-customers``: the streamed path, progress on stderr; a server database
    is refused in one line of the user's language (nothing written)."""
    from metrics.cli.main import main

    target = tmp_path / "cli.duckdb"
    assert main(["demo", "--db", f"duckdb:///{target}", "--customers", "2000", "--chunk-customers", "1000"]) == 0
    out, err = capsys.readouterr()
    assert "customers 2,000" in out and "chunk 2/2 written" in err
    assert _sql(target, "SELECT value FROM sw_meta WHERE key = 'demo_chunk_customers'") == [("1000",)]
    code = main(["demo", "--db", "postgresql://postgres@127.0.0.1:5432/test", "--customers", "2000",
                 "--chunk-customers", "1000", "--lang", "zh"])
    err = capsys.readouterr().err
    assert code != 0 and len(err.strip().splitlines()) == 1 and "DuckDB" in err and "客户" in err


def test_workers_do_not_run_the_callers_main_script(streamed_digest: str, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A caller whose ``__main__`` is an unguarded script (a notebook, a Streamlit page; an AppTest that
    left ``__main__`` on app.py did this in the full suite): the spawned workers do not run it again."""
    script = tmp_path / "caller.py"
    script.write_text("raise SystemExit('the caller script ran in a worker')\n", encoding="utf-8")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    target = tmp_path / "parallel.duckdb"
    load_streamed(f"duckdb:///{target}", CUSTOMERS, seed=SEED, chunk_customers=CHUNK, workers=2)
    assert _digest(target) == streamed_digest
    assert sys.modules["__main__"] is main
