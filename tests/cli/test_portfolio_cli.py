"""``servicewatch portfolio [--manager KEY]``: the league and one manager's customers as JSON/CSV/table
with the engine's numbers, sentences and notes on stderr in Chinese or English, keys as the source
wrote them, the user's scope (--as-user), one line and a non-zero exit for bad input."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
import sqlalchemy as sa

from metrics.access.users import User, add_user
from metrics.analysis import portfolio as pf
from metrics.cli.main import main
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

PERIOD = ["--from", "2025-11-01", "--to", "2026-10-31"]


def _f(wh: Warehouse) -> Filters:
    return Filters(date(2025, 11, 1), date(2026, 10, 31))


def test_league_json_matches_the_engine(duckdb_url: str, capsys) -> None:
    assert main(["portfolio", "--db", duckdb_url, *PERIOD, "--format", "json"]) == 0
    out = capsys.readouterr()
    records = json.loads(out.out)
    wh = Warehouse.open(duckdb_url)
    r = pf.league(wh, _f(wh))
    assert [rec["manager_id"] for rec in records] == list(r.managers["manager_id"])
    assert records[0]["csat"] == pytest.approx(r.managers["csat"].iloc[0])
    assert records[0]["csat_lower"] == pytest.approx(r.managers["csat_lower"].iloc[0])
    assert records[0]["customers"] == r.managers["customers"].iloc[0] and records[0]["rank"] == 1
    assert records[0]["period_start"] == "2025-11-01" and records[0]["day"] == "2026-10-31"
    assert "ranked on CSAT by the lower bound of its 95% interval" in out.err


def test_one_manager_in_chinese(duckdb_url: str, capsys) -> None:
    wh = Warehouse.open(duckdb_url)
    manager = int(pf.league(wh, _f(wh)).managers["manager_id"].iloc[0])
    assert main(["portfolio", "--db", duckdb_url, *PERIOD, "--manager", str(manager), "--lang", "zh",
                 "--format", "json"]) == 0
    out = capsys.readouterr()
    records = json.loads(out.out)
    rows, _ = pf.customers(wh, _f(wh), manager)
    assert [rec["customer_id"] for rec in records] == list(rows["customer_id"])
    assert [rec["spend_falling"] for rec in records] == list(rows["spend_falling"])
    assert "位在网客户" in out.err and "消费下降超过 20%" in out.err


def test_table_and_tiers_csv(duckdb_url: str, capsys) -> None:
    assert main(["portfolio", "--db", duckdb_url, *PERIOD, "--rank-by", "churn"]) == 0
    out = capsys.readouterr()
    header = out.out.splitlines()[0].split()
    assert header[:3] == ["rank", "manager_id", "manager_name"] and "verdict" in header
    assert "upper bound (lower is better)" in out.err
    assert main(["portfolio", "--db", duckdb_url, *PERIOD, "--show", "tiers", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert set(rows[0]) == {"manager_id", "tier", "customers", "revenue"} and len(rows) > 5


def test_unknown_manager_is_one_line(duckdb_url: str, capsys) -> None:
    assert main(["portfolio", "--db", duckdb_url, "--manager", "AM-NOPE"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "servicewatch: error: unknown account manager AM-NOPE (account_managers.manager_id)"
    assert "Traceback" not in "\n".join(err)
    assert main(["portfolio", "--db", duckdb_url, "--manager", "AM-NOPE", "--lang", "zh"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "servicewatch: error: 未知的客户经理 AM-NOPE（account_managers.manager_id）。"


def test_keys_as_the_source_wrote_them(duck: str, capsys) -> None:
    """A manager whose key is text (``AM-005``): named so on the command line and in the output."""
    eng = sa.create_engine(duck)
    with eng.begin() as conn:
        conn.execute(sa.text("INSERT INTO source_keys VALUES ('account_managers', -5, 'AM-005')"))
        conn.execute(sa.text("UPDATE account_managers SET manager_id = -5 WHERE manager_id = 3"))
        conn.execute(sa.text("UPDATE customers SET account_manager_id = -5 WHERE account_manager_id = 3"))
    eng.dispose()
    assert main(["portfolio", "--db", duck, *PERIOD, "--format", "json"]) == 0
    league = {rec["manager_id"]: rec for rec in json.loads(capsys.readouterr().out)}
    assert "AM-005" in league and -5 not in league
    assert main(["portfolio", "--db", duck, *PERIOD, "--manager", "AM-005", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == league["AM-005"]["customers"] > 0


def test_an_account_manager_sees_only_their_portfolio(duck: str, tmp_path, monkeypatch, capsys) -> None:
    users = tmp_path / "users.json"
    monkeypatch.setenv("SERVICEWATCH_USERS", str(users))
    add_user(User("am3", "account_manager", manager_id=3), None, users)
    assert main(["portfolio", "--db", duck, *PERIOD, "--as-user", "am3", "--format", "json"]) == 0
    assert [rec["manager_id"] for rec in json.loads(capsys.readouterr().out)] == [3]
    assert main(["portfolio", "--db", duck, *PERIOD, "--as-user", "am3", "--manager", "4"]) == 1
    assert "outside your scope" in capsys.readouterr().err
