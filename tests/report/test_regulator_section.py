"""The meeting pack's regulator page (metrics.report.regulator_section, issue 20) on the small hand-made
set of tests/engine/regulator_frames.py, in Chinese and English: the definition, the base and count
point, the hand figures (4 appeals on 11 users in 2026Q3), the appeal-risk counts and MIIT's table by its
categories; registered as a section of the pack; left out of a database without ticket sources."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest
from section_run import run_section

from metrics.model.filters import Filters
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse
from metrics.report.build import SECTIONS
from metrics.report.regulator_section import regulator_section

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from regulator_frames import quarter_in_progress_base, regulator_db  # noqa: E402


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> str:
    return regulator_db(tmp_path_factory.mktemp("regpack") / "r.duckdb")


def _pages(url: str, f: Filters, lang: str) -> list:
    """The regulator section's pages for ``f`` in ``lang`` on the database at ``url``."""
    return run_section(regulator_section, Warehouse.open(url), f, lang)[0]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_page_states_definition_base_and_hand_figures(small: str, lang: str) -> None:
    pages = _pages(small, Filters(date(2026, 7, 1), date(2026, 9, 30), as_of=date(2026, 9, 30)), lang)
    page, table = pages[0], pages[1]
    assert page.title == t("page.regulator.title", lang)
    assert page.sentences[0] == t("regulator.definition.miit", lang)
    assert "2026-09-30" in page.sentences[1] and t("user_base_kind.customers", lang) in page.sentences[1]
    assert "363,636.4" in page.sentences[2] and "2026Q3" in page.sentences[2]
    assert t("regulator.risk.counts", lang, day="2026-09-30", past=1, soon=1, wait=15, soon_days=3) in page.sentences
    rows = {r[0]: r for r in table.table.rows}
    assert rows[t("regulator.col.total", lang)][1] == "4"
    assert rows[t("regulator_category.service_dispute", lang)][1] == "2"
    assert "regulator" in dict(SECTIONS)
    # the oldest complaints at risk with their owners: 901 its account manager, 902 its handler
    risk = pages[-1]
    assert risk.title == t("regulator_pack.risk_title", lang, n=2) and risk.table is not None
    owners = {r[0]: (r[3], r[4]) for r in risk.table.rows}
    assert owners == {"901": ("张经理", t("appeal_owner.account_manager", lang)),
                      "902": ("王晓燕", t("appeal_owner.handler", lang))}


def test_a_viewers_pack_lists_no_complaint(small: str) -> None:
    from metrics.access.users import Scope

    f = Filters(date(2026, 7, 1), date(2026, 9, 30), as_of=date(2026, 9, 30),
                scope=Scope("v", aggregates_only=True))
    pages = _pages(small, f, "en")
    assert pages and not any(p.title == t("regulator_pack.risk_title", "en", n=2) for p in pages)
    counts = t("regulator.risk.counts", "en", day="2026-09-30", past=1, soon=1, wait=15, soon_days=3)
    assert counts in pages[0].sentences  # the counts stay


def test_left_out_without_sources(tmp_path) -> None:
    url = regulator_db(tmp_path / "old.duckdb", drop=("source",))
    assert _pages(url, Filters(date(2026, 7, 1), date(2026, 9, 30)), "en") == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_category_not_in_use_then_is_said_not_compared(small: str, lang: str) -> None:
    """The pack of 2022Q1: 服务争议 did not exist in 2021Q4 or 2021Q1 (MIIT's 2021→2022 switch)."""
    pages = _pages(small, Filters(date(2022, 1, 1), date(2022, 3, 31), as_of=date(2022, 3, 31)), lang)
    page, table = pages[0], pages[1]
    name = t("regulator_category.service_dispute", lang)
    assert t("regulator.not_in_use_line", lang, quarter="2021Q4", when=t("regulator.when_prev", lang),
             categories=name) in page.sentences
    rows = {r[0]: r for r in table.table.rows}
    prev = table.table.columns.index(t("regulator.col.rate_prev", lang))
    assert rows[name][prev] == t("regulator.not_in_use", lang)
    assert rows[name][prev + 1] == "—"  # no change from 0


def test_a_quarter_in_progress_says_which_month_ends_the_base_has(tmp_path) -> None:
    url = regulator_db(tmp_path / "ub.duckdb", user_base=quarter_in_progress_base())
    from metrics.analysis import regulator as rg
    from metrics.analysis import regulator_quarters as rq
    from metrics.present import regulator_text as rt

    f = Filters(date(2026, 10, 1), date(2026, 11, 30), as_of=date(2026, 11, 30))
    fig = rg.rates(Warehouse.open(url), f, rq.Quarter.of(f.end), "miit", base="mobile", point="average")
    assert fig.missing == [date(2026, 12, 1)] and rq.Quarter.of(f.end) == rq.Quarter(2026, 4)
    line = rt.denominator(fig, "en")
    assert t("regulator.denominator_missing", "en", missing="2026-12-31", months="2026-10-31, 2026-11-30") in line
