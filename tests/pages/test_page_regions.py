"""Regions page in AppTest, and the league table (metrics.analysis.league) on the demo data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from page_helpers import chart_titles, default_filters, kpi, no_data_query, open_page, sub

from metrics.analysis import league
from metrics.model.registry import get
from metrics.present.formatting import fmt_value
from metrics.query.warehouse import Warehouse

PAGE = "pages/5_Regions.py"


pytestmark = pytest.mark.usefixtures("demo_db")  # SERVICEWATCH_DB: the demo DuckDB


# -- the page ---------------------------------------------------------------------------------
def test_default_league(wh: Warehouse) -> None:
    at = open_page(PAGE)
    f = default_filters(wh)
    assert at.title[0].value == "区域排名"
    assert kpi(at, "整体") == fmt_value(wh.metric("csat", f)["value"].iloc[0], "share", "zh")
    expected = league.league(get("csat"), wh.compare("csat", f, ("region",)), wh.metric("csat", f))
    table = at.dataframe[0].value
    assert table["名次"].tolist() == list(range(1, len(expected) + 1))
    assert table["数值"].tolist() == [fmt_value(v, "share", "zh") for v in expected["value"]]
    assert table["样本量"].astype(int).tolist() == expected["n"].astype(int).tolist()
    assert set(table["结论"]) <= {"显著更好", "显著更差", "无显著差异"}
    (title,) = chart_titles(at)
    assert title.startswith("满意度 · 地市排名") and sub(wh, f) in title


def test_city_shows_districts_and_metric_switch(wh: Warehouse) -> None:
    at = open_page(PAGE)
    at.sidebar.selectbox(key="_w_city").set_value(3).run()
    at.selectbox(key="_w_choice_metric").set_value("complaint_rate").run()
    assert not at.exception
    f = default_filters(wh, regions=(3,))
    expected = wh.metric("complaint_rate", f, ("region",), "district")
    table = at.dataframe[0].value
    assert len(table) == len(expected) and table.columns[1] == "区县"
    assert "本市其他区县" in table.columns
    # lower complaint rates rank first
    assert table["数值"].tolist() == [fmt_value(v, "per_1000_customer_months", "zh")
                                    for v in expected.sort_values("value")["value"]]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert sub(wh, f) in spec["layout"]["title"]["text"]


def test_tier_and_untested_metric(wh: Warehouse) -> None:
    at = open_page(PAGE)
    at.sidebar.multiselect(key="_w_tier").set_value(["gold"]).run()
    at.selectbox(key="_w_choice_metric").set_value("resolution_hours_median").run()
    assert not at.exception
    assert set(at.dataframe[0].value["结论"]) == {"未检验"}
    assert any(sub(wh, default_filters(wh, tiers=("gold",))) in t for t in chart_titles(at))


def test_no_data_is_an_empty_state() -> None:
    at = open_page(PAGE, no_data_query())
    assert any("没有数据" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_english(wh: Warehouse) -> None:
    at = open_page(PAGE)
    at.sidebar.radio(key="_w_lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "Regions"
    (title,) = chart_titles(at)
    assert title.startswith("CSAT · city league") and sub(wh, default_filters(wh), "en") in title
    assert "Rest of the province" in at.dataframe[0].value.columns


# -- league.py on the demo data -----------------------------------------------------------------
@pytest.mark.parametrize("metric_id", ["csat", "nps", "csat_mean", "complaint_rate", "churn_rate"])
def test_verdicts_make_sense(wh: Warehouse, metric_id: str) -> None:
    f = default_filters(wh, start=default_filters(wh).start.replace(year=2025))
    m = get(metric_id)
    table = league.league(m, wh.compare(metric_id, f, ("region",)), wh.metric(metric_id, f))
    assert len(table) == 7 and table["p_value"].notna().all()
    assert (table["p_adjusted"] >= table["p_value"] - 1e-12).all()
    significant = table["verdict"].isin(["better", "worse"])
    assert (table.loc[significant, "p_adjusted"] < 0.05).all()
    assert (table.loc[~significant, "p_adjusted"] >= 0.05).all()
    above = table["value"] > table["rest_value"]
    good = above if m.higher_is_better else ~above
    assert (table.loc[significant, "verdict"] == np.where(good[significant], "better", "worse")).all()
    values = table["value"].tolist()
    assert values == sorted(values, reverse=m.higher_is_better)


@pytest.mark.parametrize("metric_id", ["csat", "complaint_rate"])
def test_rest_of_province_is_the_other_regions(wh: Warehouse, metric_id: str) -> None:
    """The "rest" a region is tested against equals the metric computed on the other cities."""
    f = default_filters(wh)
    table = league.league(get(metric_id), wh.metric(metric_id, f, ("region",)), wh.metric(metric_id, f))
    cities = table["region_id"].astype(int).tolist()
    for city in cities[:3]:
        others = tuple(c for c in cities if c != city)
        rest = wh.metric(metric_id, f.with_(regions=others))["value"].iloc[0]
        assert table.loc[table["region_id"] == city, "rest_value"].iloc[0] == pytest.approx(rest, rel=1e-6)


def _identical(kind_cols: dict[str, float], k: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    groups = pd.DataFrame({"region_id": range(1, k + 1), **{c: [v] * k for c, v in kind_cols.items()}})
    total = pd.DataFrame({c: [v * k if c in ("n", "events", "exposure") else v] for c, v in kind_cols.items()})
    return groups, total


def test_identical_regions_give_no_evidence() -> None:
    share = {"value": 0.8, "n": 1000.0, "lower": 0.77, "upper": 0.83}
    rate = {"value": 30.0, "n": 300.0, "lower": 26.7, "upper": 33.6, "events": 300.0, "exposure": 10000.0}
    for metric_id, cols in (("csat", share), ("complaint_rate", rate), ("csat_mean", share)):
        groups, total = _identical(cols)
        table = league.league(get(metric_id), groups, total)
        assert set(table["verdict"]) == {"no_evidence"}, metric_id
        assert np.allclose(table["p_value"], 1.0)


def test_one_bad_region_is_flagged() -> None:
    groups = pd.DataFrame({"region_id": [1, 2, 3, 4], "value": [0.9, 0.9, 0.9, 0.6], "n": [2000.0] * 4,
                           "lower": np.nan, "upper": np.nan})
    total = pd.DataFrame({"value": [0.825], "n": [8000.0], "lower": [np.nan], "upper": [np.nan]})
    table = league.league(get("csat"), groups, total)
    assert table.set_index("region_id").loc[4, "verdict"] == "worse"
    assert table.set_index("region_id").loc[4, "rank"] == 4
    # a lower-is-better metric turns the verdict round
    assert league.league(get("reopen_rate"), groups, total).set_index("region_id").loc[4, "verdict"] == "better"


def test_scope(wh: Warehouse) -> None:
    regions = wh.regions()
    f = default_filters(wh)
    assert league.scope(f, regions) == (f, "city")
    assert league.scope(f.with_(regions=(2,)), regions) == (f.with_(regions=(2,)), "district")
    district = int(regions.loc[regions["parent_id"] == 2, "region_id"].iloc[0])
    assert league.scope(f.with_(regions=(district,)), regions) == (f.with_(regions=(2,)), "district")
