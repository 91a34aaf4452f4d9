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


def css(lang: str) -> str:
    """The page's style sheet in ``lang`` (the uploader's words come from the catalogue)."""
    return _CSS % {"browse": json.dumps(t("screen.upload_browse", lang)),
                   "limit": json.dumps(t("screen.upload_limit", lang, mb=st.get_option("server.maxUploadSize")))}


def fit(lang: str) -> None:
    """Draw the style sheet and the sidebar script (invisible; no space taken)."""
    st.html(f"<style>{css(lang)}</style>")
    st.html(_SCRIPT % {"px": COLLAPSE_AT_PX, "locale": json.dumps(LOCALES.get(lang, ""))}, unsafe_allow_javascript=True)
