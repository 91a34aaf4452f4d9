"""``make bench`` (Spark part): the dashboard's default views on a local two-worker Spark cluster.

    .venv/bin/python -m bench.spark [--scale S] [--repeat 2] [--nice 10]

Starts a cluster from the pyspark package's jars (master, two workers with one core and 1 GB each,
Thrift server; :mod:`metrics.backends.spark.cluster`), loads the demo at the scale (S: 100,000 customers,
seed 7, the data set of ``bench.run``) through ``servicewatch demo``'s path (Parquet + Spark tables +
rollups built in Spark + their local DuckDB copy), and the same frames into a DuckDB file. Times every
view of :mod:`bench.views` on Spark as the dashboard reads it (rollups from the local copy; cold =
first run, warm = median of ``--repeat``), on Spark's own cubes without the copy and on raw rows (one
run each: the figures before the copy), and on the DuckDB file (warm, same run: the ratio the issue
asks for); splits each call's time into the part spent in the database (execute and fetch) and in the
app (compiling the query, finishing the frame). Times two drill-downs against the cluster's own
execution time of their SQL (Spark's REST API). Stops the cluster, writes ``bench/spark_results.json``
and the ``spark`` section of ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from bench.datasets import SCALES
from bench.sections import write_section
from bench.views import VIEWS, default_filters, run_call
from metrics.query.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "spark_results.json"


def log(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", flush=True)


class TimedWarehouse(Warehouse):
    """A Warehouse that times ``read`` (the database's share of a call) two ways: ``db_wall_s``, the
    wall-clock seconds during which at least one read was under way, and ``db_sum_s``, every read's
    seconds added up. On Spark, ``read_all`` runs several reads at once on threads: their sum exceeds
    the time the view waited for the database, the wall time does not."""

    db_wall_s: float = 0.0
    db_sum_s: float = 0.0
    _in_flight: int = 0
    _since: float = 0.0
    _lock = threading.Lock()

    def read(self, stmt, keys=None):  # noqa: ANN001 - same signature as Warehouse.read
        t0 = time.perf_counter()
        with self._lock:
            if self._in_flight == 0:
                self._since = t0
            self._in_flight += 1
        try:
            return super().read(stmt, keys)
        finally:
            t1 = time.perf_counter()
            with self._lock:
                self.db_sum_s += t1 - t0
                self._in_flight -= 1
                if self._in_flight == 0:
                    self.db_wall_s += t1 - self._since


def time_view(wh: TimedWarehouse, calls, filters) -> tuple[float, float, float]:
    """(total seconds, wall seconds with a read under way, reads' seconds added up) for one pass over a
    view's calls."""
    wh.db_wall_s = wh.db_sum_s = 0.0
    t0 = time.perf_counter()
    for call in calls:
        run_call(wh, call, filters)
    return time.perf_counter() - t0, wh.db_wall_s, wh.db_sum_s


def fixed_costs(url: str) -> dict[str, float]:
    """Median ms of a trivial statement and of a trivial job: the floor under every query."""
    import sqlalchemy as sa

    wh = Warehouse.open(url)
    out = {}
    try:
        for name, sql in (("select_1", "SELECT 1"), ("count_regions", "SELECT count(*) FROM regions")):
            times = []
            for _ in range(6):
                t0 = time.perf_counter()
                wh.read(sa.text(sql))
                times.append(time.perf_counter() - t0)
            out[name] = round(statistics.median(times[1:]) * 1000, 1)
    finally:
        wh.engine.dispose()
    return out


# how each configuration reads: (url key, rollups, local copy, warm runs after the first)
CONFIGS = {"rollups_on": ("spark", True, True, None), "duckdb": ("duckdb", True, True, None),
           "spark_cubes": ("spark", True, False, 0), "rollups_off": ("spark", False, False, 0)}


def bench(urls: dict[str, str], repeat: int, views: list[str]) -> dict:
    """Per configuration of :data:`CONFIGS` and view: cold, warm, database and app milliseconds. The
    configurations take turns view by view, so other work on the machine weighs on them alike."""
    out: dict = {key: {} for key in CONFIGS}
    whs, filters = {}, {}
    for key, (db, use_rollups, use_local, _) in CONFIGS.items():
        # as the dashboard opens it: DuckDB keeps its connections (keep_open), like the local copy
        whs[key] = TimedWarehouse(Warehouse.open(urls[db], keep_open=True).engine, use_rollups=use_rollups,
                                  use_local=use_local)
        filters[key] = default_filters(whs[key].as_of())
    try:
        for view, calls in ((v, VIEWS[v]) for v in views):
            for key, (_, _, _, warm_runs) in CONFIGS.items():
                runs = [time_view(whs[key], calls, filters[key])
                        for _ in range(1 + (repeat if warm_runs is None else warm_runs))]
                warm = runs[1:] or runs
                total = statistics.median(r[0] for r in warm)
                db_wall, db_sum = statistics.median(r[1] for r in warm), statistics.median(r[2] for r in warm)
                out[key][view] = {"calls": len(calls), "cold_ms": round(runs[0][0] * 1000),
                                  "warm_ms": round(total * 1000), "database_wall_ms": round(db_wall * 1000),
                                  "database_sum_ms": round(db_sum * 1000), "app_ms": round((total - db_wall) * 1000),
                                  "load": os.getloadavg()[0]}
                log(f"  {key} {view}: cold {runs[0][0]:.1f} s, warm {total:.1f} s (database: wall {db_wall:.1f} s, "
                    f"summed over threads {db_sum:.1f} s)")
    finally:
        for wh in whs.values():
            wh.dispose()
    return out


def spark_executions(ui_port: int) -> list[dict]:
    """The Thrift server's SQL executions as Spark's REST API lists them (id, duration ms, description)."""
    base = f"http://127.0.0.1:{ui_port}/api/v1/applications"
    with urllib.request.urlopen(base, timeout=10) as resp:
        app = json.load(resp)[0]["id"]
    with urllib.request.urlopen(f"{base}/{app}/sql?details=false&length=100000", timeout=30) as resp:
        return json.load(resp)


def drill_downs(url: str, ui_port: int, repeat: int) -> dict:
    """Each drill-down list's wall time in the app against the cluster's own execution time of the
    statements it ran (the executions Spark's REST API lists as started during the call), median of
    ``repeat`` runs after a first."""
    from metrics.analysis import drill

    wh = Warehouse.open(url)
    f = default_filters(wh.as_of())["period"]
    calls = {"tickets": lambda: drill.tickets(wh, f, limit=200),
             "tickets_breached": lambda: drill.tickets(wh, f, limit=200, only_breached=True),
             "churned_customers": lambda: drill.customers(wh, f, limit=200, churned_only=True)}
    out = {}
    try:
        for name, call in calls.items():
            walls, sparks = [], []
            for _ in range(1 + repeat):
                seen = {e["id"] for e in spark_executions(ui_port)}
                t0 = time.perf_counter()
                call()
                walls.append(time.perf_counter() - t0)
                new = [e for e in spark_executions(ui_port) if e["id"] not in seen]
                sparks.append(sum(e.get("duration", 0) for e in new) / 1000)
            wall, spark = statistics.median(walls[1:] or walls), statistics.median(sparks[1:] or sparks)
            out[name] = {"app_ms": round(wall * 1000), "spark_ms": round(spark * 1000),
                         "ratio": round(wall / spark, 2) if spark else None}
            log(f"  drill {name}: app {wall:.2f} s, Spark's execution {spark:.2f} s")
    finally:
        wh.dispose()
    return out


def section(res: dict) -> str:
    """The docs/performance.md section of one run."""
    v = res["views"]
    lines = [
        f"### Spark SQL at {res['scale']} ({res['customers']:,} customers) — `python -m bench.spark`",
        "",
        f"Measured {res['finished_at'][:16].replace('T', ' ')} UTC on the shared development machine "
        f"({res['machine']['cores']} cores, load average {res['machine']['load_start'][0]:.1f} at the start and "
        f"{res['machine']['load_end'][0]:.1f} at the end), Spark {res['spark']} standalone on 127.0.0.1: two "
        f"workers with 1 core and 1 GB each, Thrift server, processes at nice {res['nice']}. Cluster start "
        f"{res['start_s']:.0f} s; loading the data set {res['load_s']:.0f} s (Parquet + tables + every rollup "
        "built in Spark + the local DuckDB copy of the rollups). Each view is the set of engine calls behind a "
        "dashboard page (bench/views.py); warm = median of the "
        f"{res['repeat']} run(s) after the first (cold) one. *Spark* is what the dashboard reads: statements "
        "over the rollups on the local copy, the rest on Spark (`metrics.query.local_rollups`); *database, "
        "wall* is the wall time during which at least one statement was executing or fetching (several run at "
        "once on threads), *summed* those statements' times added up (more than the wait when they overlap; "
        "runs before the wall time was recorded show —), *app* = warm − database wall. *Spark's cubes* reads "
        "the same cubes in Spark without the copy and *raw* reads raw rows (one run each: the figures before "
        "the copy). *DuckDB* is the same frames in a DuckDB file, timed in the same run right after Spark "
        "view by view (load: the 1-minute load average then), and the ratio is Spark warm ÷ DuckDB warm "
        "(goal: 2 or less).",
        "",
        "| view | calls | Spark cold (s) | Spark warm (s) | database, wall (s) | database, summed (s) "
        "| DuckDB warm (s) | Spark ÷ DuckDB | load | Spark's cubes (s) | raw (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for view, r in v["rollups_on"].items():
        duck = v["duckdb"][view]["warm_ms"]
        load = "—" if r.get("load") is None else f"{r['load']:.1f}"
        cubes, raw = v["spark_cubes"][view]["warm_ms"] / 1000, v["rollups_off"][view]["warm_ms"] / 1000
        # results written before the wall time was recorded hold only database_ms, the threads' sum
        wall = "—" if r.get("database_wall_ms") is None else f"{r['database_wall_ms'] / 1000:.2f}"
        summed = r.get("database_sum_ms", r.get("database_ms"))
        lines.append(f"| {view} | {r['calls']} | {r['cold_ms'] / 1000:.2f} | {r['warm_ms'] / 1000:.2f} | "
                     f"{wall} | {summed / 1000:.2f} | {duck / 1000:.2f} | {r['warm_ms'] / max(duck, 1):.1f}× | "
                     f"{load} | {cubes:.1f} | {raw:.1f} |")
    left_out = [x for x in VIEWS if x not in v["rollups_on"]]
    if left_out:
        lines += ["", f"Not timed in this run (`--views`): {', '.join(left_out)}."]
    fixed = res["fixed_ms"]
    lines += ["", f"Fixed cost per statement on this cluster (median of 5): `SELECT 1` {fixed['select_1']:.0f} ms, "
              f"`SELECT count(*) FROM regions` (a job on the workers) {fixed['count_regions']:.0f} ms."]
    if res.get("drill"):
        lines += ["", "Drill-down lists (raw rows, on Spark; 200 rows), wall time in the app against the "
                  "cluster's own execution time of the same statements (Spark's REST API, `/sql`), median of "
                  f"{res['repeat']} after a first run (goal: 2× or less):", "",
                  "| list | app (s) | Spark's execution (s) | ratio |", "|---|---|---|---|"]
        for name, d in res["drill"].items():
            ratio = "—" if d["ratio"] is None else f"{d['ratio']:.1f}×"
            lines.append(f"| {name} | {d['app_ms'] / 1000:.2f} | {d['spark_ms'] / 1000:.2f} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.spark", description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", default="S", choices=list(SCALES))
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--nice", type=int, default=10)
    p.add_argument("--views", default=",".join(VIEWS), help="comma-separated views of bench/views.py (default all)")
    p.add_argument("--section-only", action="store_true",
                   help="rewrite the docs/performance.md section from bench/spark_results.json, run nothing")
    args = p.parse_args(argv)
    if args.section_only:
        write_section("spark", section(json.loads(RESULTS.read_text())))
        return 0
    from metrics.backends.spark.cluster import ClusterError, SparkCluster
    from metrics.demo.generator import generate
    from metrics.ingest.load import replace_all

    root = Path(tempfile.mkdtemp(prefix="sw-spark-bench-"))
    cluster = SparkCluster(root, nice=args.nice)
    load_start = os.getloadavg()
    try:
        t0 = time.perf_counter()
        try:
            cluster.start(timeout_s=600)
        except ClusterError as exc:
            print(f"bench.spark: {exc}", file=sys.stderr)
            return 1
        start_s = time.perf_counter() - t0
        log(f"cluster up in {start_s:.0f} s: {cluster.url()}")
        frames = generate(customers=SCALES[args.scale], seed=args.seed)
        t0 = time.perf_counter()
        replace_all(cluster.url(), frames)
        load_s = time.perf_counter() - t0
        duck = f"duckdb:///{root / 'same-frames.duckdb'}"
        replace_all(duck, frames)
        rows = sum(len(df) for df in frames.values())
        del frames
        log(f"loaded {rows:,} rows in {load_s:.0f} s")
        fixed = fixed_costs(cluster.url())
        log(f"fixed costs: {fixed}")
        urls = {"spark": cluster.url(), "duckdb": duck}
        views = bench(urls, args.repeat, [v.strip() for v in args.views.split(",") if v.strip()])
        drill = drill_downs(cluster.url(), cluster.ports["thrift_ui"], args.repeat)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    import pyspark

    res = {"scale": args.scale, "customers": SCALES[args.scale], "seed": args.seed, "rows": rows,
           "repeat": args.repeat, "nice": args.nice, "start_s": round(start_s, 1), "load_s": round(load_s, 1),
           "spark": pyspark.__version__, "views": views, "fixed_ms": fixed, "drill": drill,
           "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
           "machine": {"cores": os.cpu_count(), "load_start": load_start, "load_end": os.getloadavg()}}
    RESULTS.write_text(json.dumps(res, indent=2) + "\n")
    write_section("spark", section(res))
    log(f"written {RESULTS.relative_to(ROOT)} and docs/performance.md (spark section)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
