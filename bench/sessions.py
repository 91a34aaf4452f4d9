"""Many managers at once (issue 21 item 5): N concurrent browser sessions on one app server.

Each session is a browser profile of its own (one Chromium, N contexts, driven concurrently through
Playwright's asyncio API) that opens a sequence of views with *different* filters — its own city,
tier, period preset and page — each in the same tab, so every view is a new Streamlit session run
and most of them are views the server has not computed before. A view counts from navigation
start until the run has ended and every chart on view is drawn (``bench.chromium.DONE_JS``).
Meanwhile the app server's resident memory (the ``streamlit run`` process) is sampled every 0.5 s.

Reported: the 50th/95th percentile and maximum view time over all sessions, errors (Streamlit
exception boxes and navigation failures), the app's memory before, at its peak and after, and the
machine's load. Target (issue 21): no error, no view over 5 s at the 95th percentile on this
2-core machine, the app's memory bounded (the app's caches hold at most 2,000 results per cached
function, each evicted after its TTL: ``servicewatch.cache``).

A manager reads a page before opening the next: ``--think S`` waits a random 0.5–1.5 × S seconds
(seeded) before each view, the first one included, so the sessions start spread over that time; 0
(the default) plays every session's views back to back, all sessions at once — a stress test, not
twenty people. ``--browser-nice N`` runs Chromium at that niceness, so the app server has the cores
first, as when each manager's browser draws on the manager's own computer (the view times still
include drawing, on whatever the server leaves). The server's CPU seconds per view are reported.

    python -m bench.sessions [--scale L] [--sessions 20] [--views 4] [--think 0] [--browser-nice 0] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from metrics.backends.connect import make_engine
from metrics.query.warehouse import Warehouse

from .chromium import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DATA,
    DONE_JS,
    INIT_JS,
    ROOT,
    SCALES,
    TIMEOUT_MS,
    app_server,
    data_file,
    log,
)
from .sections import write_section

RESULTS = ROOT / "bench" / "sessions_results.json"
TARGET_P95_S = 5.0
# the pages a manager moves between ("" is the Overview); each session starts on a different one
PAGES = ("", "Satisfaction", "Complaints", "SLA", "Regions", "Churn")
PRESETS = ("last_month", "last_quarter", "ytd", "last_12_months")


def _plan(cities: list[str], tiers: list[str], sessions: int, views: int) -> list[list[str]]:
    """Each session's sequence of URL paths with query strings: its own city, a tier, a period preset
    and a page that change from view to view, so that sessions ask for different views."""
    plans = []
    for i in range(sessions):
        city = cities[i % len(cities)]
        seq = []
        for k in range(views):
            page = PAGES[(i + k) % len(PAGES)]
            preset = PRESETS[(i + 2 * k) % len(PRESETS)]
            q = f"region={city}&preset={preset}&lang=zh"
            if k % 2:
                q += f"&tier={tiers[(i + k) % len(tiers)]}"
            seq.append(f"{page}?{q}")
        plans.append(seq)
    return plans


def _choices(db: Path) -> tuple[list[str], list[str]]:
    """The data's city keys (as a link writes them) and tiers: from the data, not code."""
    wh = Warehouse(make_engine(f"duckdb:///{db}", read_only=True))
    try:
        regions = wh.regions()
        ids = [int(r) for r in regions.loc[regions["level"] == "city", "region_id"]]
        keys = wh.key_texts("region", ids)
        return [str(keys.get(r, r)) for r in ids], [str(t) for t in wh.values("tier")]
    finally:
        wh.engine.dispose()


def _app_pid(base: str) -> int | None:
    """The ``streamlit run`` process serving ``base`` (found by its port on the command line)."""
    port = base.rsplit(":", 1)[1]
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(cmd) and port.encode() in cmd:
            return int(pid)
    return None


def _cpu_s(pid: int | None = None) -> float:
    """CPU seconds used so far: by process ``pid`` (user + system, /proc/PID/stat), or by the whole
    machine (every core's non-idle time, /proc/stat)."""
    tick = os.sysconf("SC_CLK_TCK")
    if pid is not None:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    cpu = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(cpu) - cpu[3] - cpu[4]) / tick  # all but idle and iowait


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class _MemorySampler(threading.Thread):
    """The app process's resident memory every ``every`` seconds, until stopped."""

    def __init__(self, pid: int, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.samples = pid, every, []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                self.samples.append(_rss_mb(self.pid))
            except OSError:
                return
            self._halt.wait(self.every)

    def stop(self) -> None:
        self._halt.set()
        self.join()


async def _session(browser, base: str, paths: list[str], out: list[dict], think: list[float] = ()) -> None:
    context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    await context.add_init_script(INIT_JS)
    page = await context.new_page()
    try:
        for k, path in enumerate(paths):
            if think:
                await asyncio.sleep(think[k])  # the manager reads the page before opening the next
            t0 = time.perf_counter()
            try:
                await page.goto(f"{base}/{path}", timeout=TIMEOUT_MS)
                await page.wait_for_function(DONE_JS, timeout=TIMEOUT_MS, polling="raf")
                errors = await page.locator("[data-testid=stException]").count()
                out.append({"path": path, "s": round(time.perf_counter() - t0, 3), "errors": errors})
            except Exception as exc:  # a navigation or wait that failed is an error of the run, not of the bench
                out.append({"path": path, "s": round(time.perf_counter() - t0, 3), "errors": 1,
                            "failure": type(exc).__name__})
    finally:
        await context.close()


def _think_times(plans: list[list[str]], think_s: float, seed: int) -> list[list[float]]:
    """Per session, the seconds read before each view: uniform in 0.5–1.5 × ``think_s`` (none at 0)."""
    rng = random.Random(seed)
    return [[rng.uniform(0.5, 1.5) * think_s for _ in plan] if think_s > 0 else [] for plan in plans]


def _niced_chromium(nice: int) -> str:
    """Chromium's executable, or a wrapper in bench/data that starts it at niceness ``nice``."""
    if nice == 0:
        return CHROMIUM
    wrapper = DATA / f"chromium-nice{nice}.sh"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\nexec nice -n {int(nice)} {CHROMIUM} "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    return str(wrapper)


async def _drive(base: str, plans: list[list[str]], think: list[list[float]],
                 browser_nice: int) -> tuple[list[dict], float]:
    from playwright.async_api import async_playwright

    out: list[dict] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=_niced_chromium(browser_nice), args=CHROMIUM_ARGS)
        try:
            # warm-up, not timed: the first run imports the app's modules and opens the database
            await _session(browser, base, ["?lang=zh"], [])
            t0 = time.perf_counter()
            await asyncio.gather(*(_session(browser, base, p, out, w) for p, w in zip(plans, think, strict=True)))
            wall = time.perf_counter() - t0
        finally:
            await browser.close()
    return out, wall


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run(scale: str, seed: int, sessions: int, views: int, think_s: float = 0.0, browser_nice: int = 0) -> dict:
    db = data_file(scale, seed)
    cities, tiers = _choices(db)
    plans = _plan(cities, tiers, sessions, views)
    load_start = os.getloadavg()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    log_path = DATA / "sessions_app.log"
    with app_server(db, log_path) as base:
        pid = _app_pid(base)
        before = _rss_mb(pid) if pid else None
        cpu_app, cpu_all = (_cpu_s(pid) if pid else None), _cpu_s()
        sampler = _MemorySampler(pid) if pid else None
        if sampler:
            sampler.start()
        log(f"{sessions} sessions × {views} views on {base}")
        views_out, wall = asyncio.run(_drive(base, plans, _think_times(plans, think_s, seed), browser_nice))
        if sampler:
            sampler.stop()
        after = _rss_mb(pid) if pid else None
        cpu_app = _cpu_s(pid) - cpu_app if pid else None
        cpu_all = _cpu_s() - cpu_all
    times = [v["s"] for v in views_out]
    return {
        "scale": scale, "customers": SCALES[scale], "sessions": sessions, "views_per_session": views,
        "think_s": think_s, "browser_nice": browser_nice,
        "views": len(views_out), "errors": sum(v["errors"] for v in views_out),
        "failures": sorted({v["failure"] for v in views_out if "failure" in v}),
        "p50_s": round(statistics.median(times), 2), "p95_s": round(_pct(times, 0.95), 2),
        "max_s": round(max(times), 2), "wall_s": round(wall, 1),
        "rss_before_mb": round(before, 0) if before else None,
        "rss_peak_mb": round(max(sampler.samples), 0) if sampler and sampler.samples else None,
        "rss_after_mb": round(after, 0) if after else None,
        "cpu_app_s": round(cpu_app, 1) if cpu_app is not None else None, "cpu_machine_s": round(cpu_all, 1),
        "started_at": started, "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(), "load_average_at_start": load_start, "load_average_at_end": os.getloadavg(),
        "by_path": views_out,
    }


def markdown(r: dict) -> str:
    ok = "yes" if r["errors"] == 0 and r["p95_s"] <= TARGET_P95_S else "**no**"
    mem = (f"{r['rss_before_mb']:,.0f} MB before, **{r['rss_peak_mb']:,.0f} MB at its peak**, "
           f"{r['rss_after_mb']:,.0f} MB after" if r.get("rss_peak_mb") else "not sampled (process not found)")
    return "\n".join([
        f"### Many managers at once (`bench/sessions.py`), {r['scale']}: {r['customers']:,} customers", "",
        f"{r['sessions']} concurrent browser sessions (one Chromium, a profile each), each opening "
        f"{r['views_per_session']} views in turn with its own city, period preset, tier and page — "
        f"{r['views']} views, most of them not computed before by the server. One app server "
        f"(`streamlit run app.py`) on the DuckDB file. " + _pace(r), "",
        "| views | errors | median | 95th percentile | slowest | all sessions done in | target met |",
        "|---:|---:|---:|---:|---:|---:|---|",
        f"| {r['views']} | {r['errors']} | {r['p50_s']:.2f} s | **{r['p95_s']:.2f} s** | {r['max_s']:.2f} s "
        f"| {r['wall_s']:.0f} s | {ok} (no error, 95th percentile ≤ {TARGET_P95_S:.0f} s) |", "",
        f"Memory of the app process (resident, sampled every 0.5 s): {mem}. The bound is set by the "
        f"app's caches: each cached engine call keeps at most 2,000 results, evicted after its TTL "
        f"(`servicewatch.cache`); a result is an aggregate table of a few kB, so the caches stay in the "
        f"tens of MB, and the rest is the DuckDB buffer of the read-only connection. "
        f"A second replica behind a proxy: `docs/deploy.md`.", "",
        *([f"CPU over the run: the app server {r['cpu_app_s']:,.0f} s of the machine's {r['cpu_machine_s']:,.0f} s "
           f"({r['cpu_app_s'] / max(r['views'], 1):.2f} s per view) "
           f"({r['cpu_app_s'] / max(r['cpu_machine_s'], 1):.0%}; the rest is mostly the {r['sessions']} browsers "
           f"drawing the pages on the same {r['cores']} cores, which a manager's own computer does elsewhere).", ""]
          if r.get("cpu_app_s") is not None else []),
        f"Run {r['started_at']} – {r['finished_at']}; {r['cores']} cores shared with Chromium and other "
        f"work, load average {r['load_average_at_start'][0]:.1f} at start and "
        f"{r['load_average_at_end'][0]:.1f} at end.",
    ])


def _pace(r: dict) -> str:
    think, nice = r.get("think_s", 0), r.get("browser_nice", 0)
    pace = (f"Each manager reads a page for 0.5–1.5 × {think:g} s (random, seeded) before opening the next, the "
            f"first view included." if think else "No time between views: every session's views back to back, "
                                                  "all sessions at once (a stress test, not twenty people reading).")
    return pace + (f" Chromium ran at niceness {nice}, so the app server had the cores first." if nice else "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.sessions", description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", default="L", choices=list(SCALES))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--sessions", type=int, default=20)
    p.add_argument("--views", type=int, default=4, help="views each session opens in turn")
    p.add_argument("--think", type=float, default=0.0, help="seconds a manager reads a page (0: none)")
    p.add_argument("--browser-nice", type=int, default=0, help="Chromium's niceness (0-19)")
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    args = p.parse_args(argv)
    if args.sessions < 1 or args.views < 1:
        p.error("--sessions and --views must be at least 1")
    if args.think < 0 or not 0 <= args.browser_nice <= 19:
        p.error("--think must be 0 or more and --browser-nice between 0 and 19")
    result = run(args.scale, args.seed, args.sessions, args.views, args.think, args.browser_nice)
    print(markdown(result))
    if not args.no_write:
        RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        write_section("sessions", markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
