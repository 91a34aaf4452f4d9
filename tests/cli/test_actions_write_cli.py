"""``servicewatch actions add|close`` and ``actions list --overdue`` on a writable copy of the demo
DuckDB: add then list shows it, close, the holdout recorded with its seed, scope with --as-user, bad
input in one line with a non-zero exit and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from db_snapshot import copy_duckdb

from metrics.access import users as access
from metrics.access.users import User
from metrics.backends.connect import make_engine
from metrics.cli.main import main
from metrics.model import schema

PASSWORD = "correct horse battery"


@pytest.fixture()
def db(tmp_path: Path, duckdb_url: str) -> str:
    return copy_duckdb(duckdb_url, tmp_path / "sw.duckdb")


def _rows(db: str) -> pd.DataFrame:
    eng = make_engine(db)
    with eng.connect() as conn:
        df = pd.DataFrame(conn.execute(sa.select(schema.retention_actions)).mappings().all())
    eng.dispose()
    return df


def _customers(db: str, n: int, manager: int | None = None) -> list[int]:
    eng = make_engine(db)
    c = schema.customers
    with eng.connect() as conn:
        stmt = sa.select(c.c.customer_id).where(c.c.end_date.is_(None)).order_by(c.c.customer_id).limit(n)
        if manager is not None:
            stmt = stmt.where(c.c.account_manager_id == manager)
        ids = conn.execute(stmt).scalars().all()
    eng.dispose()
    return [int(i) for i in ids]


def test_add_then_list_then_close(db: str, capsys: pytest.CaptureFixture) -> None:
    before = len(_rows(db))
    ids = _customers(db, 40)
    argv = ["actions", "add", "--db", db, "--type", "call", "--created", "2020-01-01", "--due", "2020-01-02",
            "--note", "回访", "--seed", "3", "--format", "json", "--lang", "zh"]
    for i in ids:
        argv += ["--customer", str(i)]
    assert main(argv) == 0
    out = capsys.readouterr()
    written = json.loads(out.out)
    assert len(written) == 40 and all(r["seed"] == 3 for r in written)
    assert "已写入 40 条维系行动" in out.err
    assert sum(r["arm"] == "holdout" for r in written) == sum(r["arm_name"] == "对照组（留出）" for r in written)
    assert len(_rows(db)) == before + 40
    # due 2020-01-02 lies before the data's as-of date: the treated ones are overdue
    assert main(["actions", "list", "--db", db, "--overdue", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    new_ids = {r["action_id"] for r in written if r["arm"] == "treated"}
    assert new_ids <= {r["action_id"] for r in listed} and all(r["overdue"] for r in listed)
    aid = next(iter(sorted(new_ids)))
    assert main(["actions", "close", str(aid), "--db", db, "--outcome", "客户接受维系", "--format", "csv"]) == 0
    out = capsys.readouterr()
    assert "客户接受维系" in out.out and f"Action {aid} closed" in out.err
    row = _rows(db).set_index("action_id").loc[aid]
    assert row["status"] == "done" and row["outcome"] == "客户接受维系"


@pytest.mark.parametrize("extra, word", [
    (["--type", "bribe"], "action_type bribe is not allowed"),  # the types the data knows
    (["--customer", "NO-SUCH-KEY"], "Unknown customer keys"),
    (["--owner", "NO-SUCH-AM"], "Unknown account manager key"),
    (["--holdout", "2"], "Holdout share"),
    (["--due", "31/02/2030"], "due"),
])
def test_bad_input_one_line_non_zero_nothing_written(db: str, capsys: pytest.CaptureFixture, extra: list[str],
                                                      word: str) -> None:
    before = len(_rows(db))
    base = {"--type": "call", "--due": "2027-06-30"}
    argv = ["actions", "add", "--db", db, "--customer", str(_customers(db, 1)[0])]
    for k, v in base.items():
        if k not in extra:
            argv += [k, v]
    try:
        code = main(argv + extra)
    except SystemExit as e:  # argparse's refusals (a choice, a date) exit with the usage code
        code = e.code
    assert code not in (0, None)
    err = capsys.readouterr().err.strip().splitlines()
    assert any(word in line for line in err) and "Traceback" not in "\n".join(err)
    assert len(_rows(db)) == before


def test_close_refusals(db: str, capsys: pytest.CaptureFixture) -> None:
    assert main(["actions", "close", "999999999", "--db", db, "--outcome", "x"]) != 0
    assert "No retention action 999999999" in capsys.readouterr().err
    held = _rows(db).query("arm == 'holdout'")["action_id"].iloc[0]
    assert main(["actions", "close", str(held), "--db", db, "--outcome", "x"]) != 0
    assert "holdout" in capsys.readouterr().err


def test_as_an_account_manager_only_their_customers(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv(access.USERS_ENV, str(tmp_path / "users.json"))
    eng = make_engine(db)
    with eng.connect() as conn:
        mgr = int(conn.execute(sa.select(schema.customers.c.account_manager_id)
                               .where(schema.customers.c.account_manager_id.is_not(None)).limit(1)).scalar_one())
    eng.dispose()
    access.add_user(User("am", "account_manager", manager_id=mgr), PASSWORD)
    mine = _customers(db, 2, manager=mgr)
    other = [i for i in _customers(db, 500) if i not in set(_customers(db, 100_000, manager=mgr))][0]
    before = len(_rows(db))
    base = ["actions", "add", "--db", db, "--type", "care_visit", "--due", "2027-06-30", "--as-user", "am",
            "--owner", str(mgr)]
    assert main([*base, "--customer", str(mine[0]), "--customer", str(other)]) != 0
    assert "Not in your scope" in capsys.readouterr().err
    assert len(_rows(db)) == before
    assert main([*base, "--customer", str(mine[0]), "--customer", str(mine[1]), "--holdout", "0",
                 "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2 and len(_rows(db)) == before + 2


def test_a_duckdb_file_held_by_a_reader_is_refused_in_one_line(db: str, capsys: pytest.CaptureFixture) -> None:
    import duckdb

    before = len(_rows(db))
    held = duckdb.connect(sa.engine.make_url(db).database or "", read_only=True)  # as the dashboard holds it
    try:
        code = main(["actions", "add", "--db", db, "--customer", "1",
                     "--type", "call", "--due", "2027-06-30"])
    finally:
        held.close()
    assert code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be written now" in err[0] and "nothing was written" in err[0]
    assert len(_rows(db)) == before
