"""SLA page in AppTest: renders for several filters, shows the engine's numbers, speaks English."""

from __future__ import annotations

import pytest
from page_helpers import (
    NO_DATA,
    a_city,
    chart_titles,
    choose_nothing,
    choose_period,
    filters,
    kpi,
    open_page,
    page_subtitle,
    show_section,
)

from metrics.analysis import sla
from metrics.model.i18n import metric_label, t
from metrics.present.formatting import fmt_value
from metrics.query.warehouse import Warehouse

PAGE = "pages/3_SLA.py"


pytestmark = pytest.mark.usefixtures("demo_db")  # SERVICEWATCH_DB: the demo DuckDB


def _check_numbers(at, duckdb_url: str) -> None:
    wh = Warehouse.open(duckdb_url)
    f = filters(at)
    for metric_id in ("sla_response_compliance", "sla_resolution_compliance"):
        value = wh.metric(metric_id, f)["value"].iloc[0]
        assert kpi(at, metric_label(metric_id, "zh")) == fmt_value(value, "share", "zh")
    sub = page_subtitle(at, duckdb_url)
    # the monthly trends with the forecast's fan cover the last 12 months: their own period in the subtitle
    trend = t("forecast.trend.title", "zh", metric="").strip(" ·")
    titles = [x for x in chart_titles(at) if trend not in x]
    assert titles and all(sub in title for title in titles), (sub, titles)


def test_default_view(duckdb_url: str) -> None:
    at = open_page(PAGE)
    assert at.title[0].value == t("page.sla.title", "zh")
    assert at.segmented_control(key="_w_section").value == "compliance"
    assert at.header[0].value == t("page.sla.compliance_header", "zh")
    _check_numbers(at, duckdb_url)


def test_tiers_section_answers_from_the_engine(duckdb_url: str) -> None:
    at = open_page(PAGE, {"section": "tiers"})
    # the plain answer to "do higher tiers get faster service?" is computed from the engine's numbers
    gap = sla.tier_gap(sla.service_by(Warehouse.open(duckdb_url), filters(at), "tier"))
    answers = [e.value for e in at.success] + [e.value for e in at.warning]
    assert any(f"{gap.top_compliance:.0%}" in a and f"{gap.bottom_p90:.0f}" in a for a in answers), answers
    _check_numbers(at, duckdb_url)


def test_breaches_section_lists_open_past_due_first(duckdb_url: str) -> None:
    at = open_page(PAGE, {"section": "breaches"})
    table = at.dataframe[0].value
    assert len(table) > 0 and table.iloc[0][t("page.tables.open", "zh")]


def test_section_switch_reaches_the_url_and_survives_a_page_switch(duckdb_url: str) -> None:
    at = open_page(PAGE)
    show_section(at, "compensation")
    assert not at.exception
    assert at.query_params.get("section") in (["compensation"], "compensation")
    assert t("page.sla.compensation_header", "zh") in [h.value for h in at.header]
    assert t("page.sla.compliance_header", "zh") not in [h.value for h in at.header]  # one section drawn
    _check_numbers(at, duckdb_url)
    at.switch_page("pages/5_Regions.py").run()
    assert "section" not in at.query_params  # the Regions page has no sections
    at.switch_page("pages/3_SLA.py").run()
    assert at.segmented_control(key="_w_section").value == "compensation"


def test_tier_filter(duckdb_url: str) -> None:
    at = open_page(PAGE)
    at.sidebar.multiselect(key="_w_tier").set_value(["enterprise"]).run()
    assert not at.exception
    assert filters(at).tiers == ("enterprise",)
    _check_numbers(at, duckdb_url)


def test_city_filter(duckdb_url: str) -> None:
    at = open_page(PAGE)
    at.sidebar.selectbox(key="_w_city").set_value(a_city(duckdb_url)).run()
    assert not at.exception
    assert filters(at).regions == (a_city(duckdb_url),)
    _check_numbers(at, duckdb_url)


def test_no_data_is_an_empty_state(duckdb_url: str) -> None:
    at = choose_period(open_page(PAGE), *NO_DATA)
    assert any(i.value == t("common.no_data", "zh") for i in at.info)
    at = choose_nothing(open_page(PAGE))
    assert any(i.value == t("common.no_data", "zh") for i in at.info)


def test_english(duckdb_url: str) -> None:
    at = open_page(PAGE, {"section": "tiers"})
    at.sidebar.radio(key="_w_lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "SLA commitments"
    assert t("page.sla.tier_header", "en") in [h.value for h in at.header]
    show_section(at, "availability")
    assert any(title.startswith("Circuit availability") for title in chart_titles(at))
