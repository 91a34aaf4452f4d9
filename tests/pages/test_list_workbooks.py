"""Lists leave as meeting-ready workbooks too (issue 15 item 4): the at-risk list, the churned
customers and the SLA breaches download as Excel with the header block (title, period, comparison,
filters, as-of, scope), the CSV's headers, codes by name, each column's number format, a frozen
header row and the definitions sheet. The bytes are those a click on the button produces."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest
from page_helpers import filters, open_page
from test_exports_meeting import BLOCK, _codes, _header_row, files  # noqa: F401 (a fixture)

from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse

# page, query, the list's file stem (zh), its title (zh), formats by column header (zh)
LISTS = [
    ("pages/8_At_risk.py", {}, t("page.at_risk.file", "zh"), t("churn.list_header", "zh"),
     {t("churn.col.revenue_at_risk", "zh"): '"¥"#,##0', t("churn.col.open_tickets", "zh"): "#,##0",
      t("churn.col.churn_probability_90d", "zh") + " (%)": "#,##0.0"}),
    ("pages/4_Churn.py", {"section": "reasons", "preset": "last_12_months"}, t("page.churn.list_file", "zh"),
     t("page.churn.list_header", "zh"), {}),
    ("pages/3_SLA.py", {"section": "breaches"}, t("page.sla.breaches_file", "zh"), t("page.sla.breaches_header", "zh"),
     {t("page.tables.age_hours", "zh"): "#,##0.0", t("page.tables.opened_at", "zh"): "yyyy-mm-dd hh:mm"}),
]


@pytest.mark.parametrize(("page", "query", "stem", "title", "formats"), LISTS)
def test_list_downloads_as_a_meeting_workbook(page, query, stem, title, formats, fitted_duckdb_url: str,
                                              files,  # noqa: F811 (the fixture imported above)
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    at = open_page(page, {"lang": "zh", "tier": "gold", **query})
    assert not at.exception
    got = dict(files)
    assert f"{stem}.xlsx" in got and f"{stem}.csv" in got, sorted(got)
    wb = openpyxl.load_workbook(io.BytesIO(got[f"{stem}.xlsx"]))
    ws = wb.worksheets[0]
    assert ws.cell(1, 1).value == title
    block = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(2, 7)}
    assert tuple(block) == BLOCK
    f = filters(at)
    assert block["统计周期"] == f"{f.start:%Y-%m-%d} – {f.end:%Y-%m-%d}"
    assert block["筛选条件"].startswith("客户等级：金卡") and block["数据权限"] == "全部数据"
    assert block["数据截至"].date() == Warehouse.open(fitted_duckdb_url).as_of()
    csv = pd.read_csv(io.BytesIO(got[f"{stem}.csv"]), encoding="utf-8-sig")
    headers = [str(c) for c in csv.columns]
    top = _header_row(ws, headers)
    assert ws.freeze_panes == f"A{top + 1}"
    assert ws.max_row - top == len(csv) > 0
    for header, fmt in formats.items():
        j = headers.index(header) + 1
        cells = [ws.cell(r, j) for r in range(top + 1, ws.max_row + 1) if ws.cell(r, j).value is not None]
        assert cells and {c.number_format for c in cells} == {fmt}, (header, {c.number_format for c in cells})
    for j, header in enumerate(headers, start=1):  # no unformatted float anywhere
        floats = [ws.cell(r, j) for r in range(top + 1, ws.max_row + 1) if isinstance(ws.cell(r, j).value, float)]
        assert all(c.number_format != "General" for c in floats), header
    cells = {str(c.value) for row in ws.iter_rows(min_row=top) for c in row if isinstance(c.value, str)}
    assert not cells & _codes(fitted_duckdb_url), cells & _codes(fitted_duckdb_url)
    assert "金卡" in cells  # the tier by name
    assert wb.sheetnames == ["数据", "定义"]
