"""Issue 17 on the pages (items 1, 3 and 5 of its audit): the KPI cards of the Complaints and SLA pages
carry the Overview card's lines — what drove the change and where it is heading — equal to the
engine's sentences, in Chinese and English; and the trend charts of the Satisfaction, Complaints and
SLA pages draw the forecast's fan (80% and 95% bands, the median) after the history with the target,
from the same forecast, with the note saying the bands are calibrated on the series' own back-test."""

from __future__ import annotations

import json

import pytest
from page_helpers import chart_titles, filters, open_page, plain, show_section
from streamlit.testing.v1 import AppTest

from metrics.analysis import decompose
from metrics.analysis import forecast as fcast
from metrics.model.i18n import metric_label, t
from metrics.present import explain_text
from metrics.present import forecast_text as ft
from metrics.query.warehouse import Warehouse

pytestmark = pytest.mark.usefixtures("demo_db")  # SERVICEWATCH_DB: the demo DuckDB


def _open(page: str, lang: str, section: str | None = None) -> AppTest:
    at = open_page(page, {"section": section} if section else None)
    if lang == "en":
        at.sidebar.radio(key="_w_lang").set_value("en").run()
        assert not at.exception, [e.value for e in at.exception]
    return at


def _captions(at: AppTest) -> list[str]:
    return [plain(c.value) for c in at.caption]


def _fan(at: AppTest, title: str) -> dict:
    """The figure JSON of the chart whose title starts with ``title``."""
    found = [json.loads(c.proto.spec) for c in at.get("plotly_chart")
             if json.loads(c.proto.spec)["layout"]["title"]["text"].startswith(title)]
    assert found, (title, chart_titles(at))
    return found[0]


def _engine_lines(duckdb_url: str, metric_id: str, f, lang: str) -> tuple[str, str]:
    wh = Warehouse.open(duckdb_url)
    drove = explain_text.card_sentence(decompose.explain(wh, metric_id, f)[0], lang)
    heading = ft.card_line(fcast.forecast(wh, metric_id, f), lang, named=True)
    return drove, heading


def _check_fan(fig: dict, lang: str, target: bool = True) -> None:
    names = [tr.get("name") for tr in fig["data"]]
    for key in ("forecast.chart.band80", "forecast.chart.band95", "forecast.chart.median", "forecast.chart.actual"):
        assert t(key, lang) in names, (key, names)
    if target:
        assert fig["layout"].get("shapes") or fig["layout"].get("annotations")  # the target line, labelled


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_sla_cards_and_trends(duckdb_url: str, lang: str) -> None:
    at = _open("pages/3_SLA.py", lang)
    f = filters(at)
    captions = _captions(at)
    for metric_id in ("sla_resolution_compliance",):
        drove, heading = _engine_lines(duckdb_url, metric_id, f, lang)
        assert drove in captions, (drove, captions)
        assert heading in captions, (heading, captions)
        title = t("forecast.trend.title", lang, metric=metric_label(metric_id, lang))
        _check_fan(_fan(at, title), lang)
    calibrated = t("forecast.calibration.calibrated", lang, n=12, widen="").split("12")[0]
    assert any(c.startswith(t("forecast.trend.note", lang, months=3, calibration="")[:6]) and calibrated in c
               for c in captions), captions


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_complaints_cards_and_trend(duckdb_url: str, lang: str) -> None:
    at = _open("pages/2_Complaints.py", lang)
    f = filters(at).with_(kinds=("complaint",))
    captions = _captions(at)
    drove, heading = _engine_lines(duckdb_url, "complaint_rate", f, lang)
    assert drove in captions and heading in captions, (drove, heading, captions)
    # a card without a target (the complaint count) gets no forecast line; its change is not decomposable
    assert sum(1 for c in captions if c == heading) == 1
    fig = [json.loads(c.proto.spec) for c in at.get("plotly_chart")
           if any(tr.get("name") == t("forecast.chart.band80", lang) for tr in json.loads(c.proto.spec)["data"])]
    assert len(fig) == 1
    _check_fan(fig[0], lang)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_satisfaction_trend_has_the_fan(duckdb_url: str, lang: str) -> None:
    at = _open("pages/1_Satisfaction.py", lang, "trend_distribution")
    show_section(at, "trend_distribution")
    f = filters(at)
    captions = _captions(at)
    drove, heading = _engine_lines(duckdb_url, "csat", f, lang)
    assert drove in captions and heading in captions, (drove, heading, captions)
    fig = [json.loads(c.proto.spec) for c in at.get("plotly_chart")
           if any(tr.get("name") == t("forecast.chart.band80", lang) for tr in json.loads(c.proto.spec)["data"])]
    assert len(fig) == 1
    _check_fan(fig[0], lang)


def test_a_past_period_draws_the_plain_trend(duckdb_url: str) -> None:
    """A period that ends a year before the data's last complete month: the forecast starts after that
    month, so its fan would open after a gap the trend does not show; the plain trend is drawn."""
    at = open_page("pages/3_SLA.py", {"from": "2025-04-01", "to": "2025-06-30"})
    assert not at.exception, [e.value for e in at.exception]
    title = t("forecast.trend.title", "zh", metric=metric_label("sla_resolution_compliance", "zh"))
    fig = _fan(at, title)
    names = [tr.get("name") for tr in fig["data"]]
    assert t("forecast.chart.band80", "zh") not in names, names
