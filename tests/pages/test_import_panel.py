"""The Data page's import panel: its helpers on real files, and the page in AppTest (AppTest cannot
upload files, so the upload → check → commit path is exercised through the helpers it calls)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from db_snapshot import ticket_count
from page_helpers import open_page

from metrics.model import schema
from metrics.model.i18n import t
from servicewatch.import_panel import check_upload, commit_upload, rejects_bytes, report_frames

CSV = ("工单号,客户编号,受理渠道,工单类型,问题类别,优先级,受理时间\n"
       "40000001,1,客服热线,投诉,计费,P1,2026/3/5 10:00\n"
       "40000002,1,客服热线,抱怨,计费,P9,2026/3/5 10:00\n"
       "40000003,1,客服热线,投诉,计费,P2,昨天\n").encode("gbk")


def test_check_then_commit(duck: str) -> None:
    before = ticket_count(duck)
    checked = check_upload(duck, "tickets", "工单.csv", CSV, "zh")
    assert (checked.rows_read, checked.rows_loaded, checked.rows_rejected) == (3, 1, 2)
    assert ticket_count(duck) == before  # the check writes nothing
    reasons, first = report_frames(checked, "zh")
    assert list(first.columns) == [t(f"page.data.import.col_{c}", "zh") for c in ("row", "column", "value", "reason")]
    assert first[t("page.data.import.col_row", "zh")].tolist() == [3, 4]
    assert reasons[t("page.data.import.col_n", "zh")].sum() == 2
    rejects = rejects_bytes(checked).decode("utf-8-sig")
    # the rejected rows as uploaded, then their row, reasons (in the page's language) and codes
    assert rejects.splitlines()[0].endswith(",_row,_reasons,_codes") and "P9" in rejects
    done = commit_upload(duck, "tickets", "工单.csv", CSV, "zh")
    assert done.inserted == 1 and ticket_count(duck) == before + 1
    again = commit_upload(duck, "tickets", "工单.csv", CSV, "zh")
    assert again.inserted == 0 and ticket_count(duck) == before + 1


def test_commit_while_the_file_is_locked_says_so(duck: str) -> None:
    import subprocess
    import sys

    path = sa.engine.make_url(duck).database
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('ok', flush=True); time.sleep(60)", path], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        from metrics.backends.connect import DatabaseError

        with pytest.raises(DatabaseError, match="in use by another process"):
            commit_upload(duck, "tickets", "工单.csv", CSV, "en")
    finally:
        holder.kill()
        holder.wait()


def test_page_shows_the_panel(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = open_page("pages/6_Data.py")
    assert not at.exception
    assert t("page.data.import.header", "zh") in [h.value for h in at.header]
    box = at.selectbox(key="sw_import_table")
    # the tables by display name (工单, 客户), never the database's names
    assert t("db.table.tickets", "zh") in box.options and t("db.table.customers", "zh") in box.options
    assert "tickets" not in box.options
    assert any("servicewatch import" in c.value for c in at.caption)


def test_commit_while_readers_keep_the_file_open(duck: str) -> None:
    """The dashboard keeps read-only DuckDB connections open; an import swaps in a new file beside
    them, and a reader connecting afterwards sees the new rows (metrics.backends.swap, metrics.backends.connect)."""
    from metrics.query.warehouse import Warehouse

    wh = Warehouse.open(duck, keep_open=True)
    before = ticket_count(duck)
    with wh.engine.connect() as held:  # a query in flight on the old file
        assert commit_upload(duck, "tickets", "工单.csv", CSV, "en").inserted == 1
        held.exec_driver_sql("SELECT count(*) FROM tickets").scalar_one()
    wh.engine.dispose()  # the dashboard does this when the file's modification time changes
    reader = Warehouse.open(duck, keep_open=True)
    assert reader.read(sa.select(sa.func.count()).select_from(schema.tickets)).iloc[0, 0] == before + 1


def test_the_report_names_columns_and_values_in_chinese(duck: str) -> None:
    """Issue 15 item 6: on the Chinese page the report names data-model columns by their Chinese headers
    and the allowed values by their display names; the English page and the importer keep the codes."""
    from servicewatch.import_words import page_summary

    checked = check_upload(duck, "tickets", "工单.csv", CSV, "zh")
    _, first = report_frames(checked, "zh")
    col, reason = t("page.data.import.col_column", "zh"), t("page.data.import.col_reason", "zh")
    assert first[col].tolist() == ["工单类型", "受理时间"]  # the rejected kind 抱怨 and the date 昨天
    allowed = first[reason].iloc[0]
    assert "投诉" in allowed and "故障" in allowed and "complaint" not in allowed
    missing = next(line for line in page_summary(checked, "zh") if line.startswith("文件中没有这些列"))
    assert "首问解决" in missing and "first_contact_resolved" not in missing
    # the importer's own report (the command line's) is unchanged, and so is the English page
    assert "first_contact_resolved" in " ".join(checked.summary("zh"))
    assert "complaint" in checked.problems_text("zh")["reason"].iloc[0]
    _, first_en = report_frames(check_upload(duck, "tickets", "工单.csv", CSV, "en"), "en")
    assert first_en[t("page.data.import.col_column", "en")].tolist() == ["kind", "opened_at"]
