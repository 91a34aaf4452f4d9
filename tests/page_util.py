"""Helpers for the AppTest page tests: open a page through app.py, read what it shows."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from metrics.describe import subtitle
from metrics.engine import Warehouse
from metrics.filters import Filters

TIMEOUT = 90
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def open_page(path: str, duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """Run app.py (the entry point that page links resolve against), then switch to ``path``."""
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    at.switch_page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def choose_period(at: AppTest, start: date, end: date) -> AppTest:
    """Pick a custom period in the sidebar."""
    at.sidebar.selectbox(key="_w_preset").set_value("custom").run()
    at.sidebar.date_input(key="_w_range").set_value((start, end)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert (filters(at).start, filters(at).end) == (start, end)
    return at


def filters(at: AppTest) -> Filters:
    return at.session_state["sw_state"]["filters"]


def metric_value(at: AppTest, label: str) -> str:
    found = [m for m in at.metric if m.label.startswith(label)]
    assert found, f"no card {label!r} among {[m.label for m in at.metric]}"
    return found[0].value


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def expected_subtitle(at: AppTest, duckdb_url: str, lang: str = "zh") -> str:
    regions = Warehouse.open(duckdb_url).regions()
    names = dict(zip(regions["region_id"].astype(int), regions["name_zh" if lang == "zh" else "name_en"],
                     strict=True))
    return subtitle(filters(at), lang, names)


def a_city(duckdb_url: str) -> int:
    regions = Warehouse.open(duckdb_url).regions()
    return int(regions.loc[regions["level"] == "city", "region_id"].iloc[0])


NO_DATA = (date(2023, 1, 1), date(2023, 3, 31))  # before the first ticket of the demo data


def choose_nothing(at: AppTest) -> AppTest:
    """A filter no customer matches: diamond tier (a consumer tier) among enterprise customers."""
    at.sidebar.multiselect(key="_w_tier").set_value(["diamond"]).run()
    at.sidebar.multiselect(key="_w_segment").set_value(["enterprise"]).run()
    assert not at.exception, [e.value for e in at.exception]
    return at
