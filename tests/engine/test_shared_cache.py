"""Results shared by app replicas (``$SERVICEWATCH_SHARED_CACHE``, :mod:`metrics.query.shared_cache`):
two real processes on one DuckDB file, the second reads the first's result without a query; a new
data version is computed again; the folder stays within its size; damaged entries are recomputed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from metrics.query import shared_cache

# One replica's view: the app's cached calls (servicewatch.cache) on a new Warehouse, counting the
# statements its engine runs from the call on.
REPLICA = """
import json, sys
from datetime import date
import sqlalchemy as sa
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse
from servicewatch import cache

url = sys.argv[1]
wh = Warehouse.open(url, read_only=True)
version = cache.duckdb_version(wh, cache._db_version(url))  # once per Warehouse, as cache.warehouse() does
seen = []
sa.event.listen(wh.engine, "before_cursor_execute", lambda *a: seen.append(1))
f = Filters(start=date(2024, 1, 1), end=date(2024, 12, 31))
df = cache.cached_compare(wh, version, url, "csat", f, ("tier",))
life = cache.cached_call(wh, version, url, "as_of")
print(json.dumps({"version": version, "queries": len(seen), "tiers": df["tier"].tolist(),
                  "values": df["value"].tolist(), "as_of": str(life)}))
"""


def _replica(url: str, folder: Path) -> dict:
    env = {**os.environ, shared_cache.DIR_ENV: str(folder)}
    run = subprocess.run([sys.executable, "-c", REPLICA, url], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_second_replica_reads_the_first_ones_result_without_a_query(duckdb_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    first = _replica(duckdb_url, folder)
    second = _replica(duckdb_url, folder)
    assert first["queries"] > 0  # computed
    assert second["queries"] == 0  # read from the first replica's entries
    assert second["values"] == first["values"] and second["tiers"] == first["tiers"] and first["tiers"]
    assert second["as_of"] == first["as_of"]
    assert len(list(folder.glob("*" + shared_cache.SUFFIX))) == 2


def test_a_new_data_version_is_computed_again(duckdb_url: str, tmp_path: Path) -> None:
    from metrics.backends.connect import duckdb_path

    folder = tmp_path / "shared"
    _replica(duckdb_url, folder)
    path = duckdb_path(duckdb_url)
    st = path.stat()
    try:
        os.utime(path, (st.st_atime, st.st_mtime + 5))  # what a load's swap does to the version
        again = _replica(duckdb_url, folder)
    finally:
        os.utime(path, (st.st_atime, st.st_mtime))
    assert again["queries"] > 0
    assert len(list(folder.glob("*" + shared_cache.SUFFIX))) == 4


def test_without_the_variable_nothing_is_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(shared_cache.DIR_ENV, raising=False)
    calls = []
    for _ in range(2):
        shared_cache.get_or_compute(("x", 1), lambda: calls.append(1) or 7)
    assert len(calls) == 2


def test_a_frame_round_trips_and_is_computed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(shared_cache.DIR_ENV, str(tmp_path / "c"))
    frame = pd.DataFrame({"tier": ["gold", "silver"], "value": [0.5, float("nan")],
                          "month": pd.to_datetime(["2024-01-01", "2024-02-01"])})
    calls = []
    got = [shared_cache.get_or_compute(("f", date(2024, 1, 1)), lambda: calls.append(1) or frame) for _ in range(2)]
    assert len(calls) == 1
    pd.testing.assert_frame_equal(got[1], frame)
    assert {oct(p.stat().st_mode & 0o777) for p in (tmp_path / "c").iterdir()} == {"0o600"}
    assert oct((tmp_path / "c").stat().st_mode & 0o777) == "0o700"


def test_an_entry_older_than_its_age_limit_is_computed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(shared_cache.DIR_ENV, str(tmp_path / "c"))
    assert shared_cache.get_or_compute(("aged",), lambda: 1, max_age_s=60) == 1
    assert shared_cache.get_or_compute(("aged",), lambda: 2, max_age_s=60) == 1
    monkeypatch.setattr(shared_cache.time, "time", lambda: 1e12)  # much later
    assert shared_cache.get_or_compute(("aged",), lambda: 3, max_age_s=60) == 3


def test_a_folder_others_may_open_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "open"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    monkeypatch.setenv(shared_cache.DIR_ENV, str(folder))
    calls = []
    for _ in range(2):
        shared_cache.get_or_compute(("x",), lambda: calls.append(1) or 1)
    assert len(calls) == 2 and not list(folder.iterdir())


def test_a_damaged_entry_is_computed_again_and_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(shared_cache.DIR_ENV, str(tmp_path / "c"))
    parts = ("damaged", 1)
    shared_cache.folder()
    (tmp_path / "c" / (shared_cache.key(*parts) + shared_cache.SUFFIX)).write_bytes(b"not a pickle")
    assert shared_cache.get_or_compute(parts, lambda: 41) == 41
    assert shared_cache.get_or_compute(parts, lambda: 0) == 41  # the replaced entry


def test_arguments_without_a_stable_repr_are_not_shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(shared_cache.DIR_ENV, str(tmp_path / "c"))
    assert shared_cache.key(object()) is None
    assert shared_cache.key(pd.Series(range(1000))) is None  # a truncated repr: two values would share a key
    calls = []
    for _ in range(2):
        shared_cache.get_or_compute(("o", object()), lambda: calls.append(1) or 1)
    assert len(calls) == 2 and not list((tmp_path / "c").iterdir())


def test_pruning_removes_the_least_recently_used_first(tmp_path: Path) -> None:
    now = time.time()
    for i in range(5):  # 1 kB each, used at now-5 … now-1 (entry 4 most recently)
        p = tmp_path / f"{i}{shared_cache.SUFFIX}"
        p.write_bytes(b"x" * 1024)
        os.utime(p, (now - 5 + i, now - 5 + i))
    stale_tmp = tmp_path / ".x.tmp"
    stale_tmp.write_bytes(b"")
    os.utime(stale_tmp, (now - 7200, now - 7200))
    removed = shared_cache.prune(tmp_path, 2 * 1024)
    assert removed == 4  # three entries and the dead writer's temporary file
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"3{shared_cache.SUFFIX}", f"4{shared_cache.SUFFIX}"]


def test_a_result_of_a_file_swapped_away_is_not_shared_under_the_new_files_key(
        duckdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A load swaps a new file in under an open engine whose pooled connection still has the old file
    attached. Asked under the new file's version (its modification time and ``sw_meta.data_version``, as a
    fresh replica reads them), that engine computes the old file's values: they are served to the caller
    but not stored, so the fresh replica computes the new file's values instead of reading the old ones."""
    from metrics.backends.connect import duckdb_path, make_engine
    from metrics.ingest.derived import refresh_rollups
    from metrics.model.filters import Filters
    from metrics.query.warehouse import Warehouse
    from servicewatch import cache

    path = tmp_path / "live.duckdb"
    shutil.copyfile(duckdb_path(duckdb_url), path)
    url = f"duckdb:///{path}"
    folder = tmp_path / "shared"
    monkeypatch.setenv(shared_cache.DIR_ENV, str(folder))
    f = Filters(start=date(2024, 1, 1), end=date(2024, 12, 31))
    old_wh = Warehouse.open(url, read_only=True, keep_open=True)
    try:
        before = old_wh.compare("csat", f, ("tier",))  # its pooled connection: the old file attached
        new = tmp_path / "new.duckdb"  # the load: fewer surveys, rollups again, a new data version
        shutil.copyfile(path, new)
        engine = make_engine(f"duckdb:///{new}")
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM surveys WHERE survey_id % 3 = 0")
        refresh_rollups(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE sw_meta SET value = 'swapped-in' WHERE key = 'data_version'")
        with engine.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")
        engine.dispose()
        st = path.stat()
        os.replace(new, path)
        os.utime(path, (st.st_atime, st.st_mtime + 5))
        version = f"{cache._db_version(url)!r} swapped-in"  # the new file's version
        stale = cache.cached_compare(old_wh, version, url, "csat", f, ("tier",))
        assert stale["value"].tolist() == before["value"].tolist()  # the old file's values, as the defect needs
        assert not list(folder.glob("*" + shared_cache.SUFFIX))  # served, not stored
        fresh = _replica(url, folder)
    finally:
        old_wh.dispose()
    assert fresh["version"] == version
    assert fresh["queries"] > 0  # nothing of the old file's was found under the new file's key
    assert fresh["values"] != before["value"].tolist() and fresh["tiers"] == before["tier"].tolist()
    assert len(list(folder.glob("*" + shared_cache.SUFFIX))) == 2  # the replica's own, checked, stored


def test_only_a_version_naming_the_engines_data_version_is_shared(duckdb_url: str) -> None:
    """What the app's cached calls check before sharing: the engine reads the version's ``data_version``."""
    from metrics.query.warehouse import Warehouse
    from servicewatch import cache

    wh = Warehouse.open(duckdb_url, read_only=True)
    try:
        version = cache.duckdb_version(wh, 1.5)
        assert version == f"1.5 {wh.data_version()}" and len(wh.data_version()) == 32
        assert cache.still_current(wh, duckdb_url, version)() is True
        assert cache.still_current(wh, duckdb_url, "1.5 another")() is False
        assert cache.still_current(wh, duckdb_url, 1.5)() is False  # a bare time names none: not shared
        assert cache.still_current(wh, "postgresql://h/db", "hour 7") is None  # Spark's hour: unchecked
    finally:
        wh.dispose()
