"""Alerts benchmark (issue 16): ``alerts check`` with 100 control rules at L (1M customers), target 30 s.

Run by `make bench` after `bench.run` (which generates and caches the data sets); alone:
`python -m bench.alerts [--db URL] [--rules 100]`. The rules (five headline metrics × the first 20
regions below the province, all four run rules) go to an SQLite alert store of their own in a temporary
directory; the data file is only read. Writes bench/alerts_results.json and the alerts section of
docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from metrics import alerts
from metrics.demo.alert_rules import HEADLINE
from metrics.query.warehouse import Warehouse

from .run import _key
from .sections import write_section

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 30.0


def default_db() -> str:
    path = ROOT / "bench" / "data" / f"{_key('L', 7)}.duckdb"
    return f"duckdb:///{path}"


def run(url: str, n_rules: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[alerts.ALERTS_ENV] = f"sqlite:///{Path(tmp) / 'alerts.sqlite'}"
        wh = Warehouse.open(url, read_only=True, keep_open=True)
        keys = {v: k for k, v in alerts.region_keys(wh).items()}
        regions = [int(r) for r in wh.regions()["region_id"] if int(r) != 1]
        per_metric = -(-n_rules // len(HEADLINE))
        rules = [{"rule_id": f"bench.{m}.{r}", "metric": m, "filters": {"region": keys[r]}, "owner": "bench",
                  "kind": "control"} for m in HEADLINE for r in regions[:per_metric]][:n_rules]
        alerts.save_rules(wh, rules)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            found = alerts.evaluate(wh)
            times.append(time.perf_counter() - t0)
        wh.engine.dispose()
        os.environ.pop(alerts.ALERTS_ENV, None)
    return {"rules": len(rules), "first_s": round(times[0], 2), "median_s": round(sorted(times)[1], 2),
            "alerts": len(found), "target_s": TARGET_S, "db": Warehouse.open(url).location,
            "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cpus": os.cpu_count()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--db", default=default_db())
    p.add_argument("--rules", type=int, default=100)
    args = p.parse_args()
    res = run(args.db, args.rules)
    (ROOT / "bench" / "alerts_results.json").write_text(json.dumps(res, indent=1) + "\n")
    ok = "yes" if res["median_s"] <= TARGET_S else "**no**"
    write_section("alerts", f"""### Alerts: `servicewatch alerts check` (bench/alerts.py)

{res['rules']} control rules (five headline metrics × {res['rules'] // len(HEADLINE)} regions, 24 months each),
{res['db']}, {res['cpus']} CPUs, {res['measured']}: first run {res['first_s']} s, median of three
{res['median_s']} s ({res['alerts']} alerts); target {TARGET_S:.0f} s at L: {ok}. Each rule is one
monthly query (over the rollups) and a control chart.""")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
