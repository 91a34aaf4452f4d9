"""Alert rules on the demo (metrics.alerts): the planted deterioration fires, stable cities do not;
limits by hand; target and change rules; scope; idempotence; acknowledgement; the CLI."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from metrics import alert_rules as rule_store
from metrics import alerts
from metrics.access.users import Scope, ScopeError
from metrics.cli.main import main
from metrics.demo import alert_rules
from metrics.demo.model import DETERIORATING_CITY
from metrics.model import schema
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

OCTOBER = date(2026, 10, 1)


@pytest.fixture()
def wh(duckdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    """The shared demo, with rules and alerts in a store of this test's own."""
    monkeypatch.setenv(rule_store.ALERTS_ENV, f"sqlite:///{tmp_path / 'alerts.sqlite'}")
    w = Warehouse.open(duckdb_url)
    yield w
    w.engine.dispose()


@pytest.fixture()
def demo_alerts(wh: Warehouse) -> pd.DataFrame:
    alert_rules.install(wh)
    return alerts.evaluate(wh, lang="en")


def test_planted_deterioration_fires_and_stable_cities_do_not(wh: Warehouse, demo_alerts: pd.DataFrame) -> None:
    assert wh.as_of().replace(day=1) == OCTOBER
    rules = rule_store.rules(wh)
    cities = {int(json.loads(json.dumps(f))["region"]) for f in rules["filters"]}
    assert len(rules) == 5 * len(cities) and DETERIORATING_CITY in cities
    fired = {(r.metric, int(r.rule_id.rsplit(".", 1)[1])) for r in demo_alerts.itertuples()}
    assert {city for _, city in fired} == {DETERIORATING_CITY}  # no stable city raises one
    assert {"complaint_rate", "csat", "sla_resolution_compliance"} <= {m for m, _ in fired}
    assert set(demo_alerts["slice"]) == {"Dongjiang"}
    assert (demo_alerts["period"] == OCTOBER).all()


def test_complaint_alert_limits_by_hand(wh: Warehouse, demo_alerts: pd.DataFrame) -> None:
    """u-chart over the 24 months to October, baseline the first 18: ū = Σ events / Σ (exposure/1000),
    UCL = ū + 3·sqrt(ū / a_Oct)."""
    row = demo_alerts.set_index("metric").loc["complaint_rate"]
    f = Filters(start=date(2024, 11, 1), end=date(2026, 10, 31), regions=(DETERIORATING_CITY,))
    monthly = wh.metric("complaint_rate", f, ("month",))
    assert len(monthly) == 24
    base = monthly.iloc[:18]
    ubar = base["events"].sum() / (base["exposure"].sum() / 1000)
    a = monthly["exposure"].iloc[-1] / 1000
    assert row["centre"] == pytest.approx(ubar)
    assert row["upper"] == pytest.approx(ubar + 3 * math.sqrt(ubar / a))
    assert row["lower"] == pytest.approx(max(0.0, ubar - 3 * math.sqrt(ubar / a)))
    assert row["value"] == pytest.approx(monthly["value"].iloc[-1]) and row["value"] > row["upper"]
    assert row["n"] == pytest.approx(monthly["exposure"].iloc[-1])
    assert "beyond_3sigma" in row["signal"]


def test_evaluate_is_idempotent_and_keeps_acknowledgements(wh: Warehouse, demo_alerts: pd.DataFrame) -> None:
    store = rule_store.store(wh)
    count = sa.select(sa.func.count()).select_from(schema.alert_events)
    with store.connect() as conn:
        assert conn.execute(count).scalar_one() == len(demo_alerts) > 0
    rule = demo_alerts["rule_id"].iloc[0]
    assert alerts.acknowledge(wh, rule, "li.lei", "called the city office") == 1
    again = alerts.evaluate(wh, lang="en")
    assert list(again["rule_id"]) == list(demo_alerts["rule_id"])
    assert list(again["fired_at"]) == list(demo_alerts["fired_at"])
    with store.connect() as conn:
        assert conn.execute(count).scalar_one() == len(demo_alerts)
    ev = alerts.events(wh).set_index("rule_id")
    assert ev.loc[rule, "acknowledged_by"] == "li.lei" and ev.loc[rule, "note"] == "called the city office"
    assert rule not in set(alerts.events(wh, open_only=True)["rule_id"])
    assert alerts.acknowledge(wh, rule, "li.lei", "again") == 0  # nothing open any more
    hist = alerts.history(wh).set_index("rule_id")
    assert hist.loc[rule, "alerts"] == 1 and hist.loc[rule, "open"] == 0 and bool(hist.loc[rule, "fired"])
    assert not hist.loc["control.csat.2", "fired"] and hist.loc["control.csat.2", "alerts"] == 0


def test_scope(wh: Warehouse, demo_alerts: pd.DataFrame) -> None:
    """A city manager sees its own city's rules and alerts only; the province manager all; an account
    manager's portfolio no rule's."""
    dongjiang = Scope(user="dj", regions=(DETERIORATING_CITY,))
    nanling = Scope(user="nl", regions=(2,))
    province = Scope(user="gd", regions=(1,))
    assert alerts.evaluate(wh, scope=nanling, record=False).empty
    assert set(rule_store.rules(wh, nanling)["filters"].map(lambda q: q["region"])) == {"2"}
    mine = alerts.evaluate(wh, scope=dongjiang, record=False)
    assert list(mine["rule_id"]) == list(demo_alerts["rule_id"])
    assert len(alerts.evaluate(wh, scope=province, record=False)) == len(demo_alerts)
    assert alerts.evaluate(wh, scope=Scope(user="am", manager_id=1), record=False).empty
    assert alerts.events(wh, nanling).empty and len(alerts.events(wh, dongjiang)) == len(demo_alerts)
    with pytest.raises(ScopeError):
        alerts.acknowledge(wh, demo_alerts["rule_id"].iloc[0], "nl", "not mine", scope=nanling)


def _interval_excludes_zero(wh: Warehouse, month: date, previous: date) -> tuple[bool, float]:
    def one(start: date) -> pd.Series:
        end = (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
        return wh.metric("complaint_rate", Filters(start=start, end=end, regions=(DETERIORATING_CITY,))).iloc[0]

    a, b = one(month), one(previous)
    se = math.sqrt(((a["upper"] - a["lower"]) / 3.92) ** 2 + ((b["upper"] - b["lower"]) / 3.92) ** 2)
    delta = a["value"] - b["value"]
    return bool(delta - 1.96 * se > 0), float(delta)  # complaints: only a rise is worse


def test_target_and_change_rules(wh: Warehouse) -> None:
    rule_store.save_rules(wh, [
        {"rule_id": "target.complaints.dj", "metric": "complaint_rate", "filters": {"region": "4"},
         "owner": "admin", "recipients": ["dj"], "kind": "target"},
        {"rule_id": "change.complaints.dj", "metric": "complaint_rate", "filters": {"region": "4"},
         "owner": "admin", "recipients": ["dj"], "kind": "change"},
    ])
    for as_of, month, previous in ((date(2026, 8, 31), date(2026, 8, 1), date(2026, 7, 1)),
                                   (date(2026, 10, 31), OCTOBER, date(2026, 9, 1))):
        got = alerts.evaluate(wh, as_of=as_of, lang="en").set_index("rule_id")
        # target 19 per 1,000 customer-months (the demo's targets): red = above 5% over it and the
        # interval's lower bound above it too
        f = Filters(start=month, end=as_of, regions=(DETERIORATING_CITY,))
        row = wh.metric("complaint_rate", f).iloc[0]
        red = bool(row["value"] > 19 * 1.05 and row["lower"] > 19)
        assert ("target.complaints.dj" in got.index) is red
        fires, delta = _interval_excludes_zero(wh, month, previous)
        assert ("change.complaints.dj" in got.index) is fires
        if fires:
            assert got.loc["change.complaints.dj", "value"] - got.loc["change.complaints.dj", "centre"] == (
                pytest.approx(delta))
    # August over July: the ramp's first big rise is significant; October over September is not
    assert "change.complaints.dj" in set(alerts.events(wh)["rule_id"])
    assert alerts.events(wh).query("rule_id == 'change.complaints.dj'")["period"].tolist() == [date(2026, 8, 1)]


def test_bad_rules_refused(wh: Warehouse) -> None:
    with pytest.raises(ValueError, match="unknown alert kind"):
        rule_store.save_rules(wh, [{"rule_id": "x", "metric": "csat", "owner": "a", "kind": "sometimes"}])
    with pytest.raises(KeyError):
        rule_store.save_rules(wh, [{"rule_id": "x", "metric": "happiness", "owner": "a", "kind": "control"}])
    with pytest.raises(ValueError, match="unknown run rules"):
        rule_store.save_rules(wh, [{"rule_id": "x", "metric": "csat", "owner": "a", "kind": "control",
                                "run_rules": ["nine_in_a_row"]}])


def test_cli_check_and_ack(wh: Warehouse, duckdb_url: str, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from metrics.access import users as access

    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    users = tmp_path / "users.toml"
    access.add_user(access.User("dj.manager", "manager", (DETERIORATING_CITY,)), None, users)
    access.add_user(access.User("nl.manager", "manager", (2,)), None, users)
    monkeypatch.setenv("SERVICEWATCH_USERS", str(users))
    alert_rules.install(wh)
    assert main(["alerts", "check", "--db", duckdb_url, "--format", "json", "--lang", "en"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["slice"] for r in rows} == {"Dongjiang"} and all(r["period"] == "2026-10-01" for r in rows)
    assert main(["alerts", "check", "--db", duckdb_url, "--lang", "zh"]) == 0
    table = capsys.readouterr().out
    assert "东江市" in table and "超出3σ控制限" in table and "投诉率" in table
    rule = rows[0]["rule_id"]
    assert main(["alerts", "check", "--db", duckdb_url, "--as-user", "nl.manager"]) == 0
    assert capsys.readouterr().out.strip() == "没有预警：所有规则均在控制范围内。"
    ack = ["alerts", "ack", rule, "--note", "已联系", "--db", duckdb_url, "--lang", "en", "--as-user"]
    assert main([*ack, "nl.manager"]) == 1
    assert "outside your scope" in capsys.readouterr().err
    assert main([*ack, "dj.manager"]) == 0
    assert "1 alert(s) acknowledged" in capsys.readouterr().out
    from metrics.access import audit

    log = audit.read(duckdb_url)
    assert log["action"].tolist()[0] == "alert_ack" and json.loads(log["detail"][0])["rule_id"] == rule


def test_import_runs_the_rules(duck: str, demo_frames: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    """``servicewatch import`` checks the alert rules on the new data (one line), when there are rules."""
    monkeypatch.setenv(rule_store.ALERTS_ENV, f"sqlite:///{tmp_path / 'alerts.sqlite'}")
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    new = demo_frames["tickets"].head(4).copy()
    new["ticket_id"] = range(20_000_000, 20_000_004)
    path = tmp_path / "tickets.csv"
    new.to_csv(path, index=False)
    assert main(["import", "tickets", str(path), "--db", duck]) == 0
    assert "Alert rules checked" not in capsys.readouterr().out  # no rules yet: nothing to check
    wh = Warehouse.open(duck)
    alert_rules.install(wh)
    wh.engine.dispose()
    new["ticket_id"] = range(20_000_004, 20_000_008)
    new.to_csv(path, index=False)
    assert main(["import", "tickets", str(path), "--db", duck]) == 0
    out = capsys.readouterr().out
    wh = Warehouse.open(duck)
    try:
        n = len(alerts.events(wh))
        assert f"Alert rules checked: {n} alert(s)" in out and n > 0
        assert alerts.history(wh)["ran_at"].notna().all()
    finally:
        wh.engine.dispose()
