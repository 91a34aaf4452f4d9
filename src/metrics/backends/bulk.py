"""Rows from DataFrames into a database table, for any dialect: DBAPI executemany in chunks, and
PostgreSQL's ``COPY`` (the fast path). Frames must have the table's columns (extra ones are
ignored); Date columns may be ``datetime64`` or Python dates."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

CHUNK_ROWS = 50_000

def as_date(value: object) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()  # strings from some drivers

def frame_for(table: sa.Table, df: pd.DataFrame | None) -> pd.DataFrame:
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
            return [None if pd.isna(v) else as_date(v) for v in s]
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

def insert_chunks(conn: sa.Connection, table: sa.Table, df: pd.DataFrame | None) -> None:
    df = frame_for(table, df)
    for lo in range(0, len(df), CHUNK_ROWS):
        rows = _records(table, df.iloc[lo:lo + CHUNK_ROWS])
        if rows:
            conn.execute(table.insert(), rows)

def pg_copy(raw: object, dialect: sa.Dialect, table: sa.Table, df: pd.DataFrame | None) -> None:
    """COPY ... FROM STDIN (FORMAT csv): unquoted empty fields are NULL."""
    df = frame_for(table, df)
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


def duckdb_insert(raw: object, dialect: sa.Dialect, table: sa.Table, df: pd.DataFrame | None) -> None:
    df = frame_for(table, df)
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
        cols = ", ".join(q(c.name) for c in table.columns)  # by name: an older table has added columns last
        raw.execute(f"INSERT INTO {q(table.name)} ({cols}) SELECT {select} FROM {name}")
    finally:
        raw.unregister(name)


def write_rows(conn: sa.Connection, table: sa.Table, df: pd.DataFrame | None) -> None:
    """Append ``df`` to ``table`` inside the caller's transaction by the fastest path of its
    database: Arrow on DuckDB, ``COPY`` on PostgreSQL, chunked executemany elsewhere."""
    if conn.dialect.name == "duckdb":
        duckdb_insert(conn.connection.driver_connection, conn.dialect, table, df)
    elif conn.dialect.name == "postgresql":
        pg_copy(conn.connection.driver_connection, conn.dialect, table, df)
    else:
        insert_chunks(conn, table, df)
