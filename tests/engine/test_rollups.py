"""Rollups answer exactly what the raw compiler answers, and only when they can.

For every rollup-able metric × dimensions × month-aligned filters, the Warehouse reading the rollup
tables equals the Warehouse reading raw rows (``use_rollups=False``) on DuckDB, PostgreSQL and
MariaDB: same groups, counts exactly, values and bounds to 1e-9 relative. Requests the rollups
cannot answer exactly (a mid-month period, week grouping, another as-of, a quantile at another
as-of, a metric of another source) must go to the raw rows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from metrics.backends.connect import make_engine
from metrics.ingest import rollups
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.model.registry import METRICS, get
from metrics.query import rollup_compiler
from metrics.query.compiler import Window
from metrics.query.warehouse import Warehouse

RTOL = 1e-9
ROLLUP_METRICS = [m.id for m in METRICS if rollups.rollupable(m)]
NOT_ROLLUP = [m.id for m in METRICS if not rollups.rollupable(m)]

# month-aligned filters; the demo history runs 2024-05-01 .. 2026-10-31 (the as-of)
FILTERS: dict[str, Filters] = {
    "whole": Filters(date(2024, 1, 1), date(2026, 12, 31)),
    "quarter": Filters(date(2025, 7, 1), date(2025, 9, 30)),
    "year_city_tier": Filters(date(2025, 1, 1), date(2025, 12, 31), regions=(2,), tiers=("gold", "enterprise")),
    "districts_channel": Filters(date(2025, 4, 1), date(2026, 3, 31), regions=(201, 302), channels=("hotline",)),
    "segment_sla": Filters(date(2024, 11, 1), date(2025, 10, 31), segments=("enterprise",),
                           sla_levels=("gold", "silver")),
    "ticket_slices": Filters(date(2025, 6, 1), date(2026, 5, 31), categories=("billing", "network_quality"),
                             kinds=("complaint", "fault"), priorities=("P1", "P2")),
    "survey_kind": Filters(date(2025, 6, 1), date(2026, 5, 31), survey_kinds=("post_interaction",)),
    "explicit_as_of": Filters(date(2026, 5, 1), date(2026, 10, 31), as_of=date(2026, 10, 31)),
    "nothing": Filters(date(2025, 1, 1), date(2025, 12, 31), tiers=("no_such_tier",)),
}
PAIRS = (("region", "tier"), ("month", "channel"), ("sla_level", "month"), ("kind", "priority"))


MONTH_ONLY = {"availability"}  # served from its cube only when grouped by month


def _dims(metric_id: str) -> list[str]:
    m = get(metric_id)
    return [d for d in m.dims if d in rollups.CUBE_DIMS[m.source]]


def _by(metric_id: str, by: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(("month",) + by)) if metric_id in MONTH_ONLY else by


def _cases() -> list[Any]:
    cases = []

    def add(m: str, by: tuple[str, ...], name: str, level: str, id_: str) -> None:
        by = _by(m, by)
        cases.append(pytest.param(m, by, name, level, id=f"{m}-{'+'.join(by) or 'total'}-{id_}"))

    for m in ROLLUP_METRICS:
        dims = _dims(m)
        for by in dict.fromkeys(_by(m, b) for b in [()] + [(d,) for d in dims] +
                                [p for p in PAIRS if set(p) <= set(dims)]):
            add(m, by, "whole", "city", "whole")
    for i, name in enumerate(n for n in FILTERS if n != "whole"):
        for j, m in enumerate(ROLLUP_METRICS):
            dims = _dims(m)
            for by in ((), (dims[(i + j) % len(dims)],)):
                if m not in MONTH_ONLY or by:
                    add(m, by, name, "city", name)
    for m in ROLLUP_METRICS:
        for level in ("district", "province"):
            add(m, ("region",), "year_city_tier", level, f"region@{level}")
    return cases


_warehouses: dict[tuple[str, bool], Warehouse] = {}


def warehouse_for(url: str, use_rollups: bool) -> Warehouse:
    """One Warehouse per (database, reading rollups or not) for the session's rollup tests; a DuckDB file
    opened read-only."""
    if (url, use_rollups) not in _warehouses:
        read_only = url.startswith("duckdb")
        _warehouses[url, use_rollups] = Warehouse(make_engine(url, read_only=read_only), use_rollups=use_rollups)
    return _warehouses[url, use_rollups]


@pytest.fixture()
def rolled(db_url: str) -> Warehouse:
    return warehouse_for(db_url, True)


@pytest.fixture()
def raw(db_url: str) -> Warehouse:
    return warehouse_for(db_url, False)


def tables_read(stmt: sa.Select) -> set[str]:
    """The names of the tables ``stmt`` reads (joins and aliases included)."""
    return {t.name for t in sa.sql.util.find_tables(stmt, include_joins=True, include_aliases=True)
            if isinstance(t, sa.Table)}


def uses_rollup(stmt: sa.Select) -> bool:
    return bool(tables_read(stmt) & {t.name for t in rollups.ALL_TABLES.values()})


def assert_same(got: pd.DataFrame, want: pd.DataFrame, label: str) -> None:
    assert list(got.columns) == list(want.columns), f"{label}: columns {list(got.columns)} != {list(want.columns)}"
    assert len(got) == len(want), f"{label}: {len(got)} groups, raw {len(want)}\n{got.head()}\n{want.head()}"
    for c in got.columns:
        g, w = got[c], want[c]
        if c in ("value", "lower", "upper", "value_cmp", "delta", "delta_pct"):
            np.testing.assert_allclose(g.to_numpy(float), w.to_numpy(float), rtol=RTOL, atol=1e-12,
                                       equal_nan=True, err_msg=f"{label}: {c}")
        elif c in ("n", "n_cmp", "events"):
            np.testing.assert_array_equal(g.to_numpy(float), w.to_numpy(float), err_msg=f"{label}: {c}")
        else:
            gl = [None if pd.isna(v) else str(v) for v in g]
            wl = [None if pd.isna(v) else str(v) for v in w]
            assert gl == wl, f"{label}: groups of {c} differ"


# ---------------------------------------------------------------------------------------------
# the rollups exist and hold what the compiler would compute


def test_rollups_are_built_at_the_load_as_of(rolled: Warehouse) -> None:
    assert rolled.rollup_as_of() == rolled.as_of()
    with rolled.engine.connect() as conn:
        for source, table in rollups.TABLES.items():
            rows = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            fact = s.tickets if source == "tickets" else s.surveys
            n_fact = conn.execute(sa.select(sa.func.count()).select_from(fact)).scalar()
            assert 0 < rows <= n_fact
            first = "tickets__n" if source == "tickets" else "csat_mean__n"
            assert first in table.c
        assert rolled.rollup_sources() == {"tickets", "surveys", "customers", "services", rollups.KNOWN_COUNTS,
                                           rollups.CUSTOMER_MEASURES, "resolved", "circuits", rollups.COARSE}
        months = conn.execute(sa.select(sa.func.count(sa.distinct(rollups.rollup_customers.c.month)))).scalar()
        n_months = conn.execute(sa.select(sa.func.count()).select_from(s.calendar_months)).scalar()
        assert 0 < months <= n_months


def test_coarse_cubes_hold_the_fine_cubes_sums(rolled: Warehouse) -> None:
    """Each coarse cube is its fine cube summed over the dimensions it leaves out: every measure's
    total per coarse cell equal (integers exactly, sums of doubles to 1e-12)."""
    for source, coarse in rollups.COARSE_TABLES.items():
        fine, dims = rollups.TABLES[source], rollups.COARSE_DIMS[source]
        measures_ = [c.name for c in coarse.columns if c.name not in dims]
        assert measures_ == [c.name for c in fine.columns if "__" in c.name]
        got = rolled.read(sa.select(coarse)).sort_values(list(dims), na_position="last").reset_index(drop=True)
        want = (rolled.read(sa.select(fine)).groupby(list(dims), dropna=False)[measures_].sum(min_count=1)
                .reset_index().sort_values(list(dims), na_position="last").reset_index(drop=True))
        assert 0 < len(got) == len(want)
        for col in measures_:
            np.testing.assert_allclose(pd.to_numeric(got[col]).to_numpy(float),
                                       pd.to_numeric(want[col]).to_numpy(float), rtol=1e-12, equal_nan=True,
                                       err_msg=f"{coarse.name}.{col}")


@pytest.mark.parametrize(("metric_id", "by", "filters", "table"), [
    ("csat", ("tier",), {}, "rollup_surveys_coarse"),
    ("csat", ("region",), {"channels": ("phone",)}, "rollup_surveys_coarse"),
    ("csat", ("tier",), {"segments": ("enterprise",)}, "rollup_surveys"),
    ("complaint_rate", ("month",), {}, "rollup_tickets_coarse"),
    ("tickets", ("category",), {}, "rollup_tickets"),
    ("tickets", (), {"priorities": ("P1",)}, "rollup_tickets"),
])
def test_the_smallest_cube_holding_the_request_is_read(rolled: Warehouse, raw: Warehouse, metric_id: str,
                                                       by: tuple, filters: dict, table: str) -> None:
    f = Filters(date(2025, 1, 1), date(2025, 12, 31), **filters)
    read = tables_read(rolled.compile(metric_id, f, by))
    assert table in read and not (read & {t.name for t in rollups.ALL_TABLES.values()}) - {table, "rollup_customers"}
    assert_same(rolled.metric(metric_id, f, by), raw.metric(metric_id, f, by), f"{metric_id} from {table}")


def test_a_warehouse_without_a_source_reads_as_if_it_were_not_built(rolled: Warehouse) -> None:
    """``without_sources`` (bench.cubes' "before"): the coarse cubes left out, the fine cube is read,
    with the same figures."""
    fine = Warehouse(rolled.engine, without_sources=frozenset({rollups.COARSE}))
    f = Filters(date(2025, 1, 1), date(2025, 12, 31))
    assert rollups.COARSE in rolled.rollup_sources() and rollups.COARSE not in fine.rollup_sources()
    assert "rollup_surveys_coarse" in tables_read(rolled.compile("csat", f, ("tier",)))
    read = tables_read(fine.compile("csat", f, ("tier",)))
    assert "rollup_surveys" in read and "rollup_surveys_coarse" not in read
    assert_same(fine.metric("csat", f, ("tier",)), rolled.metric("csat", f, ("tier",)), "csat, fine cube")


def test_a_database_without_coarse_cubes_reads_the_fine_ones() -> None:
    """Rollups built before the coarse cubes (no ``coarse`` in rollup_sources) are read as before."""
    from metrics.query.rollup_compiler import event_cube

    built = frozenset({"tickets", "surveys", rollups.KNOWN_COUNTS})
    assert event_cube("surveys", ("tier",), [], built) is rollups.rollup_surveys
    assert event_cube("surveys", ("tier",), [], built | {rollups.COARSE}) is rollups.COARSE_TABLES["surveys"]


def test_every_rollupable_metric_has_its_columns() -> None:
    for m in METRICS:
        if not rollups.rollupable(m) or m.source not in rollups.TABLES:
            continue
        table = rollups.TABLES[m.source]
        for x in rollups.measures(m):
            assert x.column in table.c, x.column
    assert {"csat__num", "csat__den", "csat_mean__total", "csat_mean__total_sq", "nps__promoters",
            "tickets__n", "compensation_total__value"} <= {c.name for t in rollups.TABLES.values() for c in t.c}


@pytest.mark.parametrize(("metric_id", "by", "filter_name", "level"), _cases())
def test_rollup_equals_raw(rolled: Warehouse, raw: Warehouse, metric_id: str, by: tuple, filter_name: str,
                           level: str) -> None:
    f = FILTERS[filter_name]
    stmt = rolled.compile(metric_id, f, by, level)
    assert uses_rollup(stmt), f"{metric_id} by {by} [{filter_name}] did not use the rollup"
    assert not uses_rollup(raw.compile(metric_id, f, by, level))
    got = rolled.metric(metric_id, f, by, level)
    want = raw.metric(metric_id, f, by, level)
    assert_same(got, want, f"{metric_id} by {by} [{filter_name}, {level}] on {rolled.dialect}")
    if filter_name == "nothing":
        assert got.empty
    if filter_name == "whole" and not by:
        assert got["n"].iloc[0] > 0


@pytest.mark.parametrize("metric_id", ["csat", "nps", "sla_resolution_compliance", "fcr_rate", "tickets",
                                       "complaint_rate", "churn_rate", "active_customers"])
def test_compare_from_rollup_equals_raw(rolled: Warehouse, raw: Warehouse, metric_id: str) -> None:
    """What the Overview asks: the KPI against the previous quarter, and movers by region."""
    f = FILTERS["quarter"]
    for by in ((), ("region",), ("channel",)):
        assert_same(rolled.compare(metric_id, f, by), raw.compare(metric_id, f, by), f"{metric_id} {by}")


@pytest.mark.parametrize(("metric_id", "by", "comparison"), [
    ("csat", (), "previous"), ("complaint_rate", ("region",), "year_ago"), ("availability", ("month",), "previous"),
    ("resolution_hours_median", ("tier",), "previous"), ("churn_rate", ("channel",), "none")])
def test_compare_in_one_query_equals_two_metric_calls(rolled: Warehouse, metric_id: str, by: tuple,
                                                      comparison: str) -> None:
    """compare() reads both periods in one UNION ALL; the figures are those of two metric() calls."""
    f = replace(FILTERS["quarter"], comparison=comparison)
    got = rolled.compare(metric_id, f, by)
    now = rolled.metric(metric_id, f, by)
    assert_same(got[list(now.columns)], now, f"{metric_id} {by} now")
    cf = f.comparison_filters()
    if cf is None:
        assert got["value_cmp"].isna().all()
        return
    before = rolled.metric(metric_id, cf, by)
    keys = [c for c in now.columns if c not in ("value", "n", "lower", "upper", "events", "exposure")]
    want = now[keys].merge(before[keys + ["value", "n"]], on=keys, how="left") if keys else before
    assert len(before) > 0
    np.testing.assert_allclose(got["value_cmp"].to_numpy(float), want["value"].to_numpy(float), rtol=RTOL,
                               equal_nan=True)
    np.testing.assert_array_equal(got["n_cmp"].to_numpy(float), want["n"].to_numpy(float))


# ---------------------------------------------------------------------------------------------
# requests the rollups cannot answer exactly go to the raw rows

FALLBACKS = {
    "mid_month": ("csat", Filters(date(2025, 3, 10), date(2025, 6, 20)), ()),
    "mid_month_end": ("fcr_rate", Filters(date(2025, 3, 1), date(2025, 6, 20)), ("tier",)),
    "week": ("csat", FILTERS["quarter"], ("week",)),
    "other_as_of": ("sla_resolution_compliance", replace(FILTERS["quarter"], as_of=date(2025, 8, 31)), ()),
    "other_as_of_month_end": ("reopen_rate", replace(FILTERS["quarter"], as_of=date(2025, 9, 30)), ("month",)),
    # quantiles read rollup_resolved at the same as-of only (tests/engine/test_resolved_rollup.py)
    "quantile_other_as_of": ("resolution_hours_median", replace(FILTERS["quarter"], as_of=date(2025, 9, 30)),
                             ("tier",)),
    "customers_mid_month": ("churn_rate", Filters(date(2025, 3, 10), date(2025, 6, 20)), ("tier",)),
    "stock_other_as_of": ("active_customers", replace(FILTERS["quarter"], as_of=date(2025, 9, 30)), ()),
    "complaints_mid_month": ("complaint_rate", Filters(date(2025, 7, 1), date(2025, 9, 15)), ("channel",)),
    # availability other than by month reads rollup_circuits (tests/engine/test_resolved_rollup.py)
}


@pytest.mark.parametrize("case", list(FALLBACKS))
def test_ineligible_requests_fall_back_to_raw(rolled: Warehouse, raw: Warehouse, case: str) -> None:
    metric_id, f, by = FALLBACKS[case]
    assert not uses_rollup(rolled.compile(metric_id, f, by))
    assert_same(rolled.metric(metric_id, f, by), raw.metric(metric_id, f, by), case)


def test_bad_dimension_still_raises(rolled: Warehouse) -> None:
    from metrics.query.compiler import CompileError

    with pytest.raises(CompileError):
        rolled.compile("csat", FILTERS["quarter"], ("category",))


# ---------------------------------------------------------------------------------------------
# eligibility rules, without a database


def _window(start: date, end: date, as_of: date) -> Window:
    return Window.of(Filters(start, end), as_of)


@pytest.mark.parametrize(("start", "end", "as_of", "rollup_as_of", "ok"), [
    (date(2025, 7, 1), date(2025, 9, 30), date(2026, 10, 15), date(2026, 10, 15), True),
    # up to the as-of day inside its month: the rollup holds nothing after it
    (date(2026, 1, 1), date(2026, 12, 31), date(2026, 10, 15), date(2026, 10, 15), True),
    (date(2026, 1, 1), date(2026, 10, 10), date(2026, 10, 15), date(2026, 10, 15), False),
    (date(2025, 7, 2), date(2025, 9, 30), date(2026, 10, 15), date(2026, 10, 15), False),
    (date(2025, 7, 1), date(2025, 9, 29), date(2026, 10, 15), date(2026, 10, 15), False),
    (date(2025, 7, 1), date(2025, 9, 30), date(2026, 10, 14), date(2026, 10, 15), False),
    (date(2025, 7, 1), date(2025, 9, 30), date(2026, 10, 15), None, False),
])
def test_eligible_windows(start: date, end: date, as_of: date, rollup_as_of: date | None, ok: bool) -> None:
    f = Filters(start, end)
    assert rollup_compiler.eligible(get("csat"), f, (), _window(start, end, as_of), "city", rollup_as_of) is ok
    assert rollup_compiler.compile_from_rollup(get("csat"), f, (), _window(start, end, as_of), "city", "duckdb",
                                       rollup_as_of) is None or ok


def test_no_rollup_as_of_means_raw() -> None:
    f = FILTERS["quarter"]
    w = Window.of(f, date(2026, 10, 31))
    assert rollup_compiler.compile_from_rollup(get("csat"), f, (), w, "city", "duckdb", None) is None
    compile_ = rollup_compiler.compile_from_rollup
    assert compile_(get("csat"), f, ("month",), w, "city", "duckdb", date(2026, 10, 31)) is not None
    assert compile_(get("csat"), f, ("week",), w, "city", "duckdb", date(2026, 10, 31)) is None
    assert w.as_of_end == datetime.combine(date(2026, 10, 31) + timedelta(days=1), time())


@pytest.mark.parametrize("metric_id", NOT_ROLLUP)
def test_not_rollupable_metrics(metric_id: str) -> None:
    m = get(metric_id)
    assert m.kind == "quantile" or m.source not in rollups.CUBE_DIMS


# ---------------------------------------------------------------------------------------------
# the customer cube on data whose as-of falls inside a month, and on data it cannot answer exactly

CUT = date(2026, 10, 15)
CUBE_METRICS = (  # the customer and service cubes
    "churn_rate", "active_customers", "complaint_rate", "availability")


def _cut_frames(frames: dict[str, pd.DataFrame], bad_customer: bool) -> dict[str, pd.DataFrame]:
    """The demo data as if loaded on ``CUT`` (mid-month); ``bad_customer``: one ends before starting."""
    cut = pd.Timestamp(CUT) + pd.Timedelta(days=1)
    out = dict(frames)
    out["tickets"] = frames["tickets"][frames["tickets"]["opened_at"] < cut]
    out["surveys"] = frames["surveys"][frames["surveys"]["answered_at"] < cut]
    c = frames["customers"].copy()
    c["start_date"] = c["start_date"].where(c["start_date"] < cut, pd.Timestamp(CUT))
    c["end_date"] = c["end_date"].where(c["end_date"] < cut)
    if bad_customer:
        i = c.index[c["end_date"].notna()][0]
        c.loc[i, "end_date"] = c.loc[i, "start_date"] - pd.Timedelta(days=40)
    out["customers"] = c
    return out


@pytest.fixture(scope="module")
def mid_month_url(tmp_path_factory: pytest.TempPathFactory, demo_frames: dict) -> str:
    from metrics.ingest.load import replace_all

    url = f"duckdb:///{tmp_path_factory.mktemp('cut') / 'cut.duckdb'}"
    replace_all(url, _cut_frames(demo_frames, bad_customer=False))
    return url


@pytest.mark.parametrize("metric_id", CUBE_METRICS)
def test_customer_cube_up_to_a_mid_month_as_of(mid_month_url: str, metric_id: str) -> None:
    rolled, raw = warehouse_for(mid_month_url, True), warehouse_for(mid_month_url, False)
    assert rolled.as_of() == CUT == rolled.rollup_as_of()
    for f in (Filters(date(2026, 1, 1), date(2026, 12, 31)), Filters(date(2026, 10, 1), date(2026, 10, 31)),
              Filters(date(2026, 7, 1), date(2026, 9, 30), tiers=("gold",))):
        for by in dict.fromkeys(_by(metric_id, b) for b in ((), ("month",), ("tier",), ("region", "month"))):
            stmt = rolled.compile(metric_id, f, by)
            assert uses_rollup(stmt), f"{metric_id} by {by} {f.start}..{f.end}"
            assert_same(rolled.metric(metric_id, f, by), raw.metric(metric_id, f, by), f"{metric_id} {by} {f.start}")


def test_customer_ending_before_start_keeps_churn_on_raw_rows(tmp_path: Any, demo_frames: dict) -> None:
    from metrics.ingest.load import replace_all

    url = f"duckdb:///{tmp_path / 'bad.duckdb'}"
    replace_all(url, _cut_frames(demo_frames, bad_customer=True))
    wh = Warehouse(make_engine(url, read_only=True))
    try:
        assert wh.rollup_sources() == {"tickets", "surveys", "services", rollups.KNOWN_COUNTS, "resolved",
                                       "circuits", rollups.COARSE}
        f = Filters(date(2025, 1, 1), date(2025, 12, 31))
        for metric_id in CUBE_METRICS[:3]:
            assert not uses_rollup(wh.compile(metric_id, f, ("month",)))
        assert uses_rollup(wh.compile("csat", f, ("month",)))
    finally:
        wh.engine.dispose()

