"""Metrics over time at risk are declarations (issue 13 item 3): complaint rate, churn rate, active
customers and availability name their exposure, numerator or stock expression, unit and interval
in the registry, and the kinds of ``metrics.query.kinds`` make their SQL. Checked here:

* ``registry.validate()`` refuses a declaration that names a missing column, reads a table outside
  its exposure, lacks its expression, counts events on a source without a count metric, or gives a
  kind an interval it does not have;
* a new rate of the same shape is only a registry entry: new customers per customer-month (events
  counted on the customers) and tickets per 1,000 customer-months (events counted on the tickets),
  compiled from their declarations with no compiler code, equal a hand computation in pandas on the
  seeded demo data (raw rows; the tickets rate also through the rollup cubes).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from metrics.analysis import stats
from metrics.model import registry
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

CHURN = registry.get("churn_rate")
ACQUISITION = replace(
    CHURN, id="acquisition_rate", label_en="New customers (monthly)", label_zh="月新增率", higher_is_better=True,
    description="Customers starting in the period ÷ customer-months at risk.",
    num=lambda x: sa.and_(x.c.c.start_date >= x.start, x.c.c.start_date < x.stop))
TICKET_RATE = replace(
    registry.get("complaint_rate"), id="tickets_per_1000", label_en="Tickets per 1,000 customer-months",
    label_zh="千户月工单量", description="Tickets opened per 1,000 active customers per month.", fixed_kinds=())


def _problems(monkeypatch: pytest.MonkeyPatch, m: registry.Metric) -> list[str]:
    monkeypatch.setattr(registry, "METRICS", (*registry.METRICS, m))
    monkeypatch.setattr(registry, "BY_ID", {**registry.BY_ID, m.id: m})
    return [p for p in registry.validate() if p.startswith(f"{m.id}:")]


def test_the_new_declarations_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    assert registry.validate() == []
    assert _problems(monkeypatch, ACQUISITION) == [] and _problems(monkeypatch, TICKET_RATE) == []
    for m in registry.METRICS:  # every metric over time at risk is declared, none is compiler code
        assert (m.exposure is not None) == (m.kind in ("rate", "stock", "availability")), m.id


@pytest.mark.parametrize(("change", "problem"), [
    ({"num": lambda x: x.c.c.no_such_column > 0}, "num names a column the data model lacks"),
    ({"num": lambda x: x.o.c.started_at < x.stop_ts}, "num reads outages outside its exposure"),
    ({"num": None}, "rate needs num"),
    ({"exposure": None}, "declare an exposure"),
    ({"interval": "wilson"}, "has no interval wilson"),
    ({"per": 0.0}, "per must be positive"),
    ({"events_from": "surveys", "num": None}, "events_from surveys has no count metric"),
    ({"fixed_kinds": ("complaint",)}, "fixed_kinds applies to events counted on tickets"),
])
def test_validate_refuses_a_bad_declaration(monkeypatch: pytest.MonkeyPatch, change: dict, problem: str) -> None:
    got = _problems(monkeypatch, replace(ACQUISITION, **change))
    assert any(problem in p for p in got), got


def test_validate_refuses_a_bad_stock_and_availability(monkeypatch: pytest.MonkeyPatch) -> None:
    stock = replace(registry.get("active_customers"), id="bad_stock", value=lambda x: x.c.c.tierr == "gold")
    assert any("value names a column the data model lacks" in p for p in _problems(monkeypatch, stock))
    avail = replace(registry.get("availability"), id="bad_availability", where=None)
    assert _problems(monkeypatch, avail) == ["bad_availability: availability needs where"]
    events = replace(TICKET_RATE, id="bad_events", where=lambda x: x.sv.c.csat > 3)
    assert _problems(monkeypatch, events) == ["bad_events: where reads surveys outside its events"]


# -- a new rate is a registry entry: checked against pandas ----------------------------------------
QUARTER = Filters(date(2025, 7, 1), date(2025, 9, 30))


def _by_hand(frames: dict, f: Filters, as_of: date, by: str | None, events) -> pd.DataFrame:
    """Customer-months at risk in [start, stop) and ``events(customers, start, stop)`` per customer,
    summed per value of ``by`` (or in total): a customer is at risk from its start to its departure
    when known as of the as-of date, else to the day after the as-of date."""
    c = frames["customers"].copy()
    start = pd.Timestamp(f.start)
    stop = max(pd.Timestamp(min(f.end, as_of) + timedelta(days=1)), start)
    as_of_end = pd.Timestamp(as_of + timedelta(days=1))
    s_, e_ = pd.to_datetime(c["start_date"]), pd.to_datetime(c["end_date"])
    ended = e_.where(e_ < as_of_end)
    c = c[(s_ < stop) & (ended.isna() | (ended >= start))].copy()
    s_, ended = s_[c.index], ended[c.index]
    life_end = ended.fillna(as_of_end)
    days = (life_end.clip(upper=stop) - s_.clip(lower=start)).dt.days.clip(lower=0)
    c["days"], c["events"] = days, events(c, s_, start, stop).astype(int)
    keys = [by] if by else []
    out = c.groupby(keys, dropna=False)[["days", "events"]].sum().reset_index() if keys else \
        pd.DataFrame({"days": [c["days"].sum()], "events": [c["events"].sum()]})
    return out.assign(exposure=out["days"] / (365.25 / 12))


def _check(got: pd.DataFrame, want: pd.DataFrame, by: str | None, per: float) -> None:
    if by:
        got, want = got.sort_values(by).reset_index(drop=True), want.sort_values(by).reset_index(drop=True)
        assert got[by].astype(str).tolist() == want[by].astype(str).tolist()
    np.testing.assert_array_equal(got["n"].to_numpy(float), want["events"].to_numpy(float))
    np.testing.assert_allclose(got["value"], per * want["events"] / want["exposure"], rtol=1e-9)
    lower, upper = stats.poisson_rate_interval(want["events"], want["exposure"], per)
    np.testing.assert_allclose(got["lower"], lower, rtol=1e-9)
    np.testing.assert_allclose(got["upper"], upper, rtol=1e-9)
    assert (want["events"] > 0).all()  # the check counts something


@pytest.fixture()
def declared(monkeypatch: pytest.MonkeyPatch) -> None:
    """The two new rates in the registry (as a registry entry would put them there)."""
    for m in (ACQUISITION, TICKET_RATE):
        monkeypatch.setitem(registry.BY_ID, m.id, m)


@pytest.mark.parametrize("by", [None, "tier"])
def test_a_new_customer_rate_is_a_declaration(duckdb_url: str, demo_frames: dict, declared, by: str | None) -> None:
    wh = Warehouse.open(duckdb_url)
    wh.use_rollups = False  # its cube column is built from the registry of a load (here: raw rows)
    got = wh.metric("acquisition_rate", QUARTER, by=(by,) if by else ())
    want = _by_hand(demo_frames, QUARTER, wh.as_of(), by,
                    lambda c, s_, start, stop: (s_ >= start) & (s_ < stop))
    _check(got, want, by, 1.0)


@pytest.mark.parametrize("use_rollups", [False, True])
@pytest.mark.parametrize("by", [None, "tier"])
def test_a_new_event_rate_is_a_declaration(duckdb_url: str, demo_frames: dict, declared, by: str | None,
                                           use_rollups: bool) -> None:
    wh = Warehouse.open(duckdb_url)
    wh.use_rollups = use_rollups
    f = Filters(date(2025, 7, 1), date(2025, 9, 30))  # whole months: the cubes answer
    assert ("rollup_tickets" in str(wh.compile("tickets_per_1000", f, (by,) if by else ()))) == use_rollups
    got = wh.metric("tickets_per_1000", f, by=(by,) if by else ())
    t = demo_frames["tickets"]
    opened = pd.to_datetime(t["opened_at"])
    in_period = t[(opened >= pd.Timestamp(f.start)) & (opened < pd.Timestamp(f.end + timedelta(days=1)))]
    tickets = in_period.merge(demo_frames["customers"][["customer_id", "tier"]], on="customer_id")
    counts = tickets.groupby("tier").size() if by else pd.Series({None: len(tickets)})

    def events(c, s_, start, stop):  # each customer's tickets of the period
        per_customer = tickets.groupby("customer_id").size()
        return c["customer_id"].map(per_customer).fillna(0)

    want = _by_hand(demo_frames, f, wh.as_of(), by, events)
    assert want["events"].sum() == counts.sum()  # every ticket of the period has its customer at risk
    _check(got, want, by, 1000.0)
