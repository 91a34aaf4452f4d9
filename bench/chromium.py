"""Driving the app in Chromium, shared by the browser benchmarks (:mod:`bench.browser`,
:mod:`bench.first_load`, :mod:`bench.sessions`): the cached data set and a ``streamlit run`` on it, the
script installed in every page that notes a run's start and end and the user's last action, the
measures of a load and of a filter change, the actions that change a filter or a section, and the
command line of a benchmark over the app's pages."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from metrics.backends.connect import make_engine
from metrics.ingest import rollups
from metrics.query.warehouse import Warehouse
from servicewatch.local_server import ServerDidNotStart, streamlit_server
from servicewatch.ui import SECTION_KEY

from .datasets import DATA, ROOT, SCALES, XL_CUSTOMERS, data_key, log
from .sections import write_section

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
TIMEOUT_MS = 300_000

# Installed in every page before its scripts: notes when a script run starts and the last
# mouse-down/key-down (the user's action), in the page's own clock (performance.now()).
INIT_JS = """
(() => {
  window.__sw = {sawRun: false, actionAt: null, runStart: null, runEnd: null};
  const obs = new MutationObserver(muts => {
    for (const m of muts) {
      const state = m.target.getAttribute && m.target.getAttribute('data-test-script-state');
      if (state === 'running') {
        if (!window.__sw.sawRun) window.__sw.runStart = performance.now();
        window.__sw.sawRun = true;
      } else if (state === 'notRunning' && window.__sw.sawRun) {
        window.__sw.runEnd = performance.now();
      }
    }
  });
  obs.observe(document, {subtree: true, attributes: true, attributeFilter: ['data-test-script-state']});
  const act = () => { window.__sw.actionAt = performance.now(); };
  document.addEventListener('mousedown', act, true);
  document.addEventListener('keydown', act, true);
})();
"""
# Done: a run happened and ended, nothing stale, every chart on view drawn (the plotly element is
# loaded lazily: its container, Streamlit's graphic element, exists before the chart is drawn;
# charts in closed expanders or inactive tabs are not drawn). Returns the time.
DONE_JS = """
() => {
  const app = document.querySelector('[data-testid=stApp]');
  if (!app || !window.__sw || !window.__sw.sawRun) return false;
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  const graphics = document.querySelectorAll(
    '.stElementContainer.stPrintGraphic:not([data-st-inactive] *):not(details:not([open]) *)');
  for (const g of graphics) { if (!g.querySelector('.js-plotly-plot .main-svg')) return false; }
  return performance.now();
}
"""


# -- the data set and the app -----------------------------------------------------------------


def data_file(scale: str, seed: int) -> Path:
    """The cached bench DuckDB file, its rollups rebuilt if they lack a cube of this version."""
    path = DATA / f"{data_key(scale, seed)}.duckdb"
    if not path.is_file():
        raise SystemExit(f"bench.browser: no cached data set {path}; run `python -m bench.run --scales {scale}` first")
    wh = Warehouse(make_engine(f"duckdb:///{path}", read_only=True))
    try:
        current = wh.rollup_as_of() is not None and {"customers", "services"} <= wh.rollup_sources()
    finally:
        wh.engine.dispose()
    if not current:
        log(f"{path.name}: rebuilding the rollups (built by an older version)")
        engine = make_engine(f"duckdb:///{path}")
        rollups.refresh(engine)
        engine.dispose()
    return path


@contextmanager
def app_server(db: Path, log_path: Path, script: str = "app.py"):
    """``streamlit run <script>`` on ``db`` (no sign-in configured, as in the tests); yields its URL."""
    env = {k: v for k, v in os.environ.items() if k not in ("SERVICEWATCH_USERS", "SERVICEWATCH_AUTH")}
    env.update(SERVICEWATCH_DB=f"duckdb:///{db}", PYTHONUNBUFFERED="1")
    log_path.parent.mkdir(parents=True, exist_ok=True)  # bench/data/ is not in a fresh clone
    try:
        with streamlit_server(script, ROOT, env, log_path, timeout_s=120) as base:
            yield base
    except ServerDidNotStart:
        raise SystemExit(f"bench.browser: streamlit did not start; see {log_path}") from None


# -- measuring ---------------------------------------------------------------------------------


def done_at(page) -> float:
    """Wait until the current run has ended and the charts are drawn; the page clock then (ms)."""
    return float(page.wait_for_function(DONE_JS, timeout=TIMEOUT_MS, polling="raf").json_value())


def phases_of(page, start: float, end: float) -> dict:
    """Where the time went: until the script run started (page load, websocket; or the widget
    message), the run itself as the page saw it (Python plus the messages), drawing afterwards."""
    run_start, run_end = page.evaluate("[window.__sw.runStart, window.__sw.runEnd]")
    if run_start is None or run_end is None:
        return {}
    return {"before_run_ms": round(run_start - start, 1), "run_ms": round(run_end - run_start, 1),
            "draw_ms": round(end - run_end, 1)}


def exceptions(page) -> int:
    """How many Streamlit exception boxes the page shows."""
    return page.locator("[data-testid=stException]").count()


def new_context(browser):
    """A browser profile of its own: empty HTTP and code caches, as on a first visit."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    context.add_init_script(INIT_JS)
    return context


def load(context, url: str, content: bool = False) -> dict:
    """A new tab (a new Streamlit session) opening ``url``: ms from navigation start until done;
    ``content``: also ``content_ms``, the page clock's ``window.__swContent`` (set by a script the
    caller installed) read before the tab closes."""
    page = context.new_page()
    try:
        page.goto(url, timeout=TIMEOUT_MS)
        ms = done_at(page)
        out = {"ms": round(ms, 1), "errors": exceptions(page), **phases_of(page, 0.0, ms),
               "charts": page.locator(".js-plotly-plot").count()}
        if content:
            shown = page.evaluate("window.__swContent || null")
            out["content_ms"] = round(shown, 1) if shown else None
        return out
    finally:
        page.close()


def first_visit(browser, url: str) -> dict:
    """``url`` in a new browser profile (nothing cached in the browser)."""
    context = new_context(browser)
    try:
        return load(context, url)
    finally:
        context.close()


def change(page, act) -> dict:
    """ms from the user's last mouse-down/key-down in ``act(page)`` until the re-render is done."""
    page.evaluate("window.__sw.sawRun = false; window.__sw.actionAt = null")
    act(page)
    end = done_at(page)
    start = page.evaluate("window.__sw.actionAt")
    phases = phases_of(page, start, end)
    page.keyboard.press("Escape")  # close a dropdown left open (no rerun)
    page.wait_for_timeout(200)
    return {"ms": round(end - start, 1), "errors": exceptions(page), **phases}


def sidebar_widget(page, testid: str, text: str):
    """The sidebar widget of ``testid`` whose text holds ``text`` (its label)."""
    return page.locator(f"[data-testid=stSidebar] [data-testid={testid}]").filter(has_text=text).first


def prime(page, testid: str, text: str) -> None:
    """Open a sidebar dropdown (no rerun), then forget that click: the option click is the action."""
    widget = sidebar_widget(page, testid, text)
    widget.click()
    try:
        page.wait_for_selector("[role=option]", timeout=3_000)
    except PlaywrightTimeout:  # this Streamlit's drop-down now and then only takes focus on the first click
        widget.click()         # (seen on the demo as at XL, 2026-12-08): a second click opens it
        page.wait_for_selector("[role=option]", timeout=30_000)
    page.evaluate("window.__sw.sawRun = false; window.__sw.actionAt = null; window.__sw.runStart = null")


def pick(testid: str, text: str, option: str):
    """The action choosing ``option`` in the sidebar dropdown labelled ``text``."""

    def act(page) -> None:
        prime(page, testid, text)
        page.get_by_role("option", name=option, exact=True).first.click()
    return act


def click_section(label: str):
    """The action switching to the page's section ``label`` (``ui.sections``)."""

    def act(page) -> None:
        page.locator(f".st-key-{SECTION_KEY} button").filter(has_text=label).first.click()
    return act


def backspace(testid: str, text: str):
    """The action removing the last choice of the sidebar multiselect labelled ``text``."""

    def act(page) -> None:
        prime(page, testid, text)
        page.keyboard.press("Backspace")
    return act


def started(scale: str, repeat: int) -> dict:
    """The head of a page benchmark's result: the scale, its customers, the rounds, an empty ``pages``,
    the start (UTC), the load average and the cores."""
    return {"scale": scale, "customers": SCALES.get(scale, XL_CUSTOMERS), "repeat": repeat, "pages": {},
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average_at_start": os.getloadavg(), "cores": os.cpu_count()}


def finished(result: dict) -> dict:
    """``result`` with the load average at the end and the end time (UTC)."""
    result["load_average_at_end"] = os.getloadavg()
    result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result


def run_line(result: dict) -> str:
    """The report's last line: when the run was (UTC), the cores and the load average at its start and end."""
    return (f"Run {result['started_at']} – {result['finished_at']}; {result['cores']} cores shared with other work, "
            f"load average {result['load_average_at_start'][0]:.1f} at start and "
            f"{result['load_average_at_end'][0]:.1f} at end.")


@contextmanager
def chromium():
    """Debian's Chromium, headless, driven by Playwright's sync API; yields the browser, closed after."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def page_bench_main(argv: list[str] | None, *, prog: str, doc: str | None, pages: dict[str, str],
                    run_pages: Callable[[str, int, int, list[str]], dict], markdown_of: Callable[[dict], str],
                    results: Path, section: str, repeat: int, repeat_help: str) -> int:
    """The command line of a browser benchmark over the app's pages (this one and
    ``bench.first_load``): ``--scale --seed --repeat --pages --no-write``; runs ``run_pages(scale, seed,
    repeat, pages)``, prints ``markdown_of(result)`` and, unless ``--no-write``, saves ``results`` and
    writes the docs/performance.md ``section``."""
    p = argparse.ArgumentParser(prog=prog, description=(doc or "").split("\n\n")[0])
    p.add_argument("--scale", default="L", choices=[*SCALES, "XL"],
                   help="XL: the file `python -m bench.xl --keep bench/data/XL-10000000-seed7.duckdb` left")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeat", type=int, default=repeat, help=repeat_help)
    p.add_argument("--pages", default=",".join(pages), help=f"comma-separated, of: {', '.join(pages)}")
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    args = p.parse_args(argv)
    chosen = [x.strip() for x in args.pages.split(",") if x.strip()]
    bad = [x for x in chosen if x not in pages]
    if bad:
        p.error(f"unknown page(s) {bad}; use {', '.join(pages)}")
    result = run_pages(args.scale, args.seed, args.repeat, chosen)
    print(markdown_of(result))
    if args.scale != "L":  # the L figures stay; another scale has its own results file and section
        results = results.with_name(f"{results.stem}_{args.scale}{results.suffix}")
        section = f"{section}-{args.scale.lower()}"
    if not args.no_write:
        results.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        write_section(section, markdown_of(result))
    return 0
