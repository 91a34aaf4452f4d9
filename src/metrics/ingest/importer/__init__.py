"""Validated import of CSV, Excel (.xlsx) and Parquet files into the tables of the data model.

    from metrics.ingest.importer import import_file
    result = import_file("duckdb:///data/servicewatch.duckdb", "tickets", "工单.csv")
    print("\n".join(result.summary("zh")))

Modules: :mod:`.read` (files, encodings, chunks), :mod:`.spec` (header names, rules as data),
:mod:`.parse` (values to types), :mod:`.validate` (rules), :mod:`.write` (upsert in one transaction),
:mod:`.run` (the whole import), :mod:`.template` (example files), :mod:`.bench` (throughput). See docs/import.md.
"""

from __future__ import annotations

from metrics.ingest.importer.run import ImportFailed, ImportResult, import_file, import_query, rejects_path_for
from metrics.ingest.importer.spec import MappingError, load_mapping
from metrics.ingest.importer.template import template_csv

__all__ = ["ImportFailed", "ImportResult", "MappingError", "import_file", "import_query", "load_mapping",
           "rejects_path_for", "template_csv", "bench_import"]


def bench_import(rows: int = 1_000_000, workdir: str | None = None, runs: int = 3) -> dict:
    """Rows per second of a plain tickets CSV (and Parquet) into DuckDB (see :mod:`bench.import_bench`)."""
    from bench.import_bench import bench_import as run

    return run(rows, workdir, runs)
