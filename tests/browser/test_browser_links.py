"""A link is the view (issue 15 item 1) in a real browser: a page choice changed by a click reaches the
address bar as one history entry, the copied address opened in a fresh browser shows the same figures
(read from the page's plotly charts and compared with the engine), and Back returns to the previous
choice in one press; a page switch and Back again are one entry each."""

from __future__ import annotations

import pytest

from metrics.model.filters import Filters, preset_period
from metrics.model.i18n import metric_label, t
from metrics.query.warehouse import Warehouse

IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
# the plotly graph whose title (tags removed) starts with ``start``
FIND = """[...document.querySelectorAll('.js-plotly-plot')].find(g => (((g.layout || {}).title || {}).text || '')
    .replace(/<[^>]*>/g, '').startsWith(start))"""


def settle(page, ms: int = 1200) -> None:
    """Wait for the app to be idle, ``ms``, idle again, and for the address to stop changing (the first
    run of a bare link completes it in place; under load that can come after the first idle)."""
    page.wait_for_selector(IDLE, timeout=120_000)
    page.wait_for_timeout(ms)
    page.wait_for_selector(IDLE, timeout=120_000)
    last = page.url
    for _ in range(40):
        page.wait_for_timeout(500)
        if page.url == last:
            break
        last = page.url
        page.wait_for_selector(IDLE, timeout=120_000)


def chart(page, title_start: str) -> dict[str, float]:
    """The bars (category -> value) of the first chart whose title starts with ``title_start``, read
    from the plotly graph in the page (its ``data``, what the browser draws)."""
    page.wait_for_function(f"(start) => {FIND} !== undefined", arg=title_start, timeout=60_000)
    return page.evaluate(f"""(start) => {{
        const g = {FIND};
        const d = g.data[0];
        return Object.fromEntries(d.customdata.map((c, i) => [Array.isArray(c) ? c[0] : c, d.x[i]]));
    }}""", title_start)


def history_length(page) -> int:
    return page.evaluate("window.history.length")


@pytest.fixture(scope="module")
def engine_by_channel(duckdb_url: str) -> dict[str, dict[str, float]]:
    """CSAT (in %, as the chart plots shares) and NPS (points) per channel for the page's opening filters
    (last quarter), from the engine."""
    wh = Warehouse.open(duckdb_url)
    start, end = preset_period("last_quarter", wh.as_of())
    f = Filters(start=start, end=end)
    return {m: (wh.metric(m, f, by=("channel",)).set_index("channel")["value"] * scale).to_dict()
            for m, scale in (("csat", 100), ("nps", 1))}


def test_satisfaction_metric_link_back_and_forward(browser, page, app_server: str, engine_by_channel) -> None:
    csat, nps = metric_label("csat", "en"), metric_label("nps", "en")
    page.goto(f"{app_server}/Satisfaction?lang=en", timeout=120_000)
    settle(page, 2000)
    opened_at = page.url
    assert chart(page, csat) == pytest.approx(engine_by_channel["csat"])
    entries = history_length(page)

    page.locator("[data-testid=stRadio]").filter(has_text=t("page.satisfaction.measure", "en")).get_by_text(
        nps, exact=True).click()
    settle(page)
    assert "metric=nps" in page.url
    assert history_length(page) == entries + 1  # one entry for one change
    shown = chart(page, nps)
    assert shown == pytest.approx(engine_by_channel["nps"])
    assert shown != pytest.approx(engine_by_channel["csat"])
    link = page.url

    # the copied address in a fresh browser (no cookies, no session): the same choice and figures
    fresh = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    try:
        other = fresh.new_page()
        other.goto(link, timeout=120_000)
        settle(other, 2000)
        assert chart(other, nps) == pytest.approx(shown)
        checked = other.locator("[data-testid=stRadio]").filter(has_text=t("page.satisfaction.measure", "en")) \
            .locator("input:checked")
        assert checked.count() == 1
        assert checked.locator("xpath=ancestor::label[1]").inner_text().strip() == nps
        assert "metric=nps" in other.url
        assert other.locator("[data-testid=stAlert]").filter(has_text="metric=").count() == 0  # nothing dropped
    finally:
        fresh.close()

    # Back once: the previous choice (CSAT) and its address; Forward once: NPS again
    page.go_back()
    settle(page, 2000)
    assert page.url == opened_at
    assert chart(page, csat) == pytest.approx(engine_by_channel["csat"])
    page.go_forward()
    settle(page, 2000)
    assert page.url == link
    assert chart(page, nps) == pytest.approx(engine_by_channel["nps"])

    # a reload reproduces the view
    page.reload()
    settle(page, 2000)
    assert page.url == link
    assert chart(page, nps) == pytest.approx(engine_by_channel["nps"])


def test_page_switch_is_one_entry_and_keeps_each_pages_choices(page, app_server: str) -> None:
    regions_metric = metric_label("complaint_rate", "en")
    page.goto(f"{app_server}/Satisfaction?lang=en&metric=nps", timeout=120_000)
    settle(page, 2000)
    satisfaction_at = page.url
    entries = history_length(page)
    page.locator("[data-testid=stSidebarNav], [data-testid=stSidebar]").get_by_role(
        "link", name=t("nav.regions", "en")).first.click()
    settle(page, 2000)
    assert "/Regions" in page.url and "metric=" not in page.url  # Satisfaction's choice stays there
    assert history_length(page) == entries + 1
    box = page.locator("[data-testid=stSelectbox]").filter(has_text=t("page.regions.metric", "en"))
    box.click()
    page.get_by_role("option", name=regions_metric, exact=True).click()
    settle(page)
    assert "metric=complaint_rate" in page.url
    assert history_length(page) == entries + 2
    assert page.get_by_text(t("page.regions.overall", "en")).count() >= 1
    page.go_back()
    settle(page, 2000)
    assert "/Regions" in page.url and "metric=" not in page.url
    page.go_back()
    settle(page, 2000)
    assert page.url == satisfaction_at
    assert chart(page, metric_label("nps", "en"))
