"""Complaints page in AppTest: engine numbers, funnel plot, drill-down list, empty state, English."""

from __future__ import annotations

import json

import pytest
from page_helpers import chart_titles, default_filters, kpi, no_data_query, open_page, show_section, sub

from metrics.analysis import drill, league
from metrics.model.i18n import metric_label, t
from metrics.present.formatting import fmt_value
from metrics.query.warehouse import Warehouse

PAGE = "pages/2_Complaints.py"


pytestmark = pytest.mark.usefixtures("demo_db")  # SERVICEWATCH_DB: the demo DuckDB


def _check_numbers(at, wh: Warehouse, f) -> None:
    fc = f.with_(kinds=("complaint",))
    assert kpi(at, "投诉量") == fmt_value(wh.metric("tickets", fc)["value"].iloc[0], "tickets", "zh")
    assert kpi(at, "投诉率 (件/千户·月)") == fmt_value(wh.metric("complaint_rate", fc)["value"].iloc[0],
                                                   "per_1000_customer_months", "zh")
    # complaints only, under its own name: the Overview's 首问解决率 counts all tickets (issue 15 item 2)
    assert kpi(at, "投诉首问解决率") == fmt_value(wh.metric("fcr_rate", fc)["value"].iloc[0], "share", "zh")
    assert not [m for m in at.metric if m.label == metric_label("fcr_rate", "zh")]
    assert kpi(at, "投诉处理时长中位数") == fmt_value(wh.metric("resolution_hours_median", fc)["value"].iloc[0],
                                            "hours", "zh")
    # one section's chart; the rate section also has the monthly trend with the forecast's fan (12 months)
    trend = t("forecast.trend.title", "zh", metric="").strip(" ·")
    titles = [x for x in chart_titles(at) if trend not in x]
    assert len(titles) == 1 and all(sub(wh, fc) in x for x in titles)


def test_default_view_and_funnel(wh: Warehouse) -> None:
    at = open_page(PAGE)
    f = default_filters(wh)
    assert at.title[0].value == "投诉"
    _check_numbers(at, wh, f)
    # the region table beside the bar chart shows the engine's complaint counts
    rates = wh.metric("complaint_rate", f, ("region",))
    table = at.dataframe[0].value
    assert sorted(table["投诉量"].astype(int)) == sorted(rates["n"].astype(int))
    _check_numbers(show_section(at, "funnel"), wh, f)
    funnel = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert funnel["layout"]["title"]["text"].startswith("投诉率与客户规模")
    points = funnel["data"][-1]
    assert sorted(points["customdata"]) == sorted(str(r) for r in rates["region_id"])
    assert len(funnel["data"]) == 5  # four control-limit lines and the regions


def test_tier_and_city(wh: Warehouse) -> None:
    at = open_page(PAGE, {"section": "funnel"})
    at.sidebar.multiselect(key="_w_tier").set_value(["standard"]).run()
    assert not at.exception
    _check_numbers(at, wh, default_filters(wh, tiers=("standard",)))
    at.sidebar.selectbox(key="_w_city").set_value(2).run()
    assert not at.exception
    f = default_filters(wh, tiers=("standard",), regions=(2,))
    _check_numbers(at, wh, f)
    # with a city selected the funnel and the region bars show its districts
    funnel = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][-1]
    districts = wh.metric("complaint_rate", f, ("region",), "district")["region_id"]
    assert sorted(funnel["customdata"]) == sorted(str(r) for r in districts)


def test_cut_by_category_and_handling_metric() -> None:
    at = open_page(PAGE)
    at.radio(key="_w_choice_dim").set_value("category").run()
    assert chart_titles(at)[0].startswith("投诉率 · 投诉类别")
    assert t("export.drill", "zh") in [h.value for h in at.subheader]  # pick a bar to list its complaints
    show_section(at, "handling").selectbox(key="_w_choice_handling").set_value("revisit_satisfaction").run()
    assert not at.exception
    assert chart_titles(at)[0].startswith("回访满意率")
    assert t("export.drill", "zh") not in [h.value for h in at.subheader]  # nothing to pick here


def test_drill_down_lists_the_complaints_of_a_region(wh: Warehouse) -> None:
    """What the page lists for a selected region: the complaints the rate counted."""
    f = default_filters(wh, kinds=("complaint",))
    rates = wh.metric("complaint_rate", f, ("region",))
    region = int(rates["region_id"].iloc[0])
    rows = drill.tickets(wh, f.with_(regions=(region,)), 100000)
    assert len(rows) == rates["n"].iloc[0]
    assert set(rows["kind"]) == {"complaint"}


def test_funnel_positions(wh: Warehouse) -> None:
    f = default_filters(wh)
    groups, total = wh.metric("complaint_rate", f, ("region",)), wh.metric("complaint_rate", f)
    points, limits, overall = league.funnel(groups, total)
    assert overall == pytest.approx(total["value"].iloc[0])
    assert (limits["lo95"] <= overall).all() and (limits["hi95"] >= overall).all()
    assert (limits["lo998"] <= limits["lo95"]).all() and (limits["hi998"] >= limits["hi95"]).all()
    # limits narrow as the customer base grows
    assert limits["hi95"].iloc[-1] - limits["lo95"].iloc[-1] < limits["hi95"].iloc[0] - limits["lo95"].iloc[0]
    assert set(points["position"]) <= {"above_998", "above_95", "within", "below_95", "below_998"}


def test_no_data_is_an_empty_state() -> None:
    at = open_page(PAGE, no_data_query())
    assert any("没有数据" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_english(wh: Warehouse) -> None:
    at = open_page(PAGE, {"section": "funnel"})
    at.sidebar.radio(key="_w_lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "Complaints"
    assert any(t.startswith("Complaint rate against customer base") for t in chart_titles(at))
    assert all(sub(wh, default_filters(wh, kinds=("complaint",)), "en") in t for t in chart_titles(at))


@pytest.fixture()
def no_revisits(duck: str) -> str:
    """A private copy of the demo DuckDB whose complaint log has no revisit column: revisited_at NULL
    on every ticket, rollups rebuilt."""
    from db_snapshot import rewrite

    from metrics.model import schema as s

    return rewrite(duck, lambda conn: conn.execute(s.tickets.update().values(revisited_at=None)))


def test_a_metric_the_data_cannot_give_says_why_not_zero(no_revisits: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14: revisit completion on a log without revisit times is "no data" and names the column
    (as ``servicewatch coverage`` does), never 0.0%; the cards the data supports keep their figures."""
    from metrics.analysis import coverage

    monkeypatch.setenv("SERVICEWATCH_DB", no_revisits)
    wh = Warehouse.open(no_revisits)
    try:
        covered = coverage.coverage(wh, "zh").set_index("metric")
        assert not covered.loc["revisit_rate", "supported"]
        fc = default_filters(wh, kinds=("complaint",))
        fcr = fmt_value(wh.metric("complaint_fcr_rate", fc)["value"].iloc[0], "share", "zh")
    finally:
        wh.engine.dispose()
    at = open_page(PAGE)
    assert kpi(at, metric_label("revisit_rate", "zh")) == "—"
    assert kpi(at, metric_label("revisit_satisfaction", "zh")) == "—"
    captions = [c.value for c in at.caption]
    assert "无数据：导入的工单没有“回访时间”列" in captions
    assert f"无数据：{covered.loc['revisit_rate', 'note']}" in captions
    assert kpi(at, metric_label("complaint_fcr_rate", "zh")) == fcr  # the others stay
    at.sidebar.radio(key="_w_lang").set_value("en").run()
    assert not at.exception
    assert kpi(at, metric_label("revisit_rate", "en")) == "—"
    assert "no data: the imported tickets have no revisited_at column" in [c.value for c in at.caption]
