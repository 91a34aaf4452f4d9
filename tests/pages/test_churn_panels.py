"""Churn page panels in AppTest: retention curves by a chosen dimension, the stored model's quality,
hazard ratios and the at-risk list; without a model, how to fit one."""

from __future__ import annotations

import json

import pytest
from page_helpers import chart_titles, filters, open_page

from metrics.churn import store as churn_store
from metrics.churn import survival
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse

PAGE = "pages/4_Churn.py"


def test_without_model_says_how_to_fit(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = open_page(PAGE, {"section": "risk"})
    assert t("churn.no_model", "zh") in [i.value for i in at.info]
    at = open_page(PAGE, {"section": "retention"})
    assert any(t("churn.retention_title", "zh", dim=t("filter.tier", "zh")) in x for x in chart_titles(at))


def test_retention_by_city(duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    at = open_page(PAGE, {"section": "retention"})
    at.selectbox(key="_w_choice_dim").set_value("region").run()
    assert not at.exception
    title = t("churn.retention_title", "zh", dim=t("filter.city", "zh"))
    fig = [json.loads(c.proto.spec) for c in at.get("plotly_chart")
           if title in json.loads(c.proto.spec)["layout"]["title"]["text"]]
    assert fig
    wh = Warehouse.open(duckdb_url)
    r = survival.retention(wh, filters(at), "region", "city", 7)
    lines = [tr for tr in fig[0]["data"] if tr.get("mode") == "lines"]
    assert len(lines) == r.curves["group"].nunique()


def test_with_model(fitted_duckdb_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    at = open_page(PAGE, {"section": "risk"})
    at.sidebar.radio(key="_w_lang").set_value("en").run()
    assert not at.exception
    assert "Churn-risk model" in [h.value for h in at.header]
    quality = [m.value for m in at.markdown if "concordance" in m.value]
    wh = Warehouse.open(fitted_duckdb_url)
    model = churn_store.latest_model(wh)
    assert quality and f"{model['concordance_cox']:.3f}" in quality[0]
    assert any(x.startswith("Hazard ratios of leaving within 90 days") for x in chart_titles(at))
    table = at.dataframe[-1].value
    top = churn_store.scores(wh, filters(at), 100, "en")
    assert len(table) == len(top) and list(table["Main reasons"]) == list(top["drivers"])
    assert any(b.label == t("export.download_list", "en") for b in at.get("download_button"))
