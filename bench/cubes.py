"""Coarse cubes benchmark (issue 21): every view of :mod:`bench.views` at L read through the fine event
cubes only (as before the coarse cubes: ``coarse`` left out of the Warehouse's ``rollup_sources``)
and through the smallest cube holding each request (what the dashboard reads), on the same open file,
the two taking turns view by view so that other work on the machine weighs on both alike.

Run by `make bench` after `bench.run` (which generates and caches the data sets); alone:
`python -m bench.cubes [--db URL] [--repeat 5]`. Wall time and this process's CPU time (which does not
grow with other processes' load) per view; the load average beside each. Writes
bench/cubes_results.json and the cubes section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import sqlalchemy as sa

from metrics.ingest import rollups
from metrics.query.warehouse import Warehouse

from .common import default_db, machine, save_results
from .sections import write_section
from .views import VIEWS, default_filters, run_call


def _without_coarse(url: str) -> Warehouse:
    """A Warehouse that reads the fine event cubes only (the rollups as they were before the coarse ones)."""
    wh = Warehouse.open(url, read_only=True, keep_open=True)
    wh.without_sources = frozenset({rollups.COARSE})
    return wh


def _time(wh: Warehouse, calls, filters) -> tuple[float, float]:  # noqa: ANN001 - bench.views' calls
    t0, c0 = time.perf_counter(), time.process_time()
    for call in calls:
        run_call(wh, call, filters)
    return time.perf_counter() - t0, time.process_time() - c0


def run(url: str, repeat: int) -> dict:
    whs = {"coarse": Warehouse.open(url, read_only=True, keep_open=True), "fine": _without_coarse(url)}
    assert rollups.COARSE in whs["coarse"].rollup_sources(), "the data set was built before the coarse cubes"
    filters = default_filters(whs["coarse"].as_of())
    sizes = {t.name: int(whs["coarse"].read(sa.select(sa.func.count()).select_from(t)).iloc[0, 0])
             for t in (*rollups.TABLES.values(), *rollups.COARSE_TABLES.values())}
    views = {}
    try:
        for view, calls in VIEWS.items():
            views[view] = {}
            for name, wh in whs.items():
                runs = [_time(wh, calls, filters) for _ in range(1 + repeat)]
                views[view][name] = {"cold_ms": round(runs[0][0] * 1000, 1),
                                     "warm_ms": round(statistics.median(r[0] for r in runs[1:]) * 1000, 1),
                                     "cpu_ms": round(statistics.median(r[1] for r in runs[1:]) * 1000, 1),
                                     "load": round(os.getloadavg()[0], 1)}
                print(f"{view} {name}: {views[view][name]}", flush=True)
    finally:
        for wh in whs.values():
            wh.dispose()
    return {"db": url.rsplit("/", 1)[-1], "repeat": repeat, "rows": sizes, "views": views, **machine()}


def section(res: dict) -> str:
    rows = res["rows"]
    lines = [f"### Coarse event cubes at L — `python -m bench.cubes` ({res['db']})", "",
             f"Measured {res['measured']} on the shared development machine ({res['cpus']} cores). Each view "
             "(bench/views.py) read through the fine event cubes only (before) and through the smallest cube "
             "holding each request (after, what the dashboard reads), on the same open DuckDB file, the two "
             f"taking turns view by view; warm = median of {res['repeat']} runs after the first, CPU = this "
             "process's CPU time, load = the 1-minute load average after the view. Rows: "
             + ", ".join(f"`{k}` {v:,}" for k, v in rows.items()) + ".", "",
             "| view | fine cubes warm (s) | CPU (s) | coarse cubes warm (s) | CPU (s) | fine ÷ coarse | load |",
             "|---|---|---|---|---|---|---|"]
    for view, r in res["views"].items():
        f, c = r["fine"], r["coarse"]
        lines.append(f"| {view} | {f['warm_ms'] / 1000:.2f} | {f['cpu_ms'] / 1000:.2f} | {c['warm_ms'] / 1000:.2f} | "
                     f"{c['cpu_ms'] / 1000:.2f} | {f['warm_ms'] / max(c['warm_ms'], 0.1):.1f}× | {c['load']:.1f} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", default=default_db())
    p.add_argument("--repeat", type=int, default=5)
    res = run(p.parse_args().db, p.parse_args().repeat)
    save_results("cubes", res)
    write_section("cubes", section(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
