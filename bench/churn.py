"""Churn benchmark (issue 4): retention curves, model fit and score reads on a cached bench data set.

Run by `make bench` after `bench.run` (which generates and caches the data sets); alone:
`python -m bench.churn --scale L`. Works on a copy of the cached DuckDB file (fitting writes the
model tables) and writes its figures between the churn markers of docs/performance.md and into
bench/churn_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from metrics import churn_model, churn_store, survival
from metrics.engine import Warehouse
from metrics.filters import Filters

from .sections import write_section

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / "data"
SIZES = {"S": 100_000, "L": 1_000_000}


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def run(scale: str, seed: int = 7, repeat: int = 5) -> dict:
    src = DATA / f"{scale}-{SIZES[scale]}-seed{seed}.duckdb"
    if not src.is_file():
        raise SystemExit(f"bench.churn: no cached data set {src}; run `python -m bench.run --scales {scale}` first")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / src.name
        shutil.copyfile(src, path)
        url = f"duckdb:///{path}"
        wh = Warehouse.open(url, read_only=True, keep_open=True)
        as_of = wh.as_of()
        everyone = Filters(start=as_of.replace(year=as_of.year - 3), end=as_of)
        one_city = everyone.with_(regions=(4,))
        curves = {
            "by tier, weekly, all regions": _median_ms(lambda: survival.retention(wh, everyone, "tier"), repeat),
            "by tier, weekly, one city": _median_ms(lambda: survival.retention(wh, one_city, "tier"), repeat),
            "by segment, daily, all regions": _median_ms(
                lambda: survival.retention(wh, everyone, "segment", step_days=1), repeat),
        }
        wh.engine.dispose()
        writer = Warehouse.open(url, read_only=False)
        t0 = time.perf_counter()
        result = churn_model.fit(writer)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        churn_store.save(writer.engine, result)
        save_s = time.perf_counter() - t0
        writer.engine.dispose()
        reader = Warehouse.open(url, read_only=True, keep_open=True)
        top100 = _median_ms(lambda: churn_store.scores(reader, everyone, top=100), repeat)
        reader.engine.dispose()
    return {"scale": scale, "customers": SIZES[scale], "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "load_average": round(os.getloadavg()[0], 1),
            "retention_ms": curves, "fit_s": fit_s, "save_s": save_s, "top100_scores_ms": top100}


def markdown(results: list[dict]) -> str:
    lines = ["### Churn and retention (`bench/churn.py`)", "",
             "| scale | customers | retention curves (warm median) | model fit | store scores | top-100 scores read |",
             "|---|---:|---|---:|---:|---:|"]
    for r in results:
        curves = "; ".join(f"{k}: {v:,.0f} ms" for k, v in r["retention_ms"].items())
        lines.append(f"| {r['scale']} | {r['customers']:,} | {curves} | {r['fit_s']:.1f} s | {r['save_s']:.1f} s "
                     f"| {r['top100_scores_ms']:,.0f} ms |")
    loads = ", ".join(str(r.get("load_average", "?")) for r in results)
    lines += ["", f"Run {results[-1]['when']}; load average {loads} (other work on the 2 cores); DuckDB file "
              "opened read-only with one kept connection, as the dashboard does."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench.churn")
    p.add_argument("--scales", default="S,L")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    results = [run(s.strip(), args.seed) for s in args.scales.split(",") if s.strip()]
    (ROOT / "bench" / "churn_results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    write_section("churn", markdown(results))
    for r in results:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
