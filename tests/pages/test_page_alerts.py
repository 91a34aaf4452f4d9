"""The Alerts page in AppTest on the shared demo: open alerts in the user's scope, the control chart
of the one picked (figure JSON), acknowledging with a note (stored and audited), the history."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pandas as pd
import pytest
from page_helpers import open_page

from metrics import alert_rules as rule_store
from metrics import alerts
from metrics.access import audit
from metrics.access import users as access
from metrics.analysis import control
from metrics.demo import alert_rules
from metrics.demo.model import DETERIORATING_CITY
from metrics.model.filters import Filters, add_months
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse

PAGE = "pages/9_Alerts.py"


@pytest.fixture()
def wh(alerts_wh: Warehouse) -> Warehouse:
    """The demo with its default rules checked once, alerts and audit in this test's own stores."""
    alert_rules.install(alerts_wh)
    alerts.evaluate(alerts_wh)
    return alerts_wh


MARKS = {"alerts_open": "fired_at", "alerts_history": "ran_at", "alerts_done": "acknowledged_by"}


def _frames(at, key: str) -> list:
    """The tables of one kind (AppTest does not keep st.dataframe's key): known by a header of theirs."""
    lang = at.session_state["sw_lang"]
    return [d.value for d in at.dataframe if t(f"alerts.col.{MARKS[key]}", lang) in d.value.columns]


def _latin_words(df: pd.DataFrame) -> set[str]:
    """Latin words (two letters or more) in a table's headers and cells, but metric acronyms."""
    texts = [*map(str, df.columns), *(str(v) for v in df.to_numpy().ravel())]
    return {w for x in texts for w in re.findall(r"[A-Za-z]{2,}", x)} - {"SLA", "FCR", "CSAT", "NPS"}


def _frame(at, key: str):
    found = _frames(at, key)
    assert len(found) == 1, key
    return found[0]


def test_open_alerts_chart_and_acknowledge(wh: Warehouse, duckdb_url: str) -> None:
    at = open_page(PAGE, {"lang": "zh"})
    assert at.title[0].value == t("page.alerts.title", "zh")
    table = _frame(at, "alerts_open")
    recorded = alerts.events(wh, open_only=True)
    assert len(table) == len(recorded) >= 3
    assert set(table[t("alerts.col.slice", "zh")]) == {"东江市"}
    assert "投诉率" in set(table[t("alerts.col.metric", "zh")])
    assert all("超出3σ控制限" in s for s in table[t("alerts.col.signal", "zh")])
    # the demo's rules are the system's: their owner in words, and no English word in any cell
    assert set(table[t("alerts.col.owner", "zh")]) == {"系统管理员"}
    history = _frame(at, "alerts_history")
    assert set(history[t("alerts.col.owner", "zh")]) == {"系统管理员"}
    assert _latin_words(table) == set() and _latin_words(history) == set()
    # the control chart of the first alert: its points, limits and signals equal the engine's
    first = recorded.iloc[0]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    end = (pd.Timestamp(first["period"]) + pd.offsets.MonthEnd(0)).date()  # the 24 months to the alert's
    f = Filters(start=add_months(first["period"], -23), end=end, as_of=end, regions=(DETERIORATING_CITY,))
    chart = control.for_metric(wh, first["metric"], f)
    k = 100.0 if chart.kind == "p" else 1.0
    traces = {tr.get("name"): tr for tr in spec["data"]}
    assert traces[t("alerts.value", "zh")]["y"] == pytest.approx(list(k * chart.points["value"]))
    upper, lower = [tr["y"] for tr in spec["data"] if tr.get("name") == t("alerts.limits", "zh")]
    assert upper == pytest.approx(list(k * chart.points["ucl"]))
    assert lower == pytest.approx(list(k * chart.points["lcl"]))
    assert traces[t("alerts.centre", "zh")]["y"] == pytest.approx([k * chart.centre] * 24)
    signals = traces[t("alerts.signal_points", "zh")]
    assert len(signals["x"]) == int(chart.points["signal"].sum()) and signals["x"][-1].startswith("2026-10")
    assert "失控信号" in spec["layout"]["title"]["text"]
    # the baseline: ends six months before the alert by default; moved to the first 12 months, the
    # centre line is the share of those months by hand
    slider = at.select_slider(key=f"alerts_baseline_{first['rule_id']}")
    assert slider.value == pd.Timestamp(chart.baseline[1]).date()
    twelfth = pd.Timestamp(chart.points["period"].iloc[11]).date()
    slider.set_value(twelfth).run()
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    base = chart.points.iloc[:12]
    by_hand = (base["value"] * base["n"]).sum() / base["n"].sum() if chart.kind == "p" else None
    centre = {tr.get("name"): tr for tr in spec["data"]}[t("alerts.centre", "zh")]["y"][0]
    if by_hand is not None:
        assert centre == pytest.approx(k * by_hand)
    assert centre != pytest.approx(k * chart.centre)
    # made the rule's own baseline: stored (what its checks judge by), audited, said in words
    at.button(key=f"alerts_base_save_{first['rule_id']}").click().run()
    stored = rule_store.rules(wh).set_index("rule_id").loc[first["rule_id"], "baseline"]
    assert stored == (pd.Timestamp(chart.points["period"].iloc[0]).date(), twelfth)
    assert any(s.value.startswith("已保存基线：") and "东江市" in s.value for s in at.success)
    assert json.loads(audit.read(duckdb_url)["detail"].iloc[0])["baseline"].endswith(f"{twelfth:%Y-%m-%d}")
    assert not [b for b in at.button if b.key == f"alerts_base_save_{first['rule_id']}"]  # stored: nothing to save
    # acknowledge without a note: refused; with one: stored, audited, gone from the open list
    at.button(key="FormSubmitter:ack_" + first["rule_id"] + "-" + t("page.alerts.ack", "zh")).click().run()
    assert any(w.value == t("page.alerts.note_required", "zh") for w in at.warning)
    at.text_area(key="alerts_note").input("已通知东江市分公司核查")
    at.button(key="FormSubmitter:ack_" + first["rule_id"] + "-" + t("page.alerts.ack", "zh")).click().run()
    assert not at.exception
    assert not [m.value for m in at.success if re.search(r"[A-Za-z]{2,}", m.value)]  # the rule in words, no code
    ev = alerts.events(wh).set_index("rule_id").loc[first["rule_id"]]
    assert ev["note"] == "已通知东江市分公司核查" and ev["acknowledged_at"] is not None
    assert len(_frame(at, "alerts_open")) == len(recorded) - 1
    done = _frame(at, "alerts_done")
    assert list(done[t("alerts.col.note", "zh")]) == ["已通知东江市分公司核查"]
    log = audit.read(duckdb_url)
    assert log["action"].iloc[0] == "alert_ack" and json.loads(log["detail"].iloc[0])["rule_id"] == first["rule_id"]
    history = _frame(at, "alerts_history")
    assert len(history) == len(rule_store.rules(wh))


def test_a_city_manager_sees_only_their_city(wh: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    users = tmp_path / "users.toml"
    nanling = access.User("nl.manager", "manager", (2,))
    dongjiang = access.User("dj.manager", "manager", (DETERIORATING_CITY,))
    for u in (nanling, dongjiang):
        access.add_user(u, None, users)
    monkeypatch.setenv(access.USERS_ENV, str(users))
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    at = open_page(PAGE, {"lang": "en"}, {"sw_user": nanling, "_sw_seen": time.time()})
    assert not _frames(at, "alerts_open")
    assert any(s.value == t("alerts.none", "en") for s in at.success)
    history = _frame(at, "alerts_history")
    assert len(history) == 5 and set(history[t("alerts.col.slice", "en")]) == {"Nanling"}
    assert set(history[t("alerts.col.owner", "en")]) == {"Administrator"}
    # no open alert: the chart of any of the city's rules, nothing to acknowledge
    box = at.selectbox(key="_w_choice_alert")
    assert len(box.options) == 5 and all("Nanling" in o and "open" not in o for o in box.options)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "Nanling" in spec["layout"]["title"]["text"]
    assert not [b for b in at.button if str(b.key).startswith("FormSubmitter:ack_")]
    at = open_page(PAGE, {"lang": "en"}, {"sw_user": dongjiang, "_sw_seen": time.time()})
    assert set(_frame(at, "alerts_open")[t("alerts.col.slice", "en")]) == {"Dongjiang"}
    opened = len(_frame(at, "alerts_open"))
    box = at.selectbox(key="_w_choice_alert")
    assert len(box.options) == 5 and sum(o.endswith(" · open") for o in box.options) == opened
    assert box.value == 0 and box.options[0].endswith(" · open")  # an open alert first
