"""The database's own refusal never escapes an import (issue 12, item 4), on DuckDB, PostgreSQL and
MariaDB.

- Through the CLI (a real ``servicewatch import`` process): a tickets file whose rows hold a NUL
  byte or another control character, integers beyond the column (a key and a reference), over-long
  text, a key in scientific notation, a time 25:61, a date in 2173 and an Excel serial 99999, among
  good rows: exit 3, no traceback, the good rows loaded, each bad row rejected with its code.
- A file that is not text in any encoding the reader accepts: one line, exit 1, nothing written.
- The savepoint bisection itself (PostgreSQL, MariaDB): rows fed straight to
  ``metrics.ingest.importer.write.Writer`` (bypassing the validator) that the server refuses come back as
  ``refused`` problems with their file rows, and the other rows of the chunk are written.

The shared test databases are left as found (tests/db_snapshot.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
from db_snapshot import left_as_found, snapshot

from metrics.backends.connect import make_engine
from metrics.ingest.importer.parse import ARROW_TYPES, kind_of
from metrics.ingest.importer.rejects import rejects_path_for
from metrics.ingest.importer.write import Writer
from metrics.model import schema

FIRST_NEW_ID = 42_000_000
SERVICEWATCH = [sys.executable, "-m", "metrics.cli.main"]

# (what is wrong, column, value, expected code); each on a copy of a good demo ticket
BAD_ROWS = [
    ("NUL in category", "category", "billing\x00x", "bad_character"),
    ("bell in category", "category", "bil\x07ling", "bad_character"),
    ("NUL alone in a priority", "priority", "P1\x00", "bad_character"),
    ("key of 65 characters", "ticket_id", "K" * 65, "too_long"),
    ("reference to a 64-bit key nobody has", "customer_id", "99999999999", "unknown_reference"),
    ("key with a control character", "ticket_id", "T-\x01", "bad_character"),
    ("over-long text", "category", "c" * 40, "too_long"),
    ("key in scientific notation", "ticket_id", "1e3", "mangled_number"),
    ("spreadsheet key", "ticket_id", "1.23457E+11", "mangled_number"),
    ("key with a zero decimal part", "ticket_id", "1000.0", "mangled_number"),
    ("time 25:61", "opened_at", "2026-03-05 25:61", "not_datetime"),
    ("minute 61", "opened_at", "2026-03-05 10:61", "not_datetime"),
    ("date in 2173", "opened_at", "2173-10-13", "implausible_date"),
    ("Excel serial 99999", "opened_at", "99999", "implausible_date"),
    ("date before 1990", "opened_at", "1899-12-31", "implausible_date"),
]
N_GOOD = 6


def hostile_file(demo_frames: dict, path: Path) -> tuple[list[int], dict[int, tuple[str, str, str]]]:
    """Write the tickets file; return (ids of its good rows, file row -> (what, column, code))."""
    n = N_GOOD + len(BAD_ROWS)
    t = demo_frames["tickets"].head(n).copy()
    t["ticket_id"] = range(FIRST_NEW_ID, FIRST_NEW_ID + n)
    t = t.astype(object)
    expected = {}
    for i, (what, column, value, code) in enumerate(BAD_ROWS, start=N_GOOD):
        t.iloc[i, t.columns.get_loc(column)] = value
        expected[i + 2] = (what, column, code)  # file rows count the header as row 1
    t.to_csv(path, index=False)
    return list(range(FIRST_NEW_ID, FIRST_NEW_ID + N_GOOD)), expected


def ticket_ids(url: str, at_least: int) -> list[int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            t = schema.tickets
            return sorted(conn.execute(sa.select(t.c.ticket_id).where(t.c.ticket_id >= at_least)).scalars())
    finally:
        engine.dispose()


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SERVICEWATCH, *args], capture_output=True, text=True, timeout=120)


def test_cli_rejects_what_the_database_would_refuse(db_url: str, tmp_path: Path, demo_frames: dict) -> None:
    path = tmp_path / "tickets.csv"
    good_ids, expected = hostile_file(demo_frames, path)
    with left_as_found(db_url, FIRST_NEW_ID):
        run = cli("import", "tickets", str(path), "--db", db_url)
        assert run.returncode == 3, (run.stdout, run.stderr)
        assert "Traceback" not in run.stderr + run.stdout and run.stderr.strip() == "", run.stderr
        assert ticket_ids(db_url, FIRST_NEW_ID) == good_ids  # the good rows, and nothing else
        rejects = pd.read_csv(rejects_path_for(path), encoding="utf-8-sig", dtype=str, keep_default_na=False)
        assert set(rejects["_row"].astype(int)) == set(expected)  # every bad row rejected, no good one
        # one line per rejected row: its problems as "column: reason; …" and its codes as "code;…"
        found = {int(row): ({r.split(":")[0] for r in reasons.split("; ")}, set(codes.split(";")))
                 for row, reasons, codes in zip(rejects["_row"], rejects["_reasons"], rejects["_codes"], strict=True)}
        missing = {what: (row, column, code) for row, (what, column, code) in expected.items()
                   if column not in found[row][0] or code not in found[row][1]}
        assert not missing, (missing, rejects.to_string())
        assert f"{N_GOOD} loaded" in run.stdout and f"{len(BAD_ROWS)} rejected" in run.stdout, run.stdout


def test_values_of_rejected_rows_are_not_reported_as_introduced(duck: str, tmp_path: Path,
                                                                demo_frames: dict) -> None:
    from metrics.ingest.importer import import_file

    path = tmp_path / "tickets.csv"
    hostile_file(demo_frames, path)
    r = import_file(duck, "tickets", path)
    assert r.rows_rejected == len(BAD_ROWS)
    # the rejected categories (with NUL, with a bell, 40 characters) were not stored: nothing was introduced
    assert r.introduced == {}, r.introduced


INVALID_UTF8 = [
    pytest.param(b"\xff\xfe\xfd\xfc", id="ff-fe-fd-fc"),
    pytest.param(b"caf\xc3\x28 \x80\x81\xfe", id="broken-sequences"),
]


@pytest.mark.parametrize("junk", INVALID_UTF8)
def test_cli_invalid_utf8_is_one_line_and_writes_nothing(db_url: str, tmp_path: Path, demo_frames: dict,
                                                        junk: bytes) -> None:
    t = demo_frames["tickets"].head(3).copy()
    t["ticket_id"] = range(FIRST_NEW_ID + 100, FIRST_NEW_ID + 103)
    text = t.to_csv(index=False).encode("utf-8")
    lines = text.splitlines(keepends=True)
    cat = t.columns.get_loc("category")
    fields = lines[2].split(b",")
    fields[cat] = junk
    lines[2] = b",".join(fields)
    path = tmp_path / "tickets.csv"
    path.write_bytes(b"".join(lines))
    before = snapshot(db_url)
    run = cli("import", "tickets", str(path), "--db", db_url)
    err = run.stderr.strip()
    assert run.returncode == 1, (run.returncode, run.stdout, run.stderr)
    assert err.startswith("servicewatch: error:") and "\n" not in err and "Traceback" not in err, err
    assert snapshot(db_url) == before  # no rows, no import_log row, sw_meta as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tickets.csv"]  # and no rejects file


# ---------------------------------------------------------------------------------------------
# the savepoint bisection, fed directly (the validator would have rejected these rows)

# server -> (column, value it refuses, what the server says, in part)
REFUSED = {
    "postgresql": [("category", "bill\x00ing", "0x00"), ("customer_id", 99_999_999_999, "out of range"),
                   ("category", "c" * 40, "too long")],
    "mysql": [("customer_id", 99_999_999_999, "Out of range"), ("category", "c" * 40, "too long")],
}


def _typed(frame: pd.DataFrame) -> pa.Table:
    cols = {c.name: pa.array(frame[c.name].tolist(), ARROW_TYPES[kind_of(c)]) for c in schema.tickets.columns}
    return pa.table(cols)


@pytest.mark.parametrize("server", ["postgres", "mariadb"])
def test_writer_turns_server_refusals_into_rejected_rows(server: str, request: pytest.FixtureRequest,
                                                         demo_frames: dict) -> None:
    url = request.getfixturevalue(f"{server}_url")
    engine = make_engine(url)
    dialect = engine.dialect.name
    refused = REFUSED[dialect]
    n = 40  # several halvings down to each refused row
    t = demo_frames["tickets"].head(n).copy()
    t["ticket_id"] = range(FIRST_NEW_ID + 200, FIRST_NEW_ID + 200 + n)
    t = t.astype(object).where(t.notna(), None)
    positions = [3, 17, 38][: len(refused)]
    for pos, (column, value, _) in zip(positions, refused, strict=True):
        t.iloc[pos, t.columns.get_loc(column)] = value
    file_rows = np.arange(101, 101 + n)  # as if the chunk started at file row 101
    before = snapshot(url)
    try:
        with engine.connect() as conn:
            tx = conn.begin()
            try:
                writer = Writer(conn, "tickets")
                inserted, updated, problems = writer.write(_typed(t), file_rows)
                stored = sorted(conn.execute(sa.select(schema.tickets.c.ticket_id)
                                             .where(schema.tickets.c.ticket_id >= FIRST_NEW_ID)).scalars())
                writer.close()
            finally:
                tx.rollback()
    finally:
        engine.dispose()
    assert (inserted, updated) == (n - len(refused), 0)
    assert problems["code"].tolist() == ["refused"] * len(refused)
    assert sorted(problems["row"].tolist()) == sorted(int(file_rows[p]) for p in positions)
    by_row = dict(zip(problems["row"], problems["detail"], strict=True))
    for pos, (_, _, says) in zip(positions, refused, strict=True):
        detail = by_row[int(file_rows[pos])]
        assert says.lower() in detail.lower() and "\n" not in detail, detail
    ids = set(t["ticket_id"])
    assert stored == sorted(ids - {t["ticket_id"].iloc[p] for p in positions})
    assert snapshot(url) == before  # rolled back: the shared database as found


NON_FINITE = ["nan", "NaN", "inf", "Infinity", "-inf", "1e309"]


def test_non_finite_numbers_are_rejected_rows(db_url: str, tmp_path: Path, demo_frames: dict) -> None:
    n_good = 3
    t = demo_frames["tickets"].head(n_good + len(NON_FINITE)).copy()
    t["ticket_id"] = range(FIRST_NEW_ID + 300, FIRST_NEW_ID + 300 + len(t))
    t = t.astype(object)
    for i, value in enumerate(NON_FINITE, start=n_good):
        t.iloc[i, t.columns.get_loc("compensation")] = value
    path = tmp_path / "tickets.csv"
    t.to_csv(path, index=False)
    with left_as_found(db_url, FIRST_NEW_ID):
        run = cli("import", "tickets", str(path), "--db", db_url)
        stored = ticket_ids(db_url, FIRST_NEW_ID)
        rejects = (pd.read_csv(rejects_path_for(path), encoding="utf-8-sig", dtype=str, keep_default_na=False)
                   if rejects_path_for(path).exists() else pd.DataFrame(columns=["_row", "_reasons", "_codes"]))
    assert run.returncode == 3, (run.stdout, run.stderr)  # rows rejected, the others loaded
    assert stored == list(range(FIRST_NEW_ID + 300, FIRST_NEW_ID + 300 + n_good))  # no NaN or infinity stored
    assert set(rejects["_row"].astype(int)) == set(range(n_good + 2, n_good + 2 + len(NON_FINITE)))
    # rejected by the validator with the column named, not left to the server
    assert {r.split(":")[0] for r in rejects["_reasons"]} == {"compensation"}, rejects
    assert set(rejects["_codes"]) == {"not_number"}, rejects
