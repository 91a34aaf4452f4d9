"""Explain benchmark (issue 17 item 1): ``decompose.explain`` — a metric's change split over every
dimension (region one level down, tier, channel, category), ranked — at L (1M customers) on DuckDB,
target 300 ms warm from the rollups.

Run by `make bench` after `bench.run` (which generates and caches the data sets); alone:
`python -m bench.explain [--db URL]`. For each headline metric over the last quarter: the first call on a
fresh Warehouse (cold: the file's pages and the as-of/vocabulary reads), then the median of five (warm),
and each dimension alone (warm). The data file is only read. Writes bench/explain_results.json and the
explain section of docs/performance.md.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from metrics.analysis import decompose
from metrics.model.filters import Filters, preset_period
from metrics.query.warehouse import Warehouse

from .common import elapsed_ms, machine, run_on_db
from .sections import write_section

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 300.0
METRICS = ("complaint_rate", "csat", "nps", "sla_resolution_compliance", "fcr_rate", "churn_rate")
WARM = 5


def run(url: str) -> dict:
    rows = []
    for metric_id in METRICS:
        wh = Warehouse.open(url, read_only=True, keep_open=True)
        start, end = preset_period("last_quarter", wh.as_of())
        f = Filters(start=start, end=end)
        wh = Warehouse.open(url, read_only=True, keep_open=True)  # cold again: as-of read inside the call
        cold = elapsed_ms(lambda: decompose.explain(wh, metric_id, f))  # noqa: B023 - called at once
        warm = statistics.median(elapsed_ms(lambda: decompose.explain(wh, metric_id, f)) for _ in range(WARM))  # noqa: B023
        best = decompose.explain(wh, metric_id, f)[0]
        dims = {d: round(statistics.median(elapsed_ms(lambda: decompose.decompose(wh, metric_id, f, d))  # noqa: B023
                                           for _ in range(3)), 1) for d in decompose.dimensions_of(metric_id)}
        top = best.groups.iloc[0] if len(best.groups) else None
        rows.append({"metric": metric_id, "cold_ms": round(cold, 1), "warm_ms": round(warm, 1), "dims_ms": dims,
                     "best_dim": best.dim, "top_group": None if top is None else str(top["name_en"]),
                     "score": round(best.score, 3)})
        wh.engine.dispose()
    return {"rows": rows, "target_ms": TARGET_MS, "db": Warehouse.open(url).location, **machine()}


def main() -> None:
    res = run_on_db("explain", run, __doc__)
    worst = max(r["warm_ms"] for r in res["rows"])
    ok = "yes" if worst <= TARGET_MS else "**no**"
    lines = "\n".join(f"| {r['metric']} | {r['cold_ms']:.0f} | {r['warm_ms']:.0f} | "
                      f"{', '.join(f'{d} {v:.0f}' for d, v in r['dims_ms'].items())} | {r['best_dim']}: "
                      f"{r['top_group']} |" for r in res["rows"])
    write_section("explain", f"""### What drove the change: `decompose.explain` (bench/explain.py)

Each headline metric over the last quarter split over all its dimensions and ranked, {res['db']},
{res['cpus']} CPUs, load {res['load_1m']}, {res['measured']} (ms; warm = median of {WARM}):

| metric | cold | warm | each dimension alone (warm) | explains most |
|---|---|---|---|---|
{lines}

Target {TARGET_MS:.0f} ms warm at L: {ok} (slowest {worst:.0f} ms). One total and one `UNION ALL` of the two
periods per dimension, over the rollups.""")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
