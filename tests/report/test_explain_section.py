"""The meeting pack's "what drove the change" page (metrics.report.explain_section): the Overview's
sentences for the headline metrics, two waterfalls, registered as a section of the pack."""

from __future__ import annotations

import pytest
from section_run import run_section

from metrics.analysis import decompose as dc
from metrics.model.filters import Filters, preset_period
from metrics.model.i18n import t
from metrics.present.explain_text import sentence
from metrics.query.warehouse import Warehouse
from metrics.report import build
from metrics.report.explain_section import METRICS, explain_section


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_page_has_the_sentences_and_waterfalls(duckdb_url: str, lang: str) -> None:
    wh = Warehouse.open(duckdb_url)
    start, end = preset_period("last_quarter", wh.as_of())
    f = Filters(start, end)
    [page], drawn = run_section(explain_section, wh, f, lang)
    charts = page.charts
    assert page.title == t("explain.title", lang)
    assert page.sentences == [sentence(dc.explain(wh, m, f)[0], lang) for m in METRICS]
    # NPS, FCR and churn as on the Overview's explain section (issue 17 audit, pack coverage)
    assert {"nps", "fcr_rate", "churn_rate"} <= set(METRICS) and len(page.sentences) == 6
    assert ("东江市（自身变化）" if lang == "zh" else "Dongjiang (rate effect)") in page.sentences[0]
    assert len(charts) == 2 and all(c.png == b"png" for c in charts)
    assert charts[0].title == t("explain.chart.title", lang, metric="投诉率" if lang == "zh" else "Complaint rate",
                                dim=t("explain.dim.city", lang))
    assert drawn[0].data[1].x[0] == ("东江市" if lang == "zh" else "Dongjiang")


def test_registered_in_the_pack() -> None:
    assert ("explain", explain_section) in build.SECTIONS
    assert t("report.progress.explain", "zh") == "变化原因"
