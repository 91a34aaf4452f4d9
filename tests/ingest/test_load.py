"""Loading frames into DuckDB, PostgreSQL and MariaDB; derived tables; atomic DuckDB replace."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from metrics.backends.connect import make_engine
from metrics.demo.generator import generate
from metrics.ingest.load import refresh_derived, replace_all
from metrics.model import schema


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url, read_only=url.startswith("duckdb"))
    try:
        with engine.connect() as conn:
            return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                    for t in schema.metadata.sorted_tables}
    finally:
        engine.dispose()


def test_round_trip_counts_and_values(db_url: str, demo_frames: dict[str, Any]) -> None:
    counts = _counts(db_url)
    for name, df in demo_frames.items():
        assert counts[name] == len(df), name
    assert counts["region_closure"] > counts["regions"]
    engine = make_engine(db_url, read_only=db_url.startswith("duckdb"))
    try:
        with engine.connect() as conn:
            t = schema.tickets
            first = conn.execute(sa.select(t).where(t.c.ticket_id == 1)).mappings().one()
            meta = dict(conn.execute(sa.select(schema.meta.c.key, schema.meta.c.value)).all())
            open_n = conn.execute(sa.select(sa.func.count()).where(t.c.resolved_at.is_(None))).scalar_one()
            sats = conn.execute(sa.select(sa.func.count()).where(t.c.revisit_satisfied.is_(False))).scalar_one()
            c = schema.customers
            churned = conn.execute(sa.select(sa.func.count()).where(c.c.end_date.is_not(None))).scalar_one()
            names = conn.execute(sa.select(c.c.name).where(c.c.customer_id == 1)).scalar_one()
    finally:
        engine.dispose()
    src = demo_frames["tickets"].iloc[0]
    assert first["opened_at"] == src["opened_at"].to_pydatetime()
    assert first["channel"] == src["channel"] and bool(first["first_contact_resolved"]) == bool(
        src["first_contact_resolved"])
    tk, cust = demo_frames["tickets"], demo_frames["customers"]
    assert open_n == tk["resolved_at"].isna().sum()
    assert sats == (tk["revisit_satisfied"] == False).sum()  # noqa: E712
    assert churned == cust["end_date"].notna().sum()
    assert names == cust["name"].iloc[0]
    assert meta["as_of"] == "2026-10-31" and meta["demo_seed"] == "11"


def test_closure_and_calendar(duckdb_url: str) -> None:
    engine = make_engine(duckdb_url, read_only=True)
    try:
        with engine.connect() as conn:
            rc = pd.DataFrame(conn.execute(sa.select(schema.region_closure)).mappings().all())
            months = [r[0] for r in conn.execute(sa.select(schema.calendar_months.c.month_start)
                                                 .order_by(schema.calendar_months.c.month_start))]
    finally:
        engine.dispose()
    self_rows = rc[rc["depth"] == 0]
    assert (self_rows["ancestor_id"] == self_rows["descendant_id"]).all()
    province = rc[rc["ancestor_id"] == 1]
    assert set(province["depth"]) == {0, 1, 2}
    assert months[-1] == dt.date(2026, 10, 1)


def test_duckdb_replace_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "sw.duckdb"
    url = f"duckdb:///{path}"
    small, other = generate(200, seed=1), generate(300, seed=2)
    replace_all(url, small)
    reader = make_engine(url, read_only=True)
    with reader.connect() as conn:  # a reader holding the old file open
        before = conn.execute(sa.select(sa.func.count()).select_from(schema.customers)).scalar_one()
        replace_all(url, other)
        still = conn.execute(sa.select(sa.func.count()).select_from(schema.customers)).scalar_one()
    reader.dispose()
    assert before == still == 200
    assert _counts(url)["customers"] == 300
    broken = dict(other, tickets=other["tickets"].drop(columns=["channel"]))
    with pytest.raises(ValueError):
        replace_all(url, broken)
    assert _counts(url)["customers"] == 300  # the old file survives a failed load
    # no temp files left; the writers' lock file stays (an empty file; flock dies with its process)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".sw.duckdb.write.lock", "sw.duckdb"]


def test_refresh_derived_keeps_demo_meta(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'm.duckdb'}"
    replace_all(url, generate(200, seed=1))
    engine = make_engine(url)
    try:
        refresh_derived(engine)
        with engine.connect() as conn:
            meta = dict(conn.execute(sa.select(schema.meta.c.key, schema.meta.c.value)).all())
    finally:
        engine.dispose()
    assert meta["demo_customers"] == "200" and meta["as_of"] == "2026-10-31" and "refreshed_at" in meta
