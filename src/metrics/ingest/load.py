"""Write DataFrames into any supported database, fast, and rebuild the derived tables.

* DuckDB files are replaced atomically: the new database is built in a temporary file in the same
  directory and moved over the target with ``os.replace``; dashboards open the file read-only per
  query and never see a half-written database. Rows go in through Arrow (millions per second).
  Secondary indexes are not built in DuckDB (see ``DUCKDB_CHECKED_KEYS``).
* PostgreSQL: drop, create and ``COPY`` in one transaction; a failure leaves the old data.
* MariaDB/MySQL: the new tables are filled under temporary names and swapped in with one atomic
  ``RENAME TABLE``; rows go in with chunked multi-row ``INSERT``.
* Spark (``spark://``): Parquet files written with pyarrow, registered as tables and swapped in
  (:mod:`metrics.backends.spark.load`).
* Anything else: SQLAlchemy ``insert`` executemany in chunks.

Frames must have the columns of their table (extra columns are ignored); Date columns may be
``datetime64`` or python dates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from metrics.backends.bulk import duckdb_insert, insert_chunks, pg_copy
from metrics.backends.connect import duckdb_path, make_engine
from metrics.backends.swap import new_file
from metrics.ingest import due_times
from metrics.ingest.derived import refresh_meta, refresh_rollups
from metrics.model import schema, ticket_status

# DuckDB keeps primary keys and indexes as ART trees, built row by row: at 1M customers the
# composite key of billing_monthly (~20M rows) and the secondary indexes (``index=True``) on
# tickets/surveys cost several times the insert itself, and DuckDB's analytical scans do not use
# them (zone maps do the work). So in DuckDB files the secondary indexes are not created and these
# keys are checked with one GROUP BY after the insert instead (same guarantee at load time).
# ``source_keys`` too: its key and unique (entity, key) trees hold every text key (at 14M keys they
# made the file 2.7 times larger and every connection's ATTACH 3 ms slower, 10% of a rollup query);
# the importer gives each (entity, key) one id itself (metrics.ingest.importer.keys).
DUCKDB_CHECKED_KEYS = frozenset({"billing_monthly", "source_keys"})
log = logging.getLogger(__name__)


def create_schema(engine: sa.Engine) -> None:
    """Create every table of the data model that does not exist yet."""
    schema.metadata.create_all(engine)


def replace_all(url: str, frames: Mapping[str, pd.DataFrame],
                meta: Mapping[str, object] | None = None) -> None:
    """Replace the whole content of the database at ``url`` by ``frames``, then refresh derived data.

    ``frames`` maps table names of :data:`schema.DATA_TABLES` (and ``source_keys``, the keys of a
    copied database: :data:`schema.KEY_TABLES`) to DataFrames (missing ones become empty tables).
    ``meta`` adds key/value rows to ``sw_meta``; by default the ``demo_*`` attrs
    that :func:`metrics.demo.generator.generate` puts on the customers frame are recorded.
    """
    meta = dict(meta) if meta is not None else _demo_meta(frames)
    unknown = set(frames) - {t.name for t in (*schema.DATA_TABLES, *schema.KEY_TABLES)}
    if unknown:
        raise ValueError(f"not data tables of the model: {sorted(unknown)}")
    path = duckdb_path(url)
    backend = sa.make_url(url).get_backend_name()
    frames = _with_due_source(frames, backend == "spark")
    frames = _with_status(frames)
    if path is not None:
        from metrics.backends.swap import write_lock

        with write_lock(path):  # one writer at a time (imports and fits take it too)
            _replace_duckdb_file(path, frames, meta)
    elif backend == "postgresql":
        _replace_postgres(url, frames, meta)
    elif backend in ("mysql", "mariadb"):
        _replace_mysql(url, frames, meta)
    elif backend == "spark":
        from metrics.backends.spark.load import replace_spark

        replace_spark(url, frames, meta)
    else:
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                schema.metadata.drop_all(conn)
                schema.metadata.create_all(conn)
                for table in (*schema.DATA_TABLES, *schema.KEY_TABLES):
                    insert_chunks(conn, table, frames.get(table.name))
                refresh_meta(conn, meta)
            refresh_rollups(engine)
        finally:
            engine.dispose()


def refresh_derived(engine: sa.Engine, meta: Mapping[str, object] | None = None) -> None:
    """Rebuild region_closure, calendar_months and sw_meta from the data tables, then rollups."""
    if engine.dialect.name == "spark":  # file tables: rewritten, not updated
        from metrics.backends.spark.load import refresh_spark

        refresh_spark(engine, meta)
        return
    due_times.add_column(engine)  # a database created before tickets.due_source
    ticket_status.add_column(engine)  # … or before tickets.status
    with engine.begin() as conn:
        refresh_meta(conn, meta or {})
    refresh_rollups(engine)


# ---------------------------------------------------------------------------------------------
# derived tables


def _with_due_source(frames: Mapping[str, pd.DataFrame], spark: bool) -> Mapping[str, pd.DataFrame]:
    """``tickets.due_source`` for a frame without it: NULL, classified by the derived step of the load
    (:mod:`metrics.ingest.due_times`); on Spark, whose tables are files, the rule applied to the frames."""
    tickets = frames.get("tickets")
    if tickets is None:
        return frames
    if spark:
        tickets = due_times.fill_frame(tickets, frames.get("customers"), frames.get("sla_policies"))
    elif "due_source" not in tickets.columns:
        tickets = tickets.assign(due_source=None)
    else:
        return frames
    return {**frames, "tickets": tickets}


def _with_status(frames: Mapping[str, pd.DataFrame]) -> Mapping[str, pd.DataFrame]:
    """``tickets.status`` for a frame without it: NULL (resolved or open by ``resolved_at``)."""
    tickets = frames.get("tickets")
    if tickets is None or "status" in tickets.columns:
        return frames
    return {**frames, "tickets": tickets.assign(status=None)}


def _demo_meta(frames: Mapping[str, pd.DataFrame]) -> dict[str, object]:
    cust = frames.get("customers")
    attrs = getattr(cust, "attrs", {}) or {}
    return {k: v for k, v in attrs.items() if str(k).startswith("demo_")}


# ---------------------------------------------------------------------------------------------
# frames -> rows


# ---------------------------------------------------------------------------------------------
# DuckDB


def _replace_duckdb_file(path: Path, frames: Mapping[str, pd.DataFrame], meta: Mapping[str, object]) -> None:
    with new_file(path) as tmp:
        engine = make_engine(f"duckdb:///{tmp}")
        try:
            with engine.begin() as conn:
                for table in schema.metadata.sorted_tables:
                    conn.execute(sa.schema.CreateTable(duckdb_table(table)))
                raw = conn.connection.driver_connection
                for table in (*schema.DATA_TABLES, *schema.KEY_TABLES):
                    started = time.perf_counter()
                    duckdb_insert(raw, conn.dialect, table, frames.get(table.name))
                    if table.name in DUCKDB_CHECKED_KEYS:
                        check_unique(conn, table)
                    log.info("duckdb %s: %d rows in %.1f s", table.name, len(frames.get(table.name, ())),
                             time.perf_counter() - started)
                # no secondary indexes (see DUCKDB_CHECKED_KEYS above): zone maps serve the scans
                refresh_meta(conn, meta)
            started = time.perf_counter()
            refresh_rollups(engine)
            log.info("duckdb rollups in %.1f s", time.perf_counter() - started)
            with engine.connect() as conn:
                conn.exec_driver_sql("CHECKPOINT")
        finally:
            engine.dispose()


def duckdb_table(table: sa.Table) -> sa.Table:
    """The table as created in DuckDB: as declared, except keys checked by query instead (see below)."""
    if table.name not in DUCKDB_CHECKED_KEYS:
        return table
    cols = [sa.Column(c.name, c.type, nullable=c.nullable and not c.primary_key) for c in table.columns]
    return sa.Table(table.name, sa.MetaData(), *cols)


def check_unique(conn: sa.Connection, table: sa.Table) -> None:
    """The table's primary key holds (checked by query: DuckDB files written in bulk keep no tree for it);
    else ValueError naming the table and the number of duplicates."""
    key = list(table.primary_key.columns)
    dupes = sa.select(*key).group_by(*key).having(sa.func.count() > 1).subquery()
    n = conn.execute(sa.select(sa.func.count()).select_from(dupes)).scalar_one()
    if n:
        raise ValueError(f"{table.name}: {n} duplicate primary keys")


# ---------------------------------------------------------------------------------------------
# PostgreSQL


def _replace_postgres(url: str, frames: Mapping[str, pd.DataFrame], meta: Mapping[str, object]) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:  # DDL is transactional on PostgreSQL: all or nothing
            schema.metadata.drop_all(conn)
            for table in schema.metadata.sorted_tables:
                conn.execute(sa.schema.CreateTable(table))
            raw = conn.connection.driver_connection
            for table in (*schema.DATA_TABLES, *schema.KEY_TABLES):
                pg_copy(raw, conn.dialect, table, frames.get(table.name))
            for table in schema.metadata.sorted_tables:
                for index in table.indexes:
                    conn.execute(sa.schema.CreateIndex(index))
            refresh_meta(conn, meta)
        refresh_rollups(engine)
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------
# MariaDB / MySQL


def _replace_mysql(url: str, frames: Mapping[str, pd.DataFrame], meta: Mapping[str, object]) -> None:
    """Fill ``_swnew_*`` tables, then swap them in with one atomic RENAME TABLE."""
    engine = make_engine(url)
    staging = sa.MetaData()
    tables = list(schema.metadata.sorted_tables)
    new = {t.name: t.to_metadata(staging, name=f"_swnew_{t.name}") for t in tables}
    q = engine.dialect.identifier_preparer.quote
    try:
        staging.drop_all(engine)
        staging.create_all(engine)
        with engine.begin() as conn:
            for table in (*schema.DATA_TABLES, *schema.KEY_TABLES):
                insert_chunks(conn, new[table.name], frames.get(table.name))
        with engine.begin() as conn:
            existing = set(sa.inspect(conn).get_table_names())
            moves = []
            for t in tables:
                if t.name in existing:
                    moves.append(f"{q(t.name)} TO {q('_swold_' + t.name)}")
                moves.append(f"{q(new[t.name].name)} TO {q(t.name)}")
            conn.exec_driver_sql("RENAME TABLE " + ", ".join(moves))
            for t in tables:
                if t.name in existing:
                    conn.exec_driver_sql(f"DROP TABLE {q('_swold_' + t.name)}")
        with engine.begin() as conn:
            refresh_meta(conn, meta)
        refresh_rollups(engine)
    except BaseException:
        staging.drop_all(engine)
        raise
    finally:
        engine.dispose()


__all__ = ["check_unique", "create_schema", "replace_all", "refresh_derived"]
