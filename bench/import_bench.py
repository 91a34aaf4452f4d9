"""Import throughput: a plain tickets file of ``rows`` rows into a DuckDB file holding its customers.

``bench_import(rows)`` writes the tickets as CSV (data-model headers, ISO timestamps) and as
Parquet, imports each ``runs`` times into a fresh copy of the database (medians of wall and CPU
time), then the CSV once more into the loaded database (the idempotent re-import: every row
compared, none changed), and returns the timings. ``bench/importing.py`` calls it; it can also be
run alone::

    .venv/bin/python -m bench.import_bench 1000000
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from metrics.ingest.importer.run import import_file
from metrics.ingest.load import replace_all

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


def _median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def _timed_import(url: str, path: Path) -> tuple[float, float, object]:
    """(wall s, CPU s of all threads, result) of one import of ``path`` into tickets."""
    cpu = time.process_time()
    result = import_file(url, "tickets", path, refresh=False, rejects=False)
    return result.seconds, time.process_time() - cpu, result


def bench_import(rows: int = 1_000_000, workdir: str | None = None, runs: int = 3) -> dict:
    """Import ``rows`` tickets into a fresh DuckDB holding their customers, ``runs`` times each from
    CSV and from Parquet (medians: the machine is shared, single runs vary by 2-3x), then the same
    CSV once more into the loaded database (the idempotent re-import: every row compared, none
    changed) and the refresh of the derived tables."""
    tmp = Path(workdir or tempfile.mkdtemp(prefix="sw_import_bench_"))
    try:
        base = tmp / "base.duckdb"
        replace_all(f"duckdb:///{base}", {"regions": _regions(), "customers": _customers(CUSTOMERS)})
        csv, parquet = tmp / "tickets.csv", tmp / "tickets.parquet"
        t0 = time.perf_counter()
        frame = tickets_frame(rows)
        write_csv(frame, csv)
        write_s = time.perf_counter() - t0
        frame.to_parquet(parquet, index=False)
        del frame
        db = tmp / "bench.duckdb"
        url = f"duckdb:///{db}"
        load = [os.getloadavg()[0]]
        timings: dict[str, list[tuple[float, float]]] = {"csv": [], "parquet": []}
        for _ in range(runs):
            for kind, path in (("csv", csv), ("parquet", parquet)):
                shutil.copyfile(base, db)
                wall, cpu, first = _timed_import(url, path)
                assert first.rows_loaded == rows and first.inserted == rows and first.rows_rejected == 0, \
                    first.summary()
                timings[kind].append((wall, cpu))
                load.append(os.getloadavg()[0])
        # db now holds the last Parquet import: the same rows as the CSV
        from metrics.backends.connect import make_engine
        from metrics.ingest.load import refresh_derived

        t0 = time.perf_counter()
        engine = make_engine(url)
        try:
            refresh_derived(engine)
        finally:
            engine.dispose()
        refresh_s = time.perf_counter() - t0
        again_s, _, again = _timed_import(url, csv)
        assert again.inserted == 0 and again.updated == 0, again.summary()
        out = {"rows": rows, "customers": CUSTOMERS, "runs": runs, "niceness": os.nice(0),
               "csv_mb": round(csv.stat().st_size / 1e6, 1),
               "parquet_mb": round(parquet.stat().st_size / 1e6, 1), "csv_write_s": round(write_s, 2)}
        for kind, got in timings.items():
            walls, cpus = [w for w, _ in got], [c for _, c in got]
            out[f"{kind}_s"] = round(_median(walls), 2)
            out[f"{kind}_s_all"] = [round(w, 2) for w in walls]
            out[f"{kind}_rows_per_s"] = round(rows / _median(walls))
            out[f"{kind}_cpu_s"] = round(_median(cpus), 2)  # all threads; wall suffers when the machine is busy
            out[f"{kind}_cpu_rows_per_s"] = round(rows / _median(cpus))
        out.update({
            "load_average": round(_median(load), 1), "load_average_range": [round(min(load), 1), round(max(load), 1)],
            "reimport_s": round(again_s, 2), "reimport_rows_per_s": round(rows / again_s),
            "refresh_derived_s": round(refresh_s, 2),
        })
        return out
    finally:
        if workdir is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(bench_import(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000), indent=1))
