"""``make bench`` (Spark part): the dashboard's default views on a local two-worker Spark cluster.

    .venv/bin/python -m bench.spark [--scale S] [--repeat 2] [--nice 10]

Starts a cluster from the pyspark package's jars (master, two workers with one core and 1 GB each,
Thrift server; :mod:`metrics.backends.spark.cluster`), loads the demo at the scale (S: 100,000 customers,
seed 7, the data set of ``bench.run``) through ``servicewatch demo``'s path (Parquet + Spark tables +
rollups built in Spark), times every view of :mod:`bench.views` with rollups on (cold = first run,
warm = median of ``--repeat``) and off (one run), and splits each call's time into the part spent in
the database (execute and fetch over Thrift: Spark's planning, scheduling and tasks) and in the app
(compiling the query, finishing the frame). Stops the cluster, writes ``bench/spark_results.json`` and
the ``spark`` section of ``docs/performance.md``, next to the DuckDB and PostgreSQL figures of
``bench/results.json`` at the same scale.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
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
    """A Warehouse that adds up the seconds spent in ``read`` (the database's share of a call)."""

    db_s: float = 0.0

    def read(self, stmt):  # noqa: ANN001 - same signature as Warehouse.read
        t0 = time.perf_counter()
        try:
            return super().read(stmt)
        finally:
            self.db_s += time.perf_counter() - t0


def time_view(wh: TimedWarehouse, calls, filters) -> tuple[float, float]:
    """(total seconds, seconds inside the database) for one pass over a view's calls."""
    wh.db_s = 0.0
    t0 = time.perf_counter()
    for call in calls:
        run_call(wh, call, filters)
    return time.perf_counter() - t0, wh.db_s


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


def bench(url: str, repeat: int, views: list[str]) -> dict:
    out: dict = {}
    for use_rollups in (True, False):
        wh = TimedWarehouse(Warehouse.open(url).engine, use_rollups=use_rollups)
        filters = default_filters(wh.as_of())
        key = "rollups_on" if use_rollups else "rollups_off"
        out[key] = {}
        for view, calls in ((v, VIEWS[v]) for v in views):
            runs = [time_view(wh, calls, filters) for _ in range(1 + (repeat if use_rollups else 0))]
            warm = runs[1:] or runs
            total = statistics.median(r[0] for r in warm)
            db = statistics.median(r[1] for r in warm)
            out[key][view] = {"calls": len(calls), "cold_ms": round(runs[0][0] * 1000), "warm_ms": round(total * 1000),
                              "database_ms": round(db * 1000), "app_ms": round((total - db) * 1000)}
            log(f"  {key} {view}: cold {runs[0][0]:.1f} s, warm {total:.1f} s (database {db:.1f} s)")
        wh.engine.dispose()
    return out


def section(res: dict, compare: Path = ROOT / "bench" / "results.json") -> str:
    """The docs/performance.md section; DuckDB/PostgreSQL columns from ``compare`` (bench.run's results)."""
    data = json.loads(compare.read_text()) if compare.is_file() else {}
    dbs = data.get("scales", {}).get(res["scale"], {}).get("databases", {})
    when = (f"measured {data['started_at'][:16].replace('T', ' ')} UTC" if dbs and data.get("started_at")
            else f"not in {compare.name} at this scale")
    lines = [
        f"### Spark SQL at {res['scale']} ({res['customers']:,} customers) — `python -m bench.spark`",
        "",
        f"Measured {res['finished_at'][:16].replace('T', ' ')} UTC on the shared development machine "
        f"({res['machine']['cores']} cores, load average {res['machine']['load_start'][0]:.1f} at the start and "
        f"{res['machine']['load_end'][0]:.1f} at the end: other work ran at the same time), Spark {res['spark']} "
        f"standalone on 127.0.0.1: two workers with 1 core and 1 GB each, Thrift server, processes at nice "
        f"{res['nice']}. Cluster start {res['start_s']:.0f} s; loading the data set (Parquet + tables + rollups) "
        f"{res['load_s']:.0f} s. Each view is the set of engine calls behind a dashboard page (bench/views.py); "
        f"warm = median of the {res['repeat']} run(s) after the first (cold) one. *database* is the time inside "
        "execute+fetch over Thrift (Spark's planning, scheduling and tasks), *app* the rest (compiling, "
        f"finishing frames). DuckDB and PostgreSQL columns: warm view times of `bench.run` at the same scale "
        f"({when}, on the same machine under other load), rollups on.",
        "",
        "| view | calls | Spark cold (s) | Spark warm (s) | of which database (s) | app (s) | Spark, rollups off (s) "
        "| DuckDB warm (s) | PostgreSQL warm (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for view, r in res["views"]["rollups_on"].items():
        raw = res["views"]["rollups_off"][view]["warm_ms"] / 1000
        duck = dbs.get("duckdb", {}).get("rollups_on", {}).get(view, {}).get("warm_ms")
        pg = dbs.get("postgresql", {}).get("rollups_on", {}).get(view, {}).get("warm_ms")
        fmt = lambda v: "—" if v is None else f"{v / 1000:.2f}"  # noqa: E731
        lines.append(f"| {view} | {r['calls']} | {r['cold_ms'] / 1000:.1f} | {r['warm_ms'] / 1000:.1f} | "
                     f"{r['database_ms'] / 1000:.1f} | {r['app_ms'] / 1000:.2f} | {raw:.1f} | {fmt(duck)} | "
                     f"{fmt(pg)} |")
    left_out = [v for v in VIEWS if v not in res["views"]["rollups_on"]]
    if left_out:
        lines += ["", "Not timed in this run (`--views`, to keep it short on the shared machine): "
                  f"{', '.join(left_out)}."]
    fixed = res["fixed_ms"]
    lines += ["", f"Fixed cost per statement on this cluster (median of 5): `SELECT 1` {fixed['select_1']:.0f} ms, "
              f"`SELECT count(*) FROM regions` (a job on the workers) {fixed['count_regions']:.0f} ms."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.spark", description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", default="S", choices=list(SCALES))
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--nice", type=int, default=10)
    p.add_argument("--views", default=",".join(VIEWS), help="comma-separated views of bench/views.py (default all)")
    p.add_argument("--compare", type=Path, default=ROOT / "bench" / "results.json",
                   help="bench.run results with the DuckDB/PostgreSQL figures to show beside Spark's")
    p.add_argument("--section-only", action="store_true",
                   help="rewrite the docs/performance.md section from bench/spark_results.json, run nothing")
    args = p.parse_args(argv)
    if args.section_only:
        write_section("spark", section(json.loads(RESULTS.read_text()), args.compare))
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
        rows = sum(len(df) for df in frames.values())
        del frames
        log(f"loaded {rows:,} rows in {load_s:.0f} s")
        fixed = fixed_costs(cluster.url())
        log(f"fixed costs: {fixed}")
        views = bench(cluster.url(), args.repeat, [v.strip() for v in args.views.split(",") if v.strip()])
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    import pyspark

    res = {"scale": args.scale, "customers": SCALES[args.scale], "seed": args.seed, "rows": rows,
           "repeat": args.repeat, "nice": args.nice, "start_s": round(start_s, 1), "load_s": round(load_s, 1),
           "spark": pyspark.__version__, "views": views, "fixed_ms": fixed,
           "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
           "machine": {"cores": os.cpu_count(), "load_start": load_start, "load_end": os.getloadavg()}}
    RESULTS.write_text(json.dumps(res, indent=2) + "\n")
    write_section("spark", section(res, args.compare))
    log(f"written {RESULTS.relative_to(ROOT)} and docs/performance.md (spark section)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
