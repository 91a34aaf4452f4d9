"""The dashboard's views on the database servers at L (issue 21, item 3): PostgreSQL and MariaDB
beside DuckDB, in one run.

    .venv/bin/python -m bench.servers [--scale L] [--repeat 3] [--servers postgresql,mariadb]

The cached DuckDB data set of ``--scale`` (``bench.datasets``) is loaded into ``sw_bench_<scale>`` on the
local PostgreSQL (COPY) and MariaDB (multi-row INSERT, RENAME swap) servers by the product's own loader,
unless they already hold it; the load and the rollup build are timed then. The views of
:data:`bench.views.VIEWS` are then timed with rollups on, database after database *view by view*
(each view on DuckDB, then on each server, before the next view), so that all see the same load on the
machine; the ratio to DuckDB is of medians taken in the same run. Writes ``bench/servers_results.json``
and the ``servers`` section of ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime

import sqlalchemy as sa

from bench.datasets import FACT_PREFIX, ROOT, SCALES, log, prepare_duckdb, prepare_server
from bench.run import time_connect, time_views
from bench.sections import write_section
from bench.views import VIEWS

RESULTS = ROOT / "bench" / "servers_results.json"
NAMES = {"duckdb": "DuckDB", "postgresql": "PostgreSQL", "mariadb": "MariaDB"}


def run(scale: str, seed: int, repeat: int, servers: list[str]) -> dict:
    duck, facts, frames = prepare_duckdb(scale, seed, False)
    result: dict = {"scale": scale, "customers": SCALES[scale], "seed": seed, "repeat": repeat, "cores": os.cpu_count(),
                    "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "load_average_at_start": os.getloadavg(), "loads": {}, "views": {}, "connect_ms": {}}
    urls = {"duckdb": f"duckdb:///{duck}"}
    result["loads"]["duckdb"] = {"load_s": facts.get("duckdb_load_s"), "db_mb": facts.get("duckdb_file_mb"),
                                 "rollup_refresh_s": facts.get("duckdb_rollup_refresh_s"),
                                 "rows_per_s": facts.get("duckdb_load_rows_per_s"), "cached": facts.get("cached")}
    for kind in servers:
        try:
            url, server_facts = prepare_server(kind, scale, seed, frames, duck, False)
        except sa.exc.OperationalError as exc:
            raise SystemExit(f"bench.servers: {kind} unavailable: {str(exc).splitlines()[0]}") from None
        p = FACT_PREFIX[kind]
        result["loads"][kind] = {"load_s": server_facts[f"{p}_load_s"],
                                 "rows_per_s": server_facts[f"{p}_load_rows_per_s"],
                                 "rollup_refresh_s": server_facts[f"{p}_rollup_refresh_s"],
                                 "db_mb": server_facts[f"{p}_db_mb"], "measured_at": server_facts["measured_at"],
                                 "load_average": server_facts.get("load_average"),
                                 "cached": server_facts["cached"]}
        urls[kind] = url
    del frames
    for db, url in urls.items():
        result["connect_ms"][db] = time_connect(url)
    for view in VIEWS:
        result["views"][view] = {}
        for db, url in urls.items():
            r = time_views(url, repeat, 0, {view: VIEWS[view]})["rollups_on"][view]
            result["views"][view][db] = r
            log(f"  {view} / {db}: warm {r['warm_ms']:,.0f} ms, cold {r['cold_ms']:,.0f} ms")
    result["load_average_at_end"] = os.getloadavg()
    result["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result


def markdown(r: dict) -> str:
    dbs = list(r["loads"])
    lines = [f"### The views on PostgreSQL and MariaDB at {r['scale']} ({r['customers']:,} customers)", "",
             f"Run {r['started_at']} – {r['finished_at']}, {r['cores']} cores, load average "
             f"{r['load_average_at_start'][0]:.1f} at start, {r['load_average_at_end'][0]:.1f} at end. "
             "Each view timed on every database before the next view (warm = median of "
             f"{r['repeat']} runs after a cold one, rollups on; the sum of the view's engine calls).", "",
             "| database | load | rows/s | rollups build | size | connect + `SELECT 1` |",
             "|---|---:|---:|---:|---:|---:|"]
    for db in dbs:
        d = r["loads"][db]
        facts = [f", {d['measured_at']}" if d.get("measured_at") else "",
                 f", load average {d['load_average']}" if d.get("load_average") is not None else ""]
        when = " (loaded earlier" + "".join(facts) + ")" if d.get("cached") else ""
        load_s = f"{d['load_s']:,.0f} s" if d.get("load_s") is not None else "—"
        rows = f"{d['rows_per_s']:,}" if d.get("rows_per_s") else "—"
        build = f"{d['rollup_refresh_s']:,.1f} s" if d.get("rollup_refresh_s") is not None else "—"
        size = f"{d['db_mb']:,} MB" if d.get("db_mb") is not None else "—"
        lines.append(f"| {NAMES[db]}{when} | {load_s} | {rows} | {build} | {size} | {r['connect_ms'][db]:,.0f} ms |")
    head = "| view | " + " | ".join(f"{NAMES[db]} warm (cold)" for db in dbs) + " | " + \
        " | ".join(f"{NAMES[db]} ÷ DuckDB" for db in dbs[1:]) + " |"
    lines += ["", head, "|---|" + "---:|" * (2 * len(dbs) - 1)]
    for view, per_db in r["views"].items():
        duck = per_db["duckdb"]["warm_ms"]
        cells = [f"{per_db[db]['warm_ms']:,.0f} ms ({per_db[db]['cold_ms']:,.0f})" for db in dbs]
        ratios = [f"{per_db[db]['warm_ms'] / max(duck, 0.1):.1f}×" for db in dbs[1:]]
        lines.append(f"| {view} | " + " | ".join(cells + ratios) + " |")
    slow = sorted(((q["warm_ms"], view, db, label) for view, per_db in r["views"].items() for db, v in per_db.items()
                   for label, q in v["queries"].items()), reverse=True)[:5]
    lines += ["", "Slowest single queries (warm): " + "; ".join(
        f"{NAMES[db]} {view} `{label}` {ms:,.0f} ms" for ms, view, db, label in slow) + "."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.servers", description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", default="L", choices=list(SCALES))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeat", type=int, default=3, help="warm runs per view (median reported)")
    p.add_argument("--servers", default="postgresql,mariadb", help="comma-separated: postgresql, mariadb")
    p.add_argument("--no-write", action="store_true", help="print, don't write the results and the docs section")
    args = p.parse_args(argv)
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    bad = [s for s in servers if s not in FACT_PREFIX]
    if bad:
        p.error(f"unknown server(s) {bad}; use {', '.join(FACT_PREFIX)}")
    r = run(args.scale, args.seed, args.repeat, servers)
    text = markdown(r)
    print(text)
    if not args.no_write:
        RESULTS.write_text(json.dumps(r, indent=2) + "\n")
        write_section("servers", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
