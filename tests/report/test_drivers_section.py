"""The meeting pack's "what drives satisfaction" page (metrics.report.drivers_section): the same sentences
as the Satisfaction page for the organisation's CSAT model, "fix first" for the pack's city, two
charts; a period without surveys says why and draws nothing; registered as a section of the pack."""

from __future__ import annotations

from dataclasses import replace

import pytest
from section_run import run_section

from metrics.analysis import drivers as dv
from metrics.analysis import drivers_text as tx
from metrics.model.filters import Filters, preset_period
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse
from metrics.report import build
from metrics.report.drivers_section import drivers_section


def _page(wh: Warehouse, f: Filters, lang: str):
    [page], drawn = run_section(drivers_section, wh, f, lang)
    return page, page.charts, drawn


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_page_for_a_city(duckdb_url: str, lang: str) -> None:
    wh = Warehouse.open(duckdb_url)
    start, end = preset_period("last_12_months", wh.as_of())
    regions = wh.regions()
    city = regions[regions["level"] == "city"].iloc[0]
    f = Filters(start, end, regions=(int(city["region_id"]),))
    page, charts, drawn = _page(wh, f, lang)
    r = dv.key_drivers(wh, replace(f, regions=()), "csat")
    assert page.title == t("drivers.report.title", lang)
    assert page.sentences[:len(tx.sentences(r, lang))] == tx.sentences(r, lang)
    name = city["name_zh"] if lang == "zh" else city["name_en"]
    m = tx.matrix(r, dv.performance(wh, f, "csat"))
    assert tx.fix_first(m, lang, name) in page.sentences and page.sentences[-1] == tx.method_line(r, lang)
    assert len(charts) == 2 and all(c.png == b"png" for c in charts)
    assert charts[1].title.endswith(t("drivers.unit_vs_org", lang, unit=name))
    assert drawn[0].data[0].x[-1] == pytest.approx(100 * r.importance["importance"].iloc[0])


def test_no_surveys_no_charts(duckdb_url: str) -> None:
    wh = Warehouse.open(duckdb_url)
    page, charts, _ = _page(wh, Filters(wh.data_span()[0], wh.data_span()[0]), "en")
    assert page.sentences[0].startswith("Key drivers cannot be computed: only 0 usable") and charts == []


def test_registered_in_the_pack() -> None:
    assert ("drivers", drivers_section) in build.SECTIONS
