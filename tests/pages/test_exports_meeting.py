"""Every chart's Excel download on every page, in Chinese, is fit for a meeting (issue 15 item 4): the
header block names the period, the filters by display name and the user's scope; headers and codes
are Chinese (no vocabulary code, no English word beyond an allowlist, in any cell of any sheet); the
value columns carry the metric's number format; the header row is frozen; the definitions sheet
holds the metrics shown; the CSV has the XLSX's header names. The bytes are those the download
button hands out when clicked (its deferred callable run, as a click runs it)."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from page_helpers import filters, open_page, other_sections, seed_alerts, show_section

from metrics.access import users as access
from metrics.access.users import User
from metrics.model import vocabulary
from metrics.model.i18n import catalogue, t
from metrics.query.warehouse import Warehouse

PAGES = ["app.py", *sorted(f"pages/{p.name}" for p in (Path(__file__).parents[2] / "pages").glob("*.py"))]
WITHOUT_CHARTS = ("pages/6_Data.py", "pages/7_Admin.py", "pages/8_At_risk.py")
# words a Chinese manager reads as Chinese text: abbreviations the catalogue itself uses in zh
ALLOWED = {"SLA", "P90", "p", "CSAT", "NPS", "Kaplan", "Meier", "Holm"}  # and the names of methods
# tables of the whole data (their pages ignore the filters): the block says so, no comparison
WHOLE_DATA = {f"{t(k, 'zh')}.xlsx" for k in (
    "page.data.tables_file", "page.data.quality_file", "page.data.coverage.file", "table_exports.alerts.open_file",
    "table_exports.alerts.history_file", "table_exports.alerts.done_file")}
CITY = 4  # demo region 东江市
BLOCK = ("统计周期", "对比周期", "筛选条件", "数据截至", "数据权限")


@pytest.fixture()
def files(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes]]:
    """(file name, bytes) of every CSV and XLSX download button a page draws, produced as a click would."""
    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator

    seen: list[tuple[str, bytes]] = []
    original = DeltaGenerator.download_button

    def record(self, label, data, file_name=None, mime=None, *args, **kwargs):
        if str(file_name or "").endswith((".csv", ".xlsx")):
            seen.append((str(file_name), data() if callable(data) else data))
        return original(self, label, data, file_name, mime, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", record)
    monkeypatch.setattr(st, "download_button", lambda *a, **k: record(st._main, *a, **k))
    return seen


def _codes(url: str) -> set[str]:
    """Every code of the open vocabularies: the data's and the catalogue's (tier.gold → gold …)."""
    Warehouse.open(url)  # registers the vocabulary table
    codes = {code for dim in vocabulary.DIMENSIONS for code in vocabulary._STORE.get(dim, {})}  # noqa: SLF001
    codes |= {k.split(".", 1)[1] for k in catalogue() if k.split(".")[0] in vocabulary.DIMENSIONS}
    codes |= {k.rsplit(".", 1)[1] for k in catalogue() if k.startswith(("churn.term.", "page.regions.verdict."))}
    return codes - zh_words()


def zh_words() -> set[str]:
    """Latin words the Chinese names of codes keep (priority P1 is "P1 紧急"): a name, not a code left raw."""
    return {w for k, v in catalogue().items() if k.split(".")[0] in vocabulary.DIMENSIONS
            for w in re.findall(r"[A-Za-z_][A-Za-z_0-9]*", v.get("zh", ""))}


def _texts(wb) -> list[str]:
    return [c.value for ws in wb for row in ws.iter_rows() for c in row if isinstance(c.value, str)]


def _header_row(ws, headers: list[str]) -> int:
    for i, row in enumerate(ws.iter_rows(values_only=True), start=1):
        if [str(v) for v in row[: len(headers)]] == headers:
            return i
    raise AssertionError(f"no header row {headers} in {ws.title}")


@pytest.mark.parametrize("page", PAGES)
def test_every_excel_export_is_meeting_ready(page: str, fitted_duckdb_url: str, files, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    if page == "pages/9_Alerts.py":  # its chart is an open alert's: the demo's rules checked first
        seed_alerts(fitted_duckdb_url, f"sqlite:///{tmp_path / 'alerts.sqlite'}", monkeypatch)
    at = open_page(page, {"lang": "zh", "tier": "gold"})
    for section in other_sections(at):
        show_section(at, section)
    f = filters(at)
    workbooks = [(n, d) for n, d in files if n.endswith(".xlsx")]
    assert workbooks or page in WITHOUT_CHARTS, f"no Excel downloads on {page}"
    csvs = dict(files)
    codes = _codes(fitted_duckdb_url)
    for name, data in workbooks:
        wb = openpyxl.load_workbook(io.BytesIO(data))
        ws = wb.worksheets[0]
        block = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(2, 7)}
        assert tuple(block) == BLOCK, (name, block)
        alert = name.startswith("control_")  # an alert's control chart: the rule's slice and window, not the page's
        whole = name in WHOLE_DATA
        assert (block["筛选条件"] == t("export.filters_none", "zh") if whole else
                block["筛选条件"].startswith("区域：" if alert else "客户等级：金卡")), (name, block)
        assert block["数据权限"] == "全部数据"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d – \d{4}-\d\d-\d\d", block["统计周期"]), (name, block)
        csv = pd.read_csv(io.BytesIO(csvs[name.removesuffix(".xlsx") + ".csv"]), encoding="utf-8-sig")
        headers = [str(c) for c in csv.columns]
        top = _header_row(ws, headers)
        assert ws.freeze_panes == f"A{top + 1}", name
        assert ws.max_row - top == len(csv), name
        words = {w for text in _texts(wb) for w in re.findall(r"[A-Za-z_][A-Za-z_0-9]*", text)}
        assert not (words & codes), f"{page} {name}: raw codes {sorted(words & codes)}"
        english = {w for w in words - ALLOWED - zh_words() if len(w) > 1}
        assert not english, f"{page} {name}: English {sorted(english)}"
        for j, header in enumerate(headers, start=1):  # every number in a column has a format, no 15 digits
            cells = [ws.cell(r, j) for r in range(top + 1, ws.max_row + 1)]
            numbers = [c for c in cells if isinstance(c.value, float)]
            assert all(c.number_format != "General" for c in numbers), (name, header)
        # a trend names its own 12-month window (the fan's trends on Complaints and SLA too)
        assert f.start.isoformat() in block["统计周期"] or alert or whole or name.startswith(
            ("churn_", "satisfaction_trend")) or name.endswith("_trend.xlsx"), name
        if len(wb.worksheets) > 1:
            assert wb.sheetnames == ["数据", "定义"]


def test_complaint_rate_export_against_the_engine(fitted_duckdb_url: str, files, monkeypatch) -> None:
    """The complaint-rate-by-region download of a city manager: the header block names the period,
    the tier and the manager's city; each value equals the engine's; complaints are 投诉量, the
    rate has one decimal and the definition is the catalogue's."""
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    users = Path(fitted_duckdb_url.removeprefix("duckdb:///")).with_name("users.json")
    access.add_user(User("dongjiang", "manager", (CITY,)), "correct horse 1", users)
    monkeypatch.setenv(access.USERS_ENV, str(users))
    user = User("dongjiang", "manager", (CITY,))
    at = open_page("pages/2_Complaints.py", {"lang": "zh", "tier": "gold", "section": "rate"},
                   {"sw_user": user, "_sw_seen": time.time()})
    at.radio(key="_w_choice_dim").set_value("tier").run()
    assert not at.exception
    name, data = [(n, d) for n, d in files if n == "complaint_rate_by_tier.xlsx"][-1]
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["数据"]
    f = filters(at)
    wh = Warehouse.open(fitted_duckdb_url)
    city = wh.regions().set_index("region_id").loc[CITY, "name_zh"]
    block = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(2, 7)}
    assert block["统计周期"] == f"{f.start:%Y-%m-%d} – {f.end:%Y-%m-%d}"
    assert block["筛选条件"] == "客户等级：金卡；工单类型：投诉"
    assert block["数据权限"] == f"dongjiang：{city}"
    assert block["数据截至"].date() == wh.as_of()
    headers = ["客户等级", "数值", "样本量", "95%下限", "95%上限", "投诉量", "在网客户·月"]
    top = _header_row(ws, headers)
    expected = wh.metric("complaint_rate", f, by=("tier",))
    row = [c.value for c in ws[top + 1]]
    assert row[0] == "金卡"
    assert row[1] == pytest.approx(float(expected["value"].iloc[0]))
    assert row[5] == pytest.approx(float(expected["events"].iloc[0]))
    formats = [c.number_format for c in ws[top + 1]][:7]
    assert formats == ["General", "#,##0.0", "#,##0", "#,##0.0", "#,##0.0", "#,##0", "#,##0"]
    assert [c.value for c in wb["定义"][2]][:2] == ["投诉率", t("export.definitions.complaint_rate", "zh")]
