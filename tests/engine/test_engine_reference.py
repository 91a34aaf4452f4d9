"""The SQL engine equals the independent pandas reference, on DuckDB, PostgreSQL and MariaDB.

Matrix: every metric × (no group-by and every dimension it allows, one at a time) over the whole
history; two-dimension cuts ((region, tier), (month, channel), (sla_level, month)) where the
metric allows them; and representative filters (a quarter, a tier, a city — which includes its
districts —, a channel, an as-of date inside the period, district and province grouping, a
filter that matches nothing) sampled across all metrics. Values must agree to 1e-9 relative
(quantiles to numpy's linear interpolation, i.e. PERCENTILE_CONT), counts exactly.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from reference import METRICS, dims_of, reference

from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

RTOL = 1e-9

# The demo history ends 2026-10-31 and starts 2024-05-01; whole history starts earlier on purpose.
WHOLE = Filters(date(2024, 1, 1), date(2026, 12, 31))
FILTERS: dict[str, Filters] = {
    "whole": WHOLE,
    "quarter": Filters(date(2025, 7, 1), date(2025, 9, 30)),
    "tier": Filters(date(2025, 1, 1), date(2025, 12, 31), tiers=("gold", "enterprise")),
    "city": Filters(date(2025, 4, 1), date(2026, 3, 31), regions=(2,)),
    "district": Filters(date(2025, 4, 1), date(2026, 3, 31), regions=(201, 302)),
    "channel": Filters(date(2025, 1, 1), date(2026, 6, 30), channels=("hotline",)),
    # as-of inside the period: the window stops at the as-of day, later events are unknown
    "as_of_mid": Filters(date(2025, 7, 1), date(2025, 9, 30), as_of=date(2025, 8, 14)),
    "mid_month": Filters(date(2025, 3, 10), date(2025, 6, 20), as_of=date(2025, 6, 30)),
    "nothing": Filters(date(2025, 1, 1), date(2025, 12, 31), tiers=("no_such_tier",)),
}
TWO_DIMS = (("region", "tier"), ("month", "channel"), ("sla_level", "month"))


def _cases() -> list[Any]:
    cases = []
    for m in METRICS:
        dims = dims_of(m)
        for by in [()] + [(d,) for d in dims] + [b for b in TWO_DIMS if set(b) <= set(dims)]:
            cases.append(pytest.param(m, by, "whole", "city", id=f"{m}-{'+'.join(by) or 'total'}-whole"))
    # each filter on every metric, with a group-by rotating through the metric's dimensions
    for i, name in enumerate(n for n in FILTERS if n != "whole"):
        for j, m in enumerate(METRICS):
            dims = dims_of(m)
            for by in ((), (dims[(i + j) % len(dims)],)):
                cases.append(pytest.param(m, by, name, "city", id=f"{m}-{'+'.join(by) or 'total'}-{name}"))
    # region grouping at the other levels
    for m in METRICS:
        for level in ("district", "province"):
            cases.append(pytest.param(m, ("region",), "city", level, id=f"{m}-region@{level}-city"))
    return cases


_warehouses: dict[tuple[str, bool], Warehouse] = {}
_references: dict[tuple, pd.DataFrame] = {}


def _warehouse(url: str, use_rollups: bool = True) -> Warehouse:
    """One Warehouse per database for the module. DuckDB: one read-only connection kept open
    (``Warehouse.open`` reopens the file for every query, ~4x slower here), closed at the end."""
    key = (url, use_rollups)
    if key not in _warehouses:
        if url.startswith("duckdb"):
            engine = sa.create_engine(url, connect_args={"read_only": True}, poolclass=sa.pool.SingletonThreadPool)
            _warehouses[key] = Warehouse(engine, use_rollups=use_rollups)
        else:
            _warehouses[key] = Warehouse.open(url)
            _warehouses[key].use_rollups = use_rollups
    return _warehouses[key]


@pytest.fixture(scope="module", autouse=True)
def _close_warehouses():
    yield
    for w in _warehouses.values():
        w.engine.dispose()
    _warehouses.clear()


@pytest.fixture()
def wh(db_url: str) -> Warehouse:
    return _warehouse(db_url)


def _reference(frames: dict, metric_id: str, f: Filters, by: tuple, as_of: date, level: str) -> pd.DataFrame:
    key = (metric_id, f, by, as_of, level)
    if key not in _references:
        _references[key] = reference(frames, metric_id, f, by, as_of, level)
    return _references[key]


def assert_frames_match(got: pd.DataFrame, want: pd.DataFrame, by: tuple[str, ...], label: str) -> None:
    """Same groups, same n exactly, same value/lower/upper within RTOL."""
    keys = ["region_id" if d == "region" else d for d in by]
    got = got.sort_values(keys, na_position="last").reset_index(drop=True) if keys else got
    want = want.sort_values(keys, na_position="last").reset_index(drop=True) if keys else want
    assert list(got.columns[: len(keys)]) == keys, f"{label}: columns {list(got.columns)}"
    for c in ("value", "n", "lower", "upper"):
        assert c in got.columns, f"{label}: no column {c}"
    assert len(got) == len(want), (
        f"{label}: {len(got)} groups, reference {len(want)}\n"
        f"engine:\n{got.head(20)}\nreference:\n{want.head(20)}")
    for k in keys:
        g, w = got[k], want[k]
        if k in ("month", "week"):
            g, w = pd.to_datetime(g), pd.to_datetime(w)
            assert (g.to_numpy() == w.to_numpy()).all(), f"{label}: {k} groups differ\n{g}\n{w}"
        else:
            gl = [None if pd.isna(v) else (int(v) if k == "region_id" else str(v)) for v in g]
            wl = [None if pd.isna(v) else (int(v) if k == "region_id" else str(v)) for v in w]
            assert gl == wl, f"{label}: {k} groups differ: {gl} != {wl}"
    np.testing.assert_array_equal(got["n"].to_numpy(float), want["n"].to_numpy(float), err_msg=f"{label}: n")
    for c in ("value", "lower", "upper"):
        np.testing.assert_allclose(got[c].to_numpy(float), want[c].to_numpy(float), rtol=RTOL, atol=1e-12,
                                   equal_nan=True, err_msg=f"{label}: {c}")


@pytest.mark.parametrize(("metric_id", "by", "filter_name", "level"), _cases())
def test_engine_equals_reference(wh: Warehouse, demo_frames: dict, metric_id: str, by: tuple,
                                 filter_name: str, level: str) -> None:
    f = FILTERS[filter_name]
    as_of = f.as_of or wh.as_of()
    got = wh.metric(metric_id, f, by=by, region_level=level)
    want = _reference(demo_frames, metric_id, f, by, as_of, level)
    assert_frames_match(got, want, by, f"{metric_id} by {by} [{filter_name}, {level}] on {wh.dialect}")
    if filter_name == "nothing":
        assert got.empty
    if filter_name == "whole" and not by:
        assert len(got) == 1 and got["n"].iloc[0] > 0, f"{metric_id}: no data over the whole history"


@pytest.mark.parametrize(("metric_id", "by", "filter_name", "level"),
                         [c for c in _cases() if c.values[2] in ("whole", "quarter", "as_of_mid")])
def test_raw_path_equals_reference(duckdb_url: str, demo_frames: dict, metric_id: str, by: tuple,
                                   filter_name: str, level: str) -> None:
    """The same without the rollup tables (DuckDB): whole-month views are otherwise answered
    from the rollups, so the raw compiler is checked here on them too."""
    raw = _warehouse(duckdb_url, use_rollups=False)
    f = FILTERS[filter_name]
    got = raw.metric(metric_id, f, by=by, region_level=level)
    want = _reference(demo_frames, metric_id, f, by, f.as_of or raw.as_of(), level)
    assert_frames_match(got, want, by, f"{metric_id} by {by} [{filter_name}, {level}] raw on duckdb")


def test_as_of_is_the_newest_day_of_the_demo(wh: Warehouse, demo_frames: dict) -> None:
    newest = demo_frames["tickets"]["opened_at"].max().date()
    assert wh.as_of() >= newest
