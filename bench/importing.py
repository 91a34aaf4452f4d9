"""Import throughput (issue 5): a plain tickets CSV into DuckDB, via ``metrics.importer.bench_import``.

Run by `make bench`; alone: `python -m bench.importing [ROWS]`. Writes bench/import_results.json and
the import section of docs/performance.md.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from metrics.importer import bench_import

from .sections import write_section

ROOT = Path(__file__).resolve().parents[1]


def markdown(r: dict) -> str:
    return "\n".join([
        "### Import (`bench/importing.py`)", "",
        "| rows | CSV | import (wall) | rows/s | CPU (all threads) | re-import (no change) "
        "| refresh derived + rollups |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {r['rows']:,} | {r['csv_mb']} MB | {r['import_s']} s | {r['rows_per_s']:,} | {r['import_cpu_s']} s "
        f"| {r['reimport_s']} s ({r['reimport_rows_per_s']:,} rows/s) | {r['refresh_derived_s']} s |", "",
        f"Run {r['when']}; load average {r['load_average']} on 2 cores. Target: 200,000 rows/s.",
    ])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    result = bench_import(int(args[0]) if args else 1_000_000)
    result["when"] = datetime.now(UTC).isoformat(timespec="seconds")
    (ROOT / "bench" / "import_results.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    write_section("import", markdown(result))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
