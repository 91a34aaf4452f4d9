"""Satisfaction page in AppTest: engine numbers, filters in chart subtitles, empty state, English."""

from __future__ import annotations

import json

import pytest
from page_helpers import chart_titles, default_filters, kpi, no_data_query, open_page, show_section, sub

from metrics.analysis import distributions
from metrics.present.formatting import fmt_value
from metrics.query.warehouse import Warehouse

PAGE = "pages/1_Satisfaction.py"


pytestmark = pytest.mark.usefixtures("demo_db")  # SERVICEWATCH_DB: the demo DuckDB


def test_default_view(wh: Warehouse) -> None:
    at = open_page(PAGE)
    f = default_filters(wh)
    assert at.title[0].value == "满意度"
    assert kpi(at, "满意度") == fmt_value(wh.metric("csat", f)["value"].iloc[0], "share", "zh")
    assert kpi(at, "净推荐值 (分)") == fmt_value(wh.metric("nps", f)["value"].iloc[0], "points", "zh")
    titles = chart_titles(at)
    assert len(titles) == 2  # the first section: by channel and by tier
    for section in ("region_kind", "trend_distribution"):
        show_section(at, section)
        assert not at.exception
        titles += chart_titles(at)
    assert len(titles) == 6
    assert all(sub(wh, f).split("｜")[1] in t for t in titles)
    assert sum(sub(wh, f) in t for t in titles) >= 4  # the trend covers 12 months, the others the period
    show_section(at, "channel_tier")
    # the planted pattern: hotline satisfaction below account-manager satisfaction, in the channel chart
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    by_channel = dict(zip(bars["customdata"], bars["x"], strict=True))
    assert by_channel["hotline"] < by_channel["account_manager"]


def test_channel_finding_over_a_year() -> None:
    at = open_page(PAGE, {"preset": "last_12_months"})
    finding = [m.value for m in at.markdown if "Holm" in m.value][0]
    lower, higher = finding.split("显著偏高")
    assert "客服热线" in lower and "客户经理" in higher


def test_tier_and_survey_kind(wh: Warehouse) -> None:
    at = open_page(PAGE)
    at.sidebar.multiselect(key="_w_tier").set_value(["gold"]).run()
    at.radio(key="_w_choice_survey").set_value("relationship").run()
    assert not at.exception
    f = default_filters(wh, tiers=("gold",), survey_kinds=("relationship",))
    assert kpi(at, "满意度") == fmt_value(wh.metric("csat", f)["value"].iloc[0], "share", "zh")
    assert any(sub(wh, f) in t for t in chart_titles(at))


def test_city_and_mystery_shopper_nps(wh: Warehouse) -> None:
    at = open_page(PAGE)
    at.sidebar.selectbox(key="_w_city").set_value(2).run()
    f = default_filters(wh, regions=(2,))
    assert kpi(at, "满意度") == fmt_value(wh.metric("csat", f)["value"].iloc[0], "share", "zh")
    assert any(sub(wh, f) in t for t in chart_titles(at))
    at.radio(key="_w_choice_survey").set_value("mystery_shopper").run()
    at.radio(key="_w_choice_metric").set_value("nps").run()  # mystery shoppers give no NPS: an empty state
    assert not at.exception
    assert any("没有数据" in i.value for i in at.info)


def test_no_data_is_an_empty_state() -> None:
    at = open_page(PAGE, no_data_query())
    assert any("没有数据" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_english(wh: Warehouse) -> None:
    at = open_page(PAGE)
    at.sidebar.radio(key="_w_lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "Satisfaction"
    titles = chart_titles(at)
    assert any(t.startswith("CSAT · by channel") for t in titles)
    assert all(sub(wh, default_filters(wh), "en").split(" | ")[1] in t for t in titles)


def test_distribution_adds_up_to_the_metric(wh: Warehouse) -> None:
    f = default_filters(wh, tiers=("standard",))
    for score, metric_id in (("csat", "csat"), ("nps", "nps"), ("ces", "ces_mean")):
        dist = distributions.score_distribution(wh, f, score)
        assert dist["n"].sum() == wh.metric(metric_id, f)["n"].iloc[0]
    by_kind = distributions.score_distribution(wh, f, "csat", ("survey_kind",))
    per_kind = wh.metric("csat", f, ("survey_kind",)).set_index("survey_kind")["n"]
    assert by_kind.groupby("survey_kind")["n"].sum().to_dict() == per_kind.astype(int).to_dict()
    assert distributions.score_distribution(wh, f.with_(start=f.start.replace(year=2001),
                                                        end=f.end.replace(year=2001)), "csat").empty
