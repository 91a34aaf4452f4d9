"""A digest (issue 17): its text and HTML bodies carry the three kinds of sentences the meeting pack has
for the last quarter — what drove the change (the complaint rate's, naming Dongjiang), what drives CSAT
(the key drivers' headline) and where the SLA is heading (the quarter's forecast with its chance) — each
under its page's title, the HTML escaped."""

from __future__ import annotations

import html

import pytest

from metrics import report
from metrics.analysis import decompose as dc
from metrics.analysis import drivers as dv
from metrics.analysis import drivers_text as tx
from metrics.analysis import forecast as fcast
from metrics.deliver import content
from metrics.model.filters import Filters, preset_period
from metrics.model.i18n import metric_label, t
from metrics.present import explain_text
from metrics.present import forecast_text as ft
from metrics.query.warehouse import Warehouse


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_digest_says_what_drove_what_drives_and_where_it_is_heading(duckdb_url: str, lang: str) -> None:
    wh = Warehouse.open(duckdb_url)
    start, end = preset_period("last_quarter", wh.as_of())
    f = Filters(start, end)
    built = content.Built(report.build_pack(wh, f, lang, render=lambda fig: b"png"), None, "digest")
    text = content.text_body(built, lang)
    page = content.html_body(built, lang, [])

    drove = explain_text.sentence(dc.explain(wh, "complaint_rate", f)[0], lang)
    assert ("东江市（自身变化）" if lang == "zh" else "Dongjiang (rate effect)") in drove
    drives = tx.sentences(dv.key_drivers(wh, dv.organisation_filters(f), "csat"), lang)[0]
    heading = ft.period_sentence(fcast.forecast(wh, "sla_resolution_compliance", f),
                                 metric_label("sla_resolution_compliance", lang), lang)
    for title, sentence in ((t("explain.title", lang), drove), (t("drivers.report.title", lang), drives),
                            (None, heading)):
        assert f"- {sentence}\n" in text, sentence
        assert f"<li>{html.escape(sentence)}</li>" in page, sentence
        if title:
            assert text.index(title + "\n") < text.index(sentence)
            assert f"<h3>{html.escape(title)}</h3>" in page
