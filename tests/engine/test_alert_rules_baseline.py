"""A control rule's own baseline (issue 16 item 1: "limits from a baseline period that the user can see
and reset") and change rules against the same month a year before: stored per rule (``alerts add
--baseline``, ``--against yoy``, the Alerts page's button), judged by it (limits by hand from the
monthly frame), refused with one line when wrong; a store made before gets the columns."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metrics import alert_rules as rule_store
from metrics import alerts
from metrics.access.users import ScopeError
from metrics.analysis import control
from metrics.demo.model import DETERIORATING_CITY
from metrics.model.filters import Filters, add_months
from metrics.model.registry import get
from metrics.query.warehouse import Warehouse


@pytest.fixture()
def wh(alerts_wh: Warehouse) -> Warehouse:
    """The demo with alert rules, alerts and audit log in this test's own stores (conftest's ``alerts_wh``)."""
    return alerts_wh



def _region(wh: Warehouse) -> str:
    return next(k for k, v in rule_store.region_keys(wh).items() if v == DETERIORATING_CITY)


def test_a_rules_baseline_is_what_it_judges_by(wh: Warehouse, sw) -> None:
    month = wh.as_of().replace(day=1)
    first, last = add_months(month, -23), add_months(month, -18)  # the window's first six months
    code, _, err = sw(
        "alerts",
        "add",
        "dj.cr",
        "--metric",
        "complaint_rate",
        "--type",
        "control",
        "--region",
        _region(wh),
        "--baseline",
        f"{first:%Y-%m}:{last:%Y-%m}",
    )
    assert code == 0, err
    [rule] = rule_store.rules(wh).itertuples(index=False)
    assert rule.baseline == (first, last)
    [hit] = alerts.evaluate(wh, record=False).to_dict("records")  # the planted shift fires on either baseline
    f = Filters(start=first, end=wh.as_of(), as_of=wh.as_of(), regions=(DETERIORATING_CITY,))
    own = control.for_metric(wh, "complaint_rate", f, baseline=(first, last))
    default = control.for_metric(wh, "complaint_rate", f)
    assert own.baseline == (first, last) and default.baseline != (first, last)
    assert hit["centre"] == pytest.approx(own.centre) and hit["centre"] != pytest.approx(default.centre)
    assert hit["upper"] == pytest.approx(own.points["ucl"].iloc[-1])
    # by hand: the u-chart's centre is the baseline months' events over their exposure
    monthly = wh.metric("complaint_rate", f, ("month",))
    months = pd.to_datetime(monthly["month"]).dt.date
    base = monthly[(months >= first) & (months <= last)]
    assert len(base) == 6
    per = get("complaint_rate").per  # per 1,000 customer-months
    assert own.centre == pytest.approx(per * float(base["events"].sum() / base["exposure"].sum()), rel=1e-9)
    # only the rule's owner or an admin may change it (review L2), checked by the engine: nothing changed
    owner = str(rule_store.rules(wh)["owner"].iloc[0])
    with pytest.raises(ScopeError, match="owner"):
        rule_store.set_baseline(wh, "dj.cr", None, user=f"not-{owner}", admin=False)
    with pytest.raises(ScopeError):
        rule_store.set_baseline(wh, "dj.cr", None, user=None, admin=False)
    assert rule_store.rules(wh)["baseline"].iloc[0] == (first, last)
    rule_store.set_baseline(wh, "dj.cr", (first, last), user=owner, admin=False)  # the owner may
    # back to the default: judged as before
    rule_store.set_baseline(wh, "dj.cr", None)
    assert rule_store.rules(wh)["baseline"].iloc[0] is None
    [again] = alerts.evaluate(wh, record=False).to_dict("records")
    assert again["centre"] == pytest.approx(default.points["centre"].iloc[-1])
    # a baseline older than the chart's 24 months widens the window back to it
    old = (add_months(month, -30), add_months(month, -25))
    rule_store.set_baseline(wh, "dj.cr", old)
    [wide] = alerts.evaluate(wh, record=False).to_dict("records")
    by_hand = control.for_metric(wh, "complaint_rate", f.with_(start=old[0]), baseline=old)
    assert wide["centre"] == pytest.approx(by_hand.centre)


def test_change_against_the_same_month_a_year_before(wh: Warehouse, sw) -> None:
    month = wh.as_of().replace(day=1)
    code, _, err = sw(
        "alerts",
        "add",
        "dj.cr.yoy",
        "--metric",
        "complaint_rate",
        "--type",
        "change",
        "--against",
        "yoy",
        "--region",
        _region(wh),
    )
    assert code == 0, err
    assert list(rule_store.rules(wh)["against"]) == ["yoy"]
    found = alerts.evaluate(wh, record=False, lang="zh")
    [row] = found.to_dict("records")  # the planted deterioration: worse than a year before
    assert row["signal"] == "change_yoy"
    f = Filters(start=month, end=wh.as_of(), as_of=wh.as_of(), regions=(DETERIORATING_CITY,), comparison="none")
    a = wh.metric("complaint_rate", f).iloc[0]
    year_ago = f.with_(comparison="year_ago").comparison_filters().with_(comparison="none")
    b = wh.metric("complaint_rate", year_ago).iloc[0]
    assert year_ago.start == date(month.year - 1, month.month, 1)
    assert row["value"] == pytest.approx(a["value"]) and row["centre"] == pytest.approx(b["value"])
    se = np.hypot((a["upper"] - a["lower"]) / 3.92, (b["upper"] - b["lower"]) / 3.92)
    assert row["lower"] == pytest.approx(a["value"] - b["value"] - 1.96 * se) and row["lower"] > 0
    from metrics.alerts import signal_text

    assert signal_text("change_yoy", "zh") == "较去年同月显著变差"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--type", "control", "--baseline", "2025-13:2025-01"], "invalid baseline '2025-13:2025-01'"),
        (["--type", "control", "--baseline", "2025-06:2025-01"], "first period 2025-06-01 is after its last"),
        (["--type", "change", "--baseline", "2025-01:2025-06"], "--baseline applies to control rules only"),
        (["--type", "control", "--against", "yoy"], "--against applies to change rules only"),
        (["--type", "change", "--against", "lastyear"], "unknown comparison 'lastyear'; use prev or yoy"),
    ],
)
def test_refused_with_one_line(wh: Warehouse, sw, argv: list[str], message: str) -> None:
    code, out, err = sw("alerts", "add", "bad", "--metric", "csat", *argv, "--lang", "en")
    assert code == 1 and out == "" and err.count("\n") == 1 and message in err
    assert rule_store.rules(wh).empty


def test_the_audit_and_an_older_store(wh: Warehouse, sw, tmp_path: Path, monkeypatch) -> None:
    from metrics.access import audit

    assert (
        sw("alerts", "add", "b", "--metric", "csat", "--type", "control", "--baseline", "2025-01:2025-06")[0]
        == 0
    )
    listed = json.loads(sw("alerts", "rules", "--format", "json")[1])
    assert listed[0]["baseline"] == "2025-01-01:2025-06-01" and listed[0]["against"] == "prev"
    log = audit.read(wh.url)
    assert json.loads(log["detail"].iloc[0])["baseline"] == "2025-01:2025-06"
    import sqlalchemy as sa

    old = tmp_path / "old.sqlite"
    engine = sa.create_engine(f"sqlite:///{old}")
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE alert_rules (rule_id VARCHAR(80) PRIMARY KEY, metric VARCHAR(40) NOT NULL,"
                " filters TEXT NOT NULL, owner VARCHAR(80) NOT NULL, recipients TEXT NOT NULL,"
                " kind VARCHAR(16) NOT NULL, enabled BOOLEAN NOT NULL, run_rules VARCHAR(120))"
            )
        )
        conn.execute(sa.text("INSERT INTO alert_rules VALUES ('old', 'csat', '{}', 'ops', '[]', 'control', 1, NULL)"))
    monkeypatch.setenv(rule_store.ALERTS_ENV, f"sqlite:///{old}")
    rules = rule_store.rules(wh)
    assert rules["baseline"].iloc[0] is None and list(rules["against"]) == ["prev"] and rules["webhooks"].iloc[0] == []
