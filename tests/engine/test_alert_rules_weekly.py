"""Weekly alert rules (issue 16 item 2): a rule judges the week of the as-of (Monday to the as-of) on the
control chart of the 52 weeks to it; limits by hand from the weekly frame; the change rule compares the
same days of the week before; a store made before weekly rules gets the column; the command line adds and
removes rules, refusing bad ones with one line."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from metrics import alert_rules as rule_store
from metrics import alerts
from metrics.analysis import alert_checks, control
from metrics.demo.model import DETERIORATING_CITY
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse


@pytest.fixture()
def wh(alerts_wh: Warehouse) -> Warehouse:
    """The demo with alert rules, alerts and audit log in this test's own stores (conftest's ``alerts_wh``)."""
    return alerts_wh


def test_period_start_and_window() -> None:
    assert alert_checks.period_start(date(2026, 10, 31), "week") == date(2026, 10, 26)  # Saturday -> Monday
    assert alert_checks.period_start(date(2026, 10, 26), "week") == date(2026, 10, 26)
    assert alert_checks.period_start(date(2026, 10, 31)) == date(2026, 10, 1)
    assert alert_checks.window_start(date(2026, 10, 26), "week") == date(2026, 10, 26) - timedelta(weeks=51)


def test_weekly_control_rule_limits_by_hand(wh: Warehouse) -> None:
    as_of = wh.as_of()
    week = as_of - timedelta(days=as_of.weekday())
    region = next(k for k, v in rule_store.region_keys(wh).items() if v == DETERIORATING_CITY)
    rule_store.save_rules(wh, [{"rule_id": "w.csat", "metric": "csat", "kind": "control", "owner": "ops",
                            "filters": {"region": region}, "grain": "week", "run_rules": ["beyond_3sigma"]},
                           {"rule_id": "w.sla", "metric": "sla_resolution_compliance", "kind": "control",
                            "owner": "ops", "filters": {"region": region}, "grain": "week"}])
    assert set(rule_store.rules(wh)["grain"]) == {"week"}
    found = alerts.evaluate(wh, lang="en", min_n=1)
    runs = alerts.history(wh)
    assert set(pd.to_datetime(runs["period"]).dt.date) == {week}  # the week of the as-of is judged
    # the weekly p-chart of CSAT by hand: p̄ over the baseline (all but the last 6 weeks), σ_i = sqrt(p̄(1-p̄)/n_i)
    f = Filters(start=week - timedelta(weeks=51), end=as_of, as_of=as_of, regions=(DETERIORATING_CITY,))
    weekly = wh.metric("csat", f, ("week",)).sort_values("week").reset_index(drop=True)
    assert len(weekly) == 52 and pd.Timestamp(weekly["week"].iloc[-1]).date() == week
    base = weekly.iloc[:-6]
    p = float((base["value"] * base["n"]).sum() / base["n"].sum())
    n_last = float(weekly["n"].iloc[-1])
    chart = control.for_metric(wh, "csat", f, grain="week", min_n=1)
    assert chart.centre == pytest.approx(p)
    assert chart.last["ucl"] == pytest.approx(min(1.0, p + 3 * math.sqrt(p * (1 - p) / n_last)))
    z = (float(weekly["value"].iloc[-1]) - p) / math.sqrt(p * (1 - p) / n_last)
    fired = found.set_index("rule_id")
    assert ("w.csat" in fired.index) == (abs(z) > 3)
    if "w.csat" in fired.index:
        assert fired.loc["w.csat", "period"] == week
        assert fired.loc["w.csat", "upper"] == pytest.approx(chart.last["ucl"])


def test_weekly_change_rule_compares_the_same_days_a_week_before(wh: Warehouse) -> None:
    as_of = wh.as_of()
    week = as_of - timedelta(days=as_of.weekday())
    f = Filters(start=week, end=as_of, as_of=as_of, comparison="none")
    hit = alert_checks.judge(wh, "change", "reopen_rate", f, week, grain="week")
    now = wh.metric("reopen_rate", f).iloc[0]
    before = wh.metric("reopen_rate", f.with_(start=week - timedelta(weeks=1), end=as_of - timedelta(weeks=1))).iloc[0]
    se = math.hypot((now["upper"] - now["lower"]) / 3.92, (before["upper"] - before["lower"]) / 3.92)
    delta = now["value"] - before["value"]
    fires = delta > 0 and delta - 1.96 * se > 0  # reopened tickets: higher is worse
    assert (hit is not None) == fires
    if hit:
        assert hit["centre"] == pytest.approx(before["value"]) and hit["lower"] == pytest.approx(delta - 1.96 * se)
        assert hit["signal"] == "change_week"


def test_a_store_made_before_weekly_rules_gets_the_column(wh: Warehouse, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    old = tmp_path / "old.sqlite"
    engine = sa.create_engine(f"sqlite:///{old}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alert_rules (rule_id VARCHAR(80) PRIMARY KEY, metric VARCHAR(40) NOT NULL,"
                             " filters TEXT NOT NULL, owner VARCHAR(80) NOT NULL, recipients TEXT NOT NULL,"
                             " kind VARCHAR(16) NOT NULL, enabled BOOLEAN NOT NULL, run_rules VARCHAR(120))"))
        conn.execute(sa.text("INSERT INTO alert_rules VALUES ('old', 'csat', '{}', 'ops', '[]', 'control', 1, NULL)"))
    monkeypatch.setenv(rule_store.ALERTS_ENV, f"sqlite:///{old}")
    rules = rule_store.rules(wh)
    assert list(rules["grain"]) == ["month"]



def test_cli_add_and_remove(wh: Warehouse, sw) -> None:
    code, out, err = sw("alerts", "add", "dj.cr.week", "--metric", "fcr_rate", "--type", "control",
                        "--every", "week", "--region", "4", "--run-rules", "beyond_3sigma,six_trend", "--lang", "en")
    assert code == 0, err
    assert out.startswith("Alert rule dj.cr.week saved: ") and out.strip().endswith(", weekly.")
    rule = rule_store.rules(wh).set_index("rule_id").loc["dj.cr.week"]
    assert (rule["metric"], rule["kind"], rule["grain"], rule["run_rules"]) == \
        ("fcr_rate", "control", "week", "beyond_3sigma,six_trend")
    assert rule["filters"] == {"region": "4"} and rule["enabled"]
    code, out, err = sw("alerts", "add", "dj.cr.week", "--metric", "csat", "--type", "change", "--lang", "en")
    assert code == 1 and "exists; give --replace" in err and err.count("\n") == 1
    assert sw("alerts", "add", "dj.cr.week", "--metric", "csat", "--type", "change", "--replace",
              "--tier", "gold")[0] == 0
    rule = rule_store.rules(wh).set_index("rule_id").loc["dj.cr.week"]
    assert (rule["metric"], rule["kind"], rule["grain"]) == ("csat", "change", "month")
    assert rule["filters"] == {"tier": "gold"}
    code, out, err = sw("alerts", "remove", "dj.cr.week", "--lang", "en")
    assert code == 0 and "removed" in out and rule_store.rules(wh).empty
    log = pd.read_sql("SELECT action, detail FROM audit_log", sa.create_engine(
        f"sqlite:///{Path(rule_store.alerts_url(wh.url)[10:]).with_name('audit.sqlite')}"))
    assert list(log["action"]) == ["alert_rule"] * 3 and json.loads(log["detail"].iloc[-1])["removed"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--metric", "nope", "--type", "control"], "unknown metric 'nope'"),
    (["--metric", "csat", "--type", "spike"], "unknown alert kind 'spike'"),
    (["--metric", "csat", "--type", "control", "--every", "day"], "unknown alert period 'day'"),
    (["--metric", "complaint_rate", "--type", "control", "--every", "week"], "cannot be checked by week"),
    (["--metric", "nps", "--type", "control", "--channel", "hotline", "--category", "billing"], "cannot be cut by"),
    (["--metric", "csat", "--type", "target", "--run-rules", "six_trend"], "--run-rules applies to control rules"),
    (["--metric", "csat", "--type", "control", "--run-rules", "seven_up"], "unknown run rule seven_up"),
    (["--metric", "csat", "--type", "control", "--tier", "platinum-ish"], "unknown tier platinum-ish"),
    (["--metric", "csat", "--type", "control", "--region", "Atlantis"], "Atlantis"),
])
def test_cli_add_refuses_with_one_line(wh: Warehouse, sw, argv, message) -> None:
    code, out, err = sw("alerts", "add", "r1", *argv, "--lang", "en")
    assert code != 0 and out == "" and message in err and err.count("\n") == 1 and "Traceback" not in err
    assert rule_store.rules(wh).empty


def test_cli_remove_unknown(wh: Warehouse, sw) -> None:
    code, _, err = sw("alerts", "remove", "ghost", "--lang", "en")
    assert code == 1 and err.strip().endswith("no alert rule 'ghost'; see servicewatch alerts rules")


def test_weekly_change_fires_on_a_known_worsening() -> None:
    """A fake warehouse with this week at 30% reopened (95% CI 28–32%) and the same days a week before at
    20% (18–22%): Δ = 10 points, se = hypot(4, 4)/3.92 points, the interval excludes 0: fires, worded weekly."""
    import pandas as pd

    class Fake:
        def __init__(self) -> None:
            self.asked: list = []

        def metric(self, metric_id, f, by=()):
            self.asked.append((f.start, f.end))
            now = len(self.asked) == 1
            v = 0.30 if now else 0.20
            return pd.DataFrame({"value": [v], "lower": [v - 0.02], "upper": [v + 0.02], "n": [1000.0]})

    week = date(2026, 10, 26)
    f = Filters(start=week, end=date(2026, 10, 31), comparison="none")
    fake = Fake()
    hit = alert_checks.judge(fake, "change", "reopen_rate", f, week, grain="week")
    assert fake.asked == [(week, date(2026, 10, 31)), (date(2026, 10, 19), date(2026, 10, 24))]
    se = math.hypot(0.04, 0.04) / 3.92
    assert hit["signal"] == "change_week" and (hit["value"], hit["centre"], hit["n"]) == (0.30, 0.20, 1000.0)
    assert (hit["lower"], hit["upper"]) == pytest.approx((0.10 - 1.96 * se, 0.10 + 1.96 * se))
