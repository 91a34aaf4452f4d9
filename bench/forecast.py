"""Forecast benchmark (issue 17 item 3): ``metrics.analysis.forecast.forecast`` for each Overview KPI with a
target at L (1M customers) on DuckDB, target 200 ms warm; the back-test (a fit per origin) timed apart.

Run by `make bench` after `bench.run` (which generates and caches the data sets); alone:
`python -m bench.forecast [--db URL] [--repeat 5] [--no-docs]`. The data file is only read. "Warm" is
a repeat of the same call on the same open warehouse: the rollups' pages in DuckDB's cache, the targets
table and region tree passed in as the app passes them from its cache (the app caches the whole
forecast by the data version, so a warm page view costs nothing at all). Each forecast is split into
the monthly read (``monthly_series``) and the fit with its simulation (``forecast_series``). The load
average is recorded with the figures: on a shared machine they are upper bounds. Writes
bench/forecast_results.json and (without ``--no-docs``) the forecast section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from metrics.analysis import drill
from metrics.analysis import forecast as fc
from metrics.analysis import forecast_backtest as fb
from metrics.model.filters import Filters, preset_period
from metrics.query.warehouse import Warehouse

from .common import default_db, save_results
from .sections import write_section

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 200.0
COLUMNS = ("metric", "model", "months", "first", "warm", "warm CPU", "read", "fit", "back-test", "points",
           "80% covered", "95% covered", "before the period", "from the period on")
HEADER = "| " + " | ".join(COLUMNS) + " |\n" + "|---" * len(COLUMNS) + "|"
METRICS = ("csat", "nps", "complaint_rate", "sla_resolution_compliance", "fcr_rate", "churn_rate")


def _ms(fn, repeat: int) -> tuple[float, float, float, object]:  # noqa: ANN001 - a call without arguments
    """(first, median of ``repeat`` more, median CPU time of this process over those) in milliseconds,
    and the last result. The CPU time does not grow with other processes' load as the wall time does."""
    t0 = time.perf_counter()
    out = fn()
    first = 1000 * (time.perf_counter() - t0)
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(1000 * (time.perf_counter() - t0))
        cpu.append(1000 * (time.process_time() - c0))
    if not times:
        return round(first, 1), round(first, 1), float("nan"), out
    return round(first, 1), round(statistics.median(times), 1), round(statistics.median(cpu), 1), out


def run(url: str, repeat: int) -> dict:
    wh = Warehouse.open(url, read_only=True, keep_open=True)
    start, end = preset_period("last_quarter", wh.as_of())
    f = Filters(start, end)
    targets, ancestors = wh.targets(), drill.ancestors(wh.regions())
    load_before = os.getloadavg()
    rows = []
    for metric_id in METRICS:
        first, warm, cpu, out = _ms(lambda m=metric_id: fc.forecast(wh, m, f, targets, ancestors), repeat)
        _, read, _, history = _ms(lambda m=metric_id: fc.monthly_series(wh, m, f), repeat)
        _, fit, fit_cpu, _ = _ms(lambda m=metric_id, h=history, k=out.kind: fc.forecast_series(h, m, k), repeat)
        bt_first, _, _, points = _ms(lambda h=history, m=metric_id: fb.backtest_series(h, m), 0)
        summary = fb.backtest_summary(points)
        months = points["origin"].to_numpy(dtype="datetime64[M]") + (points["horizon"].to_numpy() - 1)
        before = months < np.datetime64(start, "M")  # the outcomes before the period shown
        early, late = fb.backtest_summary(points[before]), fb.backtest_summary(points[~before])
        p = out.periods.iloc[0] if len(out.periods) else None
        rows.append({"metric": metric_id, "model": out.model, "months": len(out.history), "reason": out.reason,
                     "first_ms": first, "warm_ms": warm, "warm_cpu_ms": cpu, "read_ms": read, "fit_ms": fit,
                     "fit_cpu_ms": fit_cpu, "backtest_ms": bt_first,
                     "backtest_n": summary["n"], "cover80": summary["cover80"], "cover95": summary["cover95"],
                     "before_n": early["n"], "before_cover80": early["cover80"], "before_cover95": early["cover95"],
                     "period_n": late["n"], "period_cover80": late["cover80"], "period_cover95": late["cover95"],
                     "p_meet": None if p is None else p["p_meet"], "verdict": None if p is None else p["verdict"]})
    wh.engine.dispose()
    return {"metrics": rows, "target_ms": TARGET_MS, "repeat": repeat, "db": Warehouse.open(url).location,
            "period": f"{start} – {end}", "load_avg_1m": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpus": os.cpu_count()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--db", default=default_db())
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--no-docs", action="store_true", help="leave docs/performance.md as it is")
    args = p.parse_args()
    res = run(args.db, args.repeat)
    save_results("forecast", res)
    worst = max(r["warm_ms"] for r in res["metrics"])
    ok = "yes" if worst <= TARGET_MS else "**no**"
    lines = "\n".join(f"| {r['metric']} | {r['model'] or r['reason']} | {r['months']} | {r['first_ms']} "
                      f"| {r['warm_ms']} | {r['warm_cpu_ms']} | {r['read_ms']} | {r['fit_ms']} | {r['backtest_ms']} "
                      f"| {r['backtest_n']} | {r['cover80']:.0%} | {r['cover95']:.0%} "
                      f"| {r['before_n']}: {r['before_cover80']:.0%} / {r['before_cover95']:.0%} "
                      f"| {r['period_n']}: {r['period_cover80']:.0%} / {r['period_cover95']:.0%} |"
                      for r in res["metrics"])
    if not args.no_docs:
        write_section("forecast", f"""### Forecasts: `metrics.analysis.forecast` (bench/forecast.py)

{res['db']}, {res['cpus']} CPUs, {res['measured']}, load average {res['load_avg_1m'][0]}–{res['load_avg_1m'][1]};
the period {res['period']}; median of {res['repeat']} warm calls (ms). Target {TARGET_MS:.0f} ms warm at L: {ok}
(worst {worst} ms).

The back-test runs over the whole history (every month with 12 before it as origin, 1–3 months ahead);
its outcomes are also counted apart before the period shown and from its first month on (on the
generated data sets the period is the quarter of the planted deterioration, which no model of the
months before it foresees): points: 80% / 95% band covered.

{HEADER}
{lines}""")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
