"""The Excel and CSV files a table leaves as (issue 15 item 4), built from a hand-made frame and read
back with openpyxl: the header block, each column's number format, the frozen header row, column
widths that fit, the definitions sheet, CSV headers equal to the Excel headers."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pandas as pd
import pytest

from metrics.access.users import Scope
from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.present.export import (
    Column,
    Style,
    build_export,
    column_style,
    excel_format,
    export_context,
    text_width,
    title_text,
)

REGIONS = {2: "南岭市", 3: "珠湾市", 7: "东江市"}


def _sheet_rows(ws) -> list[list[object]]:
    return [[c.value for c in row] for row in ws.iter_rows()]


def _header_row(ws, headers: list[str]) -> int:
    for i, row in enumerate(ws.iter_rows(values_only=True), start=1):
        if list(row[: len(headers)]) == headers:
            return i
    raise AssertionError(f"no header row {headers}")


@pytest.fixture()
def export():
    f = Filters(start=date(2026, 7, 1), end=date(2026, 9, 30), regions=(7,), tiers=("gold", "silver"),
                channels=("hotline",), scope=Scope("nanling", regions=(2,)))
    frame = pd.DataFrame({"tier": ["金卡", "银卡"], "value": [0.92251234567, 0.8],
                          "n": [12345, 678], "delta": [0.0123, -0.004], "p_value": [0.0004, 0.2],
                          "revenue": [1234567.891, 89.0], "month": pd.to_datetime(["2026-07-01", "2026-08-01"])})
    columns = [Column(c, t(f"page.tables.{c}", "zh"), column_style(c, "sla_resolution_compliance", frame[c].dtype))
               for c in frame.columns]
    ctx = export_context(f, "zh", REGIONS, "SLA修复达标率 · 客户等级", ("sla_resolution_compliance", "csat"),
                         as_of=date(2026, 9, 30))
    return build_export(frame, columns, ctx)


def test_header_block_says_what_and_for_whom(export) -> None:
    ws = openpyxl.load_workbook(io.BytesIO(export.xlsx())).worksheets[0]
    block = {r[0]: r[1] for r in _sheet_rows(ws)[1:6]}
    assert ws["A1"].value == "SLA修复达标率 · 客户等级"
    assert block["统计周期"] == "2026-07-01 – 2026-09-30"
    assert block["对比周期"] == "上一周期（环比）：2026-04-01 – 2026-06-30"  # the quarter before, by hand
    assert block["筛选条件"] == "区域：东江市；客户等级：金卡、银卡；渠道：客服热线"
    assert block["数据截至"].date() == date(2026, 9, 30) and ws["B5"].number_format == "yyyy-mm-dd"
    assert block["数据权限"] == "nanling：南岭市"


def test_number_formats_per_column(export) -> None:
    ws = openpyxl.load_workbook(io.BytesIO(export.xlsx())).worksheets[0]
    top = _header_row(ws, export.headers) + 1
    formats = {export.headers[j]: ws.cell(top, j + 1).number_format for j in range(len(export.headers))}
    assert formats == {"客户等级": "General", "数值": "0.0%", "样本量": "#,##0", "变化": "+0.0%;-0.0%;0.0%",
                       "p 值": '[<0.001]"< 0.001";0.000', "收入（元）": '"¥"#,##0', "月份": "yyyy-mm"}
    assert ws.cell(top, 2).value == pytest.approx(0.92251234567)  # the number itself, not text
    assert ws.freeze_panes == f"A{top}"  # the header row stays in view


def test_formats_follow_the_metric() -> None:
    assert excel_format(column_style("value", "availability")) == "0.00%"
    assert excel_format(column_style("value", "churn_rate")) == "0.00%"
    assert excel_format(column_style("value", "complaint_rate")) == "#,##0.0"
    assert excel_format(column_style("value", "compensation_total")) == '"¥"#,##0'
    assert excel_format(column_style("value", "csat_mean")) == "#,##0.00"
    assert excel_format(column_style("upper", "tickets")) == "#,##0"
    assert excel_format(column_style("gap", "availability")) == "+0.00%;-0.00%;0.00%"
    assert excel_format(column_style("region_code")) == "0"
    assert excel_format(Style("number", 1, signed=True)) == "+#,##0.0;-#,##0.0;#,##0.0"
    assert column_style("tier", None, pd.Series(["a"]).dtype) is None


def test_widths_fit_the_longest_text(export) -> None:
    ws = openpyxl.load_workbook(io.BytesIO(export.xlsx())).worksheets[0]
    widths = {export.headers[j]: ws.column_dimensions[openpyxl.utils.get_column_letter(j + 1)].width
              for j in range(len(export.headers))}
    assert widths["收入（元）"] >= text_width("¥1,234,568") + 2  # the widest value as shown
    assert widths["客户等级"] >= text_width("客户等级") + 2  # CJK counts two


def test_definitions_sheet(export) -> None:
    wb = openpyxl.load_workbook(io.BytesIO(export.xlsx()))
    assert wb.sheetnames == ["数据", "定义"]
    rows = _sheet_rows(wb["定义"])
    assert rows[0] == ["指标", "定义", "单位", "方向"]
    assert rows[1] == ["SLA修复达标率", t("export.definitions.sla_resolution_compliance", "zh"), "占比", "越高越好"]
    assert rows[2][0] == "满意度" and "4 或 5" in rows[2][1]


def test_csv_has_the_excel_headers(export) -> None:
    ws = openpyxl.load_workbook(io.BytesIO(export.xlsx())).worksheets[0]
    data = export.csv()
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens the Chinese correctly
    csv = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    row = _header_row(ws, export.headers)
    assert list(csv.columns) == [c.value for c in ws[row]] == export.headers


def test_english_context_and_no_scope() -> None:
    f = Filters(start=date(2026, 1, 1), end=date(2026, 3, 31), comparison="none")
    ctx = export_context(f, "en", REGIONS, "CSAT", ("csat",))
    assert [v for _, v in ctx.block()] == ["2026-01-01 – 2026-03-31", "No comparison", "None (all data)", None,
                                          "All data"]
    wb = openpyxl.load_workbook(io.BytesIO(build_export(pd.DataFrame({"x": [1]}), None, ctx).xlsx()))
    assert wb.sheetnames == ["Data", "Definitions"]


def test_account_manager_scope_and_aggregates() -> None:
    f = Filters(start=date(2026, 1, 1), end=date(2026, 3, 31),
                scope=Scope("wang", manager_id=5, aggregates_only=True))
    assert export_context(f, "zh", REGIONS, "x").scope == "wang：本人名下客户（仅汇总数据）"


def test_formula_text_stays_text() -> None:
    ctx = export_context(Filters(start=date(2026, 1, 1), end=date(2026, 1, 31)), "zh", {}, "=HYPERLINK(1)")
    ws = openpyxl.load_workbook(io.BytesIO(build_export(pd.DataFrame({"name": ["=1+1"]}), None, ctx).xlsx())).active
    assert ws["A1"].value == "'=HYPERLINK(1)" and ws["A9"].value == "'=1+1"


def test_title_text_from_a_figure_title() -> None:
    assert title_text("投诉率 &amp; 区域<br><sup>2026-07-01 – 2026-09-30｜全省</sup>") == "投诉率 & 区域"
