"""In-page checks for tests/browser/test_browser_screens.py: what is cut off and what is English.

Both run in the page (``page.evaluate``) and return plain lists, so a failure names the text.

* :data:`CUT_OFF_JS` — every text node inside a KPI card (``stMetric``) or a button that is wider
  than its box (``scrollWidth > clientWidth`` on a clipping element, or an ellipsis) or pokes out of
  the card or button; and for every data grid (glide-data-grid draws on a canvas, so its sizes are
  read from the grid's own React props: the column widths it draws with, its fonts, its frozen
  columns): each header and each visible cell text (the grid's accessibility table) measured with
  the grid's font against its column's width, and whether a grid that scrolls sideways keeps its
  first (key) column pinned.
* :data:`VISIBLE_TEXT_JS` — the text a reader sees: visible text nodes of the page (charts' SVG
  text included; icon ligatures, code spans and the screen-reader skip link left out) plus the
  header and cell texts of every data grid.
"""

from __future__ import annotations

import re

# The data grids of the page that are shown (not in a closed expander): glide-data-grid draws on a
# canvas, so what it draws is read from its React props — the columns with the widths it draws
# them at, getCellContent (each cell's displayed text), the theme's fonts, the frozen columns — and
# the placeholder Streamlit draws for a missing cell ("None" unless ``placeholder=`` is given).
_GRID_HELPERS = r"""
  const GRIDS = () => [...document.querySelectorAll('[data-testid=stDataFrame]')]
    .filter(e => e.checkVisibility() && e.getBoundingClientRect().width > 2)
    .map(element => {
      const canvas = element.querySelector('canvas[data-testid=data-grid-canvas]');
      if (!canvas) return null;
      const key = Object.keys(canvas).find(k => k.startsWith('__reactFiber'));
      let props = null, placeholder;
      for (let f = canvas[key]; f; f = f.return) {
        const p = f.memoizedProps;
        if (!props && p && Array.isArray(p.columns) && p.columns.length && typeof p.columns[0].width === 'number'
            && p.theme && p.getCellContent) props = p;
        if (p && p.element && typeof p.element === 'object' && 'arrowData' in p.element) {
          placeholder = p.element.placeholder; break;
        }
      }
      return props && {element, props, placeholder: placeholder ?? 'None'};
    }).filter(Boolean);
  const CELL_TEXT = (cell, placeholder) => {
    if (!cell) return '';
    if (cell.isMissingValue) return placeholder;
    if (cell.kind === 'boolean') return '';  // drawn as a check box
    if (cell.kind === 'custom') return String(cell.data?.displayDate ?? cell.copyData ?? '').trim();  // dates
    const shown = cell.displayData ?? cell.data;
    return Array.isArray(shown) ? shown.join(', ') : String(shown ?? '').trim();
  };
"""

CUT_OFF_JS = r"""
() => {
  GRID_HELPERS
  const out = [];
  const clips = s => ['hidden', 'clip', 'auto', 'scroll'].includes(s.overflowX) || s.textOverflow === 'ellipsis';
  const boxes = [...document.querySelectorAll(
    '[data-testid=stMetric], [data-testid=stMain] button, [data-testid=stSidebar] button')];
  for (const box of boxes) {
    const r = box.getBoundingClientRect();
    if (r.width < 2 || r.height < 2) continue;
    const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.textContent.trim();
      if (!text) continue;
      const el = n.parentElement;
      if (el.closest('[data-testid=stIconMaterial], [data-testid=stTooltipIcon], svg')) continue;
      // text the reader never sees (an icon's name for screen readers, a hidden label) is never cut off for them
      if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
      const hid = getComputedStyle(el), er = el.getBoundingClientRect();  // "visually hidden" (clipped to 1 px)
      if (er.width <= 1 || er.height <= 1 || (hid.clip && hid.clip !== 'auto')
          || (hid.clipPath && hid.clipPath !== 'none')) continue;
      const range = document.createRange(); range.selectNodeContents(n);
      const t = range.getBoundingClientRect();
      if (t.width < 1) continue;
      let bad = t.left < r.left - 1 || t.right > r.right + 1;
      for (let e = el; e && e !== box.parentElement; e = e.parentElement) {
        const s = getComputedStyle(e);
        if (clips(s) && e.scrollWidth > e.clientWidth + 1) { bad = true; break; }
      }
      if (bad) out.push({kind: box.matches('[data-testid=stMetric]') ? 'card' : 'button', text});
    }
  }
  const ctx = document.createElement('canvas').getContext('2d');
  const width = (text, font) => { ctx.font = font; return ctx.measureText(text).width; };
  const shown = [...document.querySelectorAll('[data-testid=stDataFrame]')]
    .filter(e => e.checkVisibility() && e.getBoundingClientRect().width > 2).length;
  if (GRIDS().length < shown) out.push({kind: 'grid', text: '(a data grid whose columns could not be read)'});
  for (const grid of GRIDS()) {
    const {props, placeholder} = grid;
    const th = props.theme, pad = 2 * (th.cellHorizontalPadding ?? 8);
    const headerFont = `${th.headerFontStyle} ${th.fontFamily}`, cellFont = `${th.baseFontStyle} ${th.fontFamily}`;
    props.columns.forEach((c, i) => {
      if (!c.title) return;  // row markers
      if (width(c.title, headerFont) + pad > c.width + 1)
        out.push({kind: 'grid header', text: c.title, width: c.width});
      for (let r = 0; r < Math.min(props.rows, 300); r++) {
        const text = CELL_TEXT(props.getCellContent([i, r]), placeholder);
        if (text && width(text, cellFont) + pad > c.width + 1) {
          out.push({kind: 'grid cell', text, column: c.title, width: c.width});
          break;  // one per column is enough to name it
        }
      }
    });
    const scroller = grid.element.querySelector('.dvn-scroller');
    if (scroller && scroller.scrollWidth > scroller.clientWidth + 1 && !(props.freezeColumns >= 1))
      out.push({kind: 'grid scrolls without a pinned key column', text: props.columns.map(c => c.title).join(' | ')});
  }
  return out;
}
"""

VISIBLE_TEXT_JS = r"""
() => {
  GRID_HELPERS
  const texts = [];
  const skip = '[aria-hidden=true], [data-testid=stSkipToContent], code, script, style, noscript, canvas';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const text = n.textContent.trim();
    const el = n.parentElement;
    if (!text || !el || el.closest(skip)) continue;
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    const range = document.createRange(); range.selectNodeContents(n);
    const r = range.getBoundingClientRect();
    const box = el.getBoundingClientRect();
    // not drawn, or out of view to the left (a collapsed sidebar)
    if (r.width < 2 || r.height < 2 || box.width < 2 || box.height < 2 || r.right <= 0) continue;
    texts.push(text);
  }
  for (const {props, placeholder} of GRIDS()) {
    props.columns.forEach((c, i) => {
      if (c.title) texts.push(c.title);
      for (let r = 0; r < Math.min(props.rows, 300); r++) {
        const text = CELL_TEXT(props.getCellContent([i, r]), placeholder);
        if (text) texts.push(text);
      }
    });
  }
  return texts;
}
"""

CUT_OFF_JS = CUT_OFF_JS.replace("GRID_HELPERS", _GRID_HELPERS)
VISIBLE_TEXT_JS = VISIBLE_TEXT_JS.replace("GRID_HELPERS", _GRID_HELPERS)

# Latin words a Chinese page may show: metric acronyms, units, file formats, product and method names.
ALLOWED = {
    "csat", "nps", "sla", "fcr", "p50", "p90", "p95", "auc", "kpi", "id", "vip", "app", "sms",
    "pp", "h", "min", "ms", "kb", "mb", "gb", "km",
    "png", "svg", "csv", "excel", "xlsx", "xls", "pdf", "pptx", "parquet", "yaml", "yml", "json", "utf", "gbk",
    "english", "utc", "ppt", "servicewatch", "duckdb", "postgresql", "mariadb", "mysql", "spark", "sql",
    "holm", "cox", "kaplan", "meier", "wilson", "newcombe", "shapley", "log", "rank", "rmst", "miit", "wechat", "oidc",
    "url", "ofcom", "tio", "acma",  # the regulators' names (the Regulator page)
}
WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[_.][A-Za-z0-9]+)*")


def english_words(texts: list[str], allowed: set[str] = ALLOWED) -> dict[str, str]:
    """Latin words of ``texts`` not in ``allowed`` (case-insensitive) -> the first text holding each.

    A word is a run of letters and digits, joined by ``_`` or ``.`` (``opened_at``, ``sw_meta``,
    ``tickets.opened_at`` are one word each, so a database name never passes as two allowed parts);
    one letter alone (a unit, a key's prefix such as ``T00012``) is no word."""
    found: dict[str, str] = {}
    for text in texts:
        for word in WORD.findall(text):
            if len(re.sub(r"[^A-Za-z]", "", word)) < 2 or word.lower() in allowed:
                continue
            found.setdefault(word, text[:120])
    return found
