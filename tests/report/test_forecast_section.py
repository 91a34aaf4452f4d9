"""The meeting pack's "where it is heading" page (metrics.report.forecast_section): the Overview's
forecast sentences for the headline KPIs with a target, two fan charts with their model and back-test
lines, registered as a section of the pack."""

from __future__ import annotations

import pytest
from section_run import run_section

from metrics.analysis import forecast as fcast
from metrics.model.filters import Filters, preset_period
from metrics.model.i18n import metric_label, t
from metrics.present.forecast_text import period_sentence
from metrics.query.warehouse import Warehouse
from metrics.report import build
from metrics.report.forecast_section import METRICS, forecast_section


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_page_has_the_sentences_fans_and_backtests(duckdb_url: str, lang: str) -> None:
    wh = Warehouse.open(duckdb_url)
    start, end = preset_period("last_quarter", wh.as_of())
    f = Filters(start, end)
    [page, details], drawn = run_section(forecast_section, wh, f, lang)
    charts = page.charts
    assert page.title == t("forecast.title", lang)
    expected = [period_sentence(fcast.forecast(wh, m, f), metric_label(m, lang), lang) for m in METRICS]
    assert page.sentences[:len(METRICS)] == expected  # every headline KPI of the demo has a target
    sla = page.sentences[0]
    assert ("目标" in sla or "reaching 95%" in sla) and ("95% 的概率" in sla or "chance of reaching" in sla)
    assert {"fcr_rate", "churn_rate"} <= set(METRICS)  # FCR and churn have targets in the demo: forecast too
    # the charts' models, back-tests and calibration on a note page of their own (on the chart page they
    # pushed the text off a slide: test_report's test_pptx_slides)
    assert details.kind == "note" and details.title == t("forecast.pack.details_title", lang)
    backtests = [s for s in details.sentences if ("回测（" if lang == "zh" else "Back-test") in s]
    calibrated = t("forecast.calibration.calibrated", lang, n=12, widen="1").split("12")[0]
    assert sum(calibrated in s for s in details.sentences) == 2
    assert not any(calibrated in s for s in page.sentences)
    assert len(backtests) == 2 and len(charts) == 2 and all(c.png == b"png" for c in charts)
    assert charts[0].title == t("forecast.chart.title", lang, metric=metric_label(METRICS[0], lang))
    assert [tr.name for tr in drawn[0].data][-1] == t("forecast.chart.actual", lang)


def test_registered_in_the_pack() -> None:
    assert ("forecast", forecast_section) in build.SECTIONS
    assert t("report.progress.forecast", "zh") == "走势预测"
