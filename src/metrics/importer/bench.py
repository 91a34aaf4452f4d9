"""Import throughput: a plain tickets CSV of ``rows`` rows into a DuckDB file holding its customers.

``bench_import(rows)`` writes the CSV (data-model headers, ISO timestamps), imports it once into a
fresh database and once more (the idempotent re-import: every row compared, none changed), and
returns the timings. ``bench/run.py`` calls it; it can also be run alone::

    .venv/bin/python -m metrics.importer.bench 1000000
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from metrics.importer.run import import_file
from metrics.load import replace_all

CUSTOMERS = 50_000


def tickets_frame(rows: int, customers: int = CUSTOMERS, seed: int = 1) -> pd.DataFrame:
    """Plausible tickets (all valid) for customers 1..customers."""
    rng = np.random.default_rng(seed)
    opened = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365 * 24 * 3600, rows), unit="s")
    resolved = opened + pd.to_timedelta(rng.integers(600, 72 * 3600, rows), unit="s")
    first = opened + pd.to_timedelta(rng.integers(60, 3600, rows), unit="s")
    return pd.DataFrame({
        "ticket_id": np.arange(1, rows + 1),
        "customer_id": rng.integers(1, customers + 1, rows),
        "channel": rng.choice(["hotline", "service_hall", "web_app", "agent"], rows),
        "kind": rng.choice(["complaint", "fault", "request", "inquiry"], rows),
        "category": rng.choice(["billing", "network_quality", "fault_repair", "tariff"], rows),
        "priority": rng.choice(["P1", "P2", "P3"], rows),
        "opened_at": opened, "first_response_at": first, "resolved_at": resolved,
        "response_due_at": opened + pd.Timedelta(hours=4), "resolution_due_at": opened + pd.Timedelta(hours=48),
        "first_contact_resolved": rng.random(rows) < 0.7, "reopened": rng.random(rows) < 0.05,
        "escalated": rng.random(rows) < 0.03, "revisited_at": pd.NaT, "revisit_satisfied": None,
        "compensation": 0.0,
    })


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """CSV as a call-centre system exports it: timestamps to the second, empty for missing."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    table = pa.Table.from_pandas(df, preserve_index=False)
    for i, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.timestamp("s")))
    pcsv.write_csv(table, path, pcsv.WriteOptions(quoting_style="needed"))


def _customers(n: int) -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": np.arange(1, n + 1), "name": [f"c{i}" for i in range(1, n + 1)], "segment": "consumer",
        "tier": "standard", "region_id": 101, "acquisition_channel": "hotline", "account_manager_id": pd.NA,
        "sla_level": None, "start_date": pd.Timestamp("2024-01-01"), "end_date": pd.NaT, "churn_reason": None,
        "monthly_revenue": 50.0,
    })


def _regions() -> pd.DataFrame:
    return pd.DataFrame({"region_id": [1, 10, 101], "name_en": ["P", "C", "D"], "name_zh": ["省", "市", "区"],
                         "parent_id": [pd.NA, 1, 10], "level": ["province", "city", "district"]})


def bench_import(rows: int = 1_000_000, workdir: str | None = None) -> dict:
    """Time one import of ``rows`` tickets into DuckDB, then the same file again; rows/s of each."""
    tmp = Path(workdir or tempfile.mkdtemp(prefix="sw_import_bench_"))
    try:
        db = tmp / "bench.duckdb"
        url = f"duckdb:///{db}"
        replace_all(url, {"regions": _regions(), "customers": _customers(CUSTOMERS)})
        csv = tmp / "tickets.csv"
        t0 = time.perf_counter()
        write_csv(tickets_frame(rows), csv)
        write_s = time.perf_counter() - t0
        cpu = time.process_time()
        first = import_file(url, "tickets", csv, refresh=False, rejects=False)
        cpu = time.process_time() - cpu
        t0 = time.perf_counter()
        from metrics.db import make_engine
        from metrics.load import refresh_derived

        engine = make_engine(url)
        try:
            refresh_derived(engine)
        finally:
            engine.dispose()
        refresh_s = time.perf_counter() - t0
        again = import_file(url, "tickets", csv, refresh=False, rejects=False)
        assert first.rows_loaded == rows and first.rows_rejected == 0, first.summary()
        assert again.inserted == 0 and again.updated == 0, again.summary()
        return {
            "rows": rows, "csv_mb": round(csv.stat().st_size / 1e6, 1), "csv_write_s": round(write_s, 2),
            "import_s": round(first.seconds, 2), "rows_per_s": round(rows / first.seconds),
            "import_cpu_s": round(cpu, 2),  # all threads; wall time above suffers when the machine is busy
            "load_average": round(os.getloadavg()[0], 1),
            "reimport_s": round(again.seconds, 2), "reimport_rows_per_s": round(rows / again.seconds),
            "refresh_derived_s": round(refresh_s, 2),
        }
    finally:
        if workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(bench_import(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000), indent=1))
