"""Hover-only words in the page's language (issue 15 item 6): plotly's toolbar titles come from the
catalogue through a locale in the chart's config (servicewatch.screen.plot_config), trimmed to zoom, pan
and reset axes; Streamlit's "Fullscreen" button and the selects' "No results" are said in Chinese too."""

from __future__ import annotations

from test_browser_screens import _settle

from metrics.model.i18n import t
from servicewatch.screen import MODEBAR_REMOVE, PLOTLY_WORDS, plot_config

TITLES = "() => [...document.querySelectorAll('.js-plotly-plot .modebar-btn')].map(b => b.getAttribute('data-title'))"
AFTER = """(title) => { const b = document.querySelector(`.js-plotly-plot .modebar-btn[data-title="${title}"]`);
  return b ? getComputedStyle(b, '::after').content : null; }"""


def test_plot_config_by_hand() -> None:
    zh = plot_config("zh")
    assert zh["locale"] == "zh-CN" and zh["displaylogo"] is False
    assert zh["locales"]["zh-CN"]["dictionary"]["Zoom"] == t("plot.modebar.zoom", "zh") == "框选放大"
    assert set(zh["locales"]["zh-CN"]["dictionary"]) == set(PLOTLY_WORDS)
    assert "toImage" in zh["modeBarButtonsToRemove"] and "zoom2d" not in zh["modeBarButtonsToRemove"]
    assert plot_config("en")["locales"]["en-US"]["dictionary"]["Reset axes"] == "Reset axes"


def test_chart_toolbar_is_chinese(browser, app_server: str) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{app_server}/Satisfaction?lang=zh", timeout=120_000)
        _settle(page)
        chart = page.locator(".js-plotly-plot").first
        chart.wait_for(timeout=60_000)
        chart.hover()
        page.wait_for_timeout(300)
        titles = set(page.evaluate(TITLES))
        wanted = {t(f"plot.modebar.{k}", "zh") for k in ("zoom", "pan", "reset_axes")}
        assert wanted <= titles, titles
        english = {x for x in titles if x and x.isascii()}
        assert english <= {"Fullscreen"}, english  # Streamlit's own button: its title drawn by our CSS
        assert page.evaluate(AFTER, "Fullscreen") == f'"{t("plot.modebar.fullscreen", "zh")}"'
        assert not titles & {"Download plot as a png", "Autoscale", "Zoom in", "Zoom out"}, titles
        page.goto(f"{app_server}/Data?lang=zh", timeout=120_000)  # the uploader's words, drawn by CSS too
        _settle(page)
        button = "[data-testid=stFileUploaderDropzone] button [data-testid=stMarkdownContainer] p"
        shown = page.evaluate(f"() => getComputedStyle(document.querySelector('{button}'), '::after').content")
        assert shown == f'"{t("screen.upload_browse", "zh")}"', shown
        assert len(MODEBAR_REMOVE) == len(set(MODEBAR_REMOVE))
    finally:
        context.close()


def test_select_without_match_says_so_in_chinese(browser, app_server: str) -> None:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    try:
        page = context.new_page()
        page.goto(f"{app_server}/Regions?lang=zh", timeout=120_000)
        _settle(page)
        box = page.locator("[data-testid=stMain] [data-testid=stSelectbox]").first
        box.click()
        page.keyboard.type("zzzz")
        words = t("screen.no_results", "zh")
        try:
            page.wait_for_function("(w) => document.body.innerText.includes(w)", arg=words, timeout=5_000)
        finally:
            text = page.evaluate("document.body.innerText")
        assert words in text and "No results" not in text
    finally:
        context.close()
