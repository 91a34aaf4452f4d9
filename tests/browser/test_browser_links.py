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


# -- one saved link per page, opened in a fresh browser context (the ``page`` fixture's own context) ------
TITLES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(g => ({
    title: (((g.layout || {}).title || {}).text || '').replace(/<[^>]*>/g, ''),
    cats: [...new Set((g.data || []).flatMap(d => (d.customdata || []).map(c => String(Array.isArray(c) ? c[0] : c))))],
    names: (g.data || []).map(d => d.name || '')}))"""


def _charts(page, title_start: str) -> list[dict]:
    """The plotly charts (title, categories, trace names) of the page whose title starts with ``title_start``."""
    page.wait_for_function("(start) => [...document.querySelectorAll('.js-plotly-plot')].some(g => "
                           "(((g.layout || {}).title || {}).text || '').replace(/<[^>]*>/g, '').startsWith(start))",
                           arg=title_start, timeout=90_000)
    return [c for c in page.evaluate(TITLES) if c["title"].startswith(title_start)]


def _engine_values(duckdb_url: str, metric_id: str, dim: str, **narrow) -> set[str]:
    wh = Warehouse.open(duckdb_url)
    start, end = preset_period("last_quarter", wh.as_of())
    df = wh.metric(metric_id, Filters(start=start, end=end, **narrow), by=(dim,))
    return {str(v) for v in df[dim].dropna()}


LINKS = {
    "regions-metric": ("/Regions?lang=en&metric=complaint_rate", lambda: f"{metric_label('complaint_rate', 'en')} · "),
    "complaints-dim": ("/Complaints?lang=en&section=rate&dim=category",
                       lambda: f"{metric_label('complaint_rate', 'en')} · {t('page.complaints.dim.category', 'en')}"),
    "sla-cut": ("/SLA?lang=en&section=compliance&cut=priority",
                lambda: t("page.sla.by_title", "en", metric=metric_label("sla_resolution_compliance", "en"),
                          dim=t("page.tables.priority", "en"))),
    "churn-retention-dim": ("/Churn?lang=en&section=retention&dim=segment",
                            lambda: t("churn.retention_title", "en", dim=t("filter.segment", "en"))),
}


@pytest.mark.parametrize("case", list(LINKS))
def test_a_saved_link_opens_its_view_in_a_fresh_browser(case: str, page, app_server: str, duckdb_url: str) -> None:
    """Regions metric, Complaints dimension, SLA cut, Churn retention dimension: the link alone (a fresh
    context: no cookies, no session) opens the chart of that choice, the link keeps it, nothing dropped."""
    path, title = LINKS[case]
    page.goto(f"{app_server}{path}", timeout=120_000)
    settle(page, 2000)
    found = _charts(page, title())
    assert found, [c["title"] for c in page.evaluate(TITLES)]
    query = path.split("?", 1)[1]
    for part in query.split("&"):
        if not part.startswith("lang="):
            assert part in page.url, (part, page.url)
    assert page.locator("[data-testid=stAlert]").filter(has_text="ignored").count() == 0  # nothing dropped
    if case == "complaints-dim":  # the bars are the categories the engine has for the period
        assert set(found[0]["cats"]) == _engine_values(duckdb_url, "complaint_rate", "category", kinds=("complaint",))
    if case == "sla-cut":
        assert set(found[0]["cats"]) <= _engine_values(duckdb_url, "sla_resolution_compliance", "priority")
        assert len(found[0]["cats"]) >= 2
    if case == "churn-retention-dim":  # one curve (and its band) per segment
        names = {n for n in found[0]["names"] if n}
        assert names and all(t(f"segment.{s}", "en") in " ".join(names)
                             for s in _engine_values(duckdb_url, "churn_rate", "segment"))


def test_a_complaints_pick_link_opens_its_pick_in_a_fresh_browser(page, app_server: str) -> None:
    """A plotly selection cannot be set from the server: the link's pick is said in words above the
    drill-down, which lists that city's complaints; the clear button drops it from the address."""
    page.goto(f"{app_server}/Complaints?lang=en&section=rate&pick=region:2", timeout=120_000)
    settle(page, 2000)
    said = page.get_by_text("Picked", exact=False)
    said.first.wait_for(timeout=90_000)
    assert "Nanling" in said.first.inner_text()
    assert "Nanling" in page.get_by_text("(at most 1,000 shown", exact=False).first.inner_text()  # the drill-down
    assert "pick=region" in page.url
    page.get_by_role("button", name=t("pick_link.clear", "en")).click()
    settle(page)
    assert "pick=" not in page.url
    assert page.get_by_text(t("export.drill_hint", "en")).count() >= 1
    # a bar clicked in the chart: the pick reaches the address and is said in words
    page.locator(".js-plotly-plot .trace.bars .point path").first.click(force=True)
    settle(page)
    assert "pick=region" in page.url
    assert page.get_by_text("Picked", exact=False).count() >= 1
