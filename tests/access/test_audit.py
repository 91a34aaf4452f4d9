"""The audit trail of the CLI (issue 7): exports, meeting packs, churn scores and imports recorded with
user, filters and row counts; acting for a user without a working audit store exports nothing;
imports only by admins."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from db_snapshot import ticket_count
from page_helpers import write_users

from metrics.access.users import User
from metrics.cli import main as cli

CITY, OTHER_CITY = 2, 3


@pytest.fixture()
def audit_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.sqlite"
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{path}")
    write_users(tmp_path / "users.json", monkeypatch,
                [User("root1", "admin"), User("nanling", "manager", (CITY,)), User("viewer1", "viewer")])
    return path


def rows(path: Path) -> list[tuple[str, str, dict]]:
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        got = conn.execute('select "user", action, detail from audit_log order by at').fetchall()
    return [(u, a, json.loads(d)) for u, a, d in got]


def test_cli_metric_export_recorded(audit_db: Path, duckdb_url: str, capsys) -> None:
    assert cli.main(["metric", "active_customers", "--db", duckdb_url, "--by", "district", "--as-user", "nanling",
                     "--tier", "gold", "--format", "csv"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    (user, action, detail), = rows(audit_db)
    assert (user, action) == ("nanling", "export")
    assert detail["command"] == "metric" and detail["metric"] == "active_customers"
    assert detail["rows"] == len(out) - 1  # CSV header + one line per row
    assert detail["filters"]["tier"] == "gold" and detail["filters"]["scope_user"] == "nanling"
    # the operator's own call is recorded too, as os:<login>
    assert cli.main(["metric", "csat", "--db", duckdb_url]) == 0
    assert rows(audit_db)[-1][0].startswith("os:")


def test_cli_as_user_without_audit_store_exports_nothing(audit_db: Path, duckdb_url: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{blocker}/audit.sqlite")
    assert cli.main(["metric", "csat", "--db", duckdb_url, "--as-user", "nanling", "--format", "json"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("servicewatch: error: cannot write the audit log")
    assert len(err.strip().splitlines()) == 1
    from test_access_scope import _fake_png

    from metrics.report import context as report_context

    monkeypatch.setattr(report_context, "render_png", _fake_png)
    report = tmp_path / "pack.pdf"
    assert cli.main(["report", "--db", duckdb_url, "--as-user", "nanling", "--out", str(report)]) == 1
    assert not report.exists()


def test_cli_report_and_churn_scores_recorded(audit_db: Path, fitted_duckdb_url: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from test_access_scope import _fake_png

    from metrics.report import context as report_context

    monkeypatch.setattr(report_context, "render_png", _fake_png)
    out = tmp_path / "packs"
    assert cli.main(["report", "--db", fitted_duckdb_url, "--period", "last_month", "--format", "pptx",
                     "--out", str(out), "--per-region", "--as-user", "nanling"]) == 0
    assert cli.main(["churn", "scores", "--db", fitted_duckdb_url, "--as-user", "nanling", "--top", "7",
                     "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    log = rows(audit_db)
    assert [(u, a) for u, a, _ in log] == [("nanling", "report"), ("nanling", "export")]
    pack = log[0][2]
    assert Path(pack["file"]).exists() and pack["pages"] > 1 and pack["filters"]["region"] == str(CITY)
    assert log[1][2]["what"] == "churn scores" and log[1][2]["rows"] == len(listed) <= 7


def test_cli_import_admins_only_and_recorded(audit_db: Path, duck: str, demo_frames: dict, tmp_path: Path,
                                             capsys) -> None:
    new = demo_frames["tickets"].head(4).copy()
    new["ticket_id"] = range(20_000_000, 20_000_004)
    path = tmp_path / "tickets.csv"
    new.to_csv(path, index=False)
    before = ticket_count(duck)
    for who in ("nanling", "viewer1", "nobody"):
        assert cli.main(["import", "tickets", str(path), "--db", duck, "--as-user", who]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert "imports are for admins" in err or "no user nobody" in err
    assert ticket_count(duck) == before and rows(audit_db) == []
    assert cli.main(["import", "tickets", str(path), "--db", duck, "--as-user", "root1"]) == 0
    assert ticket_count(duck) == before + 4
    (user, action, detail), = rows(audit_db)
    assert (user, action) == ("root1", "import")
    assert detail["table"] == "tickets" and detail["rows_loaded"] == 4 and detail["inserted"] == 4
