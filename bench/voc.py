"""Voice-of-the-customer benchmark (issue 20): the engine calls of the complaint-text section
(:mod:`metrics.analysis.topics`) — the topic trend over 12 months, the same by region, the top three
types, the same by region, the rising topics, the same by region, and five masked quotes — over the last
quarter against the one before, at L (1M customers) and S (100k) on DuckDB; target 1 s warm for the
section's calls together at L.

Run by `make bench` after `bench.run` (which generates and caches the data sets); alone:
`python -m bench.voc [--scales L,S] [--db URL]`. A scale whose data set is not in bench/data/ is left
out (and said so); L takes long to build and is never built here. The calls are timed **uncached**: the
engine directly, without the dashboard's cache (``st.cache_data``), which would answer a repeated view
at once. Each call: first on a fresh Warehouse (cold: the file's pages, the as-of and vocabulary reads),
then the median of five on it (warm). The data file is only read. Writes bench/voc_results.json and
the voc section of docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import sqlalchemy as sa

from metrics.analysis import topics
from metrics.ingest.topics import ticket_topics
from metrics.model.filters import Filters, preset_period
from metrics.query.warehouse import Warehouse

from .common import cold_warm, default_db, machine, save_results
from .datasets import DATA, SCALES, data_key
from .sections import write_section

ROOT = Path(__file__).resolve().parents[1]
TARGET_MS = 1000.0
WARM = 5


def calls(f: Filters, trend: Filters, topic: str) -> dict:
    """The section's engine calls, as the page makes them (``voc_panel``), by name."""
    return {
        "topic_trend (12 months)": lambda w: topics.topic_trend(w, trend),
        "topic_trend by region": lambda w: topics.topic_trend(w, trend, "region"),
        "top_types (top 3)": lambda w: topics.top_types(w, f, 3),
        "top_types by region": lambda w: topics.top_types(w, f, 3, "region"),
        "rising_topics": lambda w: topics.rising_topics(w, f),
        "rising_topics by region": lambda w: topics.rising_topics(w, f, "region"),
        "quotes (5, masked)": lambda w: topics.quotes(w, f, topic, 5),
    }


def run(url: str) -> dict:
    wh = Warehouse.open(url, read_only=True, keep_open=True)
    if not topics.built(wh):
        raise SystemExit(f"{wh.location}: the complaint topics are not tagged (ticket_topics); re-run bench.run")
    start, end = preset_period("last_quarter", wh.as_of())
    f = Filters(start=start, end=end)
    trend = f.reaching_months(12)
    top = topics.top_types(wh, f, 1)
    topic = str(top["topic"].iloc[0])
    texts = int(wh.read(sa.select(sa.func.count()).select_from(ticket_topics)).iloc[0, 0])
    rows = cold_warm(url, calls(f, trend, topic), WARM)
    wh.engine.dispose()
    return {"rows": rows, "total_warm_ms": round(sum(r["warm_ms"] for r in rows), 1),
            "total_cold_ms": round(sum(r["cold_ms"] for r in rows), 1), "texts": texts, "quotes_topic": topic,
            "target_ms": TARGET_MS, "db": Warehouse.open(url).location, "period": f"{f.start} – {f.end}",
            "trend_period": f"{trend.start} – {trend.end}", **machine()}


def _table(scale: str, res: dict) -> str:
    lines = "\n".join(f"| {r['call']} | {r['cold_ms']:.0f} | {r['warm_ms']:.0f} |" for r in res["rows"])
    ok = "" if scale != "L" else (" — target met" if res["total_warm_ms"] <= TARGET_MS else " — **target missed**")
    return f"""**{scale}**: {res['texts']:,} tagged texts, {res['db']}, period {res['period']} (trend
{res['trend_period']}), load {res['load_1m']} on {res['cpus']} CPUs, {res['measured']} (ms; warm = median of {WARM}):

| call | cold | warm |
|---|---|---|
{lines}
| **the section together** | {res['total_cold_ms']:.0f} | {res['total_warm_ms']:.0f}{ok} |"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scales", default="L,S", help="scales to time when their data set is in bench/data/")
    p.add_argument("--db", help="time this database instead (e.g. the demo); the results file and docs section "
                                "are written only with --write")
    p.add_argument("--write", action="store_true", help="with --db: write the results and the docs section too")
    args = p.parse_args(argv)
    if args.db:
        res = {"DB": run(args.db)}
    else:
        res, missing = {}, []
        for scale in [s.strip() for s in args.scales.split(",") if s.strip()]:
            if scale not in SCALES:
                raise SystemExit(f"unknown scale {scale!r}; use {', '.join(SCALES)}")
            if (DATA / f"{data_key(scale, 7)}.duckdb").exists():
                res[scale] = run(default_db(scale))
            else:
                missing.append(scale)
        for scale in missing:
            print(f"bench.voc: no {scale} data set in {DATA} (make bench builds it); {scale} left out")
        if not res:
            return 1
    print(json.dumps(res, ensure_ascii=False))
    if args.db and not args.write:
        return 0
    save_results("voc", res)
    tables = "\n\n".join(_table(scale, r) for scale, r in res.items())
    absent = [s for s in ("L", "S") if s not in res and not args.db]
    note = f"\n\nNot measured this run (no data set in bench/data/): {', '.join(absent)}." if absent else ""
    write_section("voc", f"""### Voice of the customer: the complaint-text section's engine calls (bench/voc.py)

The section's calls as the page makes them, over the last quarter against the one before, timed
**uncached** (the engine directly; the dashboard's cache would answer a repeated view at once): cold =
the first call on a fresh Warehouse, warm = the median of {WARM} on it. Every call reads the topics tagged
at load time (`ticket_topics`), never the texts, except the quotes (five texts, masked). A load far above
the number of CPUs (other work on the machine) inflates every figure.{note}

{tables}

Target {TARGET_MS:.0f} ms warm for the section's calls together at L (issue 20).""")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
