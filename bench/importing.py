"""Import throughput (issue 5): a plain tickets CSV into DuckDB, via ``bench.import_bench.bench_import``.

Run by `make bench`; alone: `python -m bench.importing [ROWS [RUNS]]`. Writes bench/import_results.json
and the import section of docs/performance.md.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.import_bench import bench_import

from .sections import write_section

ROOT = Path(__file__).resolve().parents[1]


def markdown(r: dict) -> str:
    def walls(kind: str) -> str:
        return ", ".join(f"{w}" for w in r[f"{kind}_s_all"])

    return "\n".join([
        "### Import (`bench/importing.py`)", "",
        f"{r['rows']:,} tickets into a fresh DuckDB file holding their {r['customers']:,} customers, with every "
        f"validation rule and the upsert by key; {r['runs']} runs of each file, medians.", "",
        "| file | size | import (wall, median) | rows/s (wall) | runs (wall) | CPU, all threads (median) "
        "| rows per CPU-second |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| CSV | {r['csv_mb']} MB | {r['csv_s']} s | {r['csv_rows_per_s']:,} | {walls('csv')} s "
        f"| {r['csv_cpu_s']} s | {r['csv_cpu_rows_per_s']:,} |",
        f"| Parquet | {r['parquet_mb']} MB | {r['parquet_s']} s | {r['parquet_rows_per_s']:,} | {walls('parquet')} s "
        f"| {r['parquet_cpu_s']} s | {r['parquet_cpu_rows_per_s']:,} |", "",
        f"Re-import of the same CSV into the loaded table (every row compared, none changed): {r['reimport_s']} s "
        f"({r['reimport_rows_per_s']:,} rows/s). Refresh of derived tables and rollups: "
        f"{r['refresh_derived_s']} s.", "",
        f"Run {r['when']} at niceness {r['niceness']} on 2 cores shared with other work: load average "
        f"{r['load_average']} (median over the runs; {r['load_average_range'][0]}–{r['load_average_range'][1]}). "
        "Wall time (read, check, upsert, commit, checkpoint) is what a user waits for and suffers from the load; "
        "CPU time is what the import costs. Target: 200,000 rows/s (wall) for the CSV: "
        f"{'met' if r['csv_rows_per_s'] >= 200_000 else 'not met'} in this run.",
    ])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    result = bench_import(int(args[0]) if args else 1_000_000, runs=int(args[1]) if len(args) > 1 else 3)
    result["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    (ROOT / "bench" / "import_results.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    write_section("import", markdown(result))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
