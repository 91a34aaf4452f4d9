"""Overview page (app.py) in AppTest: KPI cards show the engine's numbers; filters survive a page switch."""

from __future__ import annotations

from pathlib import Path

import pytest
from page_helpers import plain
from streamlit.testing.v1 import AppTest

from metrics.model.filters import Filters, add_months, preset_period
from metrics.model.i18n import metric_label
from metrics.present.formatting import fmt_value
from metrics.query.warehouse import Warehouse

APP = Path(__file__).resolve().parents[2] / "app.py"


@pytest.fixture()
def app(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    return at


def _metric(at: AppTest, label: str):
    found = [m for m in at.metric if m.label == label]
    assert found, f"no KPI card {label!r} among {[m.label for m in at.metric]}"
    return found[0]


def test_default_view_shows_engine_numbers(app: AppTest, duckdb_url: str) -> None:
    wh = Warehouse.open(duckdb_url)
    start, end = preset_period("last_quarter", wh.as_of())
    f = Filters(start=start, end=end)
    for metric_id, unit in (("csat", "share"), ("nps", "points"), ("active_customers", "customers")):
        value = wh.metric(metric_id, f)["value"].iloc[0]
        assert _metric(app, metric_label(metric_id, "zh")).value == fmt_value(value, unit, "zh")
    assert app.title[0].value == "总览"
    assert f"{start:%Y-%m-%d} – {end:%Y-%m-%d}" in plain(app.caption[0].value)
    # each card's line is the engine's 12 months up to the period's end, in the card's unit
    months = wh.metric("csat", Filters(start=add_months(end.replace(day=1), -11), end=end), ("month",))
    line = list(_metric(app, metric_label("csat", "zh")).proto.chart_data)
    assert len(line) == 12 and line == pytest.approx(list(100 * months.sort_values("month")["value"]), abs=1e-3)


def test_tier_filter_changes_numbers_and_query(app: AppTest, duckdb_url: str) -> None:
    before = _metric(app, metric_label("csat", "zh")).value
    app.sidebar.multiselect(key="_w_tier").set_value(["diamond"]).run()
    assert not app.exception
    wh = Warehouse.open(duckdb_url)
    start, end = preset_period("last_quarter", wh.as_of())
    value = wh.metric("csat", Filters(start=start, end=end, tiers=("diamond",)))["value"].iloc[0]
    after = _metric(app, metric_label("csat", "zh")).value
    assert after == fmt_value(value, "share", "zh") and after != before
    assert app.query_params.get("tier") in (["diamond"], "diamond")


def test_no_data_is_an_empty_state(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = AppTest.from_file(str(APP), default_timeout=90)
    # before any ticket, and no customer of a consumer tier among enterprise customers (a period outside
    # the data's span would be clamped to the data, tests/engine/test_periods.py)
    at.query_params.update({"preset": "custom", "from": "2023-01-01", "to": "2023-03-31", "tier": "diamond",
                            "segment": "enterprise"})
    at.run()
    assert not at.exception
    assert any("没有数据" in i.value for i in at.info)


def test_english_switch(app: AppTest) -> None:
    app.sidebar.radio(key="_w_lang").set_value("en").run()
    assert not app.exception
    assert app.title[0].value == "Overview"
    assert any(m.label == "CSAT" for m in app.metric)


def test_filters_survive_page_switch(app: AppTest) -> None:
    app.sidebar.multiselect(key="_w_tier").set_value(["gold"]).run()
    app.switch_page("pages/5_Regions.py").run()
    assert not app.exception
    assert app.session_state["sw_state"]["filters"].tiers == ("gold",)
    assert app.sidebar.multiselect(key="_w_tier").value == ["gold"]


def test_unreachable_database_is_a_polite_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", "postgresql+psycopg://alice:s3cr3t-pw@127.0.0.1:1/service")
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    assert not at.exception
    errors = [plain(e.value) for e in at.error]
    assert errors and "127.0.0.1:1/service" in errors[0]
    assert all("s3cr3t-pw" not in e for e in errors)


def test_recovers_when_the_database_is_back(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", "postgresql+psycopg://alice@127.0.0.1:1/service")
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    assert at.error and not at.metric
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)  # the database is reachable again
    at.run()
    assert not at.exception and not at.error and len(at.metric) >= 7
