"""The Alerts page for a hall manager (营业厅主任) on the shared demo (review H1, M6): rules on their hall's
complaint rate (complaints over the organisation's customer-months) fire for everyone, but the hall
manager's page — tables, the rule picker, the control chart and its download, "check now" — shows
only their hall's rule on its surveys, its chart drawn under their scope; no complaint-rate figure of
theirs, from which the organisation's customer-months (n / value × 1000) could be read back."""

from __future__ import annotations

import io
import json
import time

import pandas as pd
import pytest
from page_helpers import open_page

from metrics import alert_rules as rule_store
from metrics import alerts
from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.analysis import alert_checks, control
from metrics.demo import alert_rules
from metrics.model.filters import add_months
from metrics.model.i18n import metric_label, t
from metrics.query.warehouse import Warehouse

PAGE = "pages/9_Alerts.py"


@pytest.fixture()
def wh(alerts_wh: Warehouse) -> Warehouse:
    """The demo with alert rules, alerts and audit log in this test's own stores (conftest's ``alerts_wh``)."""
    return alerts_wh


def test_a_hall_manager_sees_no_complaint_rate_through_alerts(wh, tmp_path, monkeypatch, downloads) -> None:
    key, oid = min(wh.outlet_keys().items(), key=lambda kv: kv[1])
    alert_rules.install(wh)
    hall = {"outlet": key}
    rule_store.save_rules(
        wh,
        [
            {
                "rule_id": "hall.cr.change",
                "metric": "complaint_rate",
                "kind": "change",
                "filters": hall,
                "owner": "admin",
                "recipients": [],
            },
            {
                "rule_id": "hall.cr.control",
                "metric": "complaint_rate",
                "kind": "control",
                "filters": hall,
                "owner": "admin",
                "recipients": [],
            },
            {
                "rule_id": "hall.csat",
                "metric": "csat",
                "kind": "control",
                "filters": hall,
                "owner": "admin",
                "recipients": [],
            },
        ],
    )
    alerts.evaluate(wh, min_n=1)  # as the worker: everyone's figures recorded
    users = tmp_path / "users.json"
    user = access.User("hall1", "hall_manager", outlets=(key,))
    access.add_user(user, None, users)
    monkeypatch.setenv(access.USERS_ENV, str(users))
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    scope = access_scope.scope_for(user, key_ids=wh.key_ids)
    assert scope.outlet_ids == (oid,)
    # for everyone the complaint-rate rule gives a figure of the hall over the organisation's customer-months
    rule = rule_store.rules(wh).set_index("rule_id").loc["hall.cr.control"].rename(None)
    rule["rule_id"] = "hall.cr.control"
    month = wh.as_of().replace(day=1)
    f = rule_store.rule_filters(wh, hall, alert_checks.window_start(month), wh.as_of(), wh.as_of())
    assert control.for_metric(wh, "complaint_rate", f, min_n=1).points["n"].sum() > 0

    at = open_page(PAGE, {"lang": "zh"}, {"sw_user": user, "_sw_seen": time.time()})
    assert not at.exception, [e.value for e in at.exception]
    rate = metric_label("complaint_rate", "zh")
    texts = [str(e.value) for kind in ("markdown", "caption", "success", "info", "warning") for e in getattr(at, kind)]
    frames = [d.value for d in at.dataframe]
    frames += [pd.read_csv(io.BytesIO(b if isinstance(b, bytes) else b.encode())) for _, b in downloads]
    cells = [str(v) for df in frames for v in [*df.columns, *df.to_numpy().ravel()]]
    assert not [x for x in texts + cells if rate in x], "a complaint-rate alert shown to a hall manager"
    box = at.selectbox(key="_w_choice_alert")
    assert len(box.options) == 1 and metric_label("csat", "zh") in box.options[0]
    # the chart: the hall's satisfaction under their scope, the same points as everyone's of that hall
    [chart_json] = at.get("plotly_chart")
    spec = json.loads(chart_json.proto.spec)
    assert rate not in spec["layout"]["title"]["text"]
    end = (pd.Timestamp(month) + pd.offsets.MonthEnd(0)).date()
    fs = rule_store.rule_filters(wh, hall, add_months(month, -23), end, end, scope)
    theirs, everyone = control.for_metric(wh, "csat", fs), control.for_metric(wh, "csat", fs.with_(scope=None))
    traces = {tr.get("name"): tr for tr in spec["data"]}
    k = 100.0 if theirs.kind == "p" else 1.0
    assert traces[t("alerts.value", "zh")]["y"] == pytest.approx(list(k * theirs.points["value"]))
    assert list(theirs.points["n"]) == list(everyone.points["n"])
    # the complaint rate under their scope: no point at all (what the Complaints page shows them: —)
    assert control.for_metric(wh, "complaint_rate", f.with_(scope=scope), min_n=1).points.empty
    # "check now": their rules only
    at.button(key="alerts_check").click().run()
    assert not at.exception
    assert set(alerts.evaluate(wh, scope=scope, record=False)["metric"]) <= {"csat"}


def test_only_a_rules_owner_or_an_admin_may_change_its_baseline(wh, tmp_path, monkeypatch) -> None:
    """Review L2: a city manager sees the system's rules of their city but no baseline buttons; an
    admin does."""
    from metrics.demo.model import DETERIORATING_CITY

    alert_rules.install(wh)
    alerts.evaluate(wh)
    users = tmp_path / "users.json"
    manager = access.User("dj.manager", "manager", (DETERIORATING_CITY,))
    admin = access.User("root1", "admin")
    for u in (manager, admin):
        access.add_user(u, None, users)
    monkeypatch.setenv(access.USERS_ENV, str(users))
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)

    def buttons(user) -> list[str]:
        at = open_page(PAGE, {"lang": "zh"}, {"sw_user": user, "_sw_seen": time.time()})
        assert not at.exception, [e.value for e in at.exception]
        assert at.get("plotly_chart")
        return [str(b.key) for b in at.button if str(b.key).startswith("alerts_base_")]

    assert buttons(manager) == []
    assert buttons(admin)


def test_a_viewers_open_alerts_keep_the_small_group_rule(wh, tmp_path, monkeypatch, downloads) -> None:
    """Review M1 on the page: the city's alerts, recorded with everyone's figures, are listed to a viewer
    of the city whose minimum group size exceeds its customers without a figure (table and download)."""
    from metrics.demo.model import DETERIORATING_CITY

    alert_rules.install(wh)
    recorded = alerts.evaluate(wh)
    assert len(recorded) and recorded["n"].notna().all()
    users = tmp_path / "users.json"
    viewer = access.User("dj.viewer", "viewer", (DETERIORATING_CITY,))
    access.add_user(viewer, None, users)
    monkeypatch.setenv(access.USERS_ENV, str(users))
    monkeypatch.setenv(access_scope.MIN_GROUP_ENV, "100000000")
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    at = open_page(PAGE, {"lang": "zh"}, {"sw_user": viewer, "_sw_seen": time.time()})
    assert not at.exception, [e.value for e in at.exception]
    cols = [t(f"alerts.col.{c}", "zh") for c in ("value", "centre", "lower", "upper", "n")]
    [table] = [d.value for d in at.dataframe if t("alerts.col.fired_at", "zh") in d.value.columns]
    assert len(table) == len(recorded)
    figures = [str(v) for c in cols for v in table[c]]
    assert not [v for v in figures if any(ch.isdigit() for ch in v)], figures[:5]
    csvs = [pd.read_csv(io.BytesIO(b if isinstance(b, bytes) else b.encode())) for _, b in downloads]
    opened = [df for df in csvs if t("alerts.col.fired_at", "zh") in df.columns]
    cells = [str(v) for df in opened for c in cols if c in df.columns for v in df[c].dropna()]
    assert opened and not [v for v in cells if any(ch.isdigit() for ch in v)], cells[:5]
