"""Derived state after a crash (issue 12, item 5): an import killed right after its commit, before
the rollups are rebuilt, never leaves readers with new rows and old rollups.

The import runs in a subprocess whose ``refresh_rollups`` (as imported by the importer) kills its own
process with SIGKILL, i.e. the moment after the data transaction committed. Then:

- DuckDB: the rows were written into a copy that is swapped in only after the rollups are rebuilt, so
  the original file is untouched (the new rows are absent, the rollups agree with the rows); nothing
  the killed run left behind (its swap copy, its temporary rejects file) breaks the next import,
  which loads the file, removes the leftovers and writes a complete rejects file.
- PostgreSQL: the rows are committed and the rollups' "built" markers were deleted in the same
  transaction, so a reader answers from the raw rows; ``metrics.ingest.load.refresh_derived`` rebuilds the
  rollups. The shared test database is restored afterwards (rows, import log, rollups, sw_meta).

The check is a city's ticket count (metric ``tickets``, Nanling = region 2 with its districts) read
by a fresh ``Warehouse.open`` (rollups when built) against the same metric from raw rows.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from db_snapshot import ticket_count

from metrics.backends.connect import make_engine
from metrics.churn import tenure_rollup as survival_rollup
from metrics.ingest import open_tickets, rollups
from metrics.ingest.importer import import_file
from metrics.ingest.importer.rejects import rejects_path_for
from metrics.ingest.load import refresh_derived
from metrics.model import schema
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

FIRST_NEW_ID = 31_000_000
CITY = 2  # Nanling, with districts 201..205
CITY_FILTER = Filters(date(2024, 1, 1), date(2026, 12, 31), regions=(CITY,))
N_NEW = 300
N_BAD = 3
MARKERS = (rollups.AS_OF_KEY, rollups.SOURCES_KEY, survival_rollup.AS_OF_KEY, survival_rollup.HISTORY_KEY,
           open_tickets.BUILT_KEY)

CRASH_SCRIPT = """
import os, signal, sys
import metrics.ingest.importer.run as run

def die(engine):
    print("committed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

run.refresh_rollups = die
run.import_file(sys.argv[1], "tickets", sys.argv[2])
print("not killed", flush=True)
"""


def city_tickets(demo_frames: dict, n: int, start: int = FIRST_NEW_ID) -> pd.DataFrame:
    """``n`` valid tickets of customers in the city (copies of demo tickets) with fresh ids."""
    regions = demo_frames["regions"]
    inside = {CITY, *regions.loc[regions["parent_id"] == CITY, "region_id"].astype(int)}
    customers = demo_frames["customers"]
    ours = set(customers.loc[customers["region_id"].isin(inside), "customer_id"])
    t = demo_frames["tickets"]
    t = t[t["customer_id"].isin(ours)].head(n).copy()
    assert len(t) == n
    t["ticket_id"] = range(start, start + n)
    return t


def write_file(path: Path, good: pd.DataFrame) -> None:
    """``good`` plus ``N_BAD`` rows the validator rejects (unknown kind), so the run has rejects."""
    bad = good.head(N_BAD).copy()
    bad["ticket_id"] = range(FIRST_NEW_ID + 900_000, FIRST_NEW_ID + 900_000 + N_BAD)
    bad["kind"] = "grumble"
    pd.concat([good, bad]).to_csv(path, index=False)


def crash_after_commit(url: str, csv: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, url, str(csv)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stdout, proc.stderr[-2000:])
    assert proc.stdout.strip() == "committed", proc.stdout


def city_count(url: str) -> tuple[int, int, bool]:
    """(tickets of the city as a reader sees them, the same from raw rows, whether the reader used
    the rollups), each from a fresh engine."""
    wh = Warehouse.open(url)
    try:
        seen = int(wh.metric("tickets", CITY_FILTER)["value"].iloc[0])
        used_rollups = "rollup_" in str(wh.compile("tickets", CITY_FILTER))
        raw = int(Warehouse(wh.engine, use_rollups=False).metric("tickets", CITY_FILTER)["value"].iloc[0])
    finally:
        wh.engine.dispose()
    return seen, raw, used_rollups


def meta_keys(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.select(schema.meta.c.key)).scalars())
    finally:
        engine.dispose()


def test_kill_after_commit_on_duckdb_leaves_the_file_untouched(duck: str, tmp_path: Path,
                                                               demo_frames: dict) -> None:
    db = Path(sa.engine.make_url(duck).database or "")
    inputs = tmp_path / "in"
    inputs.mkdir()
    csv = inputs / "tickets.csv"
    write_file(csv, city_tickets(demo_frames, N_NEW))
    before_city, raw, used = city_count(duck)
    assert used and before_city == raw  # the check below is meaningful: the reader uses the rollups
    before_rows, before_bytes = ticket_count(duck), db.read_bytes()

    crash_after_commit(duck, csv)

    assert db.read_bytes() == before_bytes  # the original file untouched: the write went to a copy
    assert ticket_count(duck) == before_rows
    assert city_count(duck) == (before_city, before_city, True)  # no new rows, rollups consistent
    assert not rejects_path_for(csv).exists()  # the rejects of a run that did not finish: absent
    assert not Path(f"{db}.wal").exists()

    r = import_file(duck, "tickets", csv)  # the next run is not hindered by anything left behind
    assert (r.inserted, r.rows_rejected) == (N_NEW, N_BAD), r.summary()
    assert ticket_count(duck) == before_rows + N_NEW
    assert city_count(duck) == (before_city + N_NEW, before_city + N_NEW, True)  # rollups rebuilt
    assert not list(db.parent.glob(f".{db.name}.*.swap*"))  # the killed writer's copy was removed
    lines = rejects_path_for(csv).read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 + N_BAD and all(line.endswith("not_allowed") for line in lines[1:]), lines
    leftovers = [p.name for p in inputs.iterdir() if p.name not in {csv.name, rejects_path_for(csv).name}]
    # only the killed run's temporary rejects file may remain (a dot-file, never read as the rejects)
    assert all(name.startswith(f".{rejects_path_for(csv).name}.") and name.endswith(".part")
               for name in leftovers), leftovers


def test_kill_after_commit_on_postgres_reads_raw_rows_until_rebuilt(postgres_url: str, tmp_path: Path,
                                                                     demo_frames: dict) -> None:
    url = postgres_url
    csv = tmp_path / "tickets.csv"
    write_file(csv, city_tickets(demo_frames, N_NEW, start=FIRST_NEW_ID + 1000))
    before_city, raw, used = city_count(url)
    assert used and before_city == raw
    before_rows = ticket_count(url)
    engine = make_engine(url)
    with engine.connect() as conn:  # what the shared database holds before: restored at the end
        logged = list(conn.execute(sa.select(schema.import_log.c.import_id)).scalars())
        meta_rows = [dict(r) for r in conn.execute(sa.select(schema.meta)).mappings()]
    assert set(MARKERS) <= {m["key"] for m in meta_rows}
    try:
        crash_after_commit(url, csv)

        assert ticket_count(url) == before_rows + N_NEW  # committed
        assert not set(MARKERS) & meta_keys(url)  # every rollup marked not built in that transaction
        after = before_city + N_NEW
        assert city_count(url) == (after, after, False)  # answered from raw rows, not the old rollups
        assert not rejects_path_for(csv).exists()

        refresh_derived(engine)  # what the next import (or `servicewatch refresh`) does
        assert set(MARKERS) <= meta_keys(url)
        assert city_count(url) == (after, after, True)
    finally:
        with engine.begin() as conn:  # the shared database is left as found
            conn.execute(schema.tickets.delete().where(schema.tickets.c.ticket_id >= FIRST_NEW_ID))
            conn.execute(schema.import_log.delete().where(schema.import_log.c.import_id.not_in(logged)))
        refresh_derived(engine)  # rollups of the original rows again
        with engine.begin() as conn:
            conn.execute(schema.meta.delete())
            conn.execute(schema.meta.insert(), meta_rows)
        engine.dispose()
    assert ticket_count(url) == before_rows
    assert city_count(url) == (before_city, before_city, True)


@pytest.mark.parametrize("recover", ["import", "refresh_derived"])
def test_duckdb_recovers_after_the_crash(duck: str, tmp_path: Path, demo_frames: dict, recover: str) -> None:
    """After the crash, either a new import of another file or ``refresh_derived`` on a writable
    copy leaves rows and rollups in agreement (the crashed file's rows are absent: re-import them)."""
    csv = tmp_path / "tickets.csv"
    write_file(csv, city_tickets(demo_frames, N_NEW, start=FIRST_NEW_ID + 2000))
    before_city, _, _ = city_count(duck)
    crash_after_commit(duck, csv)
    if recover == "import":
        other = tmp_path / "other.csv"
        city_tickets(demo_frames, 7, start=FIRST_NEW_ID + 3000).to_csv(other, index=False)
        assert import_file(duck, "tickets", other).inserted == 7
        assert city_count(duck) == (before_city + 7, before_city + 7, True)
    else:
        from metrics.backends.swap import writable

        with writable(duck) as engine:
            refresh_derived(engine)
        assert city_count(duck) == (before_city, before_city, True)
    assert set(MARKERS) <= meta_keys(duck)
