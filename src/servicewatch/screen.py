"""Fitting the page to the screen and Streamlit's own words to the language (issue 15 items 5 and 6).

One ``<style>`` and one small script per run, drawn by :func:`servicewatch.ui.page`:

* KPI cards: the value's font shrinks with the window (CSS ``clamp``), the label and the status
  badges wrap instead of ending in "…".
* Buttons: the label never ends in "…" (a chart's download buttons sit in a wrapping row,
  :func:`servicewatch.ui.chart`, so each keeps its whole label).
* The sidebar: collapsed when the app is opened (or reloaded) in a window 1024 px wide or less (a
  laptop, a projector); the reader can open it again and it stays as they left it while they move
  between pages.
* Streamlit's widgets that follow the browser's locale (the date picker's calendar) follow the
  page's language instead.
* The date picker's "Date range / Select..." quick choices (English only) are hidden: the period
  selectbox above it offers the same presets in the page's language.
* Text inputs' "Press Enter to apply" hints (English only) are hidden.
* The file uploader: its English words ("Upload", "200MB per file • CSV") are hidden and said
  again from the catalogue (Streamlit has no parameter for them).
* History (:func:`complete_address`): a link opened without a query string gets the view written
  into its address in place (``history.replaceState``), not as a new entry (Streamlit pushes every
  query string a script sets), so Back leaves the app with one press.
* Charts (:func:`plot_config`): plotly's toolbar keeps the buttons a reader needs (zoom, pan, reset
  axes; the PNG comes from the page's own download buttons) and says their names in the page's
  language — a plotly locale built from the catalogue and handed over in the chart's config (nothing
  loaded at run time); Streamlit's own "Fullscreen" button is renamed by CSS and the selects' "No
  results" by the script below.
* Tables (:data:`GRID_WORDS`): the data grid's toolbar ("Show/hide columns", "Search", "Fullscreen"…),
  its column menu (sorting, pinning, the Format and Statistics submenus), column list and search bar
  speak the page's language — the script below replaces Streamlit's English words (text, ``aria-label``,
  ``title``, ``placeholder``) as they are drawn. The grid's own CSV download is switched off
  (``client.disableDataExport`` in .streamlit/config.toml): it wrote the raw grid without the header
  block and past the audit log; the page's export buttons are the downloads.

Checked in Chromium at 1366×768 and 1024×768: tests/browser/test_browser_screens.py.
"""

from __future__ import annotations

import json

import streamlit as st

from metrics.model.i18n import t

LOCALES = {"zh": "zh-CN", "en": "en-GB"}  # the browser locale Streamlit's widgets get per page language
COLLAPSE_AT_PX = 1024  # a window this wide or narrower opens with the sidebar collapsed

_CSS = """
[data-testid=stMetricValue] [data-testid=stMarkdownContainer] p {
  font-size: clamp(1.3rem, 2.5vw, 2.25rem); white-space: nowrap; }
[data-testid=stMetricValue] [data-testid=stMarkdownContainer],
[data-testid=stMetricLabel] [data-testid=stMarkdownContainer],
[data-testid=stMetricLabel] [data-testid=stMarkdownContainer] p,
[data-testid=stMetricLabel] > div {
  overflow: visible; text-overflow: clip; white-space: normal; }
[data-testid=stMetricLabel] { height: auto; min-height: 1.5rem; }
.stMarkdownBadge { white-space: normal; }
[data-testid=stMain] button [data-testid=stMarkdownContainer],
[data-testid=stSidebar] button [data-testid=stMarkdownContainer] {
  overflow: visible; text-overflow: clip; }
[data-testid=stDateInputQuickSelect] { display: none; }
[data-testid=InputInstructions] { display: none; }
[data-testid=stFileUploaderDropzone] button [data-testid=stMarkdownContainer] p { font-size: 0; }
[data-testid=stFileUploaderDropzone] button [data-testid=stMarkdownContainer] p::after {
  content: %(browse)s; font-size: 0.875rem; }
[data-testid=stFileUploaderDropzoneInstructions] span { font-size: 0; }
[data-testid=stFileUploaderDropzoneInstructions] span::after {
  content: %(limit)s; font-size: 0.75rem; }
.js-plotly-plot .plotly .modebar-btn[data-title="Fullscreen"]::after { content: %(fullscreen)s; }
.js-plotly-plot .plotly .modebar-btn[data-title="Close fullscreen"]::after { content: %(close_fullscreen)s; }
"""

_SCRIPT = """
<script>
(() => {
  const doc = window.parent && window.parent.document ? window.parent.document : document;
  const win = doc.defaultView || window;
  // Streamlit's widgets (the date picker's calendar: month and weekday names) take their locale from
  // navigator.language at each render: it follows the page's language from here on.
  const nav = win.navigator;
  if (win.swBrowserLanguage === undefined) win.swBrowserLanguage = nav.language;
  win.swLanguage = %(locale)s;
  Object.defineProperty(nav, "language", {configurable: true, get: () => win.swLanguage || win.swBrowserLanguage});
  if (win.swRendered !== win.swLanguage) {  // have the app draw again with it (a resize redraws)
    win.swRendered = win.swLanguage;
    win.setTimeout(() => win.dispatchEvent(new Event("resize")), 0);
  }
  // Streamlit's own words with no parameter (the selects' "No results"; the data grid's toolbar, column
  // menu, its Format and Statistics submenus, column list and search bar): said in the page's language.
  // A grid word is replaced inside the grid's own parts only (GRID_SCOPE), "No results" anywhere; a label
  // "Fullscreen: (the table's name)" keeps what follows its colon.
  win.swWords = %(words)s;
  if (!win.swWordsWatch) {
    const scope = %(scope)s;
    const say = (text, node) => {
      const w = win.swWords;
      if (!w || !text) return null;
      if (Object.hasOwn(w.any, text)) return w.any[text];
      if (!Object.hasOwn(w.grid, text)) return null;
      const el = node.nodeType === 1 ? node : node.parentElement;
      return el && el.closest(scope) ? w.grid[text] : null;
    };
    const label = (value, node) => {
      const whole = say(value, node);
      if (whole !== null) return whole;
      const i = value.indexOf(": ");
      const head = i > 0 ? say(value.slice(0, i), node) : null;
      return head === null ? null : head + ": " + value.slice(i + 2);
    };
    const ATTRS = ["aria-label", "title", "placeholder"];
    const fixAttr = (el, name) => {
      const value = el.getAttribute(name);
      const said = value === null ? null : label(value, el);
      if (said !== null && said !== value) el.setAttribute(name, said);
    };
    const fixText = (n) => {
      const said = say(n.textContent.trim(), n);
      if (said !== null && said !== n.textContent) n.textContent = said;
    };
    const fix = (root) => {
      if (root.nodeType === 3) { fixText(root); return; }
      if (root.nodeType !== 1) return;
      const walker = doc.createTreeWalker(root, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) fixText(n);
      for (const el of [root, ...root.querySelectorAll("[aria-label], [title], [placeholder]")])
        for (const name of ATTRS) if (el.hasAttribute(name)) fixAttr(el, name);
    };
    win.swFixWords = fix;
    win.swWordsWatch = new win.MutationObserver(records => {
      for (const r of records) {
        if (r.type === "attributes") fixAttr(r.target, r.attributeName);
        else if (r.type === "characterData") fixText(r.target);
        else for (const node of r.addedNodes) fix(node);
      }
    });
    win.swWordsWatch.observe(doc.body, {childList: true, subtree: true, characterData: true,
                                        attributes: true, attributeFilter: ATTRS});
  }
  for (const el of doc.querySelectorAll(%(scope)s)) win.swFixWords(el);  // drawn before this run
  if (win.swSidebarFitted) return;  // once per load of the page: a reader's later choice stands
  win.swSidebarFitted = true;
  if (win.innerWidth > %(px)d) return;
  const collapse = (tries) => {
    const bar = doc.querySelector("[data-testid=stSidebar]");
    const button = doc.querySelector("[data-testid=stSidebarCollapseButton] button");
    if (bar && button && bar.getAttribute("aria-expanded") !== "false") { button.click(); return; }
    if (!bar || !button) { if (tries > 0) win.setTimeout(() => collapse(tries - 1), 100); }
  };
  collapse(50);
})();
</script>
"""


_COMPLETE = """
<script>
(() => {
  const win = window.parent && window.parent.document ? window.parent : window;
  if (win.location.search === "") win.history.replaceState(win.history.state, "", win.location.pathname + %(query)s);
})();
</script>
"""


def complete_address(query: dict[str, str]) -> None:
    """The first run of a link without a query string: write the view (``query``) into the address of
    the entry just opened, in place. Streamlit would push it as a second history entry, and Back would
    land on the bare link, which writes it again. Streamlit reads the address on the next run (it
    sends ``location.search`` while it has set no query string itself)."""
    from urllib.parse import urlencode

    st.html(_COMPLETE % {"query": json.dumps("?" + urlencode(query))}, unsafe_allow_javascript=True)


def css_string(text: str) -> str:
    """``text`` as a CSS string ("选择文件"): quotes and backslashes escaped the CSS way, every other
    character as it is (JSON writes a Chinese character as backslash, "u" and its code, which CSS
    reads as the letter "u" and the digits: the uploader said "u9009u62e9…" instead of 选择文件)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def css(lang: str) -> str:
    """The page's style sheet in ``lang`` (the uploader's and the chart toolbar's words come from the
    catalogue)."""
    return _CSS % {
        "browse": css_string(t("screen.upload_browse", lang)),
        "limit": css_string(t("screen.upload_limit", lang, mb=st.get_option("server.maxUploadSize"))),
        "fullscreen": css_string(t("plot.modebar.fullscreen", lang)),
        "close_fullscreen": css_string(t("plot.modebar.close_fullscreen", lang)),
    }


# plotly's own words (its modebar titles and hints) → catalogue keys
PLOTLY_WORDS = {
    "Zoom": "plot.modebar.zoom",
    "Pan": "plot.modebar.pan",
    "Reset axes": "plot.modebar.reset_axes",
    "Autoscale": "plot.modebar.autoscale",
    "Zoom in": "plot.modebar.zoom_in",
    "Zoom out": "plot.modebar.zoom_out",
    "Box Select": "plot.modebar.box_select",
    "Lasso Select": "plot.modebar.lasso_select",
    "Download plot as a png": "plot.modebar.download_png",
    "Download plot": "plot.modebar.download",
    "Show closest data on hover": "plot.modebar.hover_closest",
    "Compare data on hover": "plot.modebar.hover_compare",
    "Toggle Spike Lines": "plot.modebar.spikelines",
    "Reset view": "plot.modebar.reset_view",
    "Double-click to zoom back out": "plot.modebar.zoom_back",
    "Double-click on legend to isolate one trace": "plot.modebar.isolate_trace",
}
PLOTLY_LOCALES = {"zh": "zh-CN", "en": "en-US"}
# the toolbar's buttons a manager has no use for (the PNG: the page's own buttons draw it for slides)
MODEBAR_REMOVE = (
    "toImage",
    "zoomIn2d",
    "zoomOut2d",
    "autoScale2d",
    "hoverClosestCartesian",
    "hoverCompareCartesian",
    "toggleSpikelines",
    "select2d",
    "lasso2d",
)


def plot_config(lang: str) -> dict:
    """``st.plotly_chart``'s config in ``lang``: no plotly logo, the toolbar trimmed to zoom, pan and
    reset axes (:data:`MODEBAR_REMOVE`), and a plotly locale whose dictionary is the catalogue's
    (:data:`PLOTLY_WORDS`): plotly looks a title up in ``config.locales`` before its own registry,
    so nothing is downloaded and no plotly.js locale file is needed."""
    locale = PLOTLY_LOCALES.get(lang, "en-US")
    return {
        "displaylogo": False,
        "modeBarButtonsToRemove": list(MODEBAR_REMOVE),
        "locale": locale,
        "locales": {locale: {"dictionary": {en: t(key, lang) for en, key in PLOTLY_WORDS.items()}}},
    }


# Streamlit's data grid's own words (st.dataframe: toolbar, column menu, Format and Statistics submenus,
# column list, search bar; Streamlit 1.67) → catalogue keys. "Download as CSV" is not here: the grid's
# download is switched off (.streamlit/config.toml ``client.disableDataExport``), the page's export
# buttons write the header block and the audit log (servicewatch.downloads).
GRID_WORDS = {
    "Show/hide columns": "grid.toolbar.columns",
    "Search": "grid.toolbar.search",
    "Clear selection": "grid.toolbar.clear_selection",
    "Select all": "grid.toolbar.all_columns",
    "Fullscreen": "plot.modebar.fullscreen",
    "Close fullscreen": "plot.modebar.close_fullscreen",
    "Dataframe column menu": "grid.menu.menu",
    "Copy column name": "grid.menu.copy_name",
    "Sort ascending": "grid.menu.sort_asc",
    "Sort descending": "grid.menu.sort_desc",
    "Statistics": "grid.menu.statistics",
    "Format": "grid.menu.format",
    "Autosize": "grid.menu.autosize",
    "Pin column": "grid.menu.pin",
    "Unpin column": "grid.menu.unpin",
    "Hide column": "grid.menu.hide",
    "Automatic": "grid.format.automatic",
    "Localized": "grid.format.localized",
    "Plain": "grid.format.plain",
    "Compact": "grid.format.compact",
    "Dollar": "grid.format.dollar",
    "Euro": "grid.format.euro",
    "Yen": "grid.format.yen",
    "Percent": "grid.format.percent",
    "Scientific": "grid.format.scientific",
    "Accounting": "grid.format.accounting",
    "Duration": "grid.format.duration",
    "Distance": "grid.format.distance",
    "Calendar": "grid.format.calendar",
    "Minimum": "grid.stats.minimum",
    "Maximum": "grid.stats.maximum",
    "Median": "grid.stats.median",
    "Average": "grid.stats.average",
    "Sum": "grid.stats.sum",
    "Standard deviation": "grid.stats.std",
    "Range": "grid.stats.range",
    "Distinct": "grid.stats.distinct",
    "Empty": "grid.stats.empty",
    "Values": "grid.stats.values",
    "Minimum length": "grid.stats.min_length",
    "Maximum length": "grid.stats.max_length",
    "Average length": "grid.stats.avg_length",
    "Based on sample": "grid.stats.sampled",
    "No data": "grid.stats.no_data",
    "Distribution histogram": "grid.stats.histogram",
    "Top values frequency chart": "grid.stats.top_values",
    "Type to search": "grid.search.hint",
    "Close Search": "grid.search.close",
    "Next Result": "grid.search.next",
    "Previous Result": "grid.search.previous",
}
# where a grid word is replaced: the grid and its menus, the element toolbar (its buttons, their tooltips)
GRID_SCOPE = (
    "[data-testid^=stDataFrame], [data-testid=stElementToolbar], [data-testid=stTooltipContent], .gdg-search-bar"
)
# Streamlit's words replaced wherever they appear (the selects' empty list)
ANY_WORDS = {"No results": "screen.no_results"}


def streamlit_words(lang: str) -> dict[str, dict[str, str]]:
    """Streamlit's English words → ``lang``: ``grid`` (said inside :data:`GRID_SCOPE` only) and ``any``."""
    return {
        "grid": {en: t(key, lang) for en, key in GRID_WORDS.items()},
        "any": {en: t(key, lang) for en, key in ANY_WORDS.items()},
    }


def fit(lang: str) -> None:
    """Draw the style sheet and the sidebar script (invisible; no space taken)."""
    st.html(f"<style>{css(lang)}</style>")
    st.html(
        _SCRIPT
        % {
            "px": COLLAPSE_AT_PX,
            "locale": json.dumps(LOCALES.get(lang, "")),
            "words": json.dumps(streamlit_words(lang), ensure_ascii=False),
            "scope": json.dumps(GRID_SCOPE),
        },
        unsafe_allow_javascript=True,
    )
