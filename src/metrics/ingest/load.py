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

import datetime as dt
import io
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from metrics.backends.connect import duckdb_path, make_engine
from metrics.model import plausible, schema

CHUNK_ROWS = 50_000
# DuckDB keeps primary keys and indexes as ART trees, built row by row: at 1M customers the
# composite key of billing_monthly (~20M rows) and the secondary indexes (``index=True``) on
# tickets/surveys cost several times the insert itself, and DuckDB's analytical scans do not use
# them (zone maps do the work). So in DuckDB files the secondary indexes are not created and these
# keys are checked with one GROUP BY after the insert instead (same guarantee at load time).
DUCKDB_CHECKED_KEYS = frozenset({"billing_monthly"})
log = logging.getLogger(__name__)
_KEEP_META = ("as_of", "as_of_source", "as_of_ignored", "as_of_limit", "refreshed_at")


def create_schema(engine: sa.Engine) -> None:
    """Create every table of the data model that does not exist yet."""
    schema.metadata.create_all(engine)


def replace_all(url: str, frames: Mapping[str, pd.DataFrame],
                meta: Mapping[str, object] | None = None) -> None:
    """Replace the whole content of the database at ``url`` by ``frames``, then refresh derived data.

    ``frames`` maps table names of :data:`schema.DATA_TABLES` to DataFrames (missing ones become
    empty tables). ``meta`` adds key/value rows to ``sw_meta``; by default the ``demo_*`` attrs
    that :func:`metrics.demo.generator.generate` puts on the customers frame are recorded.
    """
    meta = dict(meta) if meta is not None else _demo_meta(frames)
    unknown = set(frames) - {t.name for t in schema.DATA_TABLES}
    if unknown:
        raise ValueError(f"not data tables of the model: {sorted(unknown)}")
    path = duckdb_path(url)
    backend = sa.make_url(url).get_backend_name()
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
                for table in schema.DATA_TABLES:
                    _insert_chunks(conn, table, frames.get(table.name))
                _refresh(conn, meta)
            _refresh_rollups(engine)
        finally:
            engine.dispose()


def refresh_derived(engine: sa.Engine, meta: Mapping[str, object] | None = None) -> None:
    """Rebuild region_closure, calendar_months and sw_meta from the data tables, then rollups."""
    if engine.dialect.name == "spark":  # file tables: rewritten, not updated
        from metrics.backends.spark.load import refresh_spark

        refresh_spark(engine, meta)
        return
    with engine.begin() as conn:
        _refresh(conn, meta or {})
    _refresh_rollups(engine)


def refresh_in_transaction(conn: sa.Connection) -> None:
    """Rebuild region_closure, calendar_months and the as-of in the caller's transaction, and mark
    every rollup as not built, so that readers of the committed data answer from the raw rows until
    :func:`refresh_rollups` has rebuilt them: no reader ever sees new rows with old rollups."""
    _refresh(conn, {})
    from metrics.churn import tenure_rollup as survival_rollup
    from metrics.ingest import open_tickets, rollups

    stale = [rollups.AS_OF_KEY, rollups.SOURCES_KEY, survival_rollup.AS_OF_KEY, survival_rollup.HISTORY_KEY,
             open_tickets.BUILT_KEY]
    conn.execute(schema.meta.delete().where(schema.meta.c.key.in_(stale)))


def refresh_rollups(engine: sa.Engine) -> None:
    """Rebuild every rollup table from the committed data (each marks itself built when done)."""
    _refresh_rollups(engine)


# ---------------------------------------------------------------------------------------------
# derived tables


def _refresh(conn: sa.Connection, meta: Mapping[str, object]) -> None:
    regions = conn.execute(sa.select(schema.regions.c.region_id, schema.regions.c.parent_id,
                                     schema.regions.c.level)).all()
    conn.execute(schema.region_closure.delete())
    rows = _closure_rows(regions)
    if rows:
        conn.execute(schema.region_closure.insert(), rows)

    as_of = _as_of(conn)
    conn.execute(schema.calendar_months.delete())
    first = _earliest(conn)
    if as_of is not None:
        months = _months(first or as_of, as_of)
        conn.execute(schema.calendar_months.insert(), months)

    values = {str(k): str(v) for k, v in meta.items()}
    values["refreshed_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if as_of is not None:
        values["as_of"] = as_of.isoformat()
        values.update(as_of_derivation(conn)[1])
    m = schema.meta
    conn.execute(m.delete().where(m.c.key.in_(list(values) + list(_KEEP_META))))
    conn.execute(m.insert(), [{"key": k, "value": v} for k, v in values.items()])
    schema.bump_data_version(conn)  # the dashboard's caches follow it


def _closure_rows(regions: list) -> list[dict]:
    parent = {r.region_id: r.parent_id for r in regions}
    level = {r.region_id: r.level for r in regions}
    rows = []
    for rid in parent:
        node, depth, seen = rid, 0, set()
        while node is not None and node in parent and node not in seen:
            seen.add(node)
            rows.append({"ancestor_id": node, "descendant_id": rid, "ancestor_level": level[node],
                         "depth": depth})
            node, depth = parent[node], depth + 1
    return rows


def _as_date(value: object) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()  # strings from some drivers


AS_OF_SOURCE_KEY = "as_of_source"  # sw_meta: how the as-of was derived (shown on the Data page)


def _as_of_columns() -> tuple[sa.Column, ...]:
    t, s, c = schema.tickets, schema.surveys, schema.customers
    return t.c.opened_at, s.c.answered_at, c.c.start_date, c.c.end_date


def _as_of(conn: sa.Connection) -> dt.date | None:
    """Newest plausible date among ticket openings, survey answers and customer start/end dates."""
    return as_of_derivation(conn)[0]


def as_of_derivation(conn: sa.Connection) -> tuple[dt.date | None, dict[str, str]]:
    """The as-of date and how it was derived, as ``sw_meta`` rows: ``as_of_source`` (the column it
    comes from, ``tickets.opened_at``), ``as_of_ignored`` (rows with a later, implausible date that
    were left out) and ``as_of_limit`` (the last plausible day). A single ticket dated 2173 must not
    move every default view into an empty future (:mod:`metrics.model.plausible`)."""
    latest = plausible.latest_event()
    best: tuple[dt.date, str] | None = None
    ignored = 0
    for col in _as_of_columns():
        bound = latest + dt.timedelta(days=1)
        if isinstance(col.type, sa.DateTime):
            bound = dt.datetime.combine(bound, dt.time())
        top = _as_date(conn.execute(sa.select(sa.func.max(col)).where(col < bound)).scalar())
        ignored += conn.execute(sa.select(sa.func.count()).where(col >= bound)).scalar() or 0
        if top is not None and (best is None or top > best[0]):
            best = (top, f"{col.table.name}.{col.name}")
    if best is None:
        return None, {}
    return best[0], {AS_OF_SOURCE_KEY: best[1], "as_of_ignored": str(ignored), "as_of_limit": latest.isoformat()}


def _earliest(conn: sa.Connection) -> dt.date | None:
    """Oldest plausible date of a ticket or a customer's start (the calendar's first month)."""
    t, c = schema.tickets, schema.customers
    first = plausible.earliest()
    stmts = (sa.select(sa.func.min(t.c.opened_at)).where(t.c.opened_at >= dt.datetime.combine(first, dt.time())),
             sa.select(sa.func.min(c.c.start_date)).where(c.c.start_date >= first))
    dates = [_as_date(conn.execute(stmt).scalar()) for stmt in stmts]
    dates = [d for d in dates if d is not None]
    return min(dates) if dates else None


def _months(first: dt.date, last: dt.date) -> list[dict]:
    out = []
    m = first.replace(day=1)
    while m <= last:
        nxt = (m + dt.timedelta(days=32)).replace(day=1)
        out.append({"month_start": m, "month_end": nxt})
        m = nxt
    return out


def _refresh_rollups(engine: sa.Engine) -> None:
    try:
        from metrics.ingest import rollups  # written separately; optional
    except ImportError:
        return
    refresh = getattr(rollups, "refresh", None)
    if callable(refresh):
        refresh(engine)
    from metrics.churn import tenure_rollup as survival_rollup  # retention curves' tenure rollup; at-risk list
    from metrics.ingest import open_tickets

    survival_rollup.refresh(engine)
    open_tickets.refresh(engine)


def _demo_meta(frames: Mapping[str, pd.DataFrame]) -> dict[str, object]:
    cust = frames.get("customers")
    attrs = getattr(cust, "attrs", {}) or {}
    return {k: v for k, v in attrs.items() if str(k).startswith("demo_")}


# ---------------------------------------------------------------------------------------------
# frames -> rows


def _frame(table: sa.Table, df: pd.DataFrame | None) -> pd.DataFrame:
    cols = [c.name for c in table.columns]
    if df is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{table.name}: missing columns {missing}")
    return df[cols]


def _python_column(col: sa.Column, s: pd.Series) -> list:
    """A column as python values with None for missing (for DBAPI executemany)."""
    if isinstance(col.type, sa.DateTime):
        return pd.to_datetime(s).to_numpy().astype("datetime64[us]").tolist()
    if isinstance(col.type, sa.Date):
        if s.dtype == object:
            return [None if pd.isna(v) else _as_date(v) for v in s]
        return pd.to_datetime(s).to_numpy().astype("datetime64[D]").tolist()
    values = s.astype(object).where(s.notna(), None).tolist()
    if isinstance(col.type, sa.Boolean):
        return [None if v is None else bool(v) for v in values]
    if isinstance(col.type, sa.Integer):
        return [None if v is None else int(v) for v in values]
    if isinstance(col.type, sa.Double | sa.Float | sa.Numeric):
        return [None if v is None else float(v) for v in values]
    return values


def _records(table: sa.Table, df: pd.DataFrame) -> list[dict]:
    cols = {c.name: _python_column(c, df[c.name]) for c in table.columns}
    names = list(cols)
    return [dict(zip(names, row, strict=True)) for row in zip(*cols.values(), strict=True)]


def _insert_chunks(conn: sa.Connection, table: sa.Table, df: pd.DataFrame | None) -> None:
    df = _frame(table, df)
    for lo in range(0, len(df), CHUNK_ROWS):
        rows = _records(table, df.iloc[lo:lo + CHUNK_ROWS])
        if rows:
            conn.execute(table.insert(), rows)


# ---------------------------------------------------------------------------------------------
# DuckDB


def _replace_duckdb_file(path: Path, frames: Mapping[str, pd.DataFrame], meta: Mapping[str, object]) -> None:
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _remove(tmp)
    engine = make_engine(f"duckdb:///{tmp}")
    try:
        with engine.begin() as conn:
            for table in schema.metadata.sorted_tables:
                conn.execute(sa.schema.CreateTable(_duckdb_table(table)))
            raw = conn.connection.driver_connection
            for table in schema.DATA_TABLES:
                started = time.perf_counter()
                _duckdb_insert(raw, conn.dialect, table, frames.get(table.name))
                if table.name in DUCKDB_CHECKED_KEYS:
                    _check_unique(conn, table)
                log.info("duckdb %s: %d rows in %.1f s", table.name, len(frames.get(table.name, ())),
                         time.perf_counter() - started)
            # no secondary indexes (see DUCKDB_CHECKED_KEYS above): zone maps serve the scans
            _refresh(conn, meta)
        started = time.perf_counter()
        _refresh_rollups(engine)
        log.info("duckdb rollups in %.1f s", time.perf_counter() - started)
        with engine.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")
        engine.dispose()
        _remove(Path(f"{path}.wal"))  # a stale WAL would be replayed onto the new file
        os.replace(tmp, path)
    except BaseException:
        engine.dispose()
        _remove(tmp)
        raise
    finally:
        _remove(Path(f"{tmp}.wal"))


def _duckdb_table(table: sa.Table) -> sa.Table:
    """The table as created in DuckDB: as declared, except keys checked by query instead (see below)."""
    if table.name not in DUCKDB_CHECKED_KEYS:
        return table
    cols = [sa.Column(c.name, c.type, nullable=c.nullable and not c.primary_key) for c in table.columns]
    return sa.Table(table.name, sa.MetaData(), *cols)


def _check_unique(conn: sa.Connection, table: sa.Table) -> None:
    key = list(table.primary_key.columns)
    dupes = sa.select(*key).group_by(*key).having(sa.func.count() > 1).subquery()
    n = conn.execute(sa.select(sa.func.count()).select_from(dupes)).scalar_one()
    if n:
        raise ValueError(f"{table.name}: {n} duplicate primary keys")


def _duckdb_insert(raw: object, dialect: sa.Dialect, table: sa.Table, df: pd.DataFrame | None) -> None:
    import pyarrow as pa

    df = _frame(table, df)
    if df.empty:
        return
    arrow = pa.Table.from_pandas(df, preserve_index=False)
    q = dialect.identifier_preparer.quote
    select = ", ".join(
        f"CAST({q(c.name)} AS DATE)" if isinstance(c.type, sa.Date) and not isinstance(c.type, sa.DateTime)
        else q(c.name) for c in table.columns)
    name = "_sw_load_frame"
    raw.register(name, arrow)
    try:
        raw.execute(f"INSERT INTO {q(table.name)} SELECT {select} FROM {name}")
    finally:
        raw.unregister(name)


def _remove(p: Path) -> None:
    try:
        p.unlink()
    except FileNotFoundError:
        pass


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
            for table in schema.DATA_TABLES:
                _pg_copy(raw, conn.dialect, table, frames.get(table.name))
            for table in schema.metadata.sorted_tables:
                for index in table.indexes:
                    conn.execute(sa.schema.CreateIndex(index))
            _refresh(conn, meta)
        _refresh_rollups(engine)
    finally:
        engine.dispose()


def _pg_copy(raw: object, dialect: sa.Dialect, table: sa.Table, df: pd.DataFrame | None) -> None:
    """COPY ... FROM STDIN (FORMAT csv): unquoted empty fields are NULL."""
    df = _frame(table, df)
    if df.empty:
        return
    q = dialect.identifier_preparer.quote
    cols = ", ".join(q(c.name) for c in table.columns)
    out = df.copy(deep=False)
    for c in table.columns:
        s = out[c.name]
        if isinstance(c.type, sa.Boolean):
            out[c.name] = s.astype("boolean").map({True: "t", False: "f"})
        elif isinstance(c.type, sa.Date) and not isinstance(c.type, sa.DateTime) and s.dtype != object:
            out[c.name] = pd.to_datetime(s).dt.strftime("%Y-%m-%d")
    with raw.cursor() as cur, cur.copy(f"COPY {q(table.name)} ({cols}) FROM STDIN (FORMAT csv)") as copy:
        for lo in range(0, len(out), 200_000):
            buf = io.StringIO()
            out.iloc[lo:lo + 200_000].to_csv(buf, header=False, index=False,
                                             date_format="%Y-%m-%d %H:%M:%S.%f")
            copy.write(buf.getvalue())


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
            for table in schema.DATA_TABLES:
                _insert_chunks(conn, new[table.name], frames.get(table.name))
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
            _refresh(conn, meta)
        _refresh_rollups(engine)
    except BaseException:
        staging.drop_all(engine)
        raise
    finally:
        engine.dispose()


__all__ = ["create_schema", "replace_all", "refresh_derived"]
