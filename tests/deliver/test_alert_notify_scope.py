"""Alert notices keep the recipient's scope (review M1): a viewer (aggregates only) is told an alert's
figures as the Alerts page computes them for them — under their scope, the small-group rule applied —
and nothing when the alert's group is below their minimum group size; through a real SMTP server on
127.0.0.1, the demo's planted deterioration (Dongjiang's complaints)."""

from __future__ import annotations

import pandas as pd
import pytest

from deliver.deliver_helpers import add_complaints_rule
from metrics import alert_rules as rule_store
from metrics import alerts
from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.query.warehouse import Warehouse


@pytest.fixture()
def rules_env(rules_env: dict) -> dict:
    """The shared ``rules_env`` (an alert store of its own) and a viewer of Dongjiang (region 4) who reads
    English."""
    access.add_user(access.User("dj.viewer", "viewer", ("4",), email="djv@example.com", lang="en"), None)
    return rules_env


def _add(sw) -> None:
    code, _, err = add_complaints_rule(sw, "dj.complaints", "4", "dj", "dj.viewer")
    assert code == 0, err


def test_a_viewer_is_told_nothing_below_the_minimum_group_size(rules_env, sw, mailbox, monkeypatch) -> None:
    monkeypatch.setenv(access_scope.MIN_GROUP_ENV, "100000000")  # more customers than Dongjiang has
    _add(sw)
    code, out, err = sw("alerts", "check", "--notify", "--lang", "en")
    assert code == 1 and "Traceback" not in err
    assert (
        "alert rule dj.complaints does not fire, or its figures are withheld (groups below 100000000), "
        "within the data scope of dj.viewer; not sent"
    ) in err
    assert "Alert notices: 1 sent, 0 to retry, 1 failed (2 newly queued)." in out
    assert mailbox.to("djv@example.com") == []
    assert len(mailbox.to("dj@example.com")) == 1  # the city's manager: the organisation's figures, as ever


def test_a_viewer_above_the_minimum_gets_their_scopes_figures(rules_env, sw, mailbox) -> None:
    _add(sw)
    code, out, err = sw("alerts", "check", "--notify", "--lang", "en")
    assert code == 0, err
    [mail] = mailbox.to("djv@example.com")
    body = mail.get_body(("plain",)).get_content()
    wh = Warehouse.open(rules_env["SERVICEWATCH_DB"])
    [event] = alerts.events(wh).to_dict("records")
    viewer = access_scope.scope_for(access.get_user("dj.viewer"), key_ids=wh.key_ids)
    rule = next(r for r in rule_store.rules(wh).itertuples(index=False) if r.rule_id == "dj.complaints")
    theirs = alerts.judge_for(wh, rule, pd.Timestamp(event["period"]).date(), viewer)
    assert theirs is not None and theirs["n"] == pytest.approx(event["n"])  # a city: no group withheld
    assert f"n = {theirs['n']:,.0f}" in body
    assert "Value " in body and "control limits" in body
