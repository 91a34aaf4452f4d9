"""Churn page in AppTest: renders for several filters, shows the engine's numbers, speaks English."""

from __future__ import annotations

import pytest
from page_helpers import a_city, chart_titles, choose_nothing, filters, kpi, open_page, page_subtitle, show_section

from metrics.churn import rates as churn
from metrics.model.i18n import metric_label, t
from metrics.present.formatting import fmt_value
from metrics.query.warehouse import Warehouse

PAGE = "pages/4_Churn.py"


pytestmark = pytest.mark.usefixtures("demo_db")  # SERVICEWATCH_DB: the demo DuckDB


def _check_numbers(at, duckdb_url: str) -> None:
    wh = Warehouse.open(duckdb_url)
    f = filters(at)
    rate = wh.metric("churn_rate", f)
    assert kpi(at, metric_label("churn_rate", "zh")) == fmt_value(rate["value"].iloc[0], "share_per_month")
    annual = churn.churn_by(wh, f)["annual"].iloc[0]
    assert kpi(at, t("page.churn.kpi_annual", "zh")) == fmt_value(annual, "share")
    assert kpi(at, t("page.churn.kpi_churned", "zh")) == fmt_value(rate["n"].iloc[0], "customers")
    active = wh.metric("active_customers", f)["value"].iloc[0]
    assert kpi(at, metric_label("active_customers", "zh")) == fmt_value(active, "customers")
    section = at.segmented_control(key="_w_section").value
    if section == "reasons":
        # the list of leavers has as many rows as customers left (below the list limit)
        assert len(at.dataframe[0].value) == min(int(rate["n"].iloc[0]), 1000)
    sub = page_subtitle(at, duckdb_url)
    titles = [title for title in chart_titles(at) if t("page.churn.trend_title", "zh") not in title
              and t("page.churn.active_title", "zh") not in title]  # the trend covers 12 months
    assert (titles or section == "trend") and all(sub in title for title in titles), (sub, titles)


def test_default_view(duckdb_url: str) -> None:
    at = open_page(PAGE)
    assert at.title[0].value == t("page.churn.title", "zh")
    _check_numbers(at, duckdb_url)
    assert [h.value for h in at.header] == [t("page.churn.by_header", "zh")]  # one section: by segment and tier
    for section, header in (("trend", "page.churn.trend_header"), ("reasons", "page.churn.list_header"),
                            ("retention", "churn.retention_header")):
        show_section(at, section)
        assert not at.exception
        assert t(header, "zh") in [h.value for h in at.header]
        _check_numbers(at, duckdb_url)


def test_tier_filter(duckdb_url: str) -> None:
    at = open_page(PAGE, {"section": "reasons"})
    at.sidebar.multiselect(key="_w_tier").set_value(["standard"]).run()
    assert not at.exception
    _check_numbers(at, duckdb_url)


def test_city_filter(duckdb_url: str) -> None:
    at = open_page(PAGE)
    at.sidebar.selectbox(key="_w_city").set_value(a_city(duckdb_url)).run()
    assert not at.exception
    _check_numbers(at, duckdb_url)


def test_no_data_is_an_empty_state(duckdb_url: str) -> None:
    at = choose_nothing(open_page(PAGE))
    assert any(i.value == t("common.no_data", "zh") for i in at.info)


def test_english(duckdb_url: str) -> None:
    at = open_page(PAGE, {"section": "reasons"})
    at.sidebar.radio(key="_w_lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "Churn & retention"
    assert "Why customers left" in [h.value for h in at.header]
    assert any(title.startswith("Churn reasons") for title in chart_titles(at))
