"""The control chart is reachable from every trend chart (issue 16 item 2): the button under a trend of a
process measure opens the Alerts page with ``metric=`` and the page's filters in the URL and draws that
metric's control chart for them (figure JSON equal to the engine's chart); a shared link does the same; a
stock (active customers) has no button."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from page_helpers import filters, open_page, seed_alerts, show_section

from metrics.analysis import control
from metrics.demo.model import DETERIORATING_CITY
from metrics.model.filters import add_months
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse

ALERTS = "pages/9_Alerts.py"


@pytest.fixture()
def db(duckdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    seed_alerts(duckdb_url, f"sqlite:///{tmp_path / 'alerts.sqlite'}", monkeypatch)
    return duckdb_url


def _chart_of(db: str, metric: str, f) -> control.ControlChart:
    window = f.with_(start=add_months(f.end.replace(day=1), -23), comparison="none")
    wh = Warehouse.open(db)
    try:
        return control.for_metric(wh, metric, window)
    finally:
        wh.engine.dispose()


def _control_spec(at) -> dict:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    [spec] = [s for s in specs if any(tr.get("name") == t("alerts.centre", at.session_state["sw_lang"])
                                      for tr in s["data"])]
    return spec


def test_trend_button_opens_the_metrics_control_chart(db: str) -> None:
    at = open_page("pages/4_Churn.py", {"lang": "zh", "region": str(DETERIORATING_CITY)})
    at = show_section(at, "trend")
    keys = {b.key for b in at.button}
    assert "churn_trend_control" in keys and "churn_active_trend_control" not in keys  # a stock: no chart
    f = filters(at)
    at.button(key="churn_trend_control").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == t("page.alerts.title", "zh")
    assert at.query_params.get("metric") in (["churn_rate"], "churn_rate")
    assert at.selectbox(key="_w_choice_metric").value == "churn_rate"
    spec = _control_spec(at)
    chart = _chart_of(db, "churn_rate", f)
    traces = {tr.get("name"): tr for tr in spec["data"]}
    k = 100.0 if chart.kind == "p" else 1.0
    assert traces[t("alerts.value", "zh")]["y"] == pytest.approx(list(k * chart.points["value"]))
    assert "东江市" in spec["layout"]["title"]["text"]


def test_a_shared_link_opens_the_chart_and_back_to_the_rules(db: str) -> None:
    at = open_page(ALERTS, {"lang": "en", "metric": "csat", "region": str(DETERIORATING_CITY)})
    spec = _control_spec(at)
    chart = _chart_of(db, "csat", filters(at))
    traces = {tr.get("name"): tr for tr in spec["data"]}
    assert traces[t("alerts.value", "en")]["y"] == pytest.approx(list(100 * chart.points["value"]))
    assert "Dongjiang" in spec["layout"]["title"]["text"]
    assert not [s for s in at.selectbox if s.key == "_w_choice_alert"]  # the metric's chart instead of the picker
    at.selectbox(key="_w_choice_metric").set_value("rules").run()
    assert [s for s in at.selectbox if s.key == "_w_choice_alert"] and "metric" not in at.query_params


def test_overview_card_button_opens_the_chart(db: str) -> None:
    at = open_page("app.py", {"lang": "en"})
    keys = {b.key for b in at.button}
    assert "overview_card_complaint_rate_control" in keys
    f = filters(at)
    at.button(key="overview_card_complaint_rate_control").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == t("page.alerts.title", "en")
    chart = _chart_of(db, "complaint_rate", f)
    traces = {tr.get("name"): tr for tr in _control_spec(at)["data"]}
    assert traces[t("alerts.value", "en")]["y"] == pytest.approx(list(chart.points["value"]))
