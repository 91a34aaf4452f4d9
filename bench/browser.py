"""Browser timing (issue 3, "Speed"): the real app on the L data set, driven in Chromium.

Run by `make bench` after `bench.run` (which generates and caches the data sets); alone:
`python -m bench.browser [--scale L] [--repeat 3] [--pages Overview,SLA]`. Starts `streamlit run
app.py` on the cached DuckDB file (read-only, as the dashboard opens it), drives Debian's Chromium
with Playwright and measures, per page:

* **first load**: a new browser session opening the page's URL, from navigation start until the
  script has run (``data-test-script-state`` went ``running`` and is ``notRunning`` again), no
  element is stale and every plotly chart of the page is drawn. *Cold*: a view the server has not
  computed yet (Streamlit's cache empty for it: the default view, then other URL states); *warm*:
  the default view again in a new session (served from Streamlit's cache).
* **filter change**: in an open page, from the mouse-down (or key-down) that changes a sidebar
  filter until the same condition. *New view*: a filter value not seen before (tier added, period
  preset, city); *seen view*: back to a view already computed (the tier removed again).

The very first request after the server starts (imports, opening the database) is reported on its
own. Medians with n. Writes bench/browser_results.json and the ``browser`` section of
docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from metrics.backends.connect import make_engine
from metrics.ingest import rollups
from metrics.model.i18n import label
from metrics.query.warehouse import Warehouse
from servicewatch.local_server import ServerDidNotStart, streamlit_server
from servicewatch.ui import SECTION_KEY

from .sections import write_section

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "browser_results.json"
SIZES = {"S": 100_000, "L": 1_000_000}
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
# URL path of each page ("" is the Overview)
PAGES = {"Overview": "", "Satisfaction": "Satisfaction", "Complaints": "Complaints", "SLA": "SLA",
         "Churn": "Churn", "Regions": "Regions", "Data": "Data", "At risk": "At_risk"}
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


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------
# the data set and the app


def data_file(scale: str, seed: int) -> Path:
    """The cached bench DuckDB file, its rollups rebuilt if they lack a cube of this version."""
    path = DATA / f"{scale}-{SIZES[scale]}-seed{seed}.duckdb"
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
    try:
        with streamlit_server(script, ROOT, env, log_path, timeout_s=120) as base:
            yield base
    except ServerDidNotStart:
        raise SystemExit(f"bench.browser: streamlit did not start; see {log_path}") from None


# ---------------------------------------------------------------------------------------------
# measuring


def _done(page) -> float:
    """Wait until the current run has ended and the charts are drawn; the page clock then (ms)."""
    return float(page.wait_for_function(DONE_JS, timeout=TIMEOUT_MS, polling="raf").json_value())


def _phases(page, start: float, end: float) -> dict:
    """Where the time went: until the script run started (page load, websocket; or the widget
    message), the run itself as the page saw it (Python plus the messages), drawing afterwards."""
    run_start, run_end = page.evaluate("[window.__sw.runStart, window.__sw.runEnd]")
    if run_start is None or run_end is None:
        return {}
    return {"before_run_ms": round(run_start - start, 1), "run_ms": round(run_end - run_start, 1),
            "draw_ms": round(end - run_end, 1)}


def _errors(page) -> int:
    return page.locator("[data-testid=stException]").count()


def new_context(browser):
    """A browser profile of its own: empty HTTP and code caches, as on a first visit."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
    context.add_init_script(INIT_JS)
    return context


def load(context, url: str) -> dict:
    """A new tab (a new Streamlit session) opening ``url``: ms from navigation start until done."""
    page = context.new_page()
    try:
        page.goto(url, timeout=TIMEOUT_MS)
        ms = _done(page)
        return {"ms": round(ms, 1), "errors": _errors(page), **_phases(page, 0.0, ms),
                "charts": page.locator(".js-plotly-plot").count()}
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
    end = _done(page)
    start = page.evaluate("window.__sw.actionAt")
    phases = _phases(page, start, end)
    page.keyboard.press("Escape")  # close a dropdown left open (no rerun)
    page.wait_for_timeout(200)
    return {"ms": round(end - start, 1), "errors": _errors(page), **phases}


def _sidebar(page, testid: str, text: str):
    return page.locator(f"[data-testid=stSidebar] [data-testid={testid}]").filter(has_text=text).first


def _prime(page, testid: str, text: str) -> None:
    """Open a sidebar dropdown (no rerun), then forget that click: the option click is the action."""
    _sidebar(page, testid, text).click()
    page.wait_for_selector("[role=option]", timeout=30_000)
    page.evaluate("window.__sw.sawRun = false; window.__sw.actionAt = null; window.__sw.runStart = null")


def pick(testid: str, text: str, option: str):
    def act(page) -> None:
        _prime(page, testid, text)
        page.get_by_role("option", name=option, exact=True).first.click()
    return act


def click_section(label: str):
    def act(page) -> None:
        page.locator(f".st-key-{SECTION_KEY} button").filter(has_text=label).first.click()
    return act


def backspace(testid: str, text: str):
    def act(page) -> None:
        _prime(page, testid, text)
        page.keyboard.press("Backspace")
    return act


def page_run(browser, base: str, name: str, path: str, choices: dict, repeat: int) -> dict:
    """Every measurement of one page."""
    url = f"{base}/{path}?lang=en"
    out: dict = {"first_visit": [], "cold_load": [], "warm_load": [], "change_new": [], "change_seen": [],
                 "section": [],
                 "errors": 0, "changes": [], "phases": {}}
    cold_urls = [f"{url}&preset=last_12_months", f"{url}&segment={choices['segments'][0]}",
                 f"{url}&preset=last_month&comparison=year_ago", f"{url}&preset=ytd&comparison=none"]
    context = new_context(browser)
    try:
        # the page's default view, the first time: nothing cached in the browser nor on the server
        r = load(context, url)
        out["first_visit"].append(r["ms"])
        _add_phases(out, "first_visit", r)
        out["errors"] += r["errors"]
        out["charts"] = r["charts"]
        for u in cold_urls[:max(repeat, 1)]:  # new sessions, views the server has not computed
            r = load(context, u)
            out["cold_load"].append(r["ms"])
            _add_phases(out, "cold_load", r)
            out["errors"] += r["errors"]
        for _ in range(repeat):  # new sessions, the default view again (server cache)
            r = load(context, url)
            out["warm_load"].append(r["ms"])
            _add_phases(out, "warm_load", r)
            out["errors"] += r["errors"]
    finally:
        context.close()
    for _ in range(max(repeat - 1, 1)):  # a first visit when the server has the view cached
        r = first_visit(browser, url)
        out["first_visit"].append(r["ms"])
        _add_phases(out, "first_visit", r)
        out["errors"] += r["errors"]
    context = new_context(browser)
    page = context.new_page()
    try:
        page.goto(url, timeout=TIMEOUT_MS)
        _done(page)
        steps = []
        for tier in choices["tiers"][:repeat]:
            steps.append(("change_new", f"tier + {tier}", pick("stMultiSelect", "Tier", tier)))
            steps.append(("change_seen", f"tier − {tier}", backspace("stMultiSelect", "Tier")))
        steps += [("change_new", f"period: {p}", pick("stSelectbox", "Period", p)) for p in choices["presets"]]
        steps += [("change_new", f"city: {c}", pick("stSelectbox", "City", c)) for c in choices["cities"][:2]]
        # the page's other sections (ui.sections), each opened once
        buttons = page.locator(f".st-key-{SECTION_KEY} button")
        steps += [("section", f"section: {label}", click_section(label))
                  for label in [b.strip() for b in buttons.all_inner_texts()][1:]]
        for kind, what, act in steps:
            r = change(page, act)
            out[kind].append(r["ms"])
            _add_phases(out, kind, r)
            out["errors"] += r["errors"]
            out["changes"].append({"change": what, "kind": kind, "ms": r["ms"]})
    finally:
        context.close()
    log(f"  {name}: first visit {_med(out['first_visit'])} ms, "
        f"cold load {_med(out['cold_load'])} ms, warm load {_med(out['warm_load'])} ms, "
        f"filter change {_med(out['change_new'])} ms (new view), {_med(out['change_seen'])} ms (seen), "
        f"section switch {_med(out['section'])} ms")
    return out


def _add_phases(out: dict, kind: str, r: dict) -> None:
    for phase in ("before_run_ms", "run_ms", "draw_ms"):
        if phase in r:
            out["phases"].setdefault(kind, {}).setdefault(phase, []).append(r[phase])


def _med(values: list[float]) -> float | None:
    return round(statistics.median(values)) if values else None


def choices_for(db: Path) -> dict:
    """The option labels the filter changes click (English), read from the data set."""
    wh = Warehouse(make_engine(f"duckdb:///{db}", read_only=True))
    try:
        regions = wh.regions()
        cities = regions.loc[regions["level"] == "city", "name_en"].tolist()
        tiers = [label("tier", t, "en") for t in ("diamond", "gold", "silver", "standard")]
        segments = wh.values("segment")
        as_of = wh.as_of()
    finally:
        wh.engine.dispose()
    from metrics.model.i18n import t as text

    presets = [text(f"preset.{p}", "en") for p in ("last_month", "ytd")]
    return {"tiers": tiers, "cities": cities, "segments": segments, "presets": presets, "as_of": as_of.isoformat()}


FLOOR_CHARTS = (0, 1, 8)


def floor(browser, db: Path, repeat: int) -> dict[str, list[float]]:
    """Loads of bench/floor_app.py (a bare Streamlit page with 0, 1 and 8 tiny plotly charts) in new
    tabs of one browser profile, as *load, cached view* below: the framework's own cost here."""
    out: dict[str, list[float]] = {str(n): [] for n in FLOOR_CHARTS}
    with app_server(db, DATA / "floor-streamlit.log", "bench/floor_app.py") as base:
        context = new_context(browser)
        try:
            load(context, f"{base}/?charts=1")  # the browser's caches filled, as for the pages
            for _ in range(max(repeat, 3)):
                for n in FLOOR_CHARTS:
                    out[str(n)].append(load(context, f"{base}/?charts={n}")["ms"])
        finally:
            context.close()
    log("floor: " + ", ".join(f"{n} charts {_med(v)} ms" for n, v in out.items()))
    return out


def run(scale: str, seed: int, repeat: int, pages: list[str]) -> dict:
    from playwright.sync_api import sync_playwright

    db = data_file(scale, seed)
    choices = choices_for(db)
    result: dict = {"scale": scale, "customers": SIZES[scale], "repeat": repeat, "pages": {},
                    "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "load_average_at_start": os.getloadavg(), "cores": os.cpu_count()}
    log_path = ROOT / "bench" / "data" / "browser-streamlit.log"
    with app_server(db, log_path) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            result["floor"] = floor(browser, db, repeat)
            first = first_visit(browser, f"{base}/?lang=en&preset=last_12_months&comparison=none&tier=gold")
            result["first_request_ms"] = first["ms"]
            log(f"first request after the server started: {first['ms']:.0f} ms")
            for name in pages:
                result["pages"][name] = page_run(browser, base, name, PAGES[name], choices, repeat)
        finally:
            browser.close()
    result["load_average_at_end"] = os.getloadavg()
    result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result


# ---------------------------------------------------------------------------------------------
# report


def _cell(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):,.0f} ms (n={len(values)}, max {max(values):,.0f})"


def markdown(r: dict) -> str:
    rows = []
    floor1 = r.get("floor", {}).get("1") or [float("nan")]
    for name, p in r["pages"].items():  # ratio: the cached view's load over the one-chart floor's (issue 21)
        ratio = statistics.median(p["warm_load"]) / statistics.median(floor1) if p["warm_load"] else float("nan")
        rows.append(f"| {name} | {p.get('charts', 0)} | {_cell(p['first_visit'])} | {_cell(p['cold_load'])} "
                    f"| {_cell(p['warm_load'])} | {ratio:.2f}× | {_cell(p['change_new'])} | {_cell(p['change_seen'])} "
                    f"| {_cell(p.get('section', []))} | {p['errors']} |")
    every = {k: [v for p in r["pages"].values() for v in p.get(k, [])] for k in
             ("first_visit", "cold_load", "warm_load", "change_new", "change_seen", "section")}
    rows.append(f"| **all pages** | | {_cell(every['first_visit'])} | {_cell(every['cold_load'])} "
                f"| {_cell(every['warm_load'])} | | {_cell(every['change_new'])} | {_cell(every['change_seen'])} "
                f"| {_cell(every['section'])} | |")
    floor_rows = [f"| bare page, {n} plotly chart{'s' if n != '1' else ''} | {_cell(v)} |"
                  for n, v in r.get("floor", {}).items()]
    phase_rows = []
    for kind, what in (("first_visit", "first visit"), ("cold_load", "load, new view"),
                       ("warm_load", "load, cached view"),
                       ("change_new", "filter change, new view"), ("change_seen", "filter change, seen view")):
        cells = []
        for phase in ("before_run_ms", "run_ms", "draw_ms"):
            vals = [v for p in r["pages"].values() for v in p.get("phases", {}).get(kind, {}).get(phase, [])]
            cells.append(f"{statistics.median(vals):,.0f} ms" if vals else "—")
        n = len([v for p in r["pages"].values() for v in p.get("phases", {}).get(kind, {}).get("run_ms", [])])
        phase_rows.append(f"| {what} | {n} | {' | '.join(cells)} |")
    la0, la1 = r["load_average_at_start"][0], r["load_average_at_end"][0]
    return "\n".join([
        f"### In the browser (`bench/browser.py`), {r['scale']}: {r['customers']:,} customers", "",
        "Chromium (Debian's, headless, Playwright) against `streamlit run app.py` on the cached DuckDB file. "
        "Times run from navigation start (load) or from the mouse-down/key-down that changes a sidebar filter "
        "(change) until the script run has ended, no element is stale and every plotly chart is drawn.", "",
        "| page | charts | first visit (new browser profile) | load, new view | load, cached view "
        "| ratio to floor | filter change, new view | filter change, seen view | section switch | exceptions |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows, "",
        f"First request after the server started (Overview, gold tier, last 12 months without comparison, a "
        f"view not measured below; includes imports and opening the database): {r['first_request_ms']:,.0f} ms. "
        f"*First visit*: a new browser profile (nothing cached in the browser: Streamlit's and plotly's "
        f"JavaScript are fetched and compiled), once with the page's default view not yet computed by the "
        f"server, then with it cached. *Load*: a new tab (a new Streamlit session) in a browser that has "
        f"opened the app before; *new view*: URL states the server has not computed (other period, segment, "
        f"comparison), *cached view*: the default view again. *Filter change, new view*: a tier added, period "
        f"presets *last month* and *year to date*, two cities; *seen view*: the tier removed again. Targets "
        f"(issue 3): filter change under 1 s median, first load under 2 s. *Charts*: plotly charts drawn in "
        f"the page's default view. *Ratio to floor*: *load, cached view* over the bare page with one plotly chart "
        f"below (issue 21: at most 1.25×; `bench.first_load` measures it interleaved with the floor). "
        f"*Section switch*: a click on each other section of the page's section "
        f"switch (`ui.sections`; Satisfaction, Complaints, SLA, Churn), a view not computed before.", "",
        "**The framework's floor.** The same browser loading `bench/floor_app.py`, a bare Streamlit page "
        "(no database, no filter bar) with 0, 1 or 8 tiny plotly charts, in new tabs as *load, cached view*: "
        "what Streamlit and plotly.js cost on this machine before any of ServiceWatch's work.", "",
        "| bare Streamlit page | load |", "|---|---:|", *floor_rows, "",
        "Where the time went (medians over all pages): *before the run* is page load, websocket and "
        "session start (load) or the widget message reaching the server (change); *script run* is the "
        "script-state `running` → `notRunning` as the page saw it (Python: queries or the cache, "
        "building figures, sending them); *drawing* is the browser drawing the charts after the run.", "",
        "| | n | before the run | script run | drawing |", "|---|---:|---:|---:|---:|", *phase_rows, "",
        f"Run {r['started_at']} – {r['finished_at']}; {r['cores']} cores shared with other work, load average "
        f"{la0:.1f} at start and {la1:.1f} at end.",
    ])


def page_bench_main(argv: list[str] | None, *, prog: str, doc: str | None, pages: dict[str, str],
                    run_pages: Callable[[str, int, int, list[str]], dict], markdown_of: Callable[[dict], str],
                    results: Path, section: str, repeat: int, repeat_help: str) -> int:
    """The command line of a browser benchmark over the app's pages (this one and
    ``bench.first_load``): ``--scale --seed --repeat --pages --no-write``; runs ``run_pages(scale, seed,
    repeat, pages)``, prints ``markdown_of(result)`` and, unless ``--no-write``, saves ``results`` and
    writes the docs/performance.md ``section``."""
    p = argparse.ArgumentParser(prog=prog, description=(doc or "").split("\n\n")[0])
    p.add_argument("--scale", default="L", choices=list(SIZES))
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
    if not args.no_write:
        results.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        write_section(section, markdown_of(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    return page_bench_main(argv, prog="bench.browser", doc=__doc__, pages=PAGES, run_pages=run,
                           markdown_of=markdown, results=RESULTS, section="browser", repeat=3,
                           repeat_help="cold loads, warm loads and tier changes per page")


if __name__ == "__main__":
    raise SystemExit(main())
