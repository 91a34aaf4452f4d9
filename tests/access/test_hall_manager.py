"""A hall manager's own scope (营业厅主任, issue 19): the users-file role ``hall_manager`` with its outlets by
key, ``Scope.outlet_ids``; their outlets' tickets, surveys, queues and audits and nothing about customers,
in the engine, the CLI (``--as-user``), the Outlets page (AppTest) and their subscription's pack; another
outlet is refused in one line. The small simulated halls of tests/outlet_frames.py, East hall keyed by
text (``HALL-E1``) as a source would write it."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from outlet_frames import START, frames
from page_helpers import filters, open_page, write_users
from section_run import run_section

from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.access.users import Scope, ScopeError, User
from metrics.analysis import outlet_audits as oaud
from metrics.analysis import outlets as ol
from metrics.cli.main import main
from metrics.deliver.scope import OutsideScope, for_recipient, to_query, view_filters
from metrics.ingest.load import replace_all
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse
from metrics.report.outlets_section import outlets_section

PERIOD = ["--from", START.isoformat(), "--to", "2026-06-28"]
F = Filters(start=START, end=pd.Timestamp("2026-06-28").date(), comparison="none")
EAST_HALL = "HALL-E1"  # outlet 1's key as the source wrote it


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    raw = frames()
    raw["source_keys"] = pd.DataFrame([{"entity": "outlets", "id": -1, "key": EAST_HALL}])
    for name in ("queue_records", "audits", "surveys", "tickets", "outlets"):
        raw[name]["outlet_id"] = raw[name]["outlet_id"].replace({1: -1})
    url = f"duckdb:///{tmp_path_factory.mktemp('hall_manager') / 'o.duckdb'}"
    replace_all(url, raw)
    return url


@pytest.fixture()
def users(tmp_path, monkeypatch):
    return write_users(tmp_path / "users.json", monkeypatch,
                       [User("east_hall", "hall_manager", outlets=(EAST_HALL,)),
                        User("west", "hall_manager", outlets=("3", "4"))])


def test_the_role_needs_outlets_and_only_it_has_them() -> None:
    with pytest.raises(ValueError, match="hall manager needs"):
        User("h", "hall_manager")
    with pytest.raises(ValueError, match="only a hall manager"):
        User("m", "manager", regions=(2,), outlets=("1",))
    assert User("h", "hall_manager", outlets=("7", EAST_HALL)).outlets == (7, EAST_HALL)


def test_the_users_file_keeps_the_outlets_and_the_scope_reads_the_keys(db: str, users) -> None:
    loaded = {u.name: u for u in access.list_users()}
    assert loaded["east_hall"].outlets == (EAST_HALL,) and loaded["west"].outlets == (3, 4)
    wh = Warehouse.open(db)
    assert access_scope.scope_for(loaded["east_hall"], key_ids=wh.key_ids) == Scope("east_hall", outlet_ids=(-1,))
    assert access_scope.scope_for(loaded["east_hall"]).outlet_ids == ()  # a text key without the data: nothing
    assert access_scope.scope_for(User("x", "hall_manager", outlets=("NOPE",)), key_ids=wh.key_ids).outlet_ids == ()


def test_the_engine_keeps_their_outlets_only(db: str) -> None:
    wh = Warehouse.open(db)
    raw = frames()
    f = F.with_(scope=Scope("east_hall", outlet_ids=(-1,)))
    assert int(wh.metric("tickets", f)["value"].iloc[0]) == (raw["tickets"]["outlet_id"] == 1).sum()
    assert list(ol.outlet_league(wh, f)["name"]) == ["East hall"]
    assert set(oaud.audit_scores(wh, f)["outlet_id"]) == {-1}
    assert list(oaud.repeated_failures(wh, f)["outlet_id"]) == [-1]  # the planted failures are East hall's
    assert oaud.repeated_failures(wh, F.with_(scope=Scope("west", outlet_ids=(3, 4)))).empty
    with pytest.raises(ScopeError):
        ol.check_outlet(wh, f, 3)
    with pytest.raises(ScopeError):
        access_scope.check_outlets(f.scope, (3,))


def test_cli_as_a_hall_manager(db: str, users, capsys) -> None:
    raw = frames()
    assert main(["outlets", "--db", db, *PERIOD, "--as-user", "east_hall", "--format", "json"]) == 0
    assert [r["outlet_id"] for r in json.loads(capsys.readouterr().out)] == [EAST_HALL]
    assert main(["metric", "tickets", "--db", db, *PERIOD, "--as-user", "west", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["value"] == raw["tickets"]["outlet_id"].isin([3, 4]).sum()
    assert main(["metric", "tickets", "--db", db, *PERIOD, "--as-user", "east_hall", "--outlet", "3"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err) and len(err) == 1
    assert err[0] == "servicewatch: error: that outlet is outside your scope"


def test_cli_user_add_with_outlets(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv(access.USERS_ENV, str(tmp_path / "u.json"))
    assert main(["user", "add", "h1", "--role", "hall_manager", "--outlets", EAST_HALL, "7", "--no-password"]) == 0
    assert access.get_user("h1").outlets == (EAST_HALL, 7)
    assert main(["user", "add", "h2", "--role", "hall_manager", "--no-password"]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith("a hall manager needs at least one outlet "
                                                                      "(--outlets KEY ...)")


def test_their_subscription_is_their_pack(db: str, users) -> None:
    wh = Warehouse.open(db)
    east = access.get_user("east_hall")
    province = view_filters(wh, "preset=last_quarter")
    mine = for_recipient(wh, province, east)
    assert mine.outlets == (-1,) and mine.scope.outlet_ids == (-1,)
    assert "outlet=HALL-E1" in to_query(wh, mine.with_(scope=None))
    assert view_filters(wh, to_query(wh, mine.with_(scope=None))).outlets == (-1,)
    with pytest.raises(OutsideScope):
        for_recipient(wh, province.with_(outlets=(3,)), east)
    pages, _drawn = run_section(outlets_section, wh, mine, "zh")
    text = "\n".join(s for p in pages for s in p.sentences)
    assert "East hall" in text or pages[0].sentences
    for other in ("East partner", "West hall", "West agent"):
        assert other not in text


def test_the_outlets_page_shows_their_hall_only(db: str, users, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", db)
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    session = {"sw_user": access.get_user("east_hall"), "_sw_seen": time.time()}
    at = open_page("pages/11_Outlets.py", {"lang": "zh", "preset": "last_quarter", "outlet": "3"}, session)
    assert not at.exception, [e.value for e in at.exception]
    assert filters(at).outlets == ()  # a link to another hall: dropped, said
    assert any(w.value for w in at.warning)
    col = t("page.outlets.col.outlet", "zh")
    tables = [d.value for d in at.dataframe if col in d.value.columns]
    assert tables and set(tables[0][col]) == {"East hall"}
    [widget] = [m for m in at.sidebar.multiselect if m.label == t("filter.outlet", "zh")]
    assert list(widget.options) == ["East hall"]
