"""Import internals that the throughput work touched: CSV chunks of exactly ``chunk_rows`` rows with
their file row numbers, the DuckDB upsert that inserts new keys plainly and updates only existing
ones, and a file that turns unreadable while an earlier chunk is being written (nothing kept)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from db_snapshot import read as query
from db_snapshot import ticket_count

from bench.import_bench import tickets_frame, write_csv
from metrics.backends.connect import DatabaseError, make_engine
from metrics.ingest.importer import ImportFailed, import_file, read
from metrics.ingest.importer.key_sets import KeyIndex, SeenKeys
from metrics.model import schema

FIRST_NEW_ID = 30_000_000


def test_csv_chunks_are_exact_and_keep_file_row_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each data line holds its own file row number; blank lines and lines with a wrong field count
    are spread over many small Arrow blocks, so chunks are assembled across block boundaries."""
    lines, expected, bad = ["row,text"], [], []
    for row in range(2, 3002):
        if row % 97 == 0:
            lines.append("")  # blank: numbered, skipped
        elif row % 101 == 0:
            lines.append(f"{row},x,extra")  # wrong field count: reported as a bad row
            bad.append(row)
        else:
            lines.append(f"{row},\"t{row}\"")
            expected.append(row)
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(read, "CSV_BLOCK_BYTES", 1 << 11)  # ~100 lines per block
    source = read.open_source(path, chunk_rows=128)
    chunks = list(source.chunks())
    sizes = [c.data.num_rows for c in chunks]
    assert sizes[:-1] == [128] * (len(sizes) - 1) and 0 < sizes[-1] <= 128, sizes
    rows = np.concatenate([c.rows for c in chunks])
    values = np.concatenate([np.asarray(c.data.column(0).to_pylist(), dtype=np.int64) for c in chunks])
    assert rows.tolist() == expected and values.tolist() == expected
    assert [r for r, text in source.bad_rows if text] == bad


def test_key_lookups_agree_with_numpy() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(-100, 6000, 5000)
    dense = rng.integers(-50, 5000, 800)  # bitmap
    sparse = np.concatenate([dense, rng.integers(-2**62, 2**62, 50)])  # binary search
    for keys in (dense, sparse):
        index = KeyIndex(keys)
        probe = np.concatenate([values, keys[:10], [-2**63, 2**63 - 1]])
        assert (index.contains(probe) == np.isin(probe, keys)).all()
    assert KeyIndex(dense).bitmap is not None and KeyIndex(sparse).bitmap is None
    assert not KeyIndex().contains(values).any()
    seen = SeenKeys()
    seen.add(np.array([10, 20, 30]), np.array([2, 3, 4]))
    seen.add(np.array([5, 25]), np.array([5, 6]))
    assert seen.lookup(np.array([1, 5, 20, 25, 31, 1000])).tolist() == [0, 5, 3, 6, 0, 0]


def test_duckdb_upsert_of_new_and_existing_keys_mixed_in_every_chunk(duck: str, tmp_path: Path,
                                                                      demo_frames: dict) -> None:
    old = demo_frames["tickets"].head(200).copy()
    old["ticket_id"] = range(FIRST_NEW_ID, FIRST_NEW_ID + 200)
    path = tmp_path / "tickets.csv"
    old.to_csv(path, index=False)
    assert import_file(duck, "tickets", path, refresh=False).inserted == 200
    before = ticket_count(duck)
    again = old.head(100).copy()
    changed = again.index % 3 == 0
    again.loc[changed, "compensation"] = again.loc[changed, "compensation"] + 7.25
    new = demo_frames["tickets"].iloc[200:350].copy()
    new["ticket_id"] = range(FIRST_NEW_ID + 1000, FIRST_NEW_ID + 1150)
    mixed = pd.concat([again, new]).sample(frac=1, random_state=5)  # new and existing keys in each chunk
    mixed.to_csv(path, index=False)
    r = import_file(duck, "tickets", path, refresh=False, chunk_rows=32)
    assert (r.rows_loaded, r.inserted, r.updated, r.rows_rejected) == (250, 150, int(changed.sum()), 0), r.summary()
    assert ticket_count(duck) == before + 150
    t = schema.tickets
    got = query(duck, sa.select(t.c.ticket_id, t.c.compensation).where(t.c.ticket_id >= FIRST_NEW_ID)
                .order_by(t.c.ticket_id))
    want = pd.concat([again, old.iloc[100:], new])[["ticket_id", "compensation"]].sort_values("ticket_id")
    assert got["ticket_id"].tolist() == want["ticket_id"].tolist()
    assert np.allclose(got["compensation"].to_numpy(float), want["compensation"].to_numpy(float))


def test_file_unreadable_halfway_while_a_chunk_is_written_leaves_duckdb_unchanged(
        duck: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t = tickets_frame(12_000, customers=2000)
    t["ticket_id"] += FIRST_NEW_ID
    path = tmp_path / "tickets.csv"
    write_csv(t, path)
    with path.open("ab") as fh:  # past the 1 MB the encoding is detected from: found only while streaming
        fh.write(b"99999999,1,hotline,complaint,billing,P1,2026-03-05 10:00:00,,,,,false,false,false,,,\xff\xfe\n")
    assert path.stat().st_size > read.SAMPLE_BYTES
    monkeypatch.setattr(read, "CSV_BLOCK_BYTES", 1 << 16)
    before = ticket_count(duck)
    log_n = sa.select(sa.func.count().label("n")).select_from(schema.import_log)
    logged = query(duck, log_n)["n"].iloc[0]
    written: list[int] = []
    with pytest.raises(ImportFailed, match="tickets.csv"):
        import_file(duck, "tickets", path, refresh=False, rejects=False, chunk_rows=1000,
                    on_chunk=lambda r: written.append(r.inserted))
    assert written and written[-1] > 0  # chunks had gone into the open transaction
    assert ticket_count(duck) == before
    assert query(duck, log_n)["n"].iloc[0] == logged  # no import recorded


def test_database_error_in_a_chunk_write_is_one_line_and_keeps_nothing(duck: str, tmp_path: Path) -> None:
    """A constraint the validator does not know (added here to the table) fails the write of a later
    chunk in the writer thread: the database's own message comes out, and nothing is kept."""
    import duckdb

    engine = make_engine(duck)
    ddl = str(sa.schema.CreateTable(schema.tickets).compile(dialect=engine.dialect)).strip()
    engine.dispose()
    with duckdb.connect(duck.removeprefix("duckdb:///")) as con:
        con.execute("ALTER TABLE tickets RENAME TO tickets_old")
        con.execute(ddl[:ddl.rindex(")")] + ", CHECK (compensation <> 4321.5))")
        con.execute("INSERT INTO tickets SELECT * FROM tickets_old")
        con.execute("DROP TABLE tickets_old")
    before = ticket_count(duck)
    t = tickets_frame(3000, customers=2000)
    t["ticket_id"] += FIRST_NEW_ID
    t.loc[2500, "compensation"] = 4321.5
    csv = tmp_path / "tickets.csv"
    write_csv(t, csv)
    written: list[int] = []
    with pytest.raises(DatabaseError, match="(?i)constraint") as err:
        import_file(duck, "tickets", csv, refresh=False, rejects=False, chunk_rows=500,
                    on_chunk=lambda r: written.append(r.inserted))
    assert "\n" not in str(err.value) and "aborted" not in str(err.value)
    assert written and written[-1] >= 1000
    assert ticket_count(duck) == before
