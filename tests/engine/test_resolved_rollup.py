"""The resolution-time quantiles from ``rollup_resolved`` equal the raw query, and only run there when
they can.

For every quantile metric × dimension (and pairs) × filter, on DuckDB, PostgreSQL and MariaDB, the
Warehouse reading ``rollup_resolved`` gives exactly (==, not to a tolerance) the groups, n and values
of the Warehouse reading tickets joined to customers (``use_rollups=False``); periods need not be
whole months; also on data whose as-of falls inside a month. One case is checked against a pandas
quantile of the raw frames. Another as-of, an account manager's portfolio, a viewer's small-group
count and a database without the table go to the raw rows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from test_rollups import FILTERS as MONTH_FILTERS
from test_rollups import tables_read, warehouse_for

from metrics.access.users import Scope
from metrics.ingest import circuits_rollup, resolved_rollup, rollups
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.registry import METRICS, get
from metrics.query import rollup_compiler
from metrics.query.compiler import Window

QUANTILES = [m.id for m in METRICS if m.kind == "quantile"]

# the demo history runs 2024-05-01 .. 2026-10-31 (the as-of): the month-aligned filters of test_rollups
# and periods of any days
FILTERS: dict[str, Filters] = {
    **{name: MONTH_FILTERS[name] for name in ("whole", "quarter")},
    "mid_month": Filters(date(2025, 3, 10), date(2025, 6, 20)),
    "one_day": Filters(date(2025, 8, 14), date(2025, 8, 14)),
    "to_as_of_mid_month": Filters(date(2026, 9, 5), date(2026, 10, 31)),
    **{name: MONTH_FILTERS[name] for name in ("year_city_tier", "districts_channel", "segment_sla", "ticket_slices",
                                              "explicit_as_of")},
    "region_scope": Filters(date(2025, 1, 1), date(2025, 12, 31), scope=Scope("city_lead", regions=(3,))),
    "nothing": MONTH_FILTERS["nothing"],
}
PAIRS = (("region", "tier"), ("month", "channel"), ("sla_level", "month"), ("kind", "priority"),
         ("week", "category"))


def _dims(metric_id: str) -> list[str]:
    return [d for d in get(metric_id).dims if d in resolved_rollup.DIMS]


def _cases() -> list[Any]:
    cases = []
    for m in QUANTILES:
        dims = _dims(m)
        for by in [()] + [(d,) for d in dims] + [p for p in PAIRS if set(p) <= set(dims)]:
            cases.append(pytest.param(m, by, "whole", "city", id=f"{m}-{'+'.join(by) or 'total'}-whole"))
    for i, name in enumerate(n for n in FILTERS if n != "whole"):
        for j, m in enumerate(QUANTILES):
            dims = _dims(m)
            for by in ((), (dims[(i + j) % len(dims)],), ("month",)):
                cases.append(pytest.param(m, by, name, "city", id=f"{m}-{'+'.join(by) or 'total'}-{name}"))
    for m in QUANTILES:
        for level in ("district", "province"):
            cases.append(pytest.param(m, ("region",), "year_city_tier", level, id=f"{m}-region@{level}"))
    return cases


def reads_resolved(stmt: sa.Select) -> bool:
    names = tables_read(stmt)
    return resolved_rollup.rollup_resolved.name in names and s.tickets.name not in names


def assert_identical(got: pd.DataFrame, want: pd.DataFrame, label: str) -> None:
    """Same columns, groups, n and values: exactly (a quantile over the same rows is the same number)."""
    assert list(got.columns) == list(want.columns), label
    assert len(got) == len(want), f"{label}: {len(got)} groups, raw {len(want)}"
    for c in got.columns:
        if c in ("value", "n", "lower", "upper", "value_cmp", "n_cmp", "delta", "delta_pct"):
            np.testing.assert_array_equal(got[c].to_numpy(float), want[c].to_numpy(float), err_msg=f"{label}: {c}")
        else:
            assert [None if pd.isna(v) else str(v) for v in got[c]] == \
                   [None if pd.isna(v) else str(v) for v in want[c]], f"{label}: groups of {c}"


# ---------------------------------------------------------------------------------------------


def test_the_table_holds_the_resolved_tickets_sorted(db_url: str) -> None:
    wh = warehouse_for(db_url, True)
    assert resolved_rollup.SOURCE in wh.rollup_sources()
    end = datetime.combine(wh.as_of() + timedelta(days=1), time())
    t, c, r = s.tickets, s.customers, resolved_rollup.rollup_resolved
    with wh.engine.connect() as conn:
        want = conn.execute(sa.select(sa.func.count()).select_from(t.join(c, c.c.customer_id == t.c.customer_id))
                            .where(t.c.resolved_at.isnot(None), t.c.resolved_at < end)).scalar()
        assert conn.execute(sa.select(sa.func.count()).select_from(r)).scalar() == want > 0
        if wh.dialect == "duckdb":  # stored in opening order (zone maps skip other periods)
            opened = pd.Series([v for (v,) in conn.execute(sa.select(r.c.opened_at))])
            assert opened.is_monotonic_increasing


@pytest.mark.parametrize(("metric_id", "by", "filter_name", "level"), _cases())
def test_quantile_from_resolved_equals_raw(db_url: str, metric_id: str, by: tuple, filter_name: str,
                                           level: str) -> None:
    rolled, raw = warehouse_for(db_url, True), warehouse_for(db_url, False)
    f = FILTERS[filter_name]
    assert reads_resolved(rolled.compile(metric_id, f, by, level)), f"{metric_id} by {by} [{filter_name}]"
    assert not reads_resolved(raw.compile(metric_id, f, by, level))
    got, want = rolled.metric(metric_id, f, by, level), raw.metric(metric_id, f, by, level)
    assert_identical(got, want, f"{metric_id} by {by} [{filter_name}, {level}] on {rolled.dialect}")
    if filter_name == "nothing":
        assert got.empty
    elif filter_name in ("whole", "quarter"):
        assert got["n"].sum() > 0


@pytest.mark.parametrize("metric_id", QUANTILES)
def test_compare_from_resolved_equals_raw(db_url: str, metric_id: str) -> None:
    """What the Complaints and SLA pages ask: the quarter against the previous one and a year ago."""
    rolled, raw = warehouse_for(db_url, True), warehouse_for(db_url, False)
    for comparison in ("previous", "year_ago"):
        f = replace(FILTERS["quarter"], comparison=comparison)
        for by in ((), ("tier",), ("region",)):
            assert_identical(rolled.compare(metric_id, f, by), raw.compare(metric_id, f, by),
                             f"{metric_id} {by} {comparison}")


def test_median_by_tier_against_pandas(duckdb_url: str, demo_frames: dict) -> None:
    """An independent computation from the generated frames: linear-interpolation quantiles of the
    hours of tickets opened in the quarter and resolved by the as-of, per customer tier."""
    wh = warehouse_for(duckdb_url, True)
    f = FILTERS["quarter"]
    t = demo_frames["tickets"].merge(demo_frames["customers"][["customer_id", "tier"]], on="customer_id")
    end = pd.Timestamp(wh.as_of() + timedelta(days=1))
    t = t[(t["opened_at"] >= pd.Timestamp(f.start)) & (t["opened_at"] < pd.Timestamp(f.end + timedelta(days=1)))
          & t["resolved_at"].notna() & (t["resolved_at"] < end)]
    hours = (t["resolved_at"] - t["opened_at"]).dt.total_seconds() / 3600
    for metric_id, q in (("resolution_hours_median", 0.5), ("resolution_hours_p90", 0.9)):
        want = hours.groupby(t["tier"]).quantile(q)
        got = wh.metric(metric_id, f, ("tier",)).set_index("tier")
        assert list(got.index) == sorted(want.index)
        np.testing.assert_allclose(got["value"].to_numpy(float), want[got.index].to_numpy(float), rtol=1e-12)
        np.testing.assert_array_equal(got["n"].to_numpy(float), hours.groupby(t["tier"]).size()[got.index])


# ---------------------------------------------------------------------------------------------
# requests it cannot answer exactly go to the raw rows

FALLBACKS = {
    "other_as_of": (replace(FILTERS["quarter"], as_of=date(2025, 8, 31)), ("tier",)),
    "manager": (replace(FILTERS["quarter"], scope=Scope("am", manager_id=3)), ()),
    "viewer": (replace(FILTERS["quarter"], scope=Scope("viewer", aggregates_only=True, min_group_size=5)), ("tier",)),
}


@pytest.mark.parametrize("case", list(FALLBACKS))
@pytest.mark.parametrize("metric_id", QUANTILES)
def test_ineligible_requests_fall_back_to_raw(db_url: str, metric_id: str, case: str) -> None:
    rolled, raw = warehouse_for(db_url, True), warehouse_for(db_url, False)
    f, by = FALLBACKS[case]
    assert not reads_resolved(rolled.compile(metric_id, f, by))
    assert_identical(rolled.metric(metric_id, f, by), raw.metric(metric_id, f, by), case)


def test_not_built_means_raw() -> None:
    f, as_of = FILTERS["quarter"], date(2026, 10, 31)
    w, m = Window.of(f, as_of), get("resolution_hours_median")
    compile_ = rollup_compiler.compile_from_rollup
    assert compile_(m, f, ("tier",), w, "city", "duckdb", as_of, frozenset(rollups.EVENT_SOURCES)) is None
    assert compile_(m, f, ("tier",), w, "city", "duckdb", None, frozenset({"resolved"})) is None
    assert compile_(m, f, ("tier",), w, "city", "duckdb", as_of, frozenset({"resolved"})) is not None
    assert compile_(m, f, ("tier",), w, "city", "mariadb", as_of, frozenset({"resolved"})) is not None
    assert all(resolved_rollup.served(get(q)) for q in QUANTILES)
    assert not any(resolved_rollup.served(x) for x in METRICS if x.kind != "quantile")


# ---------------------------------------------------------------------------------------------
# data whose as-of falls inside a month

CUT = date(2026, 10, 15)


@pytest.fixture(scope="module")
def mid_month_url(tmp_path_factory: pytest.TempPathFactory, demo_frames: dict) -> str:
    from metrics.ingest.load import replace_all

    cut = pd.Timestamp(CUT) + pd.Timedelta(days=1)
    frames = dict(demo_frames)
    t = demo_frames["tickets"]
    frames["tickets"] = t[t["opened_at"] < cut]  # tickets resolved after the cut keep their time
    frames["surveys"] = demo_frames["surveys"][demo_frames["surveys"]["answered_at"] < cut]
    c = demo_frames["customers"].copy()
    c["start_date"] = c["start_date"].where(c["start_date"] < cut, pd.Timestamp(CUT))
    c["end_date"] = c["end_date"].where(c["end_date"] < cut)
    frames["customers"] = c
    url = f"duckdb:///{tmp_path_factory.mktemp('resolved_cut') / 'cut.duckdb'}"
    replace_all(url, frames)
    return url


@pytest.mark.parametrize("metric_id", QUANTILES)
def test_up_to_a_mid_month_as_of(mid_month_url: str, metric_id: str) -> None:
    rolled, raw = warehouse_for(mid_month_url, True), warehouse_for(mid_month_url, False)
    assert rolled.as_of() == CUT == rolled.rollup_as_of()
    with rolled.engine.connect() as conn:  # resolutions after the as-of are not in it
        late = conn.execute(sa.select(sa.func.count()).select_from(resolved_rollup.rollup_resolved).where(
            resolved_rollup.rollup_resolved.c.resolved_at >= datetime.combine(CUT + timedelta(days=1), time())))
        assert late.scalar() == 0
    for f in (Filters(date(2026, 1, 1), date(2026, 12, 31)), Filters(date(2026, 10, 1), date(2026, 10, 31)),
              Filters(date(2026, 9, 20), date(2026, 10, 14), tiers=("gold",))):
        for by in ((), ("month",), ("week",), ("tier",), ("region", "month")):
            assert reads_resolved(rolled.compile(metric_id, f, by)), f"{metric_id} {by} {f.start}"
            assert_identical(rolled.metric(metric_id, f, by), raw.metric(metric_id, f, by),
                             f"{metric_id} {by} {f.start}..{f.end}")


# ---------------------------------------------------------------------------------------------
# availability other than by month: the raw query over rollup_circuits (no join with customers)

AVAILABILITY_FILTERS = {**{k: FILTERS[k] for k in ("whole", "quarter", "mid_month", "year_city_tier",
                                                   "segment_sla", "region_scope", "nothing")},
                        "other_as_of": replace(FILTERS["quarter"], as_of=date(2025, 8, 20)),
                        "manager": replace(FILTERS["quarter"], scope=Scope("am", manager_id=3))}
AVAILABILITY_BY = ((), ("region",), ("tier",), ("segment",), ("sla_level",), ("region", "tier"), ("month",))


def reads_circuits(stmt: sa.Select) -> bool:
    names = {t.name for t in sa.sql.util.find_tables(stmt, include_joins=True, include_aliases=True)
             if isinstance(t, sa.Table)}
    return circuits_rollup.rollup_circuits.name in names and not names & {s.customers.name, s.services.name}


@pytest.mark.parametrize("filter_name", list(AVAILABILITY_FILTERS))
def test_availability_from_circuits_equals_raw(db_url: str, filter_name: str) -> None:
    rolled, raw = warehouse_for(db_url, True), warehouse_for(db_url, False)
    f = AVAILABILITY_FILTERS[filter_name]
    for by in AVAILABILITY_BY:
        for level in ("city",) if by != ("region",) else ("district", "city", "province"):
            stmt = rolled.compile("availability", f, by, level)
            if by == ("month",):  # the month cube when it can (whole months, same as-of), else the circuits
                assert reads_circuits(stmt) != (f.start.day == 1 and f.as_of is None and filter_name != "manager")
            else:
                assert reads_circuits(stmt), f"availability by {by} [{filter_name}]"
            got, want = rolled.metric("availability", f, by, level), raw.metric("availability", f, by, level)
            label = f"availability by {by} [{filter_name}, {level}] on {rolled.dialect}"
            assert list(got.columns) == list(want.columns) and len(got) == len(want), label
            np.testing.assert_array_equal(got["n"].to_numpy(float), want["n"].to_numpy(float), err_msg=label)
            for c in ("value", "lower", "upper"):  # sums of hours: the database may add in another order
                np.testing.assert_allclose(got[c].to_numpy(float), want[c].to_numpy(float), rtol=1e-12,
                                           equal_nan=True, err_msg=f"{label}: {c}")
            if filter_name == "nothing":
                assert got.empty
            elif filter_name == "whole":
                assert got["n"].sum() > 0


def test_availability_compare_from_circuits(db_url: str) -> None:
    """The SLA page's card: the quarter against the previous one, and by region."""
    rolled, raw = warehouse_for(db_url, True), warehouse_for(db_url, False)
    for by in ((), ("region",)):
        got, want = rolled.compare("availability", FILTERS["quarter"], by), raw.compare("availability",
                                                                                        FILTERS["quarter"], by)
        np.testing.assert_array_equal(got["n_cmp"].to_numpy(float), want["n_cmp"].to_numpy(float))
        np.testing.assert_allclose(got["value_cmp"].to_numpy(float), want["value_cmp"].to_numpy(float), rtol=1e-12)
        np.testing.assert_allclose(got["value"].to_numpy(float), want["value"].to_numpy(float), rtol=1e-12)
