"""Data page in AppTest: database facts, rows per table and quality findings as the engine says."""

from __future__ import annotations

import pytest
from page_helpers import kpi, open_page

from metrics.analysis import data_quality as quality
from metrics.backends.connect import where
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse

PAGE = "pages/6_Data.py"


pytestmark = pytest.mark.usefixtures("demo_db")  # SERVICEWATCH_DB: the demo DuckDB


def test_default_view(duckdb_url: str) -> None:
    at = open_page(PAGE)
    wh = Warehouse.open(duckdb_url)
    assert at.title[0].value == t("page.data.title", "zh")
    facts = " ".join(m.value for m in at.markdown)
    assert "duckdb" in facts and where(duckdb_url) in facts
    assert kpi(at, t("page.data.as_of", "zh")) == wh.as_of().isoformat()
    tables = at.dataframe[0].value
    expected = quality.table_summary(wh)
    assert tables[t("page.tables.rows", "zh")].tolist() == expected["rows"].tolist()
    # tables and their date columns by display names (工单 · 受理时间), never the database's names
    shown = tables[t("page.tables.table", "zh")].tolist()
    assert "工单" in shown and "tickets" not in shown and "sw_meta" not in shown
    assert set(shown) == {t(f"db.table.{n}", "zh") for n in expected["table"]}
    assert "受理时间" in tables[t("page.tables.column", "zh")].tolist()
    assert not {"opened_at", "start_date"} & set(tables[t("page.tables.column", "zh")])
    # the technical names, for admins, behind an expander: name -> display name
    names = next(d.value for d in at.dataframe if t("page.data.technical_name", "zh") in d.value.columns)
    meta = next(d.value for d in at.dataframe if t("page.data.meta.name", "zh") in d.value.columns)
    assert "数据截至日" in meta[t("page.data.meta.name", "zh")].tolist()  # the load information in words
    assert dict(zip(*[names[c] for c in names.columns], strict=True))["tickets.opened_at"] == "工单·受理时间"
    found = at.dataframe[3].value
    assert found[t("page.tables.rows", "zh")].tolist() == quality.findings(wh)["n"].tolist()
    assert any(t("page.data.import_note", "zh") == i.value for i in at.info)


def test_filters_do_not_break_it(duckdb_url: str) -> None:
    at = open_page(PAGE)
    at.sidebar.multiselect(key="_w_tier").set_value(["diamond"]).run()
    at.sidebar.multiselect(key="_w_segment").set_value(["enterprise"]).run()
    assert not at.exception
    assert at.dataframe[0].value.shape[0] > 0


def test_english(duckdb_url: str) -> None:
    at = open_page(PAGE)
    at.sidebar.radio(key="_w_lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "Data"
    assert "Data-quality checks" in [h.value for h in at.header]
