"""The forecast's cache key (issue 21 item 5): :func:`metrics.analysis.forecast.cache_filters` drops what the
forecast and the back-test do not read (the period's dates beyond its kind, the comparison), so views that
differ only there share one cached forecast; the forecast computed under it equals the one under the
page's own filters, figure for figure."""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta

import pandas as pd
import pytest

from metrics.analysis import forecast as fc
from metrics.analysis import forecast_backtest as fb
from metrics.model.filters import Filters, add_months, preset_period
from metrics.query.warehouse import Warehouse


@pytest.fixture(scope="module")
def wh(duckdb_url: str) -> Warehouse:
    return Warehouse.open(duckdb_url, read_only=True)


def _views(wh: Warehouse) -> list[Filters]:
    """Page filters of one city: every preset, comparisons of each kind, an as-of in the past."""
    as_of = wh.data_span()[1]
    region = int(wh.regions()["region_id"].iloc[0])
    out = [Filters(*preset_period(p, as_of), regions=(region,)) for p in ("last_month", "last_quarter", "ytd",
                                                                         "last_12_months")]
    out.append(out[1].with_(comparison="year_ago"))
    out.append(out[0].with_(comparison="none", tiers=("gold",)))
    past = add_months(as_of.replace(day=1), -5) - timedelta(days=1)  # an as-of months before the data's
    out.append(Filters(*preset_period("last_quarter", past), as_of=past, regions=(region,)))
    return out


def _same(a: fc.Forecast, b: fc.Forecast) -> None:
    for name in ("metric", "kind", "model", "reason", "higher_is_better", "calibration_n", "widen"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.aicc == b.aicc or (pd.isna(a.aicc) and pd.isna(b.aicc))
    for name in ("history", "months", "periods"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)


def test_key_keeps_the_kind_the_as_of_and_every_slice(wh: Warehouse) -> None:
    views = _views(wh)
    keys = [fc.cache_filters(f) for f in views]
    for f, k in zip(views, keys, strict=True):
        assert fc.period_kind(k) == fc.period_kind(f) and k.comparison == "none"
        for field in fields(Filters):  # everything but the dates and the comparison as on the page
            if field.name not in ("start", "end", "comparison"):
                assert getattr(k, field.name) == getattr(f, field.name), field.name
    quarter = [k for f, k in zip(views, keys, strict=True) if fc.period_kind(f) == "quarter" and f.as_of is None]
    assert len(quarter) >= 3 and len(set(quarter)) == 1  # last_quarter, ytd, 12 months, year-ago: one key
    assert keys[0] != keys[1]  # a month and a quarter: different periods forecast


@pytest.mark.parametrize("metric_id", ["sla_resolution_compliance", "csat"])
def test_forecast_under_the_key_equals_the_pages(wh: Warehouse, metric_id: str) -> None:
    for f in _views(wh):
        _same(fc.forecast(wh, metric_id, f), fc.forecast(wh, metric_id, fc.cache_filters(f)))


def test_backtest_under_the_key_equals_the_pages(wh: Warehouse) -> None:
    f = _views(wh)[2]  # ytd
    assert fb.backtest(wh, "sla_resolution_compliance", f) == \
        fb.backtest(wh, "sla_resolution_compliance", fc.cache_filters(f))
