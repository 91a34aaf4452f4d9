"""Every chart's data download speaks the page's language (issue 3, "Bilingual"): Chinese headers,
tier/channel/… names and region names in a Chinese page, none of the engine's raw column names or
codes. Every page and every section of it, in AppTest; the CSV that the button would hand out."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from page_helpers import open_page

from metrics.i18n import catalogue, t

PAGES = ["app.py", *sorted(f"pages/{p.name}" for p in (Path(__file__).parents[1] / "pages").glob("*.py"))]
RAW_HEADERS = {"value", "n", "lower", "upper", "month", "tier", "channel", "segment", "region_id", "delta",
               "value_cmp", "survey_kind", "sla_level", "category", "group", "time_days", "revenue"}
WITHOUT_CHARTS = ("pages/6_Data.py", "pages/7_Admin.py", "pages/8_At_risk.py")  # At risk: once a customer is picked
RAW_CODES = {"gold", "diamond", "silver", "standard", "enterprise", "hotline", "account_manager", "app",
             "post_interaction", "relationship", "mystery_shopper"}


def _sections(at) -> list[str]:
    switch = [w for w in at.segmented_control if w.key == "_w_section"]
    if not switch:
        return []
    by_label = {t(k, "zh"): k.removeprefix("section.") for k in catalogue() if k.startswith("section.")}
    return [by_label[label] for label in switch[0].options[1:]]


@pytest.mark.parametrize("page", PAGES)
def test_chart_downloads_are_in_chinese(page: str, fitted_duckdb_url: str, downloads, monkeypatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    at = open_page(page, {"lang": "zh"})
    for section in _sections(at):
        at.segmented_control(key="_w_section").set_value(section).run()
        assert not at.exception, [e.value for e in at.exception]
    charts = [(name, data) for name, data in downloads if not name.startswith(("sla_breaches", "churn_list"))]
    assert charts or page in WITHOUT_CHARTS, f"no chart downloads on {page}"
    for name, data in charts:
        frame = pd.read_csv(io.BytesIO(data if isinstance(data, bytes) else data.encode()))
        raw = RAW_HEADERS & set(frame.columns)
        assert not raw, f"{page} {name}: raw headers {sorted(raw)}"
        codes = {str(v) for col in frame.columns for v in frame[col].dropna().unique()} & RAW_CODES
        assert not codes, f"{page} {name}: raw codes {sorted(codes)}"
