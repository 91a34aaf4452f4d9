"""Churn benchmark (issue 4): retention curves, model fit and score reads on a cached bench data set.

Run by `make bench` after `bench.run` (which generates and caches the data sets); alone:
`python -m bench.churn --scales L [--repeat 7]`. Works on a copy of the cached DuckDB file (it
rebuilds the tenure rollup and the open-tickets table there, timed, and fitting writes the model
tables) and writes its figures between the churn markers of docs/performance.md and into
bench/churn_results.json.

Every read is timed as the dashboard makes it: a ``Warehouse.open(..., keep_open=True)`` reader.
*Connection* is opening such a reader and running ``SELECT 1`` (a new DuckDB connection), reported
apart. *Cold* is the first call on a new reader whose connection is already open (nothing else
holds the file open, so DuckDB's caches start empty); *warm* is a repeated call on the same reader.
Each figure is the median of ``--repeat`` runs. Curves are also timed with the rollups off (the life
table from the customers table), warm, for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from metrics.access.users import Scope
from metrics.backends.connect import make_engine
from metrics.churn import model as churn_model
from metrics.churn import store as churn_store
from metrics.churn import survival
from metrics.churn import tenure_rollup as survival_rollup
from metrics.ingest import open_tickets
from metrics.model import schema as s
from metrics.model.filters import Filters
from metrics.query.warehouse import Warehouse

from .datasets import SCALES
from .sections import write_section

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
TARGET_CURVE_MS = 200
# (label, by, step_days, which filters): every grouping of the churn page, weekly as charted
CURVES = [(f"by {by}", by, 7, "all") for by in ("tier", "segment", "region", "channel", "sla_level")] + [
    ("overall", None, 7, "all"), ("by tier, one city", "tier", 7, "city"), ("by tier, daily steps", "tier", 1, "all"),
    ("by tier, one account manager's customers (no rollup: raw)", "tier", 7, "portfolio")]


def _warm(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    """Median and fastest wall time, and median CPU time of this process (all its threads: DuckDB's
    too), in ms. CPU time hardly depends on what else runs on the machine; wall time does."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return {"ms": round(1000 * statistics.median(wall), 1), "min_ms": round(1000 * min(wall), 1),
            "cpu_ms": round(1000 * statistics.median(cpu), 1)}


def _reader(url: str, use_rollups: bool = True) -> Warehouse:
    wh = Warehouse.open(url, read_only=True, keep_open=True)
    wh.use_rollups = use_rollups
    return wh


def _connect_ms(url: str, repeat: int) -> float:
    """Opening a dashboard reader and running SELECT 1 on it (median ms)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        wh = _reader(url)
        wh.read(sa.select(sa.literal(1)))
        times.append(time.perf_counter() - t0)
        wh.engine.dispose()
    return round(1000 * statistics.median(times), 1)


def _cold_ms(url: str, call: Callable[[Warehouse], object], repeat: int) -> float:
    """The first call on a new reader (its connection opened beforehand, not counted), median ms."""
    times = []
    for _ in range(repeat):
        wh = _reader(url)
        wh.read(sa.select(sa.literal(1)))
        t0 = time.perf_counter()
        call(wh)
        times.append(time.perf_counter() - t0)
        wh.engine.dispose()
    return round(1000 * statistics.median(times), 1)


def _timed_build(url: str, refresh: Callable[[sa.Engine], object]) -> float:
    engine = make_engine(url)
    try:
        t0 = time.perf_counter()
        refresh(engine)
        return round(time.perf_counter() - t0, 2)
    finally:
        engine.dispose()


def _filters(url: str) -> dict[str, Filters]:
    """All regions; the first city; the first account manager's customers (as that user would see
    them) — over the last three years to the data's as-of."""
    wh = _reader(url)
    try:
        r, as_of = wh.regions(), wh.as_of()
        managers = wh.read(sa.select(sa.func.min(s.customers.c.account_manager_id)))
    finally:
        wh.engine.dispose()
    everyone = Filters(start=as_of.replace(year=as_of.year - 3), end=as_of)
    return {"all": everyone, "city": everyone.with_(regions=(int(r.loc[r["level"] == "city", "region_id"].iloc[0]),)),
            "portfolio": everyone.with_(scope=Scope(user="bench", manager_id=int(managers.iloc[0, 0])))}


def run(scale: str, seed: int = 7, repeat: int = 7) -> dict:
    src = DATA / f"{scale}-{SCALES[scale]}-seed{seed}.duckdb"
    if not src.is_file():
        raise SystemExit(f"bench.churn: no cached data set {src}; run `python -m bench.run --scales {scale}` first")
    load_before = round(os.getloadavg()[0], 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / src.name
        shutil.copyfile(src, path)
        url = f"duckdb:///{path}"
        builds = {"tenure_rollup_s": _timed_build(url, survival_rollup.refresh),
                  "open_tickets_s": _timed_build(url, open_tickets.refresh)}
        filters = _filters(url)

        def curve(by: str | None, step: int, which: str) -> Callable[[Warehouse], object]:
            return lambda wh: survival.retention(wh, filters[which], by, "city", step)

        connect = _connect_ms(url, repeat)
        curves = {}
        for label, by, step, which in CURVES:
            call = curve(by, step, which)
            cold = _cold_ms(url, call, repeat)
            wh = _reader(url)
            call(wh)
            warm = _warm(lambda call=call, wh=wh: call(wh), repeat)
            wh.engine.dispose()
            raw = _reader(url, use_rollups=False)
            call(raw)
            warm_raw = _warm(lambda call=call, raw=raw: call(raw), repeat)
            raw.engine.dispose()
            curves[label] = {"cold_ms": cold, "warm_ms": warm["ms"], "warm_min_ms": warm["min_ms"],
                             "warm_cpu_ms": warm["cpu_ms"], "warm_raw_ms": warm_raw["ms"],
                             "warm_raw_cpu_ms": warm_raw["cpu_ms"]}

        writer = Warehouse.open(url, read_only=False)
        t0 = time.perf_counter()
        result = churn_model.fit(writer)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        churn_store.save(writer.engine, result)
        save_s = time.perf_counter() - t0
        n_scored = len(result.scores)
        writer.engine.dispose()

        reads = {}
        for label, f in (("top 100, all regions", filters["all"]), ("top 100, one city", filters["city"]),
                         ("top 100, one account manager's customers", filters["portfolio"])):
            def call(wh: Warehouse, f: Filters = f) -> object:
                return churn_store.scores(wh, f, top=100)
            cold = _cold_ms(url, call, repeat)
            wh = _reader(url)
            call(wh)
            warm = _warm(lambda wh=wh, call=call: call(wh), repeat)
            reads[label] = {"cold_ms": cold, "warm_ms": warm["ms"], "warm_min_ms": warm["min_ms"],
                            "warm_cpu_ms": warm["cpu_ms"]}
            wh.engine.dispose()
    return {"scale": scale, "customers": SCALES[scale], "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "repeat": repeat, "load_average": [load_before, round(os.getloadavg()[0], 1)], "cpus": os.cpu_count(),
            "connect_ms": connect, "builds": builds, "retention": curves, "fit_s": round(fit_s, 1),
            "save_s": round(save_s, 1), "n_scored": n_scored, "scores": reads}


def markdown(results: list[dict]) -> str:
    lines = ["### Churn and retention (`bench/churn.py`)", ""]
    for r in results:
        n = r["repeat"]
        lines += [f"**{r['scale']} ({r['customers']:,} customers)**, DuckDB file. Medians of {n} runs each; "
                  f"*cold* = first call on a new dashboard reader (connection already open), *warm* = "
                  f"repeated call on it (median, and the fastest run in brackets), *CPU* = CPU time of the "
                  f"process (all threads) per call, which depends little on the machine's load; *raw* = "
                  f"the same with the rollups off (life table from the customers table). Opening a reader "
                  f"(new DuckDB connection + `SELECT 1`), not included above: {r['connect_ms']:,.0f} ms.", "",
                  "| retention curves (`survival.retention`, all regions unless said) | cold | warm (fastest) | "
                  f"warm CPU | under {TARGET_CURVE_MS} ms warm | raw: warm | raw: warm CPU |",
                  "|---|---:|---:|---:|---|---:|---:|"]
        for label, v in r["retention"].items():
            ok = "yes" if v["warm_ms"] < TARGET_CURVE_MS else "**no**"
            lines.append(f"| {label} | {v['cold_ms']:,.0f} ms | {v['warm_ms']:,.0f} ms ({v['warm_min_ms']:,.0f}) "
                         f"| {v['warm_cpu_ms']:,.0f} ms | {ok} | {v['warm_raw_ms']:,.0f} ms "
                         f"| {v['warm_raw_cpu_ms']:,.0f} ms |")
        lines += ["", "| at-risk list (`churn_store.scores`) | cold | warm (fastest) | warm CPU |",
                  "|---|---:|---:|---:|"]
        for label, v in r["scores"].items():
            lines.append(f"| {label} | {v['cold_ms']:,.0f} ms | {v['warm_ms']:,.0f} ms ({v['warm_min_ms']:,.0f}) "
                         f"| {v['warm_cpu_ms']:,.0f} ms |")
        b = r["builds"]
        lines += ["", f"Model fit (`churn_model.fit`, once): {r['fit_s']:.1f} s; storing {r['n_scored']:,} scores: "
                  f"{r['save_s']:.1f} s. Built at refresh (once each): tenure rollup {b['tenure_rollup_s']:.1f} s, "
                  f"open tickets per customer {b['open_tickets_s']:.1f} s.", ""]
    r = results[-1]
    loads = "; ".join(f"{x['scale']}: {x['load_average'][0]} before, {x['load_average'][1]} after" for x in results)
    lines.append(f"Run {r['when']} on {r['cpus']} cores shared with other work; 1-minute load average {loads}. "
                 "Figures on a loaded machine are upper bounds.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.churn")
    p.add_argument("--scales", default="S,L")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--repeat", type=int, default=7, help="runs per figure (median)")
    args = p.parse_args(argv)
    results = [run(s.strip(), args.seed, args.repeat) for s in args.scales.split(",") if s.strip()]
    (ROOT / "bench" / "churn_results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    write_section("churn", markdown(results))
    for r in results:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
