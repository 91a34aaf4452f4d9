"""The app server's work per page view (issue 21, items 4 and 5): CPU seconds of the ``streamlit run``
process for each view, new and repeated, and the script run as the browser sees it.

`python -m bench.server_cpu [--scale L|S|demo] [--views 12] [--profile FILE] [--no-write]`, also run by
`make bench`. Starts `streamlit run app.py` on the cached bench DuckDB file (``demo``: the demo
database, data/servicewatch.duckdb), opens one view not timed (the app's imports, the database
opened), then, one after another in one Chromium profile, ``--views`` distinct views planned as
`bench.sessions` plans them (a page, a city, a period preset each), each in a new tab (a new
Streamlit session): first as a *new* view (the server computes it), then once more as a *repeated*
view (its results in the server's cache). For each load, the app process's CPU time (user + system,
/proc/PID/stat) from navigation until the run has ended and every chart on view is drawn, and the
script run (the page's ``data-test-script-state`` running → not running).

``--profile FILE``: py-spy (not a dependency of the project; ``pip install py-spy``) records the app
process during the measured views, in py-spy's raw (collapsed stacks) format, to FILE.

Writes bench/server_cpu_results.json and the ``server-cpu`` section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from .chromium import DATA, ROOT, SCALES, app_server, chromium, data_file, load, log, new_context
from .sections import write_section
from .sessions import _app_pid, _choices, _cpu_s, _plan, _rss_mb

RESULTS = ROOT / "bench" / "server_cpu_results.json"
DEMO_DB = ROOT / "data" / "servicewatch.duckdb"


def _views(db: Path, n: int) -> list[str]:
    """``n`` distinct views (URL path and query) in the order `bench.sessions` plans them."""
    cities, tiers = _choices(db)
    out: list[str] = []
    for seq in _plan(cities, tiers, n, 2):
        out += [p for p in seq if p not in out]
    return out[:n]


def _measured(context, url: str, pid: int) -> dict:
    """One load of ``url`` in a new tab with the app process's CPU seconds over it."""
    before = _cpu_s(pid)
    r = load(context, url)
    return {"cpu_s": round(_cpu_s(pid) - before, 3), "ms": r["ms"], "run_ms": r.get("run_ms"),
            "before_run_ms": r.get("before_run_ms"), "draw_ms": r.get("draw_ms"), "charts": r["charts"],
            "errors": r["errors"]}


def _py_spy(pid: int, out: Path) -> subprocess.Popen | None:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).is_file():
        log("bench.server_cpu: no py-spy here (pip install py-spy); not profiling")
        return None
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--format", "raw", "--rate", "50",
                             "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(scale: str, seed: int, views: int, profile: Path | None = None) -> dict:
    db = DEMO_DB if scale == "demo" else data_file(scale, seed)
    paths = _views(db, views)
    result = {"scale": scale, "customers": SCALES.get(scale), "db": db.name, "views": [],
              "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "load_average_at_start": os.getloadavg(), "cores": os.cpu_count()}
    with app_server(db, DATA / "server-cpu-streamlit.log") as base, chromium() as browser:
        pid = _app_pid(base)
        if pid is None:
            raise SystemExit("bench.server_cpu: the app process was not found")
        context = new_context(browser)
        try:
            warm = _measured(context, f"{base}/?lang=zh", pid)
            result["warm_up"] = warm
            log(f"warm-up (imports, database): {warm['cpu_s']:.2f} s CPU, {warm['ms']:,.0f} ms")
            spy = _py_spy(pid, profile) if profile else None
            for path in paths:
                new = _measured(context, f"{base}/{path}", pid)
                again = _measured(context, f"{base}/{path}", pid)
                result["views"].append({"path": path, "new": new, "repeated": again})
                log(f"  {path}: new {new['cpu_s']:.2f} s CPU (run {new['run_ms']} ms), "
                    f"repeated {again['cpu_s']:.2f} s CPU (run {again['run_ms']} ms)")
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
            result["rss_mb"] = round(_rss_mb(pid))
        finally:
            context.close()
    result["load_average_at_end"] = os.getloadavg()
    result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result


def _page(path: str) -> str:
    return path.split("?", 1)[0] or "Overview"


def summary(r: dict) -> dict:
    """Medians over the views: CPU seconds per new and per repeated view, and per page."""
    out = {k: round(statistics.median(v[k]["cpu_s"] for v in r["views"]), 3) for k in ("new", "repeated")}
    pages: dict[str, dict[str, list]] = {}
    for v in r["views"]:
        p = pages.setdefault(_page(v["path"]), {"new": [], "repeated": [], "run_new": [], "run_repeated": []})
        for k in ("new", "repeated"):
            p[k].append(v[k]["cpu_s"])
            if v[k]["run_ms"] is not None:
                p[f"run_{k}"].append(v[k]["run_ms"])
    out["pages"] = {name: {k: round(statistics.median(x), 3) if x else None for k, x in p.items()}
                    for name, p in pages.items()}
    return out


def markdown(r: dict) -> str:
    s = summary(r)
    rows = [f"| {name} | {p['new']:.2f} s | {p['run_new'] or 0:,.0f} ms | {p['repeated']:.2f} s "
            f"| {p['run_repeated'] or 0:,.0f} ms |" for name, p in s["pages"].items()]
    errors = sum(v[k]["errors"] for v in r["views"] for k in ("new", "repeated"))
    who = f"{r['customers']:,} customers" if r.get("customers") else f"the demo database ({r['db']})"
    return "\n".join([
        f"### The server's work per view (`bench/server_cpu.py`), {r['scale']}: {who}", "",
        f"{len(r['views'])} distinct views (a page, a city and a period preset each, as `bench.sessions` plans "
        f"them) opened one after another in new tabs of one Chromium profile, each twice: *new* (the server "
        f"computes it) and *repeated* (its results in the server's cache). CPU: the `streamlit run` process's "
        f"user + system time from navigation until the run has ended and the charts are drawn; *script run*: "
        f"the page's run as the browser sees it. Median CPU per view: **{s['new']:.2f} s new, "
        f"{s['repeated']:.2f} s repeated**; warm-up view (imports, database) {r['warm_up']['cpu_s']:.2f} s; "
        f"exceptions shown: {errors}; app memory at the end {r.get('rss_mb', 0):,} MB.", "",
        "| page | CPU, new view | script run, new | CPU, repeated | script run, repeated |",
        "|---|---:|---:|---:|---:|",
        *rows, "",
        f"Run {r['started_at']} – {r['finished_at']}; {r['cores']} cores shared with other work, load average "
        f"{r['load_average_at_start'][0]:.1f} at start and {r['load_average_at_end'][0]:.1f} at end.",
    ])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.server_cpu", description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", default="L", choices=[*SCALES, "demo"])
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--views", type=int, default=12, help="distinct views, each opened new and repeated")
    p.add_argument("--profile", type=Path, help="py-spy raw profile of the app process to this file")
    p.add_argument("--no-write", action="store_true", help="print only; leave the results and docs alone")
    args = p.parse_args(argv)
    if args.views < 1:
        p.error("--views must be at least 1")
    result = run(args.scale, args.seed, args.views, args.profile)
    result["summary"] = summary(result)
    print(markdown(result))
    if not args.no_write:
        RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        write_section("server-cpu", markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
