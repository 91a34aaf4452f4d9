"""Every chart's data download speaks the page's language (issue 3, "Bilingual"): Chinese headers,
tier/channel/… names and region names in a Chinese page, none of the engine's raw column names or
codes. Every page and every section of it, in AppTest; the CSV that the button would hand out."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from page_helpers import open_page, other_sections, seed_alerts, show_section

PAGES = ["app.py", *sorted(f"pages/{p.name}" for p in (Path(__file__).parents[2] / "pages").glob("*.py"))]
RAW_HEADERS = {"value", "n", "lower", "upper", "month", "tier", "channel", "segment", "region_id", "delta",
               "value_cmp", "survey_kind", "sla_level", "category", "group", "time_days", "revenue", "region",
               "events", "exposure", "position", "missing", "no_cmp", "csat", "nps", "ces", "term", "model"}
ALERTS = "pages/9_Alerts.py"
SECTIONED = ("pages/1_Satisfaction.py", "pages/2_Complaints.py", "pages/3_SLA.py", "pages/4_Churn.py",
             "pages/10_Portfolio.py", "pages/11_Outlets.py", "pages/12_Regulator.py")
WITHOUT_CHARTS = ("pages/6_Data.py", "pages/7_Admin.py", "pages/8_At_risk.py")  # At risk: once a customer is picked
RAW_CODES = {"gold", "diamond", "silver", "standard", "enterprise", "hotline", "account_manager", "app",
             "post_interaction", "relationship", "mystery_shopper", "above_95", "within", "below_95", "better",
             "worse", "no_evidence", "drivers", "risk", "True", "False", "channel_agent", "tenure_years"}


@pytest.mark.parametrize("page", PAGES)
def test_chart_downloads_are_in_chinese(page: str, fitted_duckdb_url: str, downloads, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    if page == ALERTS:  # its chart is an open alert's: the demo's rules checked first
        seed_alerts(fitted_duckdb_url, f"sqlite:///{tmp_path / 'alerts.sqlite'}", monkeypatch)
    at = open_page(page, {"lang": "zh"})
    sections = other_sections(at)
    assert bool(sections) == (page in SECTIONED), (page, sections)
    for section in sections:
        show_section(at, section)
    charts = [(name, data) for name, data in downloads if not name.startswith(("sla_breaches", "churn_list"))]
    assert charts or page in WITHOUT_CHARTS, f"no chart downloads on {page}"
    for name, data in charts:
        frame = pd.read_csv(io.BytesIO(data if isinstance(data, bytes) else data.encode()))
        raw = RAW_HEADERS & set(frame.columns)
        assert not raw, f"{page} {name}: raw headers {sorted(raw)}"
        codes = {str(v) for col in frame.columns for v in frame[col].dropna().unique()} & RAW_CODES
        assert not codes, f"{page} {name}: raw codes {sorted(codes)}"
