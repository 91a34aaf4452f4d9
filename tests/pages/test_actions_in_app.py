"""The action loop on the At-risk page (AppTest, a private copy of the fitted demo DuckDB): the customer
card's visits and actions equal the rows in the file; assigning from the card writes the actions (the
file the dashboard holds read-only is written on a swapped copy) with the holdout and the audit row;
closing writes the outcome; a close of an action someone else changed since it was shown is refused
and loses nothing; a visit recorded from the card lands in ``visits`` (bad input refused, nothing
written); an account manager can only own their actions; a viewer gets no form."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa
from db_snapshot import copy_duckdb
from page_helpers import filters, open_page, write_users

from metrics.access.users import Scope, User
from metrics.backends.swap import writable
from metrics.churn import actions_store
from metrics.churn import store as churn_store
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse

PAGE = "pages/8_At_risk.py"


@pytest.fixture()
def url(fitted_duckdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    out = copy_duckdb(fitted_duckdb_url, tmp_path / "sw.duckdb")
    monkeypatch.setenv("SERVICEWATCH_DB", out)
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    return out


def _sql(url: str, query: str, *params: object) -> pd.DataFrame:
    con = duckdb.connect(sa.engine.make_url(url).database, read_only=True)
    try:
        return con.execute(query, list(params)).df()
    finally:
        con.close()


def _actions(url: str) -> pd.DataFrame:
    return _sql(url, "select * from retention_actions order by action_id")


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def _texts(elements) -> list[str]:
    return [e.value for e in elements]


def test_the_card_shows_the_customers_visits_and_actions(url: str) -> None:
    at = open_page(PAGE)
    cid = at.selectbox(key="_w_choice_customer").value
    visits = int(_sql(url, "select count(*) n from visits where customer_id = ?", cid)["n"].iloc[0])
    actions = int(_sql(url, "select count(*) n from retention_actions where customer_id = ?", cid)["n"].iloc[0])
    subheaders = _texts(at.subheader)
    assert t("actions_app.visits_header", "zh", n=visits) in subheaders
    assert t("actions_app.actions_header", "zh", n=actions) in subheaders
    assert t("actions_app.assign_header", "zh") in subheaders  # an administrator may assign


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_assign_from_the_card_then_close(url: str, lang: str) -> None:
    at = open_page(PAGE, {"lang": lang})
    cid = at.selectbox(key="_w_choice_customer").value
    box = at.multiselect(key="assign_action_customers")
    assert box.value == [cid]  # the card's customer is preselected
    listed = churn_store.scores(Warehouse.open(url), filters(at), 200, lang)["customer_id"].astype(int)
    other = next(int(c) for c in listed if int(c) != cid)
    before = _actions(url)
    box.set_value([cid, other])
    at.selectbox(key="assign_action_type").set_value("care_visit")
    at.slider(key="assign_action_holdout").set_value(0)
    at.text_area(key="assign_action_note").input("上门走访，了解网络质量问题")
    _button(at, t("actions_app.assign", lang)).click().run()
    assert not at.exception, [e.value for e in at.exception]
    after = _actions(url)
    new = after[~after["action_id"].isin(before["action_id"])]
    assert sorted(new["customer_id"].astype(int)) == sorted([cid, other])
    assert set(new["arm"]) == {"treated"} and set(new["status"]) == {"open"}
    assert set(new["action_type"]) == {"care_visit"}
    assert set(new["created_date"].astype(str).str[:10]) == {actions_store.today().isoformat()}
    assert any(str(len(new)) in s for s in _texts(at.success))
    audit = sqlite3.connect(sa.engine.make_url(os.environ["SERVICEWATCH_AUDIT_DB"]).database)
    try:
        rows = audit.execute("select detail from audit_log where action = 'action'").fetchall()
    finally:
        audit.close()
    assert any('"assign"' in r[0] and "上门走访" in r[0] for r in rows)
    # the card now lists the new action; close it with an outcome
    aid = int(new.loc[new["customer_id"] == cid, "action_id"].iloc[0])
    at.selectbox(key="close_action_action").set_value(aid)
    at.text_input(key="close_action_outcome").input("客户同意续约")
    _button(at, t("actions_app.close", lang)).click().run()
    assert not at.exception, [e.value for e in at.exception]
    row = _actions(url).set_index("action_id").loc[aid]
    assert row["status"] == "done" and row["outcome"] == "客户同意续约"


def test_a_close_of_an_action_changed_since_it_was_shown_is_refused(url: str) -> None:
    at = open_page(PAGE)
    cid = at.selectbox(key="_w_choice_customer").value
    with writable(url) as engine:  # an open action on the card's customer
        rows, _ = actions_store.assign(engine, url, "setup", [cid], "call", None, dt.date.today(), holdout=0)
    aid = int(rows["action_id"].iloc[0])
    at.run()  # the page shows it in the close form
    assert len(at.selectbox(key="close_action_action").options) >= 1
    with writable(url) as engine:  # meanwhile another manager closes it
        actions_store.close(engine, url, "other", aid, "已电话回访", actions_store.read_action(engine, aid))
    at.selectbox(key="close_action_action").set_value(aid)
    at.text_input(key="close_action_outcome").input("我的结果")
    _button(at, t("actions_app.close", "zh")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert t("actions_write.changed", "zh", id=aid) in _texts(at.error)
    row = _actions(url).set_index("action_id").loc[aid]
    assert row["outcome"] == "已电话回访"  # the other manager's outcome is kept


def test_an_account_manager_owns_only_their_actions_and_a_viewer_gets_no_form(url: str, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    busiest = _sql(url, "select account_manager_id m, count(*) n from customers where end_date is null "
                        "and account_manager_id is not null "
                        "group by 1 order by 2 desc limit 1")
    mid = int(busiest["m"].iloc[0])
    am = User("wang", "account_manager", manager_id=mid)
    viewer = User("guest", "viewer", regions=(1,))
    write_users(tmp_path / "users.json", monkeypatch, [am, viewer])
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    at = open_page(PAGE, None, {"sw_user": am, "_sw_seen": time.time()})
    owner = at.selectbox(key="assign_action_owner")
    assert owner.disabled and owner.value == mid
    own_open = _sql(url, "select count(*) n from retention_actions where status = 'open' and arm = 'treated' "
                         "and owner = ?", mid)["n"].iloc[0]
    assert any(s.startswith(t("actions_app.open_header", "zh", n=int(own_open), overdue=0).split("，")[0])
               for s in _texts(at.subheader))
    at = open_page(PAGE, None, {"sw_user": viewer, "_sw_seen": time.time()})
    assert t("actions_app.assign_header", "zh") not in _texts(at.subheader)
    assert not [b for b in at.button if b.label == t("actions_app.assign", "zh")]


def test_record_a_visit_from_the_card(url: str) -> None:
    at = open_page(PAGE)
    cid = at.selectbox(key="_w_choice_customer").value
    before = _sql(url, "select * from visits where customer_id = ?", cid)
    at.selectbox(key="record_visit_kind").set_value("visit")
    at.text_input(key="record_visit_purpose").input("了解专线故障处理是否满意")
    at.text_input(key="record_visit_outcome").input("客户希望缩短修复时间")
    _button(at, t("visits_app.record", "zh")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    after = _sql(url, "select * from visits where customer_id = ? order by visit_id", cid)
    assert len(after) == len(before) + 1
    new = after.iloc[-1]
    assert new["purpose"] == "了解专线故障处理是否满意" and new["outcome"] == "客户希望缩短修复时间"
    assert str(new["visit_date"])[:10] == dt.date.today().isoformat() and new["kind"] == "visit"
    assert t("actions_app.visits_header", "zh", n=len(after)) in _texts(at.subheader)
    # an outcome is required: refused in one line, nothing written
    at.text_input(key="record_visit_purpose").input("回访")
    _button(at, t("visits_app.record", "zh")).click().run()
    assert t("actions_write.required", "zh", column="outcome") in _texts(at.error)
    assert len(_sql(url, "select * from visits where customer_id = ?", cid)) == len(after)


def test_record_visit_refusals_write_nothing(url: str) -> None:
    cid = int(_sql(url, "select customer_id from customers where account_manager_id is not null limit 1").iloc[0, 0])
    mid = int(_sql(url, "select account_manager_id from customers where customer_id = ?", cid).iloc[0, 0])
    other = int(_sql(url, "select manager_id from account_managers where manager_id <> ? limit 1", mid).iloc[0, 0])
    n = len(_sql(url, "select * from visits"))
    today = dt.date.today()
    cases = [
        (dict(day=today + dt.timedelta(days=1)), t("visits_write.future", "en", day=today + dt.timedelta(days=1))),
        (dict(kind="dinner"), "kind dinner is not allowed"),
        (dict(manager=987654), t("actions_write.unknown_owner", "en", owner=987654)),
        (dict(scope=Scope("am", manager_id=other), manager=mid), t("actions_write.own_only", "en")),
        (dict(scope=Scope("v", aggregates_only=True)), t("actions_write.viewer", "en")),
        (dict(purpose="x" * 201), t("actions_write.too_long", "en", column="purpose", n=200)),
    ]
    for change, message in cases:
        args = dict(customer=cid, manager=mid, day=today, kind="call", purpose="回访", outcome="满意", scope=None)
        args.update(change)
        with pytest.raises(actions_store.ActionError) as err, writable(url) as engine:
            actions_store.record_visit(engine, url, "t", args.pop("customer"), args.pop("manager"), args.pop("day"),
                                       args.pop("kind"), args.pop("purpose"), args.pop("outcome"), **args)
        assert message in str(err.value)
    assert len(_sql(url, "select * from visits")) == n
