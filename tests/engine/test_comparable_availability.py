"""Where availability's records begin (metrics.query.comparable.SOURCE_EVENTS), shared by comparisons
and forecasts: not at the first outage (a month without outages is a real 100%), nor at a circuit's
start date (a circuit in service before the data has no outage records), but at the data's first
activity of any kind.

Hand-made data: one enterprise circuit in service since 2024-06-01; the data's first record is the
January 2025 bill; the first outage (10 h) comes on 2025-09-10, a second (6 h) on 2026-05-03; one
survey answer on 2026-06-30 makes that day the as-of. Every expected figure is computed by hand from those numbers."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from handmade_db import add_one_city

from metrics.analysis import forecast as fc
from metrics.ingest.load import refresh_derived
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.query import comparable
from metrics.query.warehouse import Warehouse

AS_OF = date(2026, 6, 30)
FIRST_BILL = date(2025, 1, 1)
OUTAGES = ((datetime(2025, 9, 10, 8), 10.0), (datetime(2026, 5, 3, 14), 6.0))  # (start, hours)


@pytest.fixture(scope="module")
def wh(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    url = f"duckdb:///{tmp_path_factory.mktemp('avail') / 'avail.duckdb'}"
    eng = sa.create_engine(url)
    s.metadata.create_all(eng)
    months = pd.date_range(FIRST_BILL, AS_OF, freq="MS").date
    with eng.begin() as conn:
        add_one_city(conn)
        conn.execute(s.customers.insert(), [dict(
            customer_id=1, name="C1", segment="enterprise", tier="enterprise", region_id=2, account_manager_id=1,
            acquisition_channel="account_manager", sla_level="gold", start_date=date(2024, 1, 1), end_date=None,
            churn_reason=None, monthly_revenue=100.0)])
        conn.execute(s.billing_monthly.insert(), [dict(customer_id=1, month=m, revenue=100.0) for m in months])
        conn.execute(s.surveys.insert(), [dict(  # the newest record: the as-of
            survey_id=1, customer_id=1, ticket_id=None, channel="hotline", kind="post_interaction",
            answered_at=datetime(2026, 6, 30, 10), csat=5, nps=None, ces=None, comment=None)])
        conn.execute(s.services.insert(), [dict(service_id=1, customer_id=1, product="line", sla_level="gold",
                                                start_date=date(2024, 6, 1), end_date=None)])
        conn.execute(s.outages.insert(), [dict(outage_id=i + 1, service_id=1, started_at=t,
                                               restored_at=t + timedelta(hours=h), cause="fibre")
                                          for i, (t, h) in enumerate(OUTAGES)])
    refresh_derived(eng)  # the calendar months (the month axis) and the as-of
    eng.dispose()
    return Warehouse.open(url)


def _by_hand(month: date) -> float:
    """1 − outage hours ÷ in-service hours of the one circuit in ``month`` (the outages lie within one day)."""
    hours = (pd.Timestamp(month) + pd.offsets.MonthBegin(1) - pd.Timestamp(month)) / pd.Timedelta(hours=1)
    down = sum(h for t, h in OUTAGES if (t.year, t.month) == (month.year, month.month))
    return 1 - down / hours


def test_availability_is_recorded_from_the_first_activity(wh: Warehouse) -> None:
    assert wh.as_of() == AS_OF
    firsts = wh.first_records()
    assert firsts["availability"] == FIRST_BILL  # not the first outage (2025-09-10), not the circuit's start
    assert firsts["customers"] == FIRST_BILL
    assert set(comparable.SOURCE_EVENTS["availability"]) >= {"outages", "billing", "tickets"}


def test_a_period_without_outages_is_a_real_100_percent(wh: Warehouse) -> None:
    """September 2025 (the first outage) against August (circuit in service, no outage): a change."""
    row = wh.compare("availability", Filters(date(2025, 9, 1), date(2025, 9, 30))).iloc[0]
    assert row["no_cmp"] is None
    assert row["value_cmp"] == pytest.approx(1.0)
    assert row["value"] == pytest.approx(_by_hand(date(2025, 9, 1)))
    assert row["delta"] == pytest.approx(_by_hand(date(2025, 9, 1)) - 1.0)
    # a quarter wholly without outages against the quarter before it: 100% against 100%
    row = wh.compare("availability", Filters(date(2025, 4, 1), date(2025, 6, 30))).iloc[0]
    assert row["no_cmp"] is None and row["value"] == pytest.approx(1.0) and row["delta"] == pytest.approx(0.0)


def test_circuit_in_service_before_the_data_has_no_change(wh: Warehouse) -> None:
    """The circuit was in service in late 2024, but nothing was recorded then: no 100% to compare with."""
    row = wh.compare("availability", Filters(date(2025, 1, 1), date(2025, 3, 31))).iloc[0]
    assert row["no_cmp"] == "no_data" and np.isnan(row["delta"]) and np.isnan(row["value_cmp"])
    row = wh.compare("availability", Filters(date(2025, 2, 1), date(2025, 3, 31))).iloc[0]
    assert row["no_cmp"] == "before_data" and np.isnan(row["delta"])


def test_forecast_history_uses_the_same_rule(wh: Warehouse) -> None:
    """The forecast's monthly history: every month from the first bill is a figure (100% where no
    outage), the months the circuit ran before it are gaps, so the usable run is those 18 months."""
    series = fc.monthly_series(wh, "availability", Filters(date(2026, 4, 1), AS_OF))
    series["month"] = pd.to_datetime(series["month"])
    recorded = series[series["month"] >= pd.Timestamp(FIRST_BILL)]
    before = series[series["month"] < pd.Timestamp(FIRST_BILL)]
    assert len(recorded) == 18 and recorded["value"].notna().all()
    assert len(before) == 7 and before["value"].isna().all()  # June–December 2024
    expected = [_by_hand(m.date()) for m in recorded["month"]]
    np.testing.assert_allclose(recorded["value"].to_numpy(dtype=float), expected, rtol=0, atol=1e-12)
    assert len(fc.usable(series)) == 18
