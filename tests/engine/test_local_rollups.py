"""The routing rule of a Spark warehouse's local rollup copy (metrics.query.local_rollups), on a real
DuckDB file standing for the copy: a statement runs on the copy exactly when the copy holds every
table it reads; no copy, or one not on this machine, sends everything to the warehouse. (The copy
written by a Spark refresh, and figures through it, are checked on a real cluster in
tests/spark/test_spark_engine.py.)"""

from __future__ import annotations

import threading
import time
from datetime import date

import duckdb
import sqlalchemy as sa

from metrics.ingest.rollups import rollup_tickets
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.query.local_rollups import LocalCopySlot, LocalRollups
from metrics.query.warehouse import Warehouse


def _copy(tmp_path) -> str:  # noqa: ANN001 - pytest's tmp_path
    path = tmp_path / "copy.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE rollup_tickets (month DATE, tickets__n BIGINT)")
    con.execute("INSERT INTO rollup_tickets VALUES ('2025-01-01', 3), ('2025-02-01', 4)")
    con.execute("CREATE TABLE region_closure (ancestor_id INTEGER, descendant_id INTEGER)")
    con.close()
    return str(path)


def test_statements_reading_only_the_copys_tables_run_on_it(tmp_path) -> None:  # noqa: ANN001
    local = LocalRollups.open(_copy(tmp_path))
    try:
        assert local.tables == {"rollup_tickets", "region_closure"}
        rc = s.region_closure.alias("rg")
        on_copy = (sa.select(sa.func.sum(rollup_tickets.c.tickets__n))
                   .select_from(rollup_tickets.join(rc, rc.c.descendant_id == rollup_tickets.c.region_id)))
        union = sa.union_all(sa.select(rollup_tickets.c.month), sa.select(rollup_tickets.c.month)).subquery()
        assert local.engine_for(on_copy) is local.engine
        assert local.engine_for(sa.select(union.c.month)) is local.engine
        raw = sa.select(sa.func.count()).select_from(s.tickets)
        mixed = sa.select(rollup_tickets.c.month, s.meta.c.value).select_from(rollup_tickets).join(s.meta, sa.true())
        for stmt in (raw, mixed, sa.select(s.meta.c.value), sa.text("SELECT 1"), sa.select(sa.literal(1))):
            assert local.engine_for(stmt) is None, stmt
        with local.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.sum(rollup_tickets.c.tickets__n))).scalar() == 7
    finally:
        local.dispose()


def test_no_copy_or_a_copy_elsewhere_sends_everything_to_the_warehouse(tmp_path) -> None:  # noqa: ANN001
    for path in (None, "", str(tmp_path / "on-another-host.duckdb")):
        local = LocalRollups.open(path)
        assert local.engine is None and local.engine_for(sa.select(rollup_tickets.c.month)) is None


def test_only_a_spark_warehouse_looks_for_a_copy(tmp_path) -> None:  # noqa: ANN001
    """On DuckDB (and PostgreSQL, MariaDB) the rollups are in the database itself: no copy is opened and
    a rollup statement runs on the warehouse's own engine."""
    from metrics.demo.generator import generate
    from metrics.ingest.load import replace_all

    url = f"duckdb:///{tmp_path / 'db.duckdb'}"
    replace_all(url, generate(customers=300, seed=3))
    wh = Warehouse.open(url)
    try:
        assert wh.local_rollups().engine is None
        f = Filters(date(2025, 1, 1), date(2025, 12, 31))
        assert "rollup_tickets" in str(wh.compile("tickets", f, ("tier",)))
        assert wh.read_all([wh.compile("tickets", f)])[0].iloc[0, 0] > 0
    finally:
        wh.dispose()


def test_a_copy_removed_under_a_reader_sends_its_statements_to_the_warehouse(tmp_path) -> None:  # noqa: ANN001
    """A refresh removes old copies: a Warehouse whose copy is gone answers from the warehouse itself
    (the same rollup tables there), with no error, and stops using the copy."""
    import shutil

    from metrics.demo.generator import generate
    from metrics.ingest.load import replace_all

    url = f"duckdb:///{tmp_path / 'db.duckdb'}"
    replace_all(url, generate(customers=300, seed=3))
    copy = tmp_path / "copy.duckdb"
    shutil.copy(tmp_path / "db.duckdb", copy)
    wh = Warehouse.open(url)
    try:
        f = Filters(date(2025, 1, 1), date(2025, 12, 31))
        want = wh.metric("tickets", f, ("tier",))
        wh._local.hold(LocalRollups.open(str(copy)))  # noqa: SLF001 - a Spark reader's state
        stmt = wh.compile("tickets", f, ("tier",))
        assert wh.local_rollups().engine_for(stmt) is not None
        assert wh.metric("tickets", f, ("tier",)).equals(want)  # read from the copy
        copy.unlink()
        wh.local_rollups().engine.dispose()  # its pooled connection closed: the next one must open the file
        assert wh.metric("tickets", f, ("tier",)).equals(want)
        assert wh.local_rollups().engine is None
    finally:
        wh.dispose()


def test_threads_asking_at_once_open_the_copy_once(tmp_path) -> None:  # noqa: ANN001
    """The dashboard's threads share a Warehouse: eight asking for its copy at the same moment get one
    engine, opened once (not one each, leaked), and none is sent to the warehouse meanwhile."""
    path = _copy(tmp_path)
    slot = LocalCopySlot(recheck_s=60.0)
    found: list[bool] = []
    start = threading.Barrier(8)
    got: list[LocalRollups] = []

    def find_path(again: bool) -> str:
        found.append(again)
        time.sleep(0.05)  # reading sw_meta: a round trip to the warehouse
        return path

    def ask() -> None:
        start.wait()
        got.append(slot.get(find_path))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert found == [False]
        assert len(got) == 8 and got[0].engine is not None and all(g is got[0] for g in got)
        assert slot.get(find_path) is got[0] and found == [False]
    finally:
        slot.dispose()


def test_a_slot_without_a_copy_looks_again_after_the_recheck(tmp_path) -> None:  # noqa: ANN001
    """No copy found: the slot answers none until ``recheck_s`` has passed, then asks for the path again
    (``again``: sw_meta read afresh); a forgotten copy likewise."""
    path = _copy(tmp_path)
    slot = LocalCopySlot(recheck_s=0.2)
    paths = iter([None, path, path])
    asked: list[bool] = []

    def find_path(again: bool) -> str | None:
        asked.append(again)
        return next(paths)

    try:
        assert slot.get(find_path).engine is None and slot.get(find_path).engine is None and asked == [False]
        time.sleep(0.25)
        assert slot.get(find_path).engine is not None and asked == [False, True]
        slot.forget()
        assert slot.get(find_path).engine is None and asked == [False, True]
        time.sleep(0.25)
        assert slot.get(find_path).engine is not None and asked == [False, True, True]
        assert slot.get(None).engine is not None  # not asked again while it holds a copy
    finally:
        slot.dispose()
