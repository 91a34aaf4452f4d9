"""Tenure rollup: the life table read from it equals the life table over the customers table for
every grouping, step and filter it answers (DuckDB, PostgreSQL, MariaDB), and it declines — falling
back to raw rows — whenever it could differ."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from metrics.access.users import Scope
from metrics.churn import survival as sv
from metrics.churn import tenure_rollup as sr
from metrics.ingest.load import create_schema
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse


def _pair(url: str) -> tuple[Warehouse, Warehouse]:
    wh = Warehouse.open(url)
    return wh, Warehouse(wh.engine, use_rollups=False)


def _region_ids(wh: Warehouse) -> tuple[int, int]:
    """A city and a district in another city."""
    r = wh.regions()
    city = int(r.loc[r["level"] == "city", "region_id"].iloc[0])
    other = r[(r["level"] == "district") & (r["parent_id"] != city)]
    return city, int(other["region_id"].iloc[0])


CASES = [  # (by, level, step_days, filter fields); steps 7 and 14 read the weekly tables
    ("tier", "city", 1, {}),
    ("tier", "city", 7, {}),
    (None, "city", 7, {}),
    ("segment", "city", 30, {"channels": ("hotline", "web_app")}),
    ("channel", "city", 7, {"tiers": ("gold", "silver")}),
    ("sla_level", "city", 1, {"segments": ("enterprise",)}),
    ("region", "city", 7, {}),
    ("region", "city", 1, {}),
    ("region", "district", 14, {"tiers": ("standard",)}),
]


@pytest.mark.parametrize(("by", "level", "step", "kw"), CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}-{len(c[3])}" for c in CASES])
def test_rollup_equals_raw(db_url: str, by: str | None, level: str, step: int, kw: dict) -> None:
    wh, raw = _pair(db_url)
    f = Filters(start=wh.as_of(), end=wh.as_of(), **kw)
    start = sv.observed_from(wh)
    assert sr.life_table_query(wh, f, by, level, step, start) is not None  # the rollup answers
    got, want = sv.life_table(wh, f, by, level, step), sv.life_table(raw, f, by, level, step)
    assert len(want) > 0
    pd.testing.assert_frame_equal(got, want)


def test_rollup_equals_raw_with_regions_and_scope(db_url: str) -> None:
    """Region filters and a manager's region scope read the district rollup, with the same result."""
    wh, raw = _pair(db_url)
    city, district = _region_ids(wh)
    base = Filters(start=wh.as_of(), end=wh.as_of())
    start = sv.observed_from(wh)
    for f in (base.with_(regions=(city,)), base.with_(regions=(city, district), tiers=("gold",)),
              base.with_(scope=Scope(user="m", regions=(city,)))):
        for by, step in (("tier", 7), ("region", 7), ("tier", 1)):  # weekly and daily tables
            assert sr.life_table_query(wh, f, by, "district", step, start) is not None
            got, want = sv.life_table(wh, f, by, "district", step), sv.life_table(raw, f, by, "district", step)
            assert len(want) > 0
            pd.testing.assert_frame_equal(got, want)
    whole = sv.life_table(wh, base, None, "city", 7)
    in_city = sv.life_table(wh, base.with_(regions=(city,)), None, "city", 7)
    assert 0 < in_city["entered"].sum() < whole["entered"].sum()


def test_rollup_declines_when_it_could_differ(duckdb_url: str) -> None:
    """Another as-of, no left truncation, an account manager's portfolio: raw rows are read."""
    wh, raw = _pair(duckdb_url)
    f = Filters(start=wh.as_of(), end=wh.as_of())
    start = sv.observed_from(wh)
    earlier = f.with_(as_of=wh.as_of() - timedelta(days=40))
    portfolio = f.with_(scope=Scope(user="am", manager_id=1))
    assert sr.life_table_query(wh, f, "tier", "city", 7, start) is not None
    assert sr.life_table_query(wh, earlier, "tier", "city", 7, start) is None
    assert sr.life_table_query(wh, f, "tier", "city", 7, None) is None
    assert sr.life_table_query(wh, portfolio, "tier", "city", 7, start) is None
    for g, hs in ((earlier, "auto"), (f, None), (portfolio, "auto")):
        pd.testing.assert_frame_equal(sv.life_table(wh, g, "tier", step_days=7, history_start=hs),
                                      sv.life_table(raw, g, "tier", step_days=7, history_start=hs))
    # an earlier as-of really changes the table (so the check above is not vacuous)
    assert not sv.life_table(raw, earlier, "tier", step_days=7).equals(sv.life_table(raw, f, "tier", step_days=7))


def test_refresh_without_data(tmp_path: Path) -> None:
    """An empty database: no rollup, no sw_meta keys, and no error."""
    wh = Warehouse.open(f"duckdb:///{tmp_path / 'empty.duckdb'}", read_only=False)
    create_schema(wh.engine)
    assert sr.refresh(wh.engine) is None
    assert sr.built_for(wh) is None
