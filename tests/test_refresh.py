"""A refresh swaps in a new DuckDB file; the dashboard's kept-open readers must follow it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import sqlalchemy as sa

from dashboard import ui
from metrics import demo, load
from metrics import schema as s


def _count(wh) -> int:
    return int(wh.read(sa.select(sa.func.count()).select_from(s.customers)).iloc[0, 0])


def test_dashboard_follows_a_replaced_duckdb_file(tmp_path: Path, duckdb_url: str, monkeypatch) -> None:
    path = tmp_path / "live.duckdb"
    shutil.copyfile(sa.engine.make_url(duckdb_url).database, path)
    url = f"duckdb:///{path}"
    monkeypatch.setenv("SERVICEWATCH_DB", url)
    ui.close_warehouses()
    wh, version = ui.warehouse()
    before = _count(wh)
    assert ui.warehouse()[0] is wh  # cached while the file is unchanged

    load.replace_all(url, demo.generate(customers=300, seed=5))  # builds a new file, swaps it in
    os.utime(path, (version + 10, version + 10))  # mtime resolution is coarse on some filesystems
    wh2, version2 = ui.warehouse()
    assert version2 != version and wh2 is not wh
    assert _count(wh2) == 300 != before
    ui.close_warehouses()
