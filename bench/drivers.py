"""Key-drivers benchmark (issue 17 item 2): the drivers model of CSAT, NPS and CES over the last 12
months at L (1M customers) on DuckDB, target 5 s each (uncached: the dashboard caches the result by the
data version, so a warm page reads it from memory).

Run by `make bench` after `bench.run` (which generates and caches the data sets); alone:
`python -m bench.drivers [--db URL] [--no-doc]`. Times, per score, the one SQL query of the driver rows
(:func:`metrics.analysis.drivers.driver_rows`), the model with its bootstrap
(:func:`metrics.analysis.drivers.fit`) and the whole call, three runs each (the first cold), and the
unit-against-organisation performance of one city. Writes bench/drivers_results.json and the drivers
section of docs/performance.md (not with ``--no-doc``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from metrics.analysis import drivers as dv
from metrics.model.filters import Filters, preset_period
from metrics.query.warehouse import Warehouse

from .common import default_db, save_results
from .sections import write_section

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 5.0
RUNS = 3


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def run(url: str) -> dict:
    wh = Warehouse.open(url, read_only=True, keep_open=True)
    start, end = preset_period("last_12_months", wh.as_of())
    f = Filters(start, end)
    out: dict = {"period": f"{start} – {end}", "scores": {}}
    for score in dv.SCORES:
        sql, model, total, cpu = [], [], [], []
        for _ in range(RUNS):
            t0, c0 = time.perf_counter(), time.process_time()
            rows, eligible = dv.driver_rows(wh, f, score)
            t1 = time.perf_counter()
            r = dv.fit(rows, score, eligible)
            t2 = time.perf_counter()
            sql.append(t1 - t0)
            model.append(t2 - t1)
            total.append(t2 - t0)
            cpu.append(time.process_time() - c0)  # this process's CPU time, all its threads (DuckDB's too)
        out["scores"][score] = {
            "first_s": round(total[0], 2), "median_s": round(sorted(total)[RUNS // 2], 2),
            "sql_median_s": round(sorted(sql)[RUNS // 2], 2), "model_median_s": round(sorted(model)[RUNS // 2], 2),
            "cpu_median_s": round(sorted(cpu)[RUNS // 2], 2),
            "rows": r.n, "eligible": r.n_eligible, "n_boot": r.n_boot, "r2": round(r.r2, 4),
            "top": list(r.importance["driver"][:3]) if r.reason is None else []}
    regions = wh.regions()
    city = int(regions.loc[regions["level"] == "city", "region_id"].iloc[0])
    t0 = time.perf_counter()
    dv.performance(wh, f.with_(regions=(city,)), "csat")
    out["performance_unit_s"] = round(time.perf_counter() - t0, 2)
    wh.engine.dispose()
    out.update(target_s=TARGET_S, cap=dv.ROW_CAP, db=Warehouse.open(url).location,
               measured=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), cpus=os.cpu_count(), load=_load())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--db", default=default_db())
    p.add_argument("--no-doc", action="store_true", help="do not write the section of docs/performance.md")
    args = p.parse_args()
    res = run(args.db)
    save_results("drivers", res)
    lines = "\n".join(
        f"| {s} | {v['eligible']:,} | {v['rows']:,} | {v['sql_median_s']} | {v['model_median_s']} | {v['first_s']} | "
        f"{v['median_s']} | {v['cpu_median_s']} | {'yes' if v['median_s'] <= TARGET_S else '**no**'} |"
        for s, v in res["scores"].items())
    if not args.no_doc:
        write_section("drivers", f"""### Key drivers: `servicewatch drivers` (bench/drivers.py)

{res['db']}, {res['period']}, {res['cpus']} CPUs (load {res['load']}), {res['measured']}; at most
{res['cap']:,} surveys per model (a fixed sample above), {res['scores']['csat']['n_boot']} bootstrap resamples;
target {TARGET_S:.0f} s per model, uncached (the dashboard caches it by the data version). Times are wall
clock; "CPU s" is the process's CPU time (all threads), which a busy machine does not inflate.

| score | eligible surveys | rows | SQL s | model s | first s | median s | CPU s | within target |
|---|---|---|---|---|---|---|---|---|
{lines}

A city's performance against the organisation (two more row queries): {res['performance_unit_s']} s.""")
    print(json.dumps(res, ensure_ascii=False))


if __name__ == "__main__":
    main()
