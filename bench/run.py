"""``make bench``: demo data at two scales, loaded into DuckDB and PostgreSQL, the dashboard's
default views timed with rollups on and off, and against a naive pandas version.

    .venv/bin/python -m bench.run [--scales S,L] [--pg-scales S] [--skip-postgres] [--repeat 5]
                                  [--regenerate] [--drop-postgres]

Writes ``bench/results.json`` (every figure, plus the machine) and the generated section of
``docs/performance.md``. Generated DuckDB files are cached in ``bench/data/`` (gitignored), keyed
by scale, customers and seed, with the generation and load timings next to them; PostgreSQL
databases ``sw_bench_<scale>`` on 127.0.0.1:5432 are left in place (``--drop-postgres`` drops them)
and reused when they hold the same data set.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa

from bench import report
from bench.datasets import ROOT, SCALES, drop_postgres, log, prepare_duckdb, prepare_postgres
from bench.views import NAIVE, VIEWS, default_filters, run_call, same_values
from metrics.backends.connect import make_engine
from metrics.query.warehouse import Warehouse

RESULTS = ROOT / "bench" / "results.json"


def to_ms(seconds: float) -> float:
    """Seconds as milliseconds, rounded to 0.1 ms (the unit of the results files)."""
    return round(seconds * 1000.0, 1)


# ---------------------------------------------------------------------------------------------
# timing


def open_warehouse(url: str, use_rollups: bool) -> Warehouse:
    """A new Warehouse (new engine, new connections) as the dashboard opens one."""
    read_only = url.startswith("duckdb")
    return Warehouse(make_engine(url, read_only=read_only), use_rollups=use_rollups)


def time_views(url: str, repeat: int, repeat_raw: int, views: dict | None = None) -> dict[str, dict]:
    """Per view and per query: cold (first run on a new Warehouse) and warm (median of the repeats),
    with rollups on and off. The two settings run call by call in alternation, so that both see the
    same load on a shared machine. ``repeat_raw`` 0: rollups on only (``rollups_off`` stays empty);
    ``views``: a part of :data:`bench.views.VIEWS` (default all)."""
    out: dict[str, dict] = {"rollups_on": {}, "rollups_off": {}}
    settings = ((True, repeat), (False, repeat_raw)) if repeat_raw else ((True, repeat),)
    for view, calls in (VIEWS if views is None else views).items():
        whs = {use: open_warehouse(url, use) for use, _ in settings}
        filters = default_filters(whs[True].as_of())
        per_call: dict[tuple[bool, str], dict] = {}
        totals: dict[bool, list[float]] = {use: [] for use, _ in settings}
        for rep in range(max(n for _, n in settings) + 1):
            uses = [u for u, n in settings if rep <= n]
            total = dict.fromkeys(uses, 0.0)
            for call in calls:
                for use in uses:
                    t0 = time.perf_counter()
                    run_call(whs[use], call, filters)
                    dt = time.perf_counter() - t0
                    total[use] += dt
                    entry = per_call.setdefault((use, call.label), {
                        "cold_ms": to_ms(dt), "warm": [], "source": _source(whs[use], call, filters)})
                    if rep:
                        entry["warm"].append(dt)
            for use in uses:
                totals[use].append(total[use])
        for use, wh in whs.items():
            wh.engine.dispose()
            queries = {label: {"cold_ms": v["cold_ms"], "warm_ms": to_ms(statistics.median(v["warm"])),
                               "source": v["source"]} for (u, label), v in per_call.items() if u == use}
            out["rollups_on" if use else "rollups_off"][view] = {
                "queries": queries, "cold_ms": to_ms(totals[use][0]),
                "warm_ms": to_ms(statistics.median(totals[use][1:])),
                "max_query_warm_ms": max(q["warm_ms"] for q in queries.values())}
    return out


def _source(wh: Warehouse, call, filters) -> str:
    f = filters[call.period]
    stmts = [wh.compile(call.metric, f, call.by, call.level)]
    if call.method == "compare" and f.comparison_filters() is not None:
        stmts.append(wh.compile(call.metric, f.comparison_filters(), call.by, call.level))
    used = {"rollup" if "rollup_" in str(s) else "raw" for s in stmts}
    return "+".join(sorted(used))


def time_naive(url: str, repeat: int) -> dict:
    out = {}
    wh = open_warehouse(url, True)
    filters = default_filters(wh.as_of())
    as_of = wh.as_of()
    for name, (fn, call, rtol) in NAIVE.items():
        naive_times = []
        for _ in range(1):  # the naive way is slow and dominated by moving rows: one run
            gc.collect()
            t0 = time.perf_counter()
            series = fn(wh, filters, as_of)
            naive_times.append(time.perf_counter() - t0)
        engine_ms = {}
        for use in (True, False):
            w = open_warehouse(url, use)
            run_call(w, call, filters)  # warm-up
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                df = run_call(w, call, filters)
                times.append(time.perf_counter() - t0)
            engine_ms["rollups_on" if use else "rollups_off"] = to_ms(statistics.median(times))
            w.engine.dispose()
        naive_ms = to_ms(min(naive_times))
        out[name] = {"naive_ms": naive_ms, "engine_ms": engine_ms["rollups_on"],
                     "engine_raw_ms": engine_ms["rollups_off"],
                     "speedup": round(naive_ms / max(engine_ms["rollups_on"], 0.1), 1),
                     "speedup_raw": round(naive_ms / max(engine_ms["rollups_off"], 0.1), 1),
                     "same_values": same_values(series, df, rtol), "source": _source(wh, call, filters)}
        log(f"  naive {name}: {naive_ms:.0f} ms vs engine {engine_ms['rollups_on']:.0f} ms "
            f"(raw {engine_ms['rollups_off']:.0f} ms); same values: {out[name]['same_values']}")
    wh.engine.dispose()
    return out


def time_connect(url: str, n: int = 10) -> float:
    """Median ms to open a connection as the dashboard does and run ``SELECT 1``: the fixed cost
    every engine call pays (DuckDB files are opened anew per query)."""
    engine = open_warehouse(url, True).engine
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1")).all()
        times.append(time.perf_counter() - t0)
    engine.dispose()
    return to_ms(statistics.median(times))


def bench_database(db: str, url: str, repeat: int, repeat_raw: int, naive: bool) -> dict:
    result: dict = {"connect_ms": time_connect(url)}
    log(f"  {db}: connection + SELECT 1 {result['connect_ms']:.0f} ms")
    t0 = time.perf_counter()
    result.update(time_views(url, repeat, repeat_raw))
    for key in ("rollups_on", "rollups_off"):
        log(f"  {db} {key}: " + ", ".join(f"{v} {r['warm_ms']:.0f} ms" for v, r in result[key].items()))
    log(f"  {db}: views timed in {time.perf_counter() - t0:.0f} s")
    if naive:
        result["naive"] = time_naive(url, repeat)
    return result


# ---------------------------------------------------------------------------------------------
# machine


def machine(pg_url: str | None) -> dict:
    import duckdb
    import numpy
    import pandas

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    info = {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(mem_kb / 2**20, 1),
            "os": platform.platform(), "python": sys.version.split()[0], "duckdb": duckdb.__version__,
            "sqlalchemy": sa.__version__, "pandas": pandas.__version__, "numpy": numpy.__version__,
            "load_average_at_start": os.getloadavg()}
    if pg_url:
        engine = make_engine(pg_url)
        with engine.connect() as conn:
            info["postgresql"] = conn.execute(sa.text("SHOW server_version")).scalar()
        engine.dispose()
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--scales", default="S,L", help="comma-separated: S (100k customers), L (1M)")
    p.add_argument("--pg-scales", default="S", help="scales also run on PostgreSQL (default S)")
    p.add_argument("--skip-postgres", action="store_true")
    p.add_argument("--drop-postgres", action="store_true", help="drop the sw_bench_* databases at the end")
    p.add_argument("--repeat", type=int, default=5, help="warm runs per view (median reported)")
    p.add_argument("--repeat-raw", type=int, default=3, help="warm runs per view with rollups off")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--regenerate", action="store_true", help="ignore cached data sets")
    p.add_argument("--no-naive", action="store_true")
    args = p.parse_args(argv)
    scales = [x.strip().upper() for x in args.scales.split(",") if x.strip()]
    pg_scales = [] if args.skip_postgres else [x.strip().upper() for x in args.pg_scales.split(",") if x.strip()]
    bad = [x for x in scales + pg_scales if x not in SCALES]
    if bad:
        p.error(f"unknown scale(s) {bad}; use {', '.join(SCALES)}")
    started = time.perf_counter()
    results: dict = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"), "repeat": args.repeat,
                     "repeat_raw": args.repeat_raw,
                     "views": {v: [c.label for c in calls] for v, calls in VIEWS.items()}, "scales": {}}
    results["machine"] = machine(None)
    pg_first = None
    for scale in scales:
        duck, facts, frames = prepare_duckdb(scale, args.seed, args.regenerate)
        entry = {"data": facts, "databases": {}}
        results["scales"][scale] = entry
        log(f"{scale}: timing DuckDB")
        entry["databases"]["duckdb"] = bench_database("duckdb", f"duckdb:///{duck}", args.repeat, args.repeat_raw,
                                                        not args.no_naive)
        if scale in pg_scales:
            try:
                url, pg_facts = prepare_postgres(scale, args.seed, frames, duck, args.regenerate)
            except sa.exc.OperationalError as exc:
                log(f"{scale}: PostgreSQL unavailable, skipped: {str(exc).splitlines()[0]}")
                entry["postgres_skipped"] = str(exc).splitlines()[0]
            else:
                pg_first = pg_first or url
                entry["data"].update(pg_facts)
                frames = None
                gc.collect()
                log(f"{scale}: timing PostgreSQL")
                entry["databases"]["postgresql"] = bench_database("postgresql", url, args.repeat, args.repeat_raw,
                                                                not args.no_naive)
        del frames
        gc.collect()
    if pg_first:
        results["machine"]["postgresql"] = machine(pg_first)["postgresql"]
    results["machine"]["load_average_at_end"] = os.getloadavg()
    results["wall_s"] = round(time.perf_counter() - started, 1)
    results["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS.write_text(json.dumps(results, indent=2, default=_json_default) + "\n")
    report.write(results, ROOT / "docs" / "performance.md")
    if args.drop_postgres and pg_scales:
        drop_postgres(pg_scales)
    log(f"done in {results['wall_s']:.0f} s: {RESULTS.relative_to(ROOT)}, docs/performance.md")
    return 0


def _json_default(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
