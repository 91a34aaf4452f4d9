"""Write validated rows: upsert by primary key, all chunks inside the caller's one transaction.

For each chunk the good rows are staged (DuckDB: the Arrow table itself, registered as a view;
PostgreSQL: ``COPY`` into a temporary table; MariaDB: multi-row ``INSERT`` into a temporary
table), then two set-based statements built with SQLAlchemy Core do the upsert on every dialect:

* ``UPDATE target … FROM stage`` for keys that exist and whose values differ (so a repeated file
  changes nothing and a corrected file updates exactly the rows it names), and
* ``INSERT INTO target SELECT … FROM stage WHERE NOT EXISTS (same key in target)``.

On DuckDB, for tables with one integer key, the keys already in the table are read once and each
chunk is split: rows with a new key go in with a plain ``INSERT … SELECT`` (no join against the
table), only rows whose key exists go through the ``UPDATE``. The chunk is written with one DuckDB
thread: several threads writing one chunk leave partial row groups that the checkpoint after the
commit has to rewrite, which costs more CPU than the parallel insert saves (measured in
docs/performance.md).

Nothing is committed here: the caller commits once, after the last chunk and the ``import_log``
row, so a failure or a kill leaves the database as it was.

A row the database itself refuses (a value the validator let through but the server will not
store) becomes a rejected row, not a failed import: on PostgreSQL and MariaDB each chunk is written
inside a savepoint, and a refused chunk is written again in halves, each in its own savepoint,
down to the refused rows (reason ``refused`` with the server's one-line message). DuckDB has no
savepoints; what it refuses ends the import with one line and nothing written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from metrics.backends.bulk import insert_chunks, pg_copy
from metrics.backends.connect import first_line
from metrics.ingest.importer import columns as import_columns
from metrics.ingest.importer.key_sets import KeyIndex
from metrics.ingest.importer.parse import kind_of
from metrics.ingest.load import duckdb_table
from metrics.model import schema

STAGE = "_sw_import_stage"
MAX_REFUSED = 1_000  # per chunk: more refused rows than this is a problem of the file, not of rows
REFUSABLE = (sa.exc.DataError, sa.exc.IntegrityError)  # a row's values, not the connection


class Refused(RuntimeError):
    """Too many rows of a chunk refused by the database: the message is the server's first one."""


def ensure_schema(engine: sa.Engine) -> list[str]:
    """Create the tables of the data model that are missing; return their names.

    DuckDB gets tables as :mod:`metrics.ingest.load` builds them (:func:`~metrics.ingest.load.duckdb_table`):
    without secondary indexes, and without the key trees of the tables whose keys are checked instead."""
    with engine.begin() as conn:
        existing = set(sa.inspect(conn).get_table_names())
        missing = [t for t in schema.metadata.sorted_tables if t.name not in existing]
        for t in missing:
            conn.execute(sa.schema.CreateTable(duckdb_table(t) if conn.dialect.name == "duckdb" else t))
            if conn.dialect.name != "duckdb":
                for index in t.indexes:
                    conn.execute(sa.schema.CreateIndex(index))
    return [t.name for t in missing]


def relax_not_null(engine: sa.Engine, table: str) -> list[str]:
    """Columns of ``table`` the data model allows to be unknown (NULL) that an older database still
    declares NOT NULL (the ticket flags and compensation, before "missing is not no"): the
    constraint is dropped, in its own transaction before the import (on a DuckDB file: in the copy
    the import writes). Returns the columns changed."""
    target = import_columns.TABLES[table]
    with engine.begin() as conn:
        if table not in sa.inspect(conn).get_table_names():
            return []
        declared = {c["name"]: c["nullable"] for c in sa.inspect(conn).get_columns(table)}
        stale = [c for c in target.columns if c.nullable and not c.primary_key and declared.get(c.name) is False]
        q = conn.dialect.identifier_preparer.quote
        for col in stale:
            if conn.dialect.name in ("mysql", "mariadb"):
                sql = f"ALTER TABLE {q(table)} MODIFY {q(col.name)} {col.type.compile(conn.dialect)} NULL"
            else:
                sql = f"ALTER TABLE {q(table)} ALTER COLUMN {q(col.name)} DROP NOT NULL"
            conn.exec_driver_sql(sql)
    return [c.name for c in stale]


def _pandas(good: pa.Table) -> pd.DataFrame:
    mapper = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(), pa.float64(): pd.Float64Dtype()}
    df = good.to_pandas(types_mapper=mapper.get, date_as_object=True)
    for c in df.columns:
        if isinstance(df[c].dtype, pd.Float64Dtype):
            df[c] = df[c].astype(float)
    return df


class Writer:
    """Upserts chunks into ``table`` through ``conn`` (inside an open transaction)."""

    def __init__(self, conn: sa.Connection, table: str) -> None:
        self.conn = conn
        self.target = import_columns.TABLES[table]
        self.dialect = conn.dialect.name
        cols = [sa.Column(c.name, c.type) for c in self.target.columns]
        if self.dialect == "duckdb":
            self.stage = sa.table(STAGE, *[sa.column(c.name) for c in self.target.columns])
        else:
            self.stage = sa.Table(STAGE, sa.MetaData(), *cols, prefixes=["TEMPORARY"])
            self._drop_stage()  # a pooled MariaDB connection may keep one from a failed run
            self.stage.create(conn)
        self.update, self.insert = self._statements()
        names = [c.name for c in self.target.columns]
        self.append = self.target.insert().from_select(names, sa.select(*[self.stage.c[n] for n in names]))
        self.existing = self._existing_keys() if self.dialect == "duckdb" else None
        dbapi = conn.dialect.dbapi  # COPY runs on the driver's own connection: its errors are unwrapped
        self.refusable = REFUSABLE + tuple(getattr(dbapi, n) for n in ("DataError", "IntegrityError")
                                           if hasattr(dbapi, n))

    def _statements(self) -> tuple[sa.Update, sa.Insert]:
        t, s = self.target, self.stage
        key = [c.name for c in t.primary_key.columns]
        rest = [c.name for c in t.columns if c.name not in key]
        match = sa.and_(*[t.c[k] == s.c[k] for k in key])
        new_value = {c: s.c[c] for c in rest}
        differs = {c: t.c[c].is_distinct_from(s.c[c]) for c in rest}
        if "due_source" in t.c:  # tickets: keep due times derived from the policies (ingest.due_times)
            new_value, differs = _keep_derived_due_times(t, s, new_value, differs)
        update = (t.update().values({t.c[c]: v for c, v in new_value.items()})
                  .where(match, sa.or_(*differs.values())))
        names = [c.name for c in t.columns]
        insert = t.insert().from_select(
            names, sa.select(*[s.c[n] for n in names]).where(~sa.exists().where(match)))
        return update, insert

    def _existing_keys(self) -> KeyIndex | None:
        """Sorted keys in the table before the import (one integer key only; else None).

        Rows of later chunks never repeat a key of an earlier chunk (the validator rejects duplicate
        keys), so this set need not grow; were one to slip through, the primary key would refuse it
        and the whole import roll back."""
        key = list(self.target.primary_key.columns)
        if len(key) != 1 or kind_of(key[0]) != "int":
            return None
        raw = self.conn.connection.driver_connection
        sql = str(sa.select(key[0]).compile(dialect=self.conn.dialect))
        values = next(iter(raw.execute(sql).fetchnumpy().values()))
        return KeyIndex(values)

    def write(self, good: pa.Table, rows: np.ndarray | None = None) -> tuple[int, int, pd.DataFrame]:
        """Upsert the rows of ``good`` (file rows ``rows``); return (inserted, updated, refused), the
        last a frame of problems (``row``, ``column``, ``value``, ``code``, ``detail``) for the rows
        the database refused, which are not written."""
        if good.num_rows == 0:
            return 0, 0, _refused_frame([], [])
        if self.dialect == "duckdb":
            return (*self._duckdb(good), _refused_frame([], []))
        rows = np.arange(1, good.num_rows + 1) if rows is None else np.asarray(rows)
        refused_rows: list[int] = []
        messages: list[str] = []
        inserted, updated = self._split(good, rows, refused_rows, messages)
        return inserted, updated, _refused_frame(refused_rows, messages)

    def _split(self, good: pa.Table, rows: np.ndarray, refused: list[int], messages: list[str]) -> tuple[int, int]:
        """Write ``good`` in a savepoint; if the server refuses it, write its halves the same way."""
        try:
            with self.conn.begin_nested():
                return self._server(good)
        except self.refusable as exc:
            if good.num_rows == 1:
                refused.append(int(rows[0]))
                messages.append(first_line(exc)[:300])
                if len(refused) > MAX_REFUSED:
                    raise Refused(messages[0]) from None
                return 0, 0
        half = good.num_rows // 2
        a = self._split(good.slice(0, half), rows[:half], refused, messages)
        b = self._split(good.slice(half), rows[half:], refused, messages)
        return a[0] + b[0], a[1] + b[1]

    def _server(self, good: pa.Table) -> tuple[int, int]:
        """Stage and upsert ``good`` on PostgreSQL, MariaDB and others; (inserted, updated)."""
        if self.dialect == "postgresql":
            pg_copy(self.conn.connection.driver_connection, self.conn.dialect, self.stage, _pandas(good))
        else:
            insert_chunks(self.conn, self.stage, _pandas(good))
        # compiled text (the statements have no parameters): Core's INSERT … SELECT reports rowcount -1
        updated = self.conn.exec_driver_sql(self._sql(self.update)).rowcount
        inserted = self.conn.exec_driver_sql(self._sql(self.insert)).rowcount
        self.conn.execute(self.stage.delete())
        return int(inserted), int(updated)

    def _sql(self, stmt: sa.Executable) -> str:
        return str(stmt.compile(dialect=self.conn.dialect))

    def _duckdb(self, good: pa.Table) -> tuple[int, int]:
        raw = self.conn.connection.driver_connection
        threads = int(raw.execute("SELECT current_setting('threads')").fetchone()[0])
        raw.execute("SET threads = 1")
        try:
            counts = self._duckdb_upsert(raw, good)
        except Exception:
            _quietly(raw.execute, f"SET threads = {threads}")
            raise
        raw.execute(f"SET threads = {threads}")
        return counts

    def _duckdb_upsert(self, raw: object, good: pa.Table) -> tuple[int, int]:
        if self.existing is None:
            return self._staged(raw, good, self.update, self.insert)
        key = self.target.primary_key.columns[0].name
        codes = np.asarray(good.column(key).to_numpy(), dtype=np.int64)
        old = self.existing.contains(codes)
        if not old.any():
            return self._staged(raw, good, None, self.append)
        if old.all():
            return self._staged(raw, good, self.update, None)
        _, updated = self._staged(raw, good.filter(pa.array(old)), self.update, None)
        inserted, _ = self._staged(raw, good.filter(pa.array(~old)), None, self.append)
        return inserted, updated

    def _staged(self, raw: object, rows: pa.Table, update: sa.Update | None,
                insert: sa.Insert | None) -> tuple[int, int]:
        """Run the update and/or insert with ``rows`` registered as the stage; (inserted, updated)."""
        raw.register(STAGE, rows)
        try:
            updated = raw.execute(self._sql(update)).fetchone()[0] if update is not None else 0
            inserted = raw.execute(self._sql(insert)).fetchone()[0] if insert is not None else 0
        except Exception:
            _quietly(raw.unregister, STAGE)
            raise
        raw.unregister(STAGE)
        return int(inserted), int(updated)

    def _drop_stage(self) -> None:
        # MariaDB: only DROP *TEMPORARY* TABLE leaves the transaction open (a plain DROP commits it)
        temporary = "TEMPORARY " if self.dialect in ("mysql", "mariadb") else ""
        q = self.conn.dialect.identifier_preparer.quote
        self.conn.exec_driver_sql(f"DROP {temporary}TABLE IF EXISTS {q(STAGE)}")

    def close(self) -> None:
        """Drop the staging table; only after success (on failure the rollback or disconnect does)."""
        if self.dialect != "duckdb":
            self._drop_stage()


def _refused_frame(rows: list[int], messages: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"row": pd.Series(rows, dtype="int64"), "column": "", "value": "",
                         "code": "refused", "detail": pd.Series(messages, dtype=object)})


DUE_COLUMNS = ("response_due_at", "resolution_due_at")


def _keep_derived_due_times(t: sa.Table, s: sa.Table, new_value: dict, differs: dict) -> tuple[dict, dict]:
    """A file without due times does not erase the ones derived from the SLA policies: where the
    stored ticket's due times came from a policy and the file gives none, they are kept and not
    counted as a change; a file that gives due times makes them the file's (``due_source`` cleared,
    the derived step marks it). Importing the same file twice still changes nothing."""
    derived = t.c.due_source == sa.literal_column("'policy'")  # the statement runs as compiled text
    file_gives = sa.or_(*[s.c[c].isnot(None) for c in DUE_COLUMNS])
    new_value, differs = dict(new_value), dict(differs)
    for c in DUE_COLUMNS:
        keep = sa.and_(derived, s.c[c].is_(None))
        new_value[c] = sa.case((keep, t.c[c]), else_=s.c[c])
        differs[c] = sa.and_(sa.not_(keep), differs[c])
    new_value["due_source"] = sa.case((file_gives, sa.null()), else_=t.c.due_source)
    differs["due_source"] = sa.and_(derived, file_gives)  # the file now gives them: they become the file's
    return new_value, differs


def _quietly(call: object, *args: object) -> None:
    """Tidy up after a failed DuckDB statement, ignoring errors: the transaction is aborted and every
    further statement fails with "Current transaction is aborted", which would hide the first error,
    the one to report (the caller rolls back and closes the connection, which drops the rest)."""
    try:
        call(*args)
    except Exception:  # noqa: BLE001, S110 - only called while an error is on its way out
        pass
