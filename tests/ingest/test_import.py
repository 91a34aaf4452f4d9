"""Import: real files (GBK, UTF-8-BOM, Excel serial dates, Parquet), every kind of bad row, upsert
idempotence, dry run, kill mid-import, empty database, the CLI; upsert and rollback on DuckDB,
PostgreSQL and MariaDB."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from db_snapshot import read

from bench.import_bench import tickets_frame, write_csv
from metrics.backends.connect import make_engine
from metrics.cli.main import main
from metrics.ingest.importer import ImportFailed, import_file
from metrics.model import schema

FIRST_NEW_ID = 10_000_000


def counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                    for t in schema.DATA_TABLES if t.name in names}
    finally:
        engine.dispose()


def new_tickets(demo_frames: dict, n: int, start: int = FIRST_NEW_ID) -> pd.DataFrame:
    """``n`` valid tickets (copies of demo tickets) with fresh ids."""
    t = demo_frames["tickets"].head(n).copy()
    t["ticket_id"] = range(start, start + n)
    return t


def tickets_of(url: str, ids: list[int]) -> pd.DataFrame:
    t = schema.tickets
    return read(url, sa.select(t).where(t.c.ticket_id.in_(ids)).order_by(t.c.ticket_id))


# ---------------------------------------------------------------------------------------------
# files


def test_gbk_csv_with_chinese_headers_and_values(duck: str, tmp_path: Path) -> None:
    text = textwrap.dedent("""\
        工单号,客户编号,受理渠道,工单类型,问题类别,优先级,受理时间,办结时间,首问解决,重开,升级,赔付金额
        10000001,1,客服热线,投诉,计费,P1,2026/3/5 10:00,2026年3月6日,是,否,N,0
        10000002,2,自有营业厅,咨询,资费,P3,2026-03-05 11:30:00,,否,否,Y,"1,200.50"
        """)
    path = tmp_path / "工单.csv"
    path.write_bytes(text.encode("gbk"))
    r = import_file(duck, "tickets", path)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (2, 2, 0), r.summary()
    got = tickets_of(duck, [10000001, 10000002])
    assert got["channel"].tolist() == ["hotline", "service_hall"]
    assert got["kind"].tolist() == ["complaint", "inquiry"]
    assert got["category"].tolist() == ["billing", "tariff"]
    assert got["opened_at"].tolist() == [pd.Timestamp("2026-03-05 10:00"), pd.Timestamp("2026-03-05 11:30")]
    assert got["resolved_at"].iloc[0] == pd.Timestamp("2026-03-06") and pd.isna(got["resolved_at"].iloc[1])
    assert got["first_contact_resolved"].tolist() == [True, False]
    assert got["escalated"].tolist() == [False, True]
    assert got["compensation"].tolist() == [0.0, 1200.5]
    assert not (tmp_path / "工单.csv.rejects.csv").exists()


def test_utf8_bom_customers_with_chinese_headers(duck: str, tmp_path: Path) -> None:
    text = ("客户编号,客户名称,客户类型,客户等级,区域编号,入网渠道,入网日期,月均收入\n"
            "9000001,张三,个人客户,金卡,201,电子渠道,2025-01-02,88.5\n"
            "9000002,李四科技有限公司,政企客户,政企客户,201,客户经理,2024/12/1,12000\n")
    path = tmp_path / "customers.csv"
    path.write_bytes(text.encode("utf-8-sig"))
    r = import_file(duck, "customers", path)
    assert r.rows_loaded == 2 and r.rows_rejected == 0, r.summary()
    c = schema.customers
    got = read(duck, sa.select(c).where(c.c.customer_id >= 9000001).order_by(c.c.customer_id))
    assert got["name"].tolist() == ["张三", "李四科技有限公司"]
    assert got["tier"].tolist() == ["gold", "enterprise"]
    assert got["segment"].tolist() == ["consumer", "enterprise"]
    assert got["acquisition_channel"].tolist() == ["web_app", "account_manager"]


def test_excel_with_serial_dates(duck: str, tmp_path: Path) -> None:
    import datetime as dt

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["工单号", "客户编号", "受理渠道", "工单类型", "问题类别", "优先级", "受理时间", "办结时间"])
    ws.append([10000011, 3, "hotline", "fault", "fault_repair", "P2", 46086.5, dt.datetime(2026, 3, 6, 9, 0)])
    ws.append([10000012, 4, "hotline", "fault", "fault_repair", "P2", "2026-03-05", None])
    path = tmp_path / "tickets.xlsx"
    wb.save(path)
    r = import_file(duck, "tickets", path)
    assert r.rows_loaded == 2 and r.rows_rejected == 0, r.summary()
    got = tickets_of(duck, [10000011, 10000012])
    assert got["opened_at"].tolist() == [pd.Timestamp("2026-03-05 12:00"), pd.Timestamp("2026-03-05")]
    assert got["resolved_at"].iloc[0] == pd.Timestamp("2026-03-06 09:00")
    assert r.defaults == ["first_contact_resolved", "reopened", "escalated", "compensation"]


def test_parquet(duck: str, tmp_path: Path, demo_frames: dict) -> None:
    t = new_tickets(demo_frames, 500)
    path = tmp_path / "tickets.parquet"
    t.to_parquet(path, index=False)
    before = counts(duck)["tickets"]
    r = import_file(duck, "tickets", path, chunk_rows=128)
    assert r.rows_loaded == 500 and r.inserted == 500 and r.rows_rejected == 0, r.summary()
    assert counts(duck)["tickets"] == before + 500
    got = tickets_of(duck, list(t["ticket_id"]))
    pd.testing.assert_series_equal(got["opened_at"], t["opened_at"].reset_index(drop=True), check_names=False,
                                   check_dtype=False)


BAD_TICKETS = """\
ticket_id,customer_id,channel,kind,category,priority,opened_at,resolved_at,first_contact_resolved
20000001,1,hotline,complaint,billing,P1,2026-03-05 10:00,2026-03-05 12:00,yes
20000002,1,hotline,complaint,billing,P1,not a date,,no
20000003,abc,hotline,complaint,billing,P1,2026-03-05,,no
20000004,1,hotline,grumble,billing,P1,2026-03-05,,no
20000005,1,hotline,complaint,billing,P1,2026-03-05 10:00,2026-03-04 10:00,no
20000006,999999,hotline,complaint,billing,P1,2026-03-05,,no
20000001,1,hotline,complaint,billing,P1,2026-03-05,,no
20000007,1,hotline,complaint,billing,P1,2026-03-05,,maybe
20000008,1,pigeon_post,complaint,billing,P1,2026-03-05,,no
20000009,,hotline,complaint,billing,P1,2026-03-05,,no
20000010,1,hotline,complaint,billing,P1,2026-03-05
20000011,2,hotline,complaint,billing,P2,2026-03-05,,no
"""


def test_bad_rows_of_every_kind_are_reported_and_good_rows_loaded(duck: str, tmp_path: Path) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(BAD_TICKETS, encoding="utf-8")
    before = counts(duck)["tickets"]
    r = import_file(duck, "tickets", path)
    assert r.rows_read == 12
    # row 10's channel is new: a tickets file may introduce one (issue 14 item 4); it loads, listed
    assert r.rows_loaded == 3 and r.rows_rejected == 9, r.summary()
    assert counts(duck)["tickets"] == before + 3
    assert r.introduced == {"channel=pigeon_post": 1}
    found = {(int(p.row), p.column, p.code) for p in r.problems.itertuples()}
    assert found == {
        (3, "opened_at", "not_datetime"),
        (4, "customer_id", "unknown_reference"),  # a text key (issue 14 item 1), naming no customer
        (5, "kind", "not_allowed"),
        (6, "resolved_at", "before"),
        (7, "customer_id", "unknown_reference"),
        (8, "ticket_id", "duplicate_key"),
        (9, "first_contact_resolved", "not_boolean"),
        (11, "customer_id", "missing"),
        (12, "", "bad_row"),
    }
    dup = r.problems[r.problems["code"] == "duplicate_key"].iloc[0]
    assert dup["detail"] == "2"  # the first occurrence, which was loaded
    # the rejects file: the rejected rows as read, under the file's headers, then _row, _reasons, _codes
    rejects = pd.read_csv(tmp_path / "tickets.csv.rejects.csv", encoding="utf-8-sig", dtype=str,
                          keep_default_na=False)
    header = BAD_TICKETS.splitlines()[0].split(",")
    assert list(rejects.columns) == header + ["_row", "_reasons", "_codes"]
    assert sorted(rejects["_row"].astype(int)) == [r for r in range(3, 13) if r != 10]
    by_row = rejects.set_index(rejects["_row"].astype(int))
    assert "opened_at: not a date/time" in by_row.loc[3, "_reasons"] and by_row.loc[3, "_codes"] == "not_datetime"
    assert by_row.loc[9, "first_contact_resolved"] == "maybe"
    assert by_row.loc[9, "ticket_id"] == BAD_TICKETS.splitlines()[8].split(",")[0]  # the original row
    zh = r.problems_text("zh")
    assert zh.loc[zh["row"] == 6, "reason"].iloc[0] == "早于 opened_at"


def test_ranges_and_survey_references(duck: str, tmp_path: Path) -> None:
    path = tmp_path / "surveys.csv"
    path.write_text("问卷编号,客户编号,工单号,渠道,调查类型,答复时间,满意度,推荐度,费力度\n"
                    "30000001,1,,hotline,relationship,2026-03-05,5,10,7\n"
                    "30000002,1,,hotline,relationship,2026-03-05,6,,\n"
                    "30000003,1,,hotline,relationship,2026-03-05,,11,\n"
                    "30000004,1,,hotline,relationship,2026-03-05,,,0\n"
                    "30000005,1,99999999,hotline,post_interaction,2026-03-05,4,,\n", encoding="utf-8")
    r = import_file(duck, "surveys", path)
    found = {(int(p.row), p.column, p.code) for p in r.problems.itertuples()}
    assert found == {(3, "csat", "out_of_range"), (4, "nps", "out_of_range"), (5, "ces", "out_of_range")}
    # an optional reference that points nowhere: the answer loads without the link, with a warning
    assert r.rows_loaded == 2 and r.unlinked == {"ticket_id": 1}, r.summary()
    assert any("99999999" in line and "ticket_id" in line for line in r.summary()), r.summary()


def test_regions_parent_later_in_the_same_file(duck: str, tmp_path: Path) -> None:
    path = tmp_path / "regions.csv"
    path.write_text("region_id,name_en,name_zh,parent_id,level\n"
                    "9101,New District,新区,91,district\n"
                    "91,New City,新市,1,city\n"
                    "9102,Orphan,孤区,92,district\n", encoding="utf-8")
    r = import_file(duck, "regions", path)
    assert r.rows_loaded == 2, r.summary()
    assert [(int(p.row), p.code) for p in r.problems.itertuples()] == [(4, "unknown_reference")]
    closure = read(duck, sa.select(schema.region_closure).where(schema.region_closure.c.descendant_id == 9101))
    assert set(closure["ancestor_id"]) == {9101, 91, 1}  # derived tables were refreshed


def test_hostile_values_stored_as_text_and_escaped_in_rejects(duck: str, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    evil = "=cmd|' /C calc'!A0"
    path.write_text("customer_id,name,segment,tier,region_id,acquisition_channel,start_date,monthly_revenue\n"
                    f"9100001,\"{evil}\",consumer,gold,201,hotline,2025-01-01,10\n"
                    "9100002,\"x'); DROP TABLE customers; --\",consumer,gold,201,hotline,2025-01-01,10\n"
                    f"9100003,ok,consumer,\"{evil}\",201,hotline,2025-01-01,10\n", encoding="utf-8")
    r = import_file(duck, "customers", path)
    # a customers file may introduce a new tier; that is reported, not rejected
    assert r.rows_loaded == 3 and f"tier={evil}" in r.introduced
    c = schema.customers
    got = read(duck, sa.select(c.c.name).where(c.c.customer_id.in_([9100001, 9100002])).order_by(c.c.customer_id))
    assert got["name"].tolist() == [evil, "x'); DROP TABLE customers; --"]
    path2 = tmp_path / "tickets.csv"
    path2.write_text("ticket_id,customer_id,channel,kind,category,priority,opened_at\n"
                     f"20000100,1,hotline,\"{evil}\",billing,P1,2026-03-05\n", encoding="utf-8")  # kind: not_allowed
    import_file(duck, "tickets", path2)
    line = (tmp_path / "tickets.csv.rejects.csv").read_text(encoding="utf-8-sig").splitlines()[1]
    assert "'=cmd" in line


def test_empty_and_header_only_files(duck: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(ImportFailed, match="empty"):
        import_file(duck, "tickets", empty)
    header = tmp_path / "header.csv"
    header.write_text("ticket_id,customer_id,channel,kind,category,priority,opened_at\n", encoding="utf-8")
    before = counts(duck)
    r = import_file(duck, "tickets", header)
    assert (r.rows_read, r.rows_loaded, r.rows_rejected) == (0, 0, 0)
    assert counts(duck) == before


def test_mapping_file(duck: str, tmp_path: Path) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text("columns:\n  Vorgang: ticket_id\n  Kunde: customer_id\n  Weg: channel\n"
                       "values:\n  channel:\n    Telefon: hotline\n", encoding="utf-8")
    path = tmp_path / "t.csv"
    path.write_text("Vorgang,Kunde,Weg,kind,category,priority,opened_at,Bemerkung\n"
                    "20000200,1,Telefon,fault,fault_repair,P3,2026-03-05,x\n", encoding="utf-8")
    r = import_file(duck, "tickets", path, mapping=mapping)
    assert r.rows_loaded == 1 and r.unused_headers == ["Bemerkung"]
    assert tickets_of(duck, [20000200])["channel"].tolist() == ["hotline"]


# ---------------------------------------------------------------------------------------------
# transactions: idempotence, corrections, dry run, kill, empty database


def test_reimport_is_idempotent_and_a_corrected_file_updates(duck: str, tmp_path: Path, demo_frames: dict) -> None:
    t = new_tickets(demo_frames, 300)
    path = tmp_path / "tickets.csv"
    t.to_csv(path, index=False)
    first = import_file(duck, "tickets", path)
    assert first.inserted == 300
    before, content = counts(duck), tickets_of(duck, list(t["ticket_id"]))
    again = import_file(duck, "tickets", path)
    assert (again.rows_loaded, again.inserted, again.updated) == (300, 0, 0)
    assert counts(duck) == before
    pd.testing.assert_frame_equal(tickets_of(duck, list(t["ticket_id"])), content)
    fixed = t.head(5).copy()
    fixed["priority"] = "P1"
    fixed.to_csv(path, index=False)
    corrected = import_file(duck, "tickets", path)
    assert (corrected.inserted, corrected.updated) == (0, sum(t.head(5)["priority"] != "P1"))
    after = tickets_of(duck, list(t["ticket_id"]))
    assert (after.head(5)["priority"] == "P1").all()
    pd.testing.assert_frame_equal(after.iloc[5:].reset_index(drop=True), content.iloc[5:].reset_index(drop=True))
    assert counts(duck) == before
    log = read(duck, sa.select(schema.import_log).order_by(schema.import_log.c.started_at))
    assert log["rows_loaded"].tolist() == [300, 300, 5] and not log["dry_run"].any()


def test_dry_run_writes_nothing(duck: str, tmp_path: Path, demo_frames: dict) -> None:
    path = tmp_path / "tickets.csv"
    new_tickets(demo_frames, 50).to_csv(path, index=False)
    before = counts(duck)
    mtime = Path(duck.removeprefix("duckdb:///")).stat().st_mtime
    r = import_file(duck, "tickets", path, dry_run=True)
    assert r.dry_run and r.rows_loaded == 50 and r.inserted == 0
    assert counts(duck) == before
    assert read(duck, sa.select(sa.func.count()).select_from(schema.import_log)).iloc[0, 0] == 0
    assert Path(duck.removeprefix("duckdb:///")).stat().st_mtime == mtime


def test_empty_duckdb_gets_the_schema(tmp_path: Path, demo_frames: dict) -> None:
    url = f"duckdb:///{tmp_path / 'new.duckdb'}"
    created = []
    for name in ("regions", "account_managers", "customers", "tickets"):
        path = tmp_path / f"{name}.parquet"
        demo_frames[name].to_parquet(path, index=False)
        r = import_file(url, name, path)
        assert r.rows_rejected == 0 and r.rows_loaded == len(demo_frames[name]), r.summary()
        created.append(r.created_tables)
    assert "tickets" in created[0] and "import_log" in created[0] and created[1:] == [[], [], []]
    got = counts(url)
    assert got["tickets"] == len(demo_frames["tickets"]) and got["surveys"] == 0
    meta = read(url, sa.select(schema.meta))
    assert "as_of" in set(meta["key"])


KILL_SCRIPT = """
import sys
from metrics.ingest.importer import import_file
import_file(sys.argv[1], "tickets", sys.argv[2], chunk_rows=5000, rejects=False,
            on_chunk=lambda r: print("chunk", r.rows_loaded, flush=True))
print("done", flush=True)
"""


def _kill_mid_import(url: str, csv: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, url, str(csv)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        seen = [proc.stdout.readline() for _ in range(2)]  # two chunks written into the open transaction
        assert all(s.startswith("chunk") for s in seen), (seen, proc.stderr.read() if proc.poll() else "")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def _new_tickets_csv(tmp_path: Path, n: int) -> Path:
    """A ``big.csv`` in ``tmp_path`` of ``n`` generated tickets with new ids (from ``FIRST_NEW_ID``) of the
    demo's 2,000 customers: an import long enough to be killed in the middle."""
    csv = tmp_path / "big.csv"
    t = tickets_frame(n, customers=2000)
    t["ticket_id"] += FIRST_NEW_ID
    write_csv(t, csv)
    return csv


def test_kill_mid_import_leaves_duckdb_unchanged(duck: str, tmp_path: Path) -> None:
    csv = _new_tickets_csv(tmp_path, 60_000)
    before = counts(duck)
    _kill_mid_import(duck, csv)
    assert counts(duck) == before
    r = import_file(duck, "tickets", csv)  # the file is fine: a new run loads it
    assert r.inserted == 60_000


# ---------------------------------------------------------------------------------------------
# every database: upsert and rollback (the shared test databases are restored afterwards)


def test_upsert_and_rollback_on_every_database(db_url: str, tmp_path: Path, demo_frames: dict) -> None:
    t = new_tickets(demo_frames, 40, start=FIRST_NEW_ID + 500)
    ids = list(t["ticket_id"])
    path = tmp_path / "tickets.csv"
    t.to_csv(path, index=False)
    before = counts(db_url)
    engine = make_engine(db_url)
    with engine.connect() as conn:  # what the shared database holds before: restored at the end
        logged = list(conn.execute(sa.select(schema.import_log.c.import_id)).scalars())
        meta_rows = [dict(r) for r in conn.execute(sa.select(schema.meta)).mappings()]
    engine.dispose()  # a DuckDB file is replaced by each import: an open connection would see the old one
    try:
        r = import_file(db_url, "tickets", path, refresh=False)
        assert (r.inserted, r.updated, r.rows_rejected) == (40, 0, 0), r.summary()
        content = tickets_of(db_url, ids)
        again = import_file(db_url, "tickets", path, refresh=False)
        assert (again.inserted, again.updated) == (0, 0)
        pd.testing.assert_frame_equal(tickets_of(db_url, ids), content)
        fixed = t.head(3).copy()
        fixed["compensation"] = 99.5
        fixed.to_csv(path, index=False)
        corrected = import_file(db_url, "tickets", path, refresh=False)
        assert (corrected.inserted, corrected.updated) == (0, 3)
        assert tickets_of(db_url, ids)["compensation"].head(3).tolist() == [99.5] * 3

        def boom(result: object) -> None:
            raise RuntimeError("simulated crash after a chunk was written")

        more = new_tickets(demo_frames, 30, start=FIRST_NEW_ID + 600)
        more.to_csv(path, index=False)
        with pytest.raises(RuntimeError, match="simulated"):
            import_file(db_url, "tickets", path, refresh=False, chunk_rows=10, on_chunk=boom)
        assert counts(db_url)["tickets"] == before["tickets"] + 40
        assert tickets_of(db_url, list(more["ticket_id"])).empty
    finally:
        with engine.begin() as conn:  # the shared database is left as found, its import log included
            conn.execute(schema.tickets.delete().where(schema.tickets.c.ticket_id >= FIRST_NEW_ID))
            conn.execute(schema.import_log.delete().where(schema.import_log.c.import_id.not_in(logged)))
            conn.execute(schema.meta.delete())  # "scores stale", and the rollups marked not built
            conn.execute(schema.meta.insert(), meta_rows)
        engine.dispose()
    assert counts(db_url) == before


def test_kill_mid_import_leaves_postgres_unchanged(postgres_url: str, tmp_path: Path) -> None:
    csv = _new_tickets_csv(tmp_path, 30_000)
    before = counts(postgres_url)
    _kill_mid_import(postgres_url, csv)
    deadline = time.monotonic() + 10
    while counts(postgres_url) != before and time.monotonic() < deadline:
        time.sleep(0.2)  # the server notices the dead client and rolls back
    assert counts(postgres_url) == before


# ---------------------------------------------------------------------------------------------
# CLI


def test_cli_unreadable_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, duck: str) -> None:
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"not a zip file at all")
    assert main(["import", "tickets", str(bad), "--db", duck]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("servicewatch: error:") and "\n" not in err and "Traceback" not in err
    assert main(["import", "tickets", str(tmp_path / "missing.csv"), "--db", duck]) == 1
    assert main(["import", "nonsense", str(bad), "--db", duck]) == 1
    assert "unknown table" in capsys.readouterr().err


def test_cli_exit_codes_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture, duck: str) -> None:
    path = tmp_path / "tickets.csv"
    path.write_text(BAD_TICKETS, encoding="utf-8")
    assert main(["import", "tickets", str(path), "--db", duck, "--dry-run"]) == 3
    out = capsys.readouterr().out
    assert "Dry run" in out and "9 rejected" in out  # the new channel of row 10 loads
    good = tmp_path / "good.csv"
    good.write_text(BAD_TICKETS.splitlines()[0] + "\n" + BAD_TICKETS.splitlines()[1] + "\n", encoding="utf-8")
    assert main(["import", "tickets", str(good), "--db", duck, "--lang", "zh"]) == 0
    assert "导入 1 行" in capsys.readouterr().out
