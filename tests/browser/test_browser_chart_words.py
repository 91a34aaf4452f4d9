"""Hover-only words in the page's language (issue 15 item 6): plotly's toolbar titles come from the
catalogue through a locale in the chart's config (servicewatch.screen.plot_config), trimmed to zoom, pan
and reset axes; Streamlit's "Fullscreen" button and the selects' "No results" are said in Chinese too; so
are a table's toolbar (its buttons' labels and tooltips), its column menu and the menu's Format submenu
(servicewatch.screen.GRID_WORDS), and the grid has no CSV download of its own (client.disableDataExport)."""

from __future__ import annotations

import json
import re

from browser_pages import english_page, hover_first, open_settled
from screen_checks import VISIBLE_TEXT_JS, english_words

from metrics.model.i18n import t
from servicewatch.screen import (
    _SCRIPT,
    GRID_SCOPE,
    GRID_WORDS,
    MODEBAR_REMOVE,
    PLOTLY_WORDS,
    plot_config,
    streamlit_words,
)

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
    with english_page(browser, 1366) as page:
        open_settled(page, f"{app_server}/Satisfaction?lang=zh")
        hover_first(page, ".js-plotly-plot")
        page.wait_for_timeout(300)
        titles = set(page.evaluate(TITLES))
        wanted = {t(f"plot.modebar.{k}", "zh") for k in ("zoom", "pan", "reset_axes")}
        assert wanted <= titles, titles
        english = {x for x in titles if x and x.isascii()}
        assert english <= {"Fullscreen"}, english  # Streamlit's own button: its title drawn by our CSS
        assert page.evaluate(AFTER, "Fullscreen") == f'"{t("plot.modebar.fullscreen", "zh")}"'
        assert not titles & {"Download plot as a png", "Autoscale", "Zoom in", "Zoom out"}, titles
        open_settled(page, f"{app_server}/Data?lang=zh")  # the uploader's words, drawn by CSS too
        button = "[data-testid=stFileUploaderDropzone] button [data-testid=stMarkdownContainer] p"
        shown = page.evaluate(f"() => getComputedStyle(document.querySelector('{button}'), '::after').content")
        assert shown == f'"{t("screen.upload_browse", "zh")}"', shown
        assert len(MODEBAR_REMOVE) == len(set(MODEBAR_REMOVE))


def test_select_without_match_says_so_in_chinese(browser, app_server: str) -> None:
    with english_page(browser, 1366) as page:
        open_settled(page, f"{app_server}/Regions?lang=zh")
        box = page.locator("[data-testid=stMain] [data-testid=stSelectbox]").first
        box.click()
        page.keyboard.type("zzzz")
        words = t("screen.no_results", "zh")
        try:
            page.wait_for_function("(w) => document.body.innerText.includes(w)", arg=words, timeout=5_000)
        finally:
            text = page.evaluate("document.body.innerText")
        assert words in text and "No results" not in text


GRID_BUTTONS = """() => [...document.querySelectorAll('[data-testid=stElementToolbarButton] button')]
    .filter(b => b.closest('[data-testid=stDataFrame]') || b.closest('.stElementToolbar'))
    .map(b => b.getAttribute('aria-label'))"""


def test_streamlit_words_by_hand() -> None:
    """Every grid word has a Chinese and an English text; "Download as CSV" is not translated but switched off."""
    from pathlib import Path

    words = streamlit_words("zh")
    assert set(words["grid"]) == set(GRID_WORDS) and words["any"] == {"No results": t("screen.no_results", "zh")}
    assert all(not english_words([said]) for said in words["grid"].values()), words["grid"]
    assert "Download as CSV" not in GRID_WORDS
    # the page's script as Streamlit draws it: its sanitiser drops a script whose text holds "<" and a letter
    script = _SCRIPT % {
        "px": 1024,
        "locale": '"zh-CN"',
        "words": json.dumps(words, ensure_ascii=False),
        "scope": json.dumps(GRID_SCOPE),
    }
    assert not re.search(r"<[/\w!]", script.split("<script>")[1].split("</script>")[0])
    config = Path(__file__).parents[2] / ".streamlit" / "config.toml"
    assert "disableDataExport = true" in config.read_text(encoding="utf-8")


def test_grid_toolbar_and_column_menu_are_chinese(browser, app_server: str) -> None:
    """A table's toolbar (hover), a button's tooltip and a column's menu with its Format submenu say their
    words in Chinese in an English browser, and the grid has no CSV download of its own."""
    with english_page(browser, 1366) as page:
        open_settled(page, f"{app_server}/Regions?lang=zh")
        grid = hover_first(page, "[data-testid=stDataFrame]")
        toolbar = page.locator("[data-testid=stElementToolbar]").filter(has=page.locator("button")).first
        toolbar.wait_for(timeout=10_000)
        labels = [x for x in page.evaluate(GRID_BUTTONS) if x]
        wanted = {t("grid.toolbar.columns", "zh"), t("grid.toolbar.search", "zh"), t("plot.modebar.fullscreen", "zh")}
        assert wanted <= {x.split(": ")[0] for x in labels}, labels
        assert not english_words(labels), labels
        assert not [x for x in labels if "CSV" in x or x.startswith(("Download", "下载"))], labels
        # a button's tooltip (shown after a second's hover)
        page.locator("[data-testid=stElementToolbarButton] button").first.hover()
        tip = page.locator("[data-testid=stTooltipContent]").last
        tip.wait_for(timeout=5_000)
        assert tip.inner_text().strip() in wanted, tip.inner_text()
        # a column's menu: a click on the first column's header (the grid draws it on a canvas)
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 30, box["y"] + 15)
        menu = page.locator("[data-testid=stDataFrameColumnMenu]")
        menu.wait_for(timeout=10_000)
        text = menu.inner_text()
        for key in ("sort_asc", "sort_desc", "format", "hide"):
            assert t(f"grid.menu.{key}", "zh") in text, text
        assert english_words(page.evaluate(VISIBLE_TEXT_JS)) == {}  # the page with the menu open (no icon names)
        titles = page.evaluate(
            "() => [...document.querySelectorAll('[data-testid=stDataFrameColumnMenu] [aria-label]')]"
            ".map(e => e.getAttribute('aria-label'))"
        )
        assert t("grid.menu.copy_name", "zh") in titles, titles
        formats = page.get_by_role("menuitem", name=t("grid.menu.format", "zh"))
        if formats.count():  # a numeric column: the Format submenu
            formats.first.hover()
            sub = page.locator("[data-testid=stDataFrameColumnFormattingMenu]")
            sub.wait_for(timeout=5_000)
            assert t("grid.format.percent", "zh") in sub.inner_text(), sub.inner_text()
            assert english_words(page.evaluate(VISIBLE_TEXT_JS)) == {}
