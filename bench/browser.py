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

import statistics
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from metrics.backends.connect import make_engine
from metrics.model.i18n import label
from metrics.query.warehouse import Warehouse
from servicewatch.ui import SECTION_KEY

from .chromium import (
    DATA,
    ROOT,
    TIMEOUT_MS,
    app_server,
    backspace,
    change,
    chromium,
    click_section,
    data_file,
    done_at,
    finished,
    first_visit,
    load,
    log,
    new_context,
    page_bench_main,
    pick,
    run_line,
    started,
)

RESULTS = ROOT / "bench" / "browser_results.json"
# URL path of each page ("" is the Overview)
PAGES = {"Overview": "", "Satisfaction": "Satisfaction", "Complaints": "Complaints", "SLA": "SLA",
         "Churn": "Churn", "Regions": "Regions", "Data": "Data", "At risk": "At_risk"}


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
        done_at(page)
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
            if what.replace("−", "+") in out.get("failed", []):  # its change never happened: nothing to undo
                continue
            try:
                r = change(page, act)
            except PlaywrightTimeout:  # said and counted, the page's other steps still measured
                log(f"  {name}: {what}: no answer within the timeout")
                out.setdefault("failed", []).append(what)
                out["errors"] += 1
                page.goto(url, timeout=TIMEOUT_MS)
                done_at(page)
                continue
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
    db = data_file(scale, seed)
    choices = choices_for(db)
    result = started(scale, repeat)
    log_path = ROOT / "bench" / "data" / "browser-streamlit.log"
    with app_server(db, log_path) as base, chromium() as browser:
        result["floor"] = floor(browser, db, repeat)
        first = first_visit(browser, f"{base}/?lang=en&preset=last_12_months&comparison=none&tier=gold")
        result["first_request_ms"] = first["ms"]
        log(f"first request after the server started: {first['ms']:.0f} ms")
        for name in pages:
            result["pages"][name] = page_run(browser, base, name, PAGES[name], choices, repeat)
    return finished(result)


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
    return "\n".join([
        f"### In the browser (`bench/browser.py`), {r['scale']}: {r['customers']:,} customers", "",
        "Chromium (Debian's, headless, Playwright) against `streamlit run app.py` on the cached DuckDB file. "
        "Times run from navigation start (load) or from the mouse-down/key-down that changes a sidebar filter "
        "(change) until the script run has ended, no element is stale and every plotly chart is drawn.", "",
        "| page | charts | first visit (new browser profile) | load, new view | load, cached view "
        "| ratio to floor | filter change, new view | filter change, seen view | section switch | exceptions |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows, "",
        *[f"{name}: no answer within 30 s to: {', '.join(p['failed'])} (counted as exceptions, left out of the "
          "medians)." for name, p in r["pages"].items() if p.get("failed")],
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
        run_line(r),
    ])


def main(argv: list[str] | None = None) -> int:
    return page_bench_main(argv, prog="bench.browser", doc=__doc__, pages=PAGES, run_pages=run,
                           markdown_of=markdown, results=RESULTS, section="browser", repeat=3,
                           repeat_help="cold loads, warm loads and tier changes per page")


if __name__ == "__main__":
    raise SystemExit(main())
