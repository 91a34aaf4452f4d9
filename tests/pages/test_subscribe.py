""""Subscribe to this view" (issue 16 item 3) in AppTest: a subscription made from a page's popover is the
row the command line stores for the same arguments; a city manager cannot subscribe another city's manager
to a province view (refused in the page's language, nothing stored); a viewer is offered only themselves;
without sign-in nobody subscribes."""

from __future__ import annotations

import json
import time
from datetime import time as clock
from pathlib import Path

import pytest
from page_helpers import open_page, plain

from metrics.access import audit
from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.access.users import User
from metrics.cli import main as cli
from metrics.deliver import store
from metrics.model.i18n import t

PAGE = "pages/1_Satisfaction.py"
USERS = (User("prov", "manager", (1,), email="prov@example.com"),
         User("dj", "manager", (4,), email="dj@example.com"),
         User("nl", "manager", (2,), email="nl@example.com", lang="en"),
         User("look", "viewer", (4,), email="look@example.com"))


@pytest.fixture()
def env(duckdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    users = tmp_path / "users.json"
    for u in USERS:
        access.add_user(u, None, users)
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    monkeypatch.setenv(access.USERS_ENV, str(users))
    monkeypatch.setenv(audit.AUDIT_ENV, f"sqlite:///{tmp_path / 'audit.sqlite'}")
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    return duckdb_url


def _subscriptions(url: str) -> list[store.Subscription]:
    return store.all_subscriptions(store.engine_for(store.store_url(url)))


def _signed_in(user: User) -> dict:
    return {"sw_user": user, "_sw_seen": time.time()}


def _fill(at, to: list[str], fmt: str = "digest", freq: str = "weekly", weekday: str = "MON",
          at_time: clock = clock(9, 0)):
    at.selectbox(key="sw_sub_format").set_value(fmt)
    at.radio(key="sw_sub_freq").set_value(freq)
    at.selectbox(key="sw_sub_weekday").set_value(weekday)
    at.time_input(key="sw_sub_at").set_value(at_time)
    at.multiselect(key="sw_sub_to").set_value(to)
    [submit] = [b for b in at.button if str(b.key).startswith("FormSubmitter:sw_sub_form")]
    submit.click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_subscription_equals_the_command_lines(env: str, capsys: pytest.CaptureFixture) -> None:
    at = open_page(PAGE, {"lang": "zh", "tier": "gold"}, _signed_in(USERS[0]))
    assert at.multiselect(key="sw_sub_to").options == ["dj", "look", "nl", "prov"]
    period = at.selectbox(key="sw_sub_period").value  # the page's own period by default
    assert period == at.session_state["sw_state"]["preset"]
    _fill(at, ["dj", "nl"])
    [ok] = [s for s in at.success if "订阅" in s.value]
    [page_sub] = _subscriptions(env)
    assert ok.value.startswith(t("subscribe.added", "zh", id=page_sub.subscription_id, first="")[:8])
    section = page_sub.section
    assert section.startswith("satisfaction")
    assert cli.main(["subscription", "add", "--to", "dj", "--to", "nl", "--every", "weekly:MON", "--at", "09:00",
                     "--format", "digest", "--tier", "gold", "--as-user", "prov", "--section", section,
                     "--period", period]) == 0, \
        capsys.readouterr().err
    page_sub, cli_sub = _subscriptions(env)
    same = ("owner", "recipients", "webhooks", "filters", "section", "format", "schedule", "at_time", "time_zone",
            "last_due_at", "enabled")
    assert {k: getattr(page_sub, k) for k in same} == {k: getattr(cli_sub, k) for k in same}
    assert page_sub.recipients == ("dj", "nl") and page_sub.time_zone == "Asia/Shanghai"
    assert "tier=gold" in page_sub.filters and f"preset={period}" in page_sub.filters
    assert "region=1" in page_sub.filters  # the owner's view: their province
    # both written to the audit log by their owner (the page's popover and the command alike)
    log = audit.read(env)
    rows = [(u, json.loads(d)) for u, a, d in zip(log["user"], log["action"], log["detail"], strict=True)
            if a == "subscription"]
    assert [(u, d["subscription"], d["recipients"], d["format"]) for u, d in rows] == [
        ("prov", cli_sub.subscription_id, ["dj", "nl"], "digest"), ("prov", page_sub.subscription_id, ["dj", "nl"],
                                                                   page_sub.format)]  # newest first
    assert all(d["added"] and d["filters"] == page_sub.filters for _u, d in rows)


def test_city_manager_cannot_subscribe_another_citys_manager_to_a_province_view(env: str) -> None:
    at = open_page(PAGE, {"lang": "en", "region": "1"}, _signed_in(USERS[1]))  # dj asks for the province
    _fill(at, ["nl"], fmt="pdf", freq="monthly")
    assert [plain(e.value) for e in at.error] == [t("subscribe.err.outside", "en", name="nl")]
    assert _subscriptions(env) == []
    _fill(at, ["dj"], fmt="pdf", freq="monthly")  # themselves: their own city
    [sub] = _subscriptions(env)
    assert sub.recipients == ("dj",) and "region=4" in sub.filters and sub.schedule == "monthly:1"


def test_engine_refuses_a_province_view_to_a_city_manager(env: str) -> None:
    """The same rules below the page: a city manager's own filters naming the province are refused, and
    so is subscribing another city's manager to the city manager's view."""
    from metrics.deliver.schedule import Schedule
    from metrics.deliver.subscribe import Refused, subscribe
    from metrics.model.filters import Filters
    from metrics.query.warehouse import Warehouse

    wh = Warehouse.open(env)
    users = {u.name: u for u in USERS}
    dj = users["dj"]
    scope = access_scope.scope_for(dj, key_ids=wh.key_ids)
    f = Filters(start=wh.as_of().replace(day=1), end=wh.as_of(), scope=scope)
    engine = store.engine_for(store.store_url(env))
    kw = {"owner": dj, "owner_name": "dj", "schedule": Schedule.parse("daily", "08:00"), "fmt": "pdf",
          "users": users}
    with pytest.raises(Refused) as province:
        subscribe(wh, engine, f.with_(regions=(1,)), recipients=["dj"], **kw)
    assert province.value.key == "subscribe.err.owner_scope"
    with pytest.raises(Refused) as other:
        subscribe(wh, engine, f, recipients=["nl"], **kw)
    assert str(other.value) == "refused: the view is outside the data scope of nl; nothing was added"
    with pytest.raises(Refused) as viewer:
        subscribe(wh, engine, f, recipients=["dj"], **{**kw, "owner": users["look"], "owner_name": "look"})
    assert viewer.value.key == "subscribe.err.others"
    assert _subscriptions(env) == []


def test_viewer_subscribes_only_themselves_and_nobody_without_sign_in(env: str, monkeypatch) -> None:
    at = open_page(PAGE, {"lang": "zh"}, _signed_in(USERS[3]))
    assert at.multiselect(key="sw_sub_to").options == ["look"]
    assert any(c.value == t("subscribe.only_self", "zh") for c in at.caption)
    monkeypatch.delenv(access.USERS_ENV)  # an open dashboard: nobody signed in
    at = open_page(PAGE, {"lang": "zh"})
    assert not [w for w in at.multiselect if w.key == "sw_sub_to"]
    assert any(c.value == t("subscribe.sign_in", "zh") for c in at.caption)
