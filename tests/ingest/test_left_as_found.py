"""``db_snapshot.left_as_found`` leaves a shared database exactly as it found it: every table's rows,
derived tables and rollups included, after a tiny ticket import inside it (on each database)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from db_snapshot import KEEP, left_as_found

from metrics.backends.connect import make_engine
from metrics.ingest.importer import import_file
from metrics.model import schema

FIRST_ID = 77_000_000


def every_table(url: str) -> dict[str, list[tuple[str, ...]]]:
    """Every table of the database at ``url``: its rows as text, sorted."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            q = conn.dialect.identifier_preparer.quote
            return {n: sorted(tuple(map(str, row)) for row in conn.exec_driver_sql(f"SELECT * FROM {q(n)}"))
                    for n in names}
    finally:
        engine.dispose()


def test_every_table_as_found(db_url: str, tmp_path: Path, demo_frames: dict) -> None:
    tickets = demo_frames["tickets"].head(3).copy()
    tickets["ticket_id"] = range(FIRST_ID, FIRST_ID + len(tickets))
    tickets.to_csv(tmp_path / "tickets.csv", index=False)
    before = every_table(db_url)
    with left_as_found(db_url, FIRST_ID):
        res = import_file(db_url, "tickets", tmp_path / "tickets.csv", rejects=False)
        assert res.rows_loaded == 3
        during = every_table(db_url)
        assert any(n.startswith(KEEP) for n in during)
        assert during["rollup_tickets"] != before["rollup_tickets"]  # the import did rebuild the rollups
    after = every_table(db_url)
    assert sorted(after) == sorted(before)  # no table more or less (no copy left behind)
    differ = [n for n in before if after[n] != before[n]]
    assert not differ, differ
    assert schema.tickets.name in before
