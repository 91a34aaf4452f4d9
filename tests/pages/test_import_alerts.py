"""The Data page's import runs the alert rules afterwards, as ``servicewatch import`` does (issue 16): the
alerts it shows are those recorded; without rules nothing is said; a failing check is one warning line
while the data stands. AppTest cannot upload files, so the commit goes through the panel's helper and the
page's drawing of the check through AppTest.from_function."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from db_snapshot import copy_duckdb
from streamlit.testing.v1 import AppTest

from metrics import alert_rules as rule_store
from metrics import alerts
from metrics.demo import alert_rules
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse
from servicewatch.import_panel import alert_check, commit_upload

CSV = ("工单号,客户编号,受理渠道,工单类型,问题类别,优先级,受理时间\n"
       "40000001,1,客服热线,投诉,计费,P1,2026/10/5 10:00\n").encode("gbk")


@pytest.fixture()
def db(tmp_path: Path, duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(rule_store.ALERTS_ENV, f"sqlite:///{tmp_path / 'alerts.sqlite'}")
    return copy_duckdb(duckdb_url, tmp_path / "panel.duckdb")


def _draw(url: str, lang: str) -> None:
    from servicewatch.import_panel import show_alert_check

    show_alert_check(url, lang)


def test_import_then_the_rules_run_and_the_alerts_are_shown(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert commit_upload(db, "tickets", "工单.csv", CSV, "zh").inserted == 1
    assert alert_check(db, "zh")[0] == "none"  # no rules: nothing to check, nothing said
    wh = Warehouse.open(db)
    alert_rules.install(wh)
    wh.engine.dispose()
    state, line, table = alert_check(db, "en")
    wh = Warehouse.open(db)
    try:
        recorded = alerts.events(wh)
        assert alerts.history(wh)["ran_at"].notna().all()  # every rule ran
    finally:
        wh.engine.dispose()
    assert state == "ok" and line == t("alerts.after_change", "en", n=len(recorded)) and len(recorded) > 0
    assert len(table) == len(recorded) and set(table[t("alerts.col.slice", "en")]) == {"Dongjiang"}
    import streamlit as st

    links: list[str] = []  # a function script has no pages/ beside it: the link to the Alerts page recorded
    monkeypatch.setattr(st, "page_link", lambda page, **kw: links.append(page))
    at = AppTest.from_function(_draw, args=(db, "zh"), default_timeout=60).run()
    assert not at.exception
    assert [i.value for i in at.info] == [t("alerts.after_change", "zh", n=len(recorded))]
    shown = at.dataframe[0].value
    assert len(shown) == len(recorded) and set(shown[t("alerts.col.slice", "zh")]) == {"东江市"}
    assert "超出3σ控制限" in " ".join(shown[t("alerts.col.signal", "zh")])
    assert links == ["pages/9_Alerts.py"]


def test_a_failing_check_is_a_warning_and_the_data_stands(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    wh = Warehouse.open(db)
    alert_rules.install(wh)
    wh.engine.dispose()

    def broken(*_a, **_k) -> pd.DataFrame:
        raise RuntimeError("store gone")

    monkeypatch.setattr(alerts, "evaluate", broken)
    assert commit_upload(db, "tickets", "工单.csv", CSV, "en").inserted == 1
    state, line, _ = alert_check(db, "en")
    assert state == "failed" and line.startswith("The data is in, but the alert rules could not be checked")
    assert "store gone" not in line
