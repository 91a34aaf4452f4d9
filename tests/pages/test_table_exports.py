"""The remaining tables leave as meeting-ready workbooks too (issue 15 item 4): the Data page's three
tables, the Alerts page's open alerts and rule history, and the Regions league table as shown download
as CSV and Excel with the header block, the headers in the page's language (read back with openpyxl).
The bytes are those a click on the button produces."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest
from page_helpers import filters, open_page, seed_alerts
from test_exports_meeting import BLOCK, _header_row, files  # noqa: F401 (a fixture)

from metrics.model.i18n import metric_label, t
from metrics.query.warehouse import Warehouse


def _workbook(got: dict[str, bytes], stem: str) -> tuple[openpyxl.worksheet.worksheet.Worksheet, list[str], int]:
    assert f"{stem}.xlsx" in got and f"{stem}.csv" in got, sorted(got)
    ws = openpyxl.load_workbook(io.BytesIO(got[f"{stem}.xlsx"])).worksheets[0]
    csv = pd.read_csv(io.BytesIO(got[f"{stem}.csv"]), encoding="utf-8-sig")
    headers = [str(c) for c in csv.columns]
    top = _header_row(ws, headers)
    assert ws.freeze_panes == f"A{top + 1}" and ws.max_row - top == len(csv) > 0
    return ws, headers, top


def _block(ws) -> dict:
    block = {ws.cell(r, 1).value: ws.cell(r, 2).value for r in range(2, 7)}
    assert tuple(block) == BLOCK
    return block


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_data_page_tables_download_with_the_header_block(lang: str, duckdb_url: str, files,  # noqa: F811
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    open_page("pages/6_Data.py", {"lang": lang})
    got = dict(files)
    first, last = Warehouse.open(duckdb_url).data_span()
    for stem, title, header in (("page.data.tables_file", "page.data.tables_header", None),
                                ("page.data.quality_file", "page.data.quality_header", None),
                                ("page.data.coverage.file", "page.data.coverage.header", "page.data.coverage.metric")):
        ws, headers, _ = _workbook(got, t(stem, lang))
        assert ws.cell(1, 1).value == t(title, lang)
        if lang == "zh":
            block = _block(ws)
            assert block["统计周期"] == f"{first:%Y-%m-%d} – {last:%Y-%m-%d}"  # the whole data
            assert block["对比周期"] == t("export.comparison_none", "zh")
        if header:
            assert t(header, lang) in headers


def test_alerts_tables_download_with_the_header_block(duckdb_url: str, files, tmp_path,  # noqa: F811
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    seed_alerts(duckdb_url, f"sqlite:///{tmp_path / 'alerts.sqlite'}", monkeypatch)
    at = open_page("pages/9_Alerts.py", {"lang": "zh"})
    got = dict(files)
    shown = {d.value.shape[0] for d in at.dataframe}
    for name, col in (("open", "fired_at"), ("history", "ran_at")):
        ws, headers, top = _workbook(got, t(f"table_exports.alerts.{name}_file", "zh"))
        assert ws.cell(1, 1).value == t(f"table_exports.alerts.{name}_title", "zh")
        _block(ws)
        assert t(f"alerts.col.{col}", "zh") in headers and t("alerts.col.metric", "zh") in headers
        assert ws.max_row - top in shown  # the table as shown, row for row
        assert not [h for h in headers if h.isascii() and h.isalpha()]  # headers in Chinese


@pytest.mark.parametrize(("lang", "metric"), [("zh", "csat"), ("en", "complaint_rate")])
def test_regions_league_table_downloads_as_shown(lang: str, metric: str, duckdb_url: str, files,  # noqa: F811
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = open_page("pages/5_Regions.py", {"lang": lang, "metric": metric, "tier": "gold"})
    label = metric_label(metric, lang)
    got = dict(files)
    prefix = t("table_exports.regions.file", lang, metric="")
    stem = next(n for n in got if n.startswith(prefix) and n.endswith(".xlsx"))
    ws, headers, top = _workbook(got, stem.removesuffix(".xlsx"))
    assert ws.cell(1, 1).value == t("table_exports.regions.title", lang, metric=label)
    table = [d.value for d in at.dataframe if t("page.regions.verdict.header", lang) in d.value.columns]
    assert table and headers == [str(c) for c in table[0].columns]
    delta = t("common.delta", lang)
    shown = [str(v) for v in table[0][delta]]
    assert [ws.cell(top + 1 + i, 1).value for i in range(len(table[0]))] == list(table[0].iloc[:, 0])
    if lang == "zh":
        block = _block(ws)
        f = filters(at)
        assert block["统计周期"] == f"{f.start:%Y-%m-%d} – {f.end:%Y-%m-%d}" and "金卡" in block["筛选条件"]
        j = headers.index(delta) + 1  # the change in percentage points in words, not the screen's "pp"
        cells = [str(ws.cell(r, j).value) for r in range(top + 1, ws.max_row + 1)]
        assert any(c.endswith("个百分点") for c in cells) and not [c for c in cells if "pp" in c or "'" in c]
        for cell, text in zip(cells, shown, strict=True):  # "+2.2 pp" → "上升 2.2 个百分点", "—" stays
            want = {"+": f"上升 {text[1:-3]} 个百分点", "-": f"下降 {text[1:-3]} 个百分点"}.get(text[:1], text)
            assert cell == want or (cell == "持平" and float(text[1:-3]) == 0), (cell, text)
