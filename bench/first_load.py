"""First load against the framework's floor (issue 21, item 4), per page, in one browser and one run.

`python -m bench.first_load [--scale L] [--repeat 5] [--pages Overview,SLA]`, also run by `make bench`
after `bench.browser`. Starts `streamlit run app.py` on the cached bench DuckDB file and, beside it,
`bench/floor_app.py` (a bare Streamlit page with one tiny plotly chart: the floor), then in one Chromium
profile loads, round after round, the floor and each page's default view in new tabs (new Streamlit
sessions), interleaved so that both see the same load on the machine. Each page is opened once before
the rounds so that its default view is in the server's cache (*load, cached view* of `bench.browser`):
what is left is the page's own start-up, script run and drawing. A load is timed as `bench.browser`
does (navigation start until the run has ended, nothing stale, every chart on view drawn); *content*
is when the page's first card or first text below the title is on screen.

Reports per page the median load, its ratio to the floor's median of the same rounds (target: at most
1.25), the content time and the charts drawn; writes bench/first_load_results.json and the
``browser-first-load`` section of docs/performance.md.
"""

from __future__ import annotations

import statistics

from .chromium import (
    DATA,
    ROOT,
    app_server,
    chromium,
    data_file,
    finished,
    load,
    log,
    new_context,
    page_bench_main,
    run_line,
    started,
)

RESULTS = ROOT / "bench" / "first_load_results.json"
# URL path of each page ("" is the Overview); Admin is left out (it asks for a sign-in)
PAGES = {"Overview": "", "Satisfaction": "Satisfaction", "Complaints": "Complaints", "SLA": "SLA",
         "Churn": "Churn", "Regions": "Regions", "Data": "Data", "At risk": "At_risk", "Alerts": "Alerts",
         "Portfolio": "Portfolio", "Outlets": "Outlets", "Regulator": "Regulator"}
TARGET = 1.25

# When the page first shows content of its own: a KPI card, or a text/table element below the title
CONTENT_JS = """
() => {
  const main = document.querySelector('[data-testid=stMain]');
  if (!main) return false;
  const el = main.querySelector('[data-testid=stMetric], [data-testid=stMarkdownContainer] p, '
                               + '[data-testid=stDataFrame], [data-testid=stAlert]');
  return el ? performance.now() : false;
}
"""


def run(scale: str, seed: int, repeat: int, pages: list[str]) -> dict:
    db = data_file(scale, seed)
    result = {**started(scale, repeat), "floor": []}
    with app_server(db, DATA / "first-load-streamlit.log") as base, \
            app_server(db, DATA / "first-load-floor.log", "bench/floor_app.py") as floor_base, \
            chromium() as browser:
        context = new_context(browser)
        context.add_init_script(
            "(() => { const f = " + CONTENT_JS.strip() + "; const tick = () => { const t = f();"
            " if (t) window.__swContent = t; else requestAnimationFrame(tick); };"
            " requestAnimationFrame(tick); })();")
        try:
            floor_url = f"{floor_base}/?charts=1"
            load(context, floor_url)  # the browser's caches filled
            for name in pages:  # the default view computed once (server cache), as for the floor
                r = load(context, f"{base}/{PAGES[name]}?lang=en")
                log(f"  {name}: first load after the server started {r['ms']:,.0f} ms")
                result["pages"][name] = {"ms": [], "content_ms": [], "errors": r["errors"], "charts": r["charts"],
                                         "phases": {}, "after_start_ms": r["ms"]}
            for i in range(repeat):
                result["floor"].append(load(context, floor_url)["ms"])
                for name in pages:
                    r = load(context, f"{base}/{PAGES[name]}?lang=en", content=True)
                    p = result["pages"][name]
                    p["ms"].append(r["ms"])
                    if r.get("content_ms") is not None:
                        p["content_ms"].append(r["content_ms"])
                    p["errors"] += r["errors"]
                    for phase in ("before_run_ms", "run_ms", "draw_ms"):
                        if phase in r:
                            p["phases"].setdefault(phase, []).append(r[phase])
                log(f"round {i + 1}/{repeat}: floor {result['floor'][-1]:,.0f} ms, "
                    + ", ".join(f"{n} {result['pages'][n]['ms'][-1]:,.0f}" for n in pages))
        finally:
            context.close()
    return finished(result)


def ratios(r: dict) -> dict[str, float]:
    """Each page's median load over the floor's median load of the same rounds."""
    floor = statistics.median(r["floor"])
    return {name: statistics.median(p["ms"]) / floor for name, p in r["pages"].items() if p["ms"]}


def _med(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ms" if values else "—"


def markdown(r: dict) -> str:
    ratio = ratios(r)
    rows = []
    for name, p in r["pages"].items():
        ph = p.get("phases", {})
        mark = "" if ratio[name] <= TARGET else " ✗"
        rows.append(f"| {name} | {p['charts']} | {_med(p['content_ms'])} | {_med(p['ms'])} (max {max(p['ms']):,.0f}) "
                    f"| **{ratio[name]:.2f}×**{mark} | {_med(ph.get('before_run_ms', []))} "
                    f"| {_med(ph.get('run_ms', []))} | {_med(ph.get('draw_ms', []))} | {p['errors']} |")
    within = sum(v <= TARGET for v in ratio.values())
    return "\n".join([
        f"### First load against the floor (`bench/first_load.py`), {r['scale']}: {r['customers']:,} customers", "",
        f"The floor, a bare Streamlit page with one tiny plotly chart (`bench/floor_app.py`), and each page's "
        f"default view (already in the server's cache) loaded in new tabs of one Chromium profile, interleaved, "
        f"{r['repeat']} rounds: floor **{_med(r['floor'])}** median (n={len(r['floor'])}, "
        f"max {max(r['floor']):,.0f} ms). Ratio: the page's median over the floor's; target at most {TARGET}× "
        f"(issue 21); {within} of {len(ratio)} pages within it. *Content*: the first KPI card or text below "
        f"the title on screen; *load*: the run ended, nothing stale, every chart on view drawn.", "",
        "| page | charts | content | load | ratio to floor | before the run | script run | drawing | exceptions |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows, "",
        run_line(r),
    ])


def main(argv: list[str] | None = None) -> int:
    return page_bench_main(argv, prog="bench.first_load", doc=__doc__, pages=PAGES, run_pages=run,
                           markdown_of=markdown, results=RESULTS, section="browser-first-load", repeat=5,
                           repeat_help="rounds (floor, then every page)")


if __name__ == "__main__":
    raise SystemExit(main())
