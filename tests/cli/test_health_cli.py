"""``servicewatch health``: the engine's scores as JSON/CSV/table, the weights and the time-split AUC on
stderr in Chinese or English, ``--weights`` overriding the data file, one customer's history, the
user's scope (--as-user), and one line with a non-zero exit for a bad weights file or an unknown key."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest

from metrics.access.users import User, add_user
from metrics.analysis import health as hl
from metrics.cli.main import main
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

PERIOD = ["--from", "2025-11-01", "--to", "2026-10-31"]
F = Filters(date(2025, 11, 1), date(2026, 10, 31))


@pytest.fixture(scope="module")
def engine_health(duckdb_url: str) -> hl.Health:
    return hl.health(Warehouse.open(duckdb_url), F)


def test_json_matches_the_engine(duckdb_url: str, engine_health: hl.Health, capsys) -> None:
    assert main(["health", "--db", duckdb_url, *PERIOD, "--format", "json"]) == 0
    out = capsys.readouterr()
    records = json.loads(out.out)
    df = engine_health.customers
    assert [rec["customer_id"] for rec in records] == list(df["customer_id"])
    assert records[0]["score"] == pytest.approx(df["score"].iloc[0])
    assert [rec["trend"] for rec in records] == list(df["trend"])
    assert records[0]["weight_complaints"] == 0.20 and records[0]["day"] == "2026-10-31"
    bt = engine_health.backtest
    assert records[0]["auc_n"] == bt["n"] and records[0]["auc_departures"] == bt["departures"]
    if bt["reason"] is None:
        assert records[0]["auc"] == pytest.approx(bt["auc"]) and f"AUC = {bt['auc']:.3f}" in out.err
    assert "Weights of the parts: SLA compliance 20%, Availability 15%, Complaints 20%" in out.err
    assert "is not scored 0" in out.err


def test_table_in_chinese(duckdb_url: str, capsys) -> None:
    assert main(["health", "--db", duckdb_url, *PERIOD, "--lang", "zh"]) == 0
    out = capsys.readouterr()
    header = out.out.splitlines()[0].split()
    assert header[:4] == ["customer_id", "name", "score", "trend"]
    assert "政企客户的健康度" in out.err and "各部分权重：SLA达标 20%" in out.err
    assert "区分流失" in out.err and "Weights" not in out.err
    assert any(arrow in out.out for arrow in ("↓ 下降", "↑ 上升", "→ 持平"))


def test_weights_file_overrides(duckdb_url: str, tmp_path, capsys) -> None:
    w = tmp_path / "w.toml"
    w.write_text("[weights]\ncomplaints = 2\n", encoding="utf-8")
    assert main(["health", "--db", duckdb_url, *PERIOD, "--weights", str(w), "--format", "csv"]) == 0
    out = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out.out)))
    assert rows and all(float(r["score"]) == pytest.approx(float(r["complaints"])) for r in rows)
    assert all(float(r["complaints_weight"]) == 1.0 for r in rows)
    assert "Weights of the parts: Complaints 100%." in out.err


@pytest.mark.parametrize(("text", "zh", "en"), [
    ("[weights]\nsla = 1\n", "权重文件中有未知部分 sla", "unknown part sla in the weights file"),
    ("[weights\n", "不是有效的 TOML", "is not valid TOML"),
])
def test_a_bad_weights_file_is_one_line(duckdb_url: str, tmp_path, capsys, text: str, zh: str, en: str) -> None:
    w = tmp_path / "bad.toml"
    w.write_text(text, encoding="utf-8")
    assert main(["health", "--db", duckdb_url, "--weights", str(w)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("servicewatch: error: ") and en in err[0]
    assert str(tmp_path) not in err[0]
    assert main(["health", "--db", duckdb_url, "--weights", str(w), "--lang", "zh"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and zh in err[0]


def test_one_customers_history(duckdb_url: str, engine_health: hl.Health, capsys) -> None:
    top = engine_health.customers.iloc[0]
    cid = int(top["customer_id"])
    assert main(["health", "--db", duckdb_url, *PERIOD, "--customer", str(cid), "--show", "history",
                 "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 12 and {r["customer_id"] for r in rows} == {str(cid)}
    assert rows[-1]["day"] == "2026-10-31" and float(rows[-1]["score"]) == pytest.approx(top["score"], abs=0.01)
    assert float(rows[-2]["score"]) == pytest.approx(top["previous"], abs=0.01)


def test_unknown_customer_is_one_line(duckdb_url: str, capsys) -> None:
    assert main(["health", "--db", duckdb_url, "--customer", "NOPE-1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "servicewatch: error: unknown customer NOPE-1, or outside your scope"


def test_scope_per_role(duck: str, tmp_path, monkeypatch, capsys) -> None:
    users = tmp_path / "users.json"
    monkeypatch.setenv("SERVICEWATCH_USERS", str(users))
    add_user(User("am3", "account_manager", manager_id=3), None, users)
    add_user(User("v", "viewer"), None, users)
    assert main(["health", "--db", duck, *PERIOD, "--as-user", "am3", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert records and {rec["manager_id"] for rec in records} == {3}
    assert main(["health", "--db", duck, *PERIOD, "--as-user", "am3", "--manager", "4"]) == 1
    assert "outside your scope" in capsys.readouterr().err
    assert main(["health", "--db", duck, *PERIOD, "--as-user", "v"]) == 1
    err = capsys.readouterr().err
    assert "not available to viewers" in err and "Traceback" not in err


def test_as_of_an_earlier_day(duckdb_url: str, capsys) -> None:
    """--as-of: the scores, the history and the back-test's cut-off move to that day."""
    assert main(["health", "--db", duckdb_url, *PERIOD, "--as-of", "2026-08-31", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    wh = Warehouse.open(duckdb_url)
    r = hl.health(wh, Filters(date(2025, 11, 1), date(2026, 10, 31), as_of=date(2026, 8, 31)))
    assert r.day == date(2026, 8, 31) and records[0]["day"] == "2026-08-31"
    assert [rec["customer_id"] for rec in records] == list(r.customers["customer_id"])
    assert records[0]["auc_cutoff"] == "2026-06-02"
