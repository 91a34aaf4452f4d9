"""Missing is not "no": flags and amounts a source did not have (NULL) on DuckDB, PostgreSQL, MariaDB.

A copy of the demo data where part of the tickets have ``first_contact_resolved``, ``reopened``,
``escalated`` or ``compensation`` unknown (NULL) — at random, and on whole slices (a channel, a
category, a priority, a kind, a month), so some groups have none known — is loaded into its own
database on each server. Every metric over such a column, over raw rows and over the rollups,
equals the pandas reference on the same rows (tests/reference.py, which counts a flag only where
it is known); a group with rows but none known is there with value NaN, n 0 and ``missing`` naming
the column, never 0%.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
from db_snapshot import MARKED_BACKENDS, fresh_database
from reference import NEEDS, reference
from test_engine_reference import assert_frames_match
from test_rollups import uses_rollup

from metrics.model.filters import Filters
from metrics.model.registry import get
from metrics.query.warehouse import Warehouse

FILTERS = {
    "whole": Filters(date(2024, 1, 1), date(2026, 12, 31)),
    "quarter": Filters(date(2025, 7, 1), date(2025, 9, 30)),  # whole months: the rollups answer
    "mid_month": Filters(date(2025, 7, 10), date(2025, 9, 20)),  # raw rows
    "as_of_mid": Filters(date(2025, 7, 1), date(2025, 9, 30), as_of=date(2025, 8, 14)),
}
BY = ((), ("channel",), ("category",), ("priority",), ("kind",), ("tier",), ("month",), ("region",),
      ("month", "channel"))
# the whole slices with a column unknown on every ticket: (column, ticket column, value)
UNKNOWN_SLICES = (("first_contact_resolved", "channel", "agent"), ("reopened", "category", "tariff"),
                  ("escalated", "priority", "P3"), ("compensation", "kind", "inquiry"))


def unknown_frames(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The demo frames with the four columns NULL on ~30% of the tickets at random, on the slices of
    :data:`UNKNOWN_SLICES`, and ``first_contact_resolved`` on every ticket opened in August 2025."""
    t = frames["tickets"].copy()
    rng = np.random.default_rng(14)
    for column, dim, value in UNKNOWN_SLICES:
        t[column] = t[column].astype(object)
        gone = (rng.random(len(t)) < 0.3) | (t[dim] == value).to_numpy()
        if column == "first_contact_resolved":
            gone |= (t["opened_at"].dt.to_period("M") == pd.Period("2025-08", "M")).to_numpy()
        t.loc[gone, column] = None
    t["compensation"] = pd.to_numeric(t["compensation"], errors="coerce")
    return {**frames, "tickets": t}


@pytest.fixture(scope="module")
def frames(demo_frames: dict) -> dict[str, pd.DataFrame]:
    return unknown_frames(demo_frames)


@pytest.fixture(scope="module", params=MARKED_BACKENDS)
def url(request: pytest.FixtureRequest, frames: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from fresh_database(request.param, frames, tmp_path_factory.mktemp("unknown"))


@pytest.fixture(scope="module")
def warehouses(url: str) -> Iterator[dict[bool, Warehouse]]:
    out = {True: Warehouse.open(url), False: Warehouse.open(url)}
    out[False].use_rollups = False
    yield out
    for wh in out.values():
        wh.engine.dispose()


def _cases() -> list[Any]:
    return [pytest.param(m, by, name, id=f"{m}-{'+'.join(by) or 'total'}-{name}")
            for m in NEEDS for by in BY for name in FILTERS]


@pytest.mark.parametrize(("metric_id", "by", "filter_name"), _cases())
def test_engine_equals_reference_with_unknown_flags(warehouses: dict, frames: dict, metric_id: str,
                                                     by: tuple, filter_name: str) -> None:
    f = FILTERS[filter_name]
    as_of = f.as_of or warehouses[True].as_of()
    want = reference(frames, metric_id, f, by, as_of, "city")
    for rolled, wh in warehouses.items():
        got = wh.metric(metric_id, f, by=by)
        label = f"{metric_id} by {by} [{filter_name}] {'rollups' if rolled else 'raw'} on {wh.dialect}"
        assert_frames_match(got, want, by, label)
        assert "missing" in got.columns
        gone = got["missing"].notna()
        assert (got.loc[gone, "n"] == 0).all() and got.loc[gone, "value"].isna().all(), label
        assert (got.loc[gone, "missing"] == NEEDS[metric_id]).all(), label
        assert got.loc[~gone, "n"].gt(0).all(), label


def test_rollups_answer_whole_months_and_count_known_rows(warehouses: dict) -> None:
    wh = warehouses[True]
    for metric_id in NEEDS:
        assert uses_rollup(wh.compile(metric_id, FILTERS["quarter"], ("channel",))), metric_id
        assert not uses_rollup(wh.compile(metric_id, FILTERS["mid_month"], ("channel",))), metric_id


@pytest.mark.parametrize(("column", "dim", "value"), UNKNOWN_SLICES)
def test_a_slice_without_the_column_is_missing_not_zero(warehouses: dict, column: str, dim: str,
                                                        value: str) -> None:
    metric_id = next(m for m, c in NEEDS.items() if c == column)
    for wh in warehouses.values():
        got = wh.metric(metric_id, FILTERS["whole"], by=(dim,))
        row = got[got[dim] == value]
        assert len(row) == 1, f"{metric_id} by {dim}: no group {value}\n{got}"
        assert pd.isna(row["value"].iloc[0]) and row["n"].iloc[0] == 0 and row["missing"].iloc[0] == column
        # the same slice as a filter: one row, missing (the KPI card's case)
        only = wh.metric(metric_id, FILTERS["whole"].with_(**{_filter_field(dim): (value,)}))
        assert len(only) == 1 and pd.isna(only["value"].iloc[0]) and only["missing"].iloc[0] == column
        cmp = wh.compare(metric_id, FILTERS["whole"].with_(**{_filter_field(dim): (value,)}))
        assert cmp["missing"].iloc[0] == column and pd.isna(cmp["value"].iloc[0])


def _filter_field(dim: str) -> str:
    return {"channel": "channels", "category": "categories", "priority": "priorities", "kind": "kinds"}[dim]


def test_fcr_in_a_month_without_the_flag_is_missing(warehouses: dict, frames: dict) -> None:
    f = Filters(date(2025, 8, 1), date(2025, 8, 31))
    tickets = frames["tickets"]
    august = tickets[(tickets["opened_at"] >= "2025-08-01") & (tickets["opened_at"] < "2025-09-01")]
    assert len(august) > 0 and august["first_contact_resolved"].isna().all()
    for wh in warehouses.values():
        got = wh.metric("fcr_rate", f)
        assert len(got) == 1 and got["n"].iloc[0] == 0 and pd.isna(got["value"].iloc[0])
        assert get("fcr_rate").needs == ("first_contact_resolved",)
