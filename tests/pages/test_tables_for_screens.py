"""servicewatch.tables helpers for issue 15 items 5-6, against hand-written expectations: column
widths fitted to their text with the key columns pinned, the audit log in words, schema names by
their display names."""

from __future__ import annotations

import json

import pandas as pd

from metrics.model import schema
from metrics.model.i18n import catalogue
from servicewatch.tables import audit_table, fitted_columns, qualified_name, text_px


def test_fitted_columns_fit_the_widest_text_and_pin_the_key() -> None:
    shown = pd.DataFrame({"客户名称": ["梅岭新桥纺织有限公司", "甲"], "月收入": [1.5, 2.0],
                          "解决时间": pd.to_datetime(["2026-07-10 17:33:18", None]), "备注": ["ab", None]})
    config = fitted_columns(shown, {"月收入": {"type_config": {"format": "%.1f"}, "width": None}}, pin=1)
    assert text_px("梅岭新桥纺织有限公司") == 140 and text_px("ab") == 15  # 10 CJK x 14 px; 2 x 7.6
    assert config["客户名称"] == {"pinned": True, "width": 140 + 22}
    assert config["解决时间"]["width"] == round(19 * 7.6) + 22  # the date and time as drawn, not the header
    assert config["备注"]["width"] == 2 * 14 + 22  # the header is wider than its cells
    assert config["月收入"] == {"type_config": {"format": "%.1f"}, "width": None}  # numbers: sized by the grid
    assert "pinned" not in config["备注"]


def test_audit_table_in_words() -> None:
    log = pd.DataFrame({
        "at": pd.to_datetime(["2026-12-06 10:11:12.345"]), "user": ["nanling"], "action": ["download"],
        "detail": [json.dumps({"file": "list.csv", "rows": 12, "filters": {
            "from": "2026-07-01", "to": "2026-09-30", "cmp": "year_ago", "tier": "gold,diamond"}})]})
    zh = audit_table(log, "zh")
    assert zh.iloc[0].tolist() == [
        "2026-12-06 10:11:12", "nanling", "下载",
        "文件：list.csv；行数：12；筛选：2026-07-01 – 2026-09-30；对比：去年同期（同比）；客户等级：金卡、钻石卡"]
    en = audit_table(log, "en")
    assert list(en.columns) == ["Time (UTC)", "User", "Action", "Details"] and en.iloc[0, 2] == "Download"


def test_every_table_and_column_of_the_data_model_has_a_display_name() -> None:
    cat = catalogue()
    for table in schema.DATA_TABLES + schema.DERIVED_TABLES:
        assert f"db.table.{table.name}" in cat, table.name
        for column in table.columns:
            assert f"page.tables.{column.name}" in cat, f"{table.name}.{column.name}"
    assert qualified_name("tickets.opened_at", "zh") == "工单·受理时间"
    assert qualified_name("sw_meta", "zh") == "载入信息"
