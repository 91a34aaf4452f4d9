"""Validated import of CSV, Excel (.xlsx) and Parquet files into the tables of the data model.

    from metrics.ingest.importer import import_file
    result = import_file("duckdb:///data/servicewatch.duckdb", "tickets", "工单.csv")
    print("\n".join(result.summary("zh")))

Modules: :mod:`.read` (files, encodings, chunks), :mod:`.spec` (header names, rules as data),
:mod:`.parse` (values to types), :mod:`.keys` (the source's keys to ids), :mod:`.validate` (rules),
:mod:`.region_names` and :mod:`.create_customers` (rows an import creates), :mod:`.write` (upsert in one
transaction), :mod:`.pipeline` (the chunk loop), :mod:`.rejects` (the rejects file), :mod:`.result`
(what an import reports), :mod:`.run` (the whole import, its dry run and preview), :mod:`.template`
(example files). Its throughput is measured by ``bench/importing.py``. See docs/import.md.
"""

from __future__ import annotations

from metrics.ingest.importer.mapping import MappingError, load_mapping
from metrics.ingest.importer.rejects import rejects_path_for
from metrics.ingest.importer.result import ImportFailed, ImportResult
from metrics.ingest.importer.run import import_file, import_query
from metrics.ingest.importer.template import template_csv

__all__ = ["ImportFailed", "ImportResult", "MappingError", "import_file", "import_query", "load_mapping",
           "rejects_path_for", "template_csv"]
