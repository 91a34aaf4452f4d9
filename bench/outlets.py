"""Outlets benchmark (issue 19): the engine calls of the Outlets page — the league of outlets, one hall's
queue by weekday × hour, the VIP lane, one hall's audits, the repeated failures and the star ratings —
at L (1M customers) on DuckDB over the last 12 months, target 1 s warm for the page's calls together.

Run by `make bench` after `bench.run` (which generates and caches the data sets); alone:
`python -m bench.outlets [--db URL]`. Each call: first on a fresh Warehouse (cold), then the median of
five (warm); the page's total is the sum of the warm medians. The rollup path (``rollup_queue``) is what
the page reads; the raw path (the queue records) is timed beside it for the league. The data file is only
read. Writes bench/outlets_results.json and the outlets section of docs/performance.md.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from metrics.analysis import outlet_audits, outlet_stars, outlets
from metrics.model.filters import Filters, preset_period
from metrics.query.warehouse import Warehouse

from .common import cold_warm, elapsed_ms, machine, run_on_db
from .sections import write_section

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 1000.0
WARM = 5


def run(url: str) -> dict:
    wh = Warehouse.open(url, read_only=True, keep_open=True)
    f = Filters(*preset_period("last_12_months", wh.as_of()))
    rules = outlet_stars.load_rules()
    league = outlets.outlet_league(wh, f, rules.target_minutes)
    hall = int(league["outlet_id"].iloc[league["visits"].to_numpy().argmax()])  # the busiest hall
    calls = {
        "outlet_league": lambda w: outlets.outlet_league(w, f),
        "queue_pattern (one hall, weekday × hour)": lambda w: outlets.queue_pattern(w, f, hall, "hour_weekday"),
        "vip_lane": lambda w: outlets.vip_lane(w, f),
        "audit_trend (one hall)": lambda w: outlet_audits.audit_trend(w, f, hall),
        "repeated_failures": lambda w: outlet_audits.repeated_failures(w, f),
        "star_ratings (on the page's league)": lambda w: outlet_stars.star_ratings(w, f, rules, league),
    }
    rows = cold_warm(url, calls, WARM)
    raw = Warehouse(Warehouse.open(url, read_only=True, keep_open=True).engine, use_rollups=False)
    raw_ms = statistics.median(elapsed_ms(lambda: outlets.outlet_league(raw, f)) for _ in range(3))
    return {"rows": rows, "total_warm_ms": round(sum(r["warm_ms"] for r in rows), 1),
            "league_raw_ms": round(raw_ms, 1), "outlets": len(league), "visits": int(league["visits"].sum()),
            "target_ms": TARGET_MS, "db": Warehouse.open(url).location, "period": f"{f.start} – {f.end}",
            **machine()}


def main() -> None:
    res = run_on_db("outlets", run, __doc__)
    ok = "yes" if res["total_warm_ms"] <= TARGET_MS else "**no**"
    lines = "\n".join(f"| {r['call']} | {r['cold_ms']:.0f} | {r['warm_ms']:.0f} |" for r in res["rows"])
    write_section("outlets", f"""### Service halls: the Outlets page's engine calls (bench/outlets.py)

{res['outlets']} outlets, {res['visits']:,} visits in {res['period']}, {res['db']}, {res['cpus']} CPUs,
load {res['load_1m']}, {res['measured']} (ms; warm = median of {WARM}):

| call | cold | warm |
|---|---|---|
{lines}

Target {TARGET_MS:.0f} ms warm for the page's calls together at L: {ok} ({res['total_warm_ms']:.0f} ms). The
league from the queue records instead of `rollup_queue`: {res['league_raw_ms']:.0f} ms warm.""")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
