"""Any screen in the English UI too (issue 15 item 5): every page and section at 1024×768 with
lang=en on the demo with a fitted churn model (so the risk model and the at-risk list are drawn), nothing
cut off (:data:`screen_checks.CUT_OFF_JS`: cards, buttons, every grid's headers and cells, a scrolling
grid's pinned key column); and the Data page's import panel after an upload (its check report:
reasons, first rejected rows, the mapping form), in Chinese and in English, at 1366 and 1024 px."""

from __future__ import annotations

import pytest
from browser_pages import cut_off_lines, english_page, open_settled, settle, visit_pages
from screen_checks import VISIBLE_TEXT_JS, english_words
from test_browser_screens import PAGES

from metrics.model.i18n import t

# a tickets file as a Chinese source writes it, with two rows the check rejects (an unknown priority, a date
# that is no date): the report's tables, the mapping form and the rejects download are all drawn
UPLOAD = (
    "工单号,客户编号,受理渠道,工单类型,问题类别,优先级,受理时间\n"
    "40000001,1,客服热线,投诉,计费,P1,2026/3/5 10:00\n"
    "40000002,1,客服热线,抱怨,计费,P9,2026/3/5 10:00\n"
    "40000003,1,客服热线,投诉,计费,P2,昨天\n"
).encode("gbk")


def _cut_off(page, where: str, problems: list[str]) -> None:
    assert page.locator("[data-testid=stException]").count() == 0, where
    problems += cut_off_lines(page, where)


def test_every_english_page_fits_1024(browser, fitted_app: str) -> None:
    with english_page(browser, 1024) as page:
        problems: list[str] = []
        visit_pages(page, fitted_app, PAGES, "en", lambda p, where: _cut_off(p, where, problems))
        assert not problems, "\n".join(problems)


def _upload(page, base: str, lang: str, width: int) -> None:
    """The Data page in ``lang`` with the tickets file uploaded and its check report drawn."""
    open_settled(page, f"{base}/Data?lang={lang}")
    before = page.locator("[data-testid=stDataFrame]").count()
    box = page.locator(".st-key-sw_import_table [data-testid=stSelectbox]")
    box.scroll_into_view_if_needed()
    box.click()
    page.get_by_role("option", name=t("db.table.tickets", lang), exact=True).click()
    settle(page)
    uploader = page.locator("[data-testid=stFileUploader]").first
    uploader.locator("input[type=file]").set_input_files({"name": "工单.csv", "mimeType": "text/csv", "buffer": UPLOAD})
    page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid=stDataFrame]').length > {before}", timeout=60_000
    )
    settle(page, 800)  # the check report's tables (reasons, first rejected rows) drawn


@pytest.mark.parametrize("width", [1366, 1024])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_import_panel_after_an_upload_fits(browser, fitted_app: str, lang: str, width: int) -> None:
    with english_page(browser, width) as page:
        problems: list[str] = []
        _upload(page, fitted_app, lang, width)
        assert page.get_by_text(t("page.data.import.commit", lang, n="1", table=t("db.table.tickets", lang))).count()
        _cut_off(page, f"Data › import ({lang}, {width} px)", problems)
        assert not problems, "\n".join(problems)


def test_import_panel_after_an_upload_is_chinese(browser, fitted_app: str) -> None:
    with english_page(browser, 1366) as page:
        _upload(page, fitted_app, "zh", 1366)
        assert english_words(page.evaluate(VISIBLE_TEXT_JS)) == {}
