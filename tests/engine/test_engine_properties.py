"""Invariants of the engine on random filters (hypothesis, DuckDB): bounds, additivity, hierarchy,
comparison periods."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics.model.filters import Filters, add_months
from metrics.model.registry import METRICS, get
from metrics.query.warehouse import Warehouse

SHARES = [m.id for m in METRICS if m.kind == "share"]
ADDITIVE_COUNTS = ("tickets", "active_customers") + tuple(SHARES) + ("csat_mean", "nps", "ces_mean",
                                                                     "resolution_hours_median", "revenue")
TIERS = ("diamond", "gold", "silver", "standard", "enterprise")
CHANNELS = ("service_hall", "partner_hall", "hotline", "account_manager", "agent", "web_app")
FIRST, LAST = date(2024, 3, 1), date(2026, 10, 31)

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def regions(wh: Warehouse) -> pd.DataFrame:
    return wh.regions()


@st.composite
def filters(draw: st.DrawFn, slices: bool = True) -> Filters:
    a = draw(st.dates(FIRST, LAST))
    b = draw(st.dates(FIRST, LAST))
    start, end = min(a, b), max(a, b)
    as_of = draw(st.one_of(st.none(), st.dates(start, LAST)))
    kw: dict = {}
    if slices:
        kw["tiers"] = tuple(draw(st.lists(st.sampled_from(TIERS), max_size=2, unique=True)))
        kw["channels"] = tuple(draw(st.lists(st.sampled_from(CHANNELS), max_size=2, unique=True)))
        kw["regions"] = tuple(draw(st.lists(st.sampled_from((1, 2, 3, 4, 201, 302, 405, 801)),
                                            max_size=2, unique=True)))
    return Filters(start, end, as_of=as_of, **kw)


# -- bounds ---------------------------------------------------------------------------------------
@SETTINGS
@given(f=filters(), metric_id=st.sampled_from(SHARES), dim=st.sampled_from((None, "region", "tier", "month")))
def test_shares_are_in_0_1_and_inside_their_interval(wh: Warehouse, f: Filters, metric_id: str,
                                                      dim: str | None) -> None:
    df = wh.metric(metric_id, f, by=(dim,) if dim else ())
    assert df["value"].between(0, 1).all()
    assert (df["lower"] <= df["value"] + 1e-12).all() and (df["value"] <= df["upper"] + 1e-12).all()
    assert df["lower"].between(0, 1).all() and df["upper"].between(0, 1).all()


@SETTINGS
@given(f=filters(), dim=st.sampled_from((None, "tier", "survey_kind", "week")))
def test_nps_is_between_minus_100_and_100(wh: Warehouse, f: Filters, dim: str | None) -> None:
    df = wh.metric("nps", f, by=(dim,) if dim else ())
    assert df["value"].between(-100, 100).all()
    assert df["lower"].between(-100, 100).all() and df["upper"].between(-100, 100).all()
    assert (df["lower"] <= df["value"] + 1e-9).all() and (df["value"] <= df["upper"] + 1e-9).all()


# -- additivity -------------------------------------------------------------------------------------
@SETTINGS
@given(f=filters(), metric_id=st.sampled_from(ADDITIVE_COUNTS), data=st.data())
def test_group_counts_add_up_to_the_total(wh: Warehouse, f: Filters, metric_id: str, data) -> None:
    dims = [d for d in get(metric_id).dims if not (metric_id == "active_customers" and d == "month")]
    dim = data.draw(st.sampled_from(dims))
    total = wh.metric(metric_id, f)
    parts = wh.metric(metric_id, f, by=(dim,))
    assert parts["n"].sum() == (total["n"].sum() if len(total) else 0)


@SETTINGS
@given(f=filters(), metric_id=st.sampled_from(("churn_rate", "complaint_rate")),
       dim=st.sampled_from(("month", "tier", "sla_level", "channel")))
def test_rate_events_and_exposure_add_up(wh: Warehouse, f: Filters, metric_id: str, dim: str) -> None:
    """Events add up over any dimension; exposure too except where the denominator is the whole
    customer base of each group (complaint_rate by channel)."""
    total = wh.metric(metric_id, f)
    parts = wh.metric(metric_id, f, by=(dim,))
    if total.empty:
        assert parts["n"].sum() == 0
        return
    assert parts["events"].sum() == total["events"].iloc[0]
    if not (metric_id == "complaint_rate" and dim == "channel"):
        assert np.isclose(parts["exposure"].sum(), total["exposure"].iloc[0], rtol=1e-9)


@SETTINGS
@given(f=filters(slices=False), metric_id=st.sampled_from(("availability", "revenue", "compensation_total")))
def test_monthly_parts_add_up(wh: Warehouse, f: Filters, metric_id: str) -> None:
    total = wh.metric(metric_id, f)
    months = wh.metric(metric_id, f, by=("month",))
    if metric_id == "availability":  # downtime-weighted: 1 − Σdown ÷ Σservice
        if total.empty:
            assert months.empty
            return
        raw = wh.read(wh.compile(metric_id, f, by=("month",)))
        raw_total = wh.read(wh.compile(metric_id, f))
        for c in ("downtime_hours", "service_hours"):
            assert np.isclose(pd.to_numeric(raw[c]).sum(), float(raw_total[c].iloc[0]), rtol=1e-9)
    else:
        want = total["value"].sum() if len(total) else 0.0
        assert np.isclose(months["value"].sum(), want, rtol=1e-9)


# -- the region hierarchy ---------------------------------------------------------------------------
@SETTINGS
@given(f=filters(slices=False), city=st.integers(2, 8),
       metric_id=st.sampled_from(("tickets", "csat", "sla_resolution_compliance", "churn_rate", "revenue")))
def test_a_city_is_the_sum_of_its_districts(wh: Warehouse, regions: pd.DataFrame, f: Filters, city: int,
                                            metric_id: str) -> None:
    districts = regions.loc[regions["parent_id"] == city, "region_id"].tolist()
    whole = wh.metric(metric_id, f.with_(regions=(city,)))
    parts = [wh.metric(metric_id, f.with_(regions=(d,))) for d in districts]
    n_parts = sum(p["n"].sum() for p in parts)
    assert (whole["n"].sum() if len(whole) else 0) == n_parts
    if metric_id in ("csat", "sla_resolution_compliance") and len(whole):  # numerators add up too
        k = sum((p["value"] * p["n"]).sum() for p in parts)
        assert np.isclose(whole["value"].iloc[0] * whole["n"].iloc[0], k, rtol=1e-9)
    if metric_id in ("revenue",) and len(whole):
        assert np.isclose(whole["value"].iloc[0], sum(p["value"].sum() for p in parts), rtol=1e-9)
    if metric_id == "churn_rate" and len(whole):
        assert np.isclose(whole["exposure"].iloc[0], sum(p["exposure"].sum() for p in parts), rtol=1e-9)
    # and grouping by district inside the city gives the same figures as filtering on each district
    by_district = wh.metric(metric_id, f.with_(regions=(city,)), by=("region",), region_level="district")
    for d, p in zip(districts, parts, strict=True):
        row = by_district[by_district["region_id"] == d]
        assert len(row) == len(p)
        if len(p):
            assert np.isclose(row["value"].iloc[0], p["value"].iloc[0], rtol=1e-9, equal_nan=True)


# -- comparison periods -----------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(year=st.integers(2020, 2030), quarter=st.integers(0, 3))
def test_previous_of_a_quarter_is_the_previous_quarter(year: int, quarter: int) -> None:
    start = date(year, 3 * quarter + 1, 1)
    end = add_months(start, 3) - timedelta(days=1)
    cf = Filters(start, end, tiers=("gold",)).comparison_filters()
    assert cf.start == add_months(start, -3)
    assert cf.end == start - timedelta(days=1)
    assert cf.tiers == ("gold",)


@settings(max_examples=40, deadline=None)
@given(start=st.dates(date(2020, 1, 1), date(2030, 12, 31)), days=st.integers(0, 400))
def test_previous_of_any_period_has_the_same_length_and_ends_the_day_before(start: date, days: int) -> None:
    f = Filters(start, start + timedelta(days=days))
    cf = f.comparison_filters()
    assert cf.end == start - timedelta(days=1)
    if not (start.day == 1 and (f.end + timedelta(days=1)).day == 1):  # whole months: whole months
        assert cf.days == f.days
    else:
        assert cf.start.day == 1


@settings(max_examples=40, deadline=None)
@given(start=st.dates(date(2020, 1, 1), date(2030, 12, 31)), days=st.integers(0, 400),
       as_of=st.one_of(st.none(), st.dates(date(2020, 1, 1), date(2031, 12, 31))))
def test_year_ago_shifts_a_year_and_keeps_the_as_of(start: date, days: int, as_of: date | None) -> None:
    f = Filters(start, start + timedelta(days=days), as_of=as_of, comparison="year_ago", channels=("hotline",))
    cf = f.comparison_filters()
    for a, b in ((f.start, cf.start), (f.end, cf.end)):
        assert b.year == a.year - 1 and b.month == a.month
        assert b.day == a.day or (a.month, a.day, b.day) == (2, 29, 28)
    assert cf.as_of == f.as_of and cf.channels == f.channels
    assert Filters(start, start, comparison="none").comparison_filters() is None


@settings(max_examples=10, deadline=None)
@given(quarter=st.sampled_from([(2025, 4), (2025, 7), (2025, 10), (2026, 1)]))
def test_compare_puts_the_comparison_value_next_to_the_current(wh: Warehouse, quarter) -> None:
    start = date(*quarter, 1)
    f = Filters(start, add_months(start, 3) - timedelta(days=1))
    got = wh.compare("csat", f, by=("tier",))
    before = wh.metric("csat", f.comparison_filters(), by=("tier",)).set_index("tier")
    for row in got.itertuples():
        if isinstance(row.no_cmp, str) and row.no_cmp:  # no honest comparison (metrics.query.comparable)
            assert np.isnan(row.value_cmp) and np.isnan(row.delta)
            assert row.no_cmp != "small" or before.loc[row.tier, "n"] < 30
            continue
        assert np.isclose(row.value_cmp, before.loc[row.tier, "value"], rtol=1e-12)
        assert np.isclose(row.delta, row.value - row.value_cmp, rtol=1e-12)
