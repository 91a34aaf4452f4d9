"""The real app in a real browser: Debian's Chromium driven by Playwright against `streamlit run`.

Waits for ``[data-testid=stApp][data-test-script-state=notRunning]`` after each interaction and finds
charts by their title text (old and new elements can coexist during a rerun).
"""

from __future__ import annotations

import io
import re

import pytest

from metrics.model.i18n import t
from servicewatch.ui import SECTION_KEY

IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
PAGES = ("", "Satisfaction", "Complaints", "SLA", "Churn", "Regions", "Data")


def settle(page, ms: int = 800) -> None:
    page.wait_for_selector(IDLE, timeout=120_000)
    page.wait_for_timeout(ms)
    page.wait_for_selector(IDLE, timeout=120_000)


def open_page(page, base: str, path: str, query: str = "lang=en") -> None:
    page.goto(f"{base}/{path}?{query}", timeout=120_000)
    settle(page, 1500)


@pytest.mark.parametrize("path", PAGES, ids=[p or "Overview" for p in PAGES])
def test_every_page_loads_without_exception(page, app_server: str, path: str) -> None:
    open_page(page, app_server, path)
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.locator("h1").first.inner_text().strip()
    if path not in ("Data",):
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        assert page.locator(".js-plotly-plot").count() >= 1


def test_tier_filter_rerenders_and_reaches_url(page, app_server: str) -> None:
    open_page(page, app_server, "")
    card = page.locator("[data-testid=stMetric]").filter(has_text="CSAT").first
    before = card.locator("[data-testid=stMetricValue]").inner_text()
    tier = page.locator("[data-testid=stSidebar] [data-testid=stMultiSelect]").filter(has_text="Tier")
    tier.evaluate("e => e.scrollIntoView({block: 'center'})")  # at the sidebar's foot its list opens off-screen
    tier.click()
    page.get_by_role("option", name="Diamond").click()
    page.keyboard.press("Escape")
    settle(page, 1500)
    assert "tier=diamond" in page.url
    after = page.locator("[data-testid=stMetric]").filter(has_text="CSAT").first.locator(
        "[data-testid=stMetricValue]").inner_text()
    assert after != before
    # the link reproduces the view
    page.goto(page.url)
    settle(page, 1500)
    again = page.locator("[data-testid=stMetric]").filter(has_text="CSAT").first.locator(
        "[data-testid=stMetricValue]").inner_text()
    assert again == after


def test_section_switch_draws_the_section_and_reaches_url(page, app_server: str) -> None:
    open_page(page, app_server, "SLA")
    assert page.get_by_role("heading", name=t("page.sla.compliance_header", "en")).count() == 1
    page.locator(f".st-key-{SECTION_KEY} button").filter(has_text=t("section.breaches", "en")).click()
    settle(page, 1500)
    assert "section=breaches" in page.url
    assert page.get_by_role("heading", name=t("page.sla.breaches_header", "en")).count() == 1
    assert page.get_by_role("heading", name=t("page.sla.compliance_header", "en")).count() == 0
    assert page.locator("[data-testid=stDataFrame]").count() >= 1
    # the link opens the same section in a new session
    page.goto(page.url)
    settle(page, 1500)
    assert page.get_by_role("heading", name=t("page.sla.breaches_header", "en")).count() == 1


def test_language_switch_turns_page_chinese(page, app_server: str) -> None:
    open_page(page, app_server, "Satisfaction")
    assert page.locator("h1").first.inner_text().strip() == t("nav.satisfaction", "en")
    page.locator("[data-testid=stSidebar]").get_by_text("中文", exact=True).click()
    settle(page, 1500)
    assert page.locator("h1").first.inner_text().strip() == t("nav.satisfaction", "zh")
    assert "lang=zh" in page.url


def test_png_export_downloads_a_valid_image(page, app_server: str) -> None:
    from PIL import Image

    open_page(page, app_server, "Satisfaction")
    button = page.get_by_role("button", name=re.compile(t("export.png", "en"))).first
    button.scroll_into_view_if_needed()
    with page.expect_download(timeout=120_000) as info:
        button.click()
    data = open(info.value.path(), "rb").read()
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size[0] >= 1200
    assert len(set(image.convert("L").tobytes())) > 10  # not blank


def test_drill_down_lists_complaints(page, app_server: str) -> None:
    open_page(page, app_server, "Complaints")
    chart = page.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    chart.locator("g.point").nth(0).click(force=True)
    settle(page, 2000)
    rows = page.locator("[data-testid=stDataFrame]")
    assert rows.count() >= 1
    assert page.get_by_role("button", name=t("export.download_list", "en")).count() >= 1
