"""Import, issue 5 remainder: `servicewatch template` files that import cleanly, `import --from-sql`
from another database through the same validation, and churn scores marked stale by an import."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from metrics.backends.connect import make_engine
from metrics.churn import model as churn_model
from metrics.churn import store as churn_store
from metrics.cli.main import main
from metrics.ingest.importer import import_file, import_query, template_csv
from metrics.ingest.importer.template import EXAMPLES, ORDER
from metrics.model import schema
from metrics.query.warehouse import Warehouse


def scalar(url: str, stmt: sa.Executable) -> object:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(stmt).scalar()
    finally:
        engine.dispose()


def meta_value(url: str, key: str) -> object:
    return scalar(url, sa.select(schema.meta.c.value).where(schema.meta.c.key == key))


# ---------------------------------------------------------------------------------------------
# templates


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_templates_import_cleanly_into_an_empty_database(tmp_path: Path, lang: str,
                                                         capsys: pytest.CaptureFixture) -> None:
    url = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    for table in ORDER:
        out = tmp_path / f"{table}.csv"
        assert main(["template", table, "--out", str(out), "--lang", lang]) == 0
        header = out.read_bytes().decode("utf-8-sig").splitlines()[0]
        assert ("工单号" in header) == (lang == "zh" and table == "tickets") or table != "tickets"
        assert main(["import", table, str(out), "--db", url]) == 0, capsys.readouterr()
        key = schema.metadata.tables[table].primary_key.columns[0]
        got = scalar(url, sa.select(sa.func.count()).where(key.in_([r[key.name] for r in EXAMPLES[table]])))
        assert got == 2, table
        assert not (tmp_path / f"{table}.csv.rejects.csv").exists()


def test_template_into_demo_data_and_to_stdout(duck: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for table in ORDER:
        path = tmp_path / f"{table}.csv"
        path.write_bytes(template_csv(table, "zh"))
        r = import_file(duck, table, path, refresh=False)
        assert r.rows_rejected == 0 and r.rows_loaded == 2, r.summary()
    capsys.readouterr()
    assert main(["template", "customers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("customer_id,name,segment") and len(lines) == 3
    assert main(["template", "nope"]) == 1
    assert "unknown table" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# --from-sql


def _sqlite_tickets(path: Path) -> str:
    """A source SQLite database with a `wo` table in Chinese column names: 3 good rows, 1 bad."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE wo (工单号 INTEGER, 客户编号 INTEGER, 渠道 TEXT, 类型 TEXT, 类别 TEXT, 优先级 TEXT,"
                " 受理时间 TEXT, 办结时间 TEXT)")
    rows = [(900101, 1, "客服热线", "complaint", "billing", "P2", "2025-03-05 09:30:00", "2025-03-06 10:00:00"),
            (900102, 2, "hotline", "fault", "fault_repair", "P1", "2025/3/6 08:00", None),
            (900103, 3, "web_app", "inquiry", "tariff", "P3", "2025-03-07 12:00:00", "2025-03-07 12:30:00"),
            (900104, 4, "hotline", "grumble", "billing", "P9", "not a time", None)]  # two problems
    con.executemany("INSERT INTO wo VALUES (?,?,?,?,?,?,?,?)", rows)
    con.commit()
    con.close()
    return f"sqlite:///{path}"


QUERY = "SELECT 工单号, 客户编号, 渠道, 类型, 类别, 优先级, 受理时间, 办结时间 FROM wo ORDER BY 工单号"


def test_from_sql_same_validation_and_upsert(duck: str, tmp_path: Path) -> None:
    src = _sqlite_tickets(tmp_path / "src.sqlite")
    rejects = tmp_path / "bad.csv"
    r = import_query(duck, "tickets", QUERY, src, rejects=rejects, chunk_rows=2)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected, r.inserted) == (4, 3, 1, 3), r.summary()
    assert set(r.reasons) == {"not_allowed", "not_datetime"}
    text = rejects.read_text(encoding="utf-8-sig")
    assert "P9" in text and "not a time" in text
    t = schema.tickets
    assert scalar(duck, sa.select(t.c.channel).where(t.c.ticket_id == 900101)) == "hotline"
    assert scalar(duck, sa.select(sa.func.count()).where(t.c.ticket_id.in_([900101, 900102, 900103]))) == 3
    again = import_query(duck, "tickets", QUERY, src, rejects=False)
    assert (again.inserted, again.updated) == (0, 0)
    assert scalar(duck, sa.select(sa.func.count()).select_from(schema.import_log)
                  .where(schema.import_log.c.file.like("sql %"))) == 2


def test_cli_from_sql_rejects_in_current_directory(duck: str, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    src = _sqlite_tickets(tmp_path / "src.sqlite")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main(["import", "tickets", "--from-sql", QUERY, "--source-db", src, "--db", duck]) == 3
    assert (work / "tickets-from-sql.rejects.csv").is_file()
    assert "3" in capsys.readouterr().out
    # a DuckDB source file, read-only, with every row valid
    src_duck = tmp_path / "src.duckdb"
    engine = make_engine(f"duckdb:///{src_duck}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE b AS SELECT 1 AS customer_id, DATE '2025-09-01' AS month, 88.5 AS revenue"
                             " UNION ALL SELECT 2, DATE '2025-09-01', 12")
    engine.dispose()
    assert main(["import", "billing_monthly", "--from-sql", "SELECT * FROM b", "--source-db",
                 f"duckdb:///{src_duck}", "--db", duck]) == 0


def test_from_sql_errors_are_one_line_without_password(duck: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    src = _sqlite_tickets(tmp_path / "src.sqlite")
    assert main(["import", "tickets", "--from-sql", "SELECT * FROM no_such_table", "--source-db", src,
                 "--db", duck]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no_such_table" in err and "Traceback" not in err
    pg = "postgresql+psycopg://sw:s3cretpw@127.0.0.1:1/nodb"
    assert main(["import", "tickets", "--from-sql", "SELECT 1", "--source-db", pg, "--db", duck]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "s3cretpw" not in err and "Traceback" not in err
    assert main(["import", "tickets", "--from-sql", QUERY, "--db", duck]) == 2  # no --source-db
    assert main(["import", "tickets", "--db", duck]) == 2  # neither FILE nor --from-sql
    assert main(["import", "customers", "--from-sql", QUERY, "--source-db", src, "--db", duck]) == 1
    assert "missing" in capsys.readouterr().err.lower()


# ---------------------------------------------------------------------------------------------
# churn scores stale after an import


def test_import_marks_churn_scores_stale_and_fit_clears(duck: str, tmp_path: Path) -> None:
    wh = Warehouse.open(duck, read_only=False)
    try:
        assert not churn_store.is_stale(wh)
        churn_store.save(wh.engine, churn_model.fit(wh))
    finally:
        wh.engine.dispose()
    path = tmp_path / "sla.csv"
    path.write_bytes(template_csv("sla_policies"))
    import_file(duck, "sla_policies", path)  # not an input of the churn model
    assert meta_value(duck, churn_store.STALE_KEY) is None
    path = tmp_path / "bill.csv"
    path.write_text("customer_id,month,revenue\n1,2025-09,10\n")
    r = import_file(duck, "billing_monthly", path, dry_run=True)
    assert r.rows_loaded == 1 and meta_value(duck, churn_store.STALE_KEY) is None  # dry runs write nothing
    import_file(duck, "billing_monthly", path)
    assert meta_value(duck, churn_store.STALE_KEY)
    again = import_file(duck, "billing_monthly", path)  # changes nothing, but the mark stays
    assert again.updated == 0
    wh = Warehouse.open(duck, read_only=False)
    try:
        assert churn_store.is_stale(wh)
        churn_store.save(wh.engine, churn_model.fit(wh))
        assert not churn_store.is_stale(wh)
    finally:
        wh.engine.dispose()


def test_risk_panel_warns_when_stale(duck: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from page_helpers import open_page

    from metrics.model.i18n import t

    wh = Warehouse.open(duck, read_only=False)
    try:
        churn_store.save(wh.engine, churn_model.fit(wh))
    finally:
        wh.engine.dispose()
    fresh = tmp_path / "fresh.duckdb"  # the page keeps its database open: a copy for the not-stale case
    shutil.copyfile(duck.removeprefix("duckdb:///"), fresh)
    path = tmp_path / "bill.csv"
    path.write_text("customer_id,month,revenue\n1,2025-09,10\n")
    assert import_file(duck, "billing_monthly", path).rows_loaded == 1
    monkeypatch.setenv("SERVICEWATCH_DB", f"duckdb:///{fresh}")
    at = open_page("pages/4_Churn.py", {"section": "risk"})
    assert not at.exception
    assert t("churn.scores_stale", "zh") not in [w.value for w in at.warning]
    monkeypatch.setenv("SERVICEWATCH_DB", duck)
    at = open_page("pages/4_Churn.py", {"section": "risk"})
    assert not at.exception
    assert t("churn.scores_stale", "zh") in [w.value for w in at.warning]
