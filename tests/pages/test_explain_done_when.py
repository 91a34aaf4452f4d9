"""Issue 17's "Done when", end to end on the demo at ``make demo``'s size (20,000 customers, seed 7): a
manager opening the Overview for the last quarter in Chinese sees on the cards that Dongjiang's complaint
rate moved the province (rate effect), that reopening and resolution time drive CSAT most (the drivers
the demo plants, docs/drivers.md) and whether the SLA target will be met this quarter; the meeting pack
built by the report builder for the same filters says the same: the same group and effect, the same
drivers in the same order from the same model, the same verdict and chance.

Also: the Overview's CSAT card and the pack's drivers page use one model for the same filters, a tier
filter included (``drivers.organisation_filters``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from page_helpers import default_filters, open_page, plain
from streamlit.testing.v1 import AppTest

from metrics import report
from metrics.analysis import decompose as dc
from metrics.analysis import drivers as dv
from metrics.analysis import drivers_text as tx
from metrics.analysis import forecast as fcast
from metrics.model.filters import Filters
from metrics.model.i18n import metric_label, t
from metrics.present import explain_text
from metrics.present import forecast_text as ft
from metrics.query.warehouse import Warehouse
from metrics.report.context import Ctx
from metrics.report.drivers_section import drivers_section
from metrics.report.model import Pack

PLANTED = ("reopened", "resolution_hours")  # metrics.demo.surveys: the two strongest drivers of CSAT


@pytest.fixture(scope="module")
def demo_url(demo_frames_20k: dict, tmp_path_factory: pytest.TempPathFactory) -> str:
    from metrics.ingest.load import replace_all

    url = f"duckdb:///{tmp_path_factory.mktemp('demo20k') / 'servicewatch.duckdb'}"
    replace_all(url, demo_frames_20k)
    return url


@pytest.fixture(scope="module")
def overview(demo_url: str) -> Iterator[AppTest]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SERVICEWATCH_DB", demo_url)
        yield open_page("app.py", {"lang": "zh", "preset": "last_quarter"})


@pytest.fixture(scope="module")
def pack(demo_url: str) -> Pack:
    wh = Warehouse.open(demo_url)
    return report.build_pack(wh, default_filters(wh), "zh", render=lambda fig: b"png")


def _page(pack: Pack, title: str) -> list[str]:
    pages = [p for p in pack.pages if p.title == title]
    assert len(pages) == 1, [p.title for p in pack.pages]
    return pages[0].sentences


def _card_drivers(line: str) -> list[str]:
    """The drivers a card line names, in its order (the line: "本期影响最大的服务体验：a、b、c（…）")."""
    items = line.split("：", 1)[1]
    names = [d.name for d in dv.DRIVERS if tx.name(d.name, "zh") in items]
    return sorted(names, key=lambda d: items.index(tx.name(d, "zh")))


def test_the_overview_answers_the_three_questions_and_the_pack_says_the_same(
        overview: AppTest, pack: Pack, demo_url: str) -> None:
    wh = Warehouse.open(demo_url)
    f = default_filters(wh)
    captions = [plain(c.value) for c in overview.caption]

    # 1. what moved the province: Dongjiang's own complaint rate
    best = dc.explain(wh, "complaint_rate", f)[0]
    card = explain_text.card_sentence(best, "zh")
    assert card == "主要来自东江市（自身变化）" and card in captions
    explained = _page(pack, t("explain.title", "zh"))
    assert explain_text.sentence(best, "zh") in explained
    assert any("东江市（自身变化）" in s and s.startswith(metric_label("complaint_rate", "zh")) for s in explained)

    # 2. what drives CSAT: the planted reopening and resolution time, first; the pack's model is the card's
    r = dv.key_drivers(wh, dv.organisation_filters(f), "csat")
    line = tx.card_line(r, "zh")
    assert line in captions
    named = _card_drivers(line)
    assert set(named[:2]) == set(PLANTED), line
    drivers_page = _page(pack, t("drivers.report.title", "zh"))
    top = drivers_page[0]
    assert top == tx.sentences(r, "zh")[0]
    assert [d for d in sorted(named, key=lambda d: top.index(tx.name(d, "zh")))] == named  # same order

    # 3. where the SLA is heading this quarter: the verdict and its chance, on the card and in the pack
    fc = fcast.forecast(wh, "sla_resolution_compliance", f)
    assert fc.reason is None
    sla_line = ft.card_line(fc, "zh", named=True)
    assert sla_line in captions and "的概率为" in sla_line
    verdict_and_chance = sla_line.split("：", 1)[1]  # "{period}：{verdict}，{chance}"
    forecast_page = [s for p in pack.pages for s in p.sentences if s == ft.period_sentence(
        fc, metric_label("sla_resolution_compliance", "zh"), "zh")]
    assert forecast_page and verdict_and_chance in forecast_page[0]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_card_and_pack_use_one_drivers_model_under_a_tier_filter(
        duckdb_url: str, monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    """A tier filter narrows the model the card, the Satisfaction page and the pack share (it used to
    narrow the pack's and not the card's); a region does not (the unit is compared against it)."""
    monkeypatch.setenv("SERVICEWATCH_DB", duckdb_url)
    wh = Warehouse.open(duckdb_url)
    f = default_filters(wh, tiers=("gold", "silver", "standard"))
    r = dv.key_drivers(wh, dv.organisation_filters(f), "csat")
    assert r.reason is None and r.n < dv.key_drivers(wh, default_filters(wh), "csat").n
    at = open_page("app.py", {"lang": lang, "preset": "last_quarter", "tier": "gold,silver,standard"})
    assert tx.card_line(r, lang) in [plain(c.value) for c in at.caption]
    regions = tuple(int(i) for i in wh.regions().query("level == 'city'")["region_id"].head(1))
    ctx = Ctx.open(wh, f.with_(regions=regions), lang, render=lambda fig: b"png")
    try:
        assert drivers_section(ctx)[0].sentences[0] == tx.sentences(r, lang)[0]
    finally:
        ctx.renderer.shutdown(wait=False)
    assert dv.organisation_filters(f.with_(regions=regions, survey_kinds=("relationship",), outlets=(1,))) == f
    assert isinstance(dv.organisation_filters(f), Filters)
