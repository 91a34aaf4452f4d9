"""The rollups of a Spark warehouse copied into a local DuckDB file, for the dashboard's views.

Over Thrift every statement costs 0.6–0.8 s before Spark does any work, and a page issues 4–15 of
them, so the cubes Spark builds at a load or refresh (:func:`metrics.backends.spark.load.build_rollups`)
are also written, by the same refresh, into one DuckDB file:

* each rollup table from the Parquet files Spark has just written into its folder (DuckDB reads
  them where they lie; nothing crosses Thrift), into a table of the declared schema;
* the tables rollup queries join besides the rollups (``regions``, ``region_closure``,
  ``calendar_months``, ``vocabulary``, and ``outages``: availability over ``rollup_circuits`` joins the
  outages), from the Parquet files of their Spark table (its ``Location``), or over Thrift when
  that is not a local folder. ``outages`` is one row per outage: at L about a tenth of the rows of
  ``rollup_resolved``.

The file is named after the load (``<parquet root>/<database>/_local/<load id>.duckdb``), written
under a temporary name and renamed when complete, and its path is recorded in ``sw_meta`` under
:data:`metrics.model.schema.LOCAL_ROLLUPS_KEY` together with ``rollup_as_of``: a reader that finds
the key finds a complete copy of exactly the rollups Spark holds. :class:`metrics.query.warehouse.Warehouse`
then runs each statement that reads only tables of the copy on it; every other statement (raw rows,
drill-downs, keys, ``sw_meta`` itself) still goes to Spark. A reader on a machine where the path
does not exist falls back to Spark for everything. Copies of earlier loads are removed by the next
refresh but one (a reader still on the previous data version keeps reading that one; a reader whose
copy is gone reads Spark until it looks at ``sw_meta`` again).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

import duckdb
import pandas as pd
import sqlalchemy as sa

from metrics.model import schema

log = logging.getLogger(__name__)
FOLDER = "_local"
JOINED_TABLES = (schema.regions, schema.region_closure, schema.calendar_months, schema.vocabulary, schema.outages)
_DUCKDB = sa.create_engine("duckdb:///:memory:").dialect  # compiles the DDL only


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _create(con: duckdb.DuckDBPyConnection, table: sa.Table) -> None:
    con.execute(str(sa.schema.CreateTable(table).compile(dialect=_DUCKDB)))


def _parquet_files(folder: Path) -> list[str]:
    """The data files of a Parquet table's folder (partition folders included; Spark's ``_SUCCESS``
    and ``.crc`` files left out)."""
    return sorted(str(f) for f in folder.rglob("*.parquet") if not f.name.startswith((".", "_")))


def _location(conn: sa.Connection, name: str) -> Path | None:
    """The local folder a Spark table reads (``DESCRIBE TABLE EXTENDED``), or None when not local."""
    q = conn.dialect.identifier_preparer.quote_identifier
    rows = conn.exec_driver_sql(f"DESCRIBE TABLE EXTENDED {q(name)}").fetchall()
    value = next((str(r[1]) for r in rows if str(r[0]).strip() == "Location"), "")
    value = value.removeprefix("file:")
    while value.startswith("//"):
        value = value[1:]
    return Path(value) if value.startswith("/") and Path(value).is_dir() else None


def _copy_parquet(con: duckdb.DuckDBPyConnection, table: sa.Table, files: list[str]) -> None:
    if files:
        cols = ", ".join(_quote(c.name) for c in table.columns)
        con.execute(f"INSERT INTO {_quote(table.name)} ({cols}) SELECT {cols} FROM read_parquet(?)", [files])


def _copy_rows(con: duckdb.DuckDBPyConnection, table: sa.Table, conn: sa.Connection) -> None:
    frame = pd.DataFrame(conn.execute(sa.select(table)).fetchall(), columns=[c.name for c in table.columns])
    if len(frame):
        con.register("sw_frame", frame)
        cols = ", ".join(_quote(c.name) for c in table.columns)
        con.execute(f"INSERT INTO {_quote(table.name)} ({cols}) SELECT {cols} FROM sw_frame")
        con.unregister("sw_frame")


def write(spark: sa.Engine, root: Path, load_id: str, rollups: Mapping[sa.Table, Path]) -> Path:
    """Write ``root/_local/<load_id>.duckdb`` from the Parquet folders of ``rollups`` (table -> the
    folder Spark filled) and :data:`JOINED_TABLES`; returns the file's path."""
    started = time.perf_counter()
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    path, part = folder / f"{load_id}.duckdb", folder / f"{load_id}.duckdb.part"
    part.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(part))
        try:
            con.execute("SET TimeZone = 'UTC'")  # Parquet instants to the wall-clock times stored (as Spark reads them)
            for table, source in rollups.items():
                _create(con, table)
                _copy_parquet(con, table, _parquet_files(Path(source)))
            with spark.connect() as conn:
                for table in JOINED_TABLES:
                    _create(con, table)
                    folder = _location(conn, table.name)
                    if folder is None:
                        _copy_rows(con, table, conn)
                    else:
                        _copy_parquet(con, table, _parquet_files(folder))
            con.execute("CHECKPOINT")
        finally:
            con.close()
        part.rename(path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    log.info("local rollup copy %s in %.1f s", path.name, time.perf_counter() - started)
    return path


def remove_others(root: Path, keep: Path) -> None:
    """Remove the copies of loads before the previous one: ``keep`` and the newest other copy stay, so a
    dashboard still on the previous data version can open connections to its copy until its cache moves
    on (one that cannot, reads Spark: :meth:`metrics.query.warehouse.Warehouse.read`)."""
    others = sorted((f for f in (root / FOLDER).glob("*.duckdb") if f != keep and f.is_file()),
                    key=lambda f: f.stat().st_mtime, reverse=True)
    for old in others[1:]:
        old.unlink(missing_ok=True)


__all__ = ["FOLDER", "JOINED_TABLES", "remove_others", "write"]
