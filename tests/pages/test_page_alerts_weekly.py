"""A weekly alert rule on the Alerts page: its chart is the weekly control chart of the 52 weeks to the
as-of's week (figure JSON equal to the engine's), labelled by the week's Monday."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from page_helpers import open_page

from metrics import alert_rules as rule_store
from metrics.analysis import control
from metrics.demo.model import DETERIORATING_CITY
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse


def test_weekly_rule_is_charted_by_week(alerts_wh: Warehouse) -> None:
    wh = alerts_wh
    key = next(k for k, v in rule_store.region_keys(wh).items() if v == DETERIORATING_CITY)
    rule_store.save_rules(wh, [{"rule_id": "dj.csat.week", "metric": "csat", "kind": "control", "owner": "ops",
                            "filters": {"region": key}, "grain": "week"}])
    as_of = wh.as_of()
    week = as_of - timedelta(days=as_of.weekday())
    f = Filters(start=week - timedelta(weeks=51), end=as_of, as_of=as_of, regions=(DETERIORATING_CITY,))
    chart = control.for_metric(wh, "csat", f, grain="week")
    wh.engine.dispose()
    at = open_page("pages/9_Alerts.py", {"lang": "en"})
    box = at.selectbox(key="_w_choice_alert")
    assert any(week.isoformat() in o for o in box.options)  # a week named by its Monday
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = {tr.get("name"): tr for tr in spec["data"]}
    assert len(chart.points) == 52
    assert traces[t("alerts.value", "en")]["y"] == pytest.approx(list(100 * chart.points["value"]))
