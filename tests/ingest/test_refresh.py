"""A refresh swaps in a new DuckDB file; the dashboard's kept-open readers must follow it."""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from db_snapshot import copy_duckdb

from metrics.demo import generator as demo
from metrics.ingest import load
from metrics.model import schema as s
from servicewatch import ui


def _count(wh) -> int:
    return int(wh.read(sa.select(sa.func.count()).select_from(s.customers)).iloc[0, 0])


def test_dashboard_follows_a_replaced_duckdb_file(tmp_path: Path, duckdb_url: str, monkeypatch) -> None:
    path = tmp_path / "live.duckdb"
    url = copy_duckdb(duckdb_url, path)
    monkeypatch.setenv("SERVICEWATCH_DB", url)
    ui.close_warehouses()
    wh, version = ui.warehouse()
    before = _count(wh)
    assert ui.warehouse()[0] is wh  # cached while the file is unchanged
    mtime = path.stat().st_mtime

    load.replace_all(url, demo.generate(customers=300, seed=5))  # builds a new file, swaps it in
    os.utime(path, (mtime + 10, mtime + 10))  # mtime resolution is coarse on some filesystems
    wh2, version2 = ui.warehouse()
    assert version2 != version and wh2 is not wh
    assert _count(wh2) == 300 != before
    ui.close_warehouses()


def test_data_version_is_new_after_every_change_and_only_then(duck: str, tmp_path: Path) -> None:
    """``sw_meta.data_version`` (the dashboard's cache key on server databases) changes with a
    refresh, an import that changes rows and a churn fit; not with a dry run or a repeated import."""
    from metrics.churn import model as churn_model
    from metrics.churn import store as churn_store
    from metrics.ingest.importer import import_file
    from metrics.query.warehouse import Warehouse

    def version() -> str:
        wh = Warehouse.open(duck)
        try:
            return wh.data_version()
        finally:
            wh.engine.dispose()

    seen = [version()]
    assert seen[0]  # written by the load
    path = tmp_path / "bill.csv"
    path.write_text("customer_id,month,revenue\n1,2025-09,10\n")
    import_file(duck, "billing_monthly", path, dry_run=True, refresh=False)
    assert version() == seen[-1]
    import_file(duck, "billing_monthly", path, refresh=False)
    seen.append(version())
    import_file(duck, "billing_monthly", path, refresh=False)  # the same rows again: nothing changes
    assert version() == seen[-1]
    wh = Warehouse.open(duck, read_only=False)
    try:
        load.refresh_derived(wh.engine)
        seen.append(wh.data_version())
        churn_store.save(wh.engine, churn_model.fit(wh))
        seen.append(wh.data_version())
    finally:
        wh.engine.dispose()
    assert len(set(seen)) == len(seen) == 4, seen


def test_dashboard_follows_the_data_version_of_a_server_database(postgres_url: str, monkeypatch) -> None:
    """On PostgreSQL the cached warehouse and every cached view are keyed by ``sw_meta.data_version``:
    an import by the command line is seen at the next page run, not an hour later."""
    monkeypatch.setenv("SERVICEWATCH_DB", postgres_url)
    ui.close_warehouses()
    engine = sa.create_engine(postgres_url)
    m = s.meta
    with engine.connect() as conn:
        old = conn.execute(sa.select(m.c.value).where(m.c.key == s.DATA_VERSION_KEY)).scalar_one()
    try:
        wh, version = ui.warehouse()
        assert version == old and ui.warehouse()[0] is wh
        with engine.begin() as conn:
            s.bump_data_version(conn)
        wh2, version2 = ui.warehouse()
        assert version2 != old and wh2 is not wh and wh2.engine is wh.engine  # same pool, facts read anew
    finally:
        with engine.begin() as conn:  # the shared database as found
            conn.execute(m.update().where(m.c.key == s.DATA_VERSION_KEY).values(value=old))
        engine.dispose()
        ui.close_warehouses()
