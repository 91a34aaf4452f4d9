"""``servicewatch actions effect|list`` on the demo: JSON/CSV/table, both languages, the grouping, the
user's scope (an account manager: only their customers; a viewer: no list), bad input in one line."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from metrics.access import users as access
from metrics.access.users import User
from metrics.churn import action_effect as ae
from metrics.cli.main import main
from metrics.model.filters import Filters

PASSWORD = "correct horse battery"


def _json(capsys: pytest.CaptureFixture) -> tuple[list[dict], str]:
    out = capsys.readouterr()
    return json.loads(out.out), out.err


def test_effect_json_by_type_and_band_in_chinese(duckdb_url: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["actions", "effect", "--db", duckdb_url, "--format", "json", "--lang", "zh"]) == 0
    rows, err = _json(capsys)
    assert {(r["action_type"], r["risk_band"]) for r in rows} >= {("care_visit", "mid"), ("care_visit", "high")}
    care = next(r for r in rows if r["action_type"] == "care_visit" and r["risk_band"] == "mid")
    assert care["action_type_name"] == "关怀走访" and care["risk_band_name"] == "中风险"
    assert care["diff_low"] <= care["difference"] <= care["diff_high"]
    assert care["n_holdout"] > 0 and care["n_treated"] > care["n_holdout"]
    if care["nnt"] is None:
        assert care["nnt_note"].startswith("无法判断")
    assert "方法" in err and "Newcombe" in err


def test_effect_by_risk_band_matches_the_engine(duckdb_url: str, wh, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    assert main(["actions", "effect", "--db", duckdb_url, "--by", "risk_band", "--format", "csv"]) == 0
    got = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert got["risk_band"].tolist() == ["high", "mid"]
    assert got["risk_band_name"].tolist() == ["Highest risk", "Mid risk"]
    ref = ae.effect(ae.action_rows(wh, Filters(start=date(2024, 5, 1), end=date(2026, 10, 31))), ["risk_band"])
    assert got["n_treated"].tolist() == ref["n_treated"].tolist()
    assert got["difference"].tolist() == pytest.approx(ref["difference"].tolist())
    assert main(["actions", "effect", "--db", duckdb_url, "--by", "action_type"]) == 0
    out = capsys.readouterr()
    assert "care_visit" in out.out and "Care visit" in out.out


@pytest.fixture()
def users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_frames) -> int:  # noqa: ANN001
    monkeypatch.setenv(access.USERS_ENV, str(tmp_path / "users.json"))
    acts = demo_frames["retention_actions"].merge(demo_frames["customers"][["customer_id", "account_manager_id"]])
    manager = int(acts["account_manager_id"].dropna().value_counts().index[0])
    access.add_user(User("am", "account_manager", manager_id=manager), PASSWORD)
    access.add_user(User("look", "viewer"), PASSWORD)
    return manager


def test_list_as_an_account_manager_only_their_customers(users: int, duckdb_url: str, demo_frames,  # noqa: ANN001
                                                         capsys: pytest.CaptureFixture) -> None:
    assert main(["actions", "list", "--db", duckdb_url, "--format", "json", "--as-user", "am"]) == 0
    rows, _ = _json(capsys)
    cust = demo_frames["customers"]
    mine = set(cust.loc[cust["account_manager_id"] == users, "customer_id"])
    acts = demo_frames["retention_actions"]
    assert rows and {r["customer_id"] for r in rows} == set(acts.loc[acts["customer_id"].isin(mine), "customer_id"])
    assert {r["arm"] for r in rows} <= {"treated", "holdout"}
    assert main(["actions", "effect", "--db", duckdb_url, "--format", "json", "--as-user", "am"]) == 0
    eff, _ = _json(capsys)
    assert sum(r["n_treated"] + r["n_holdout"] + r["too_recent"] for r in eff) == len(rows)


def test_list_refused_to_a_viewer_and_bad_input_in_one_line(users: int, duckdb_url: str,
                                                            capsys: pytest.CaptureFixture) -> None:
    assert main(["actions", "list", "--db", duckdb_url, "--as-user", "look"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "viewers" in err and "Traceback" not in err
    assert main(["actions", "effect", "--db", duckdb_url, "--as-user", "nobody"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    with pytest.raises(SystemExit) as exc:
        main(["actions", "effect", "--db", duckdb_url, "--by", "tier"])
    assert exc.value.code == 2


def test_list_owner_is_the_sources_key(duck: str, capsys: pytest.CaptureFixture) -> None:
    """``actions list --owner`` takes the manager's key as the source wrote it, like ``actions add``."""
    import sqlalchemy as sa

    eng = sa.create_engine(duck)
    with eng.begin() as conn:
        owner = conn.execute(sa.text("SELECT owner FROM retention_actions WHERE owner IS NOT NULL "
                                     "GROUP BY owner ORDER BY count(*) DESC LIMIT 1")).scalar_one()
        n = conn.execute(sa.text("SELECT count(*) FROM retention_actions WHERE owner = :o"), {"o": owner}).scalar_one()
        conn.execute(sa.text("INSERT INTO source_keys VALUES ('account_managers', -5, 'AM-005')"))
        for table, col in (("account_managers", "manager_id"), ("customers", "account_manager_id"),
                           ("retention_actions", "owner")):
            conn.execute(sa.text(f"UPDATE {table} SET {col} = -5 WHERE {col} = :o"), {"o": owner})
    eng.dispose()
    assert main(["actions", "list", "--db", duck, "--owner", "AM-005", "--format", "json"]) == 0
    rows, _ = _json(capsys)
    assert len(rows) == n > 0 and {r["owner"] for r in rows} == {"AM-005"}
    for unknown in ("AM-NOPE", "999999"):  # a plain number is its own id: refused too when no manager has it
        assert main(["actions", "list", "--db", duck, "--owner", unknown]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and unknown in err and "Traceback" not in err
