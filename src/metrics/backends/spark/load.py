"""Load ServiceWatch data into Spark: Parquet files written with pyarrow, registered as Spark tables.

Spark's file tables cannot ``DELETE`` or ``UPDATE``, so a load writes every table anew:

1. each data table and the derived ``region_closure``, ``calendar_months`` and ``sw_meta`` (computed
   in Python from the frames, as :mod:`metrics.ingest.load` does in SQL elsewhere) become Parquet files in a
   fresh folder ``<parquet root>/<database>/<table>/<load id>/``; ``billing_monthly`` is partitioned
   by ``month`` (its queries filter on that column, so Spark reads only the months asked for);
   tickets and surveys are sorted by their timestamp, so Parquet's row-group statistics skip
   row groups outside a period;
2. each is registered as ``_swnew_<table>`` (``CREATE TABLE … USING parquet LOCATION …``) through the
   Thrift connection, then swapped in (drop the old table, rename the new one): a failure before the
   swap leaves the old data readable;
3. the rollup cubes are built in Spark (``INSERT INTO … SELECT`` from the same registry expressions
   as on every database), and only then is ``rollup_as_of`` written to ``sw_meta``, so no reader uses
   a cube that is not complete;
4. the folders of earlier loads are removed.

The Parquet root is the URL's ``parquet_dir`` query value, else the Thrift server's
``spark.sql.warehouse.dir`` when it is a local path: the workers read the files where Python wrote
them, so the folder must be the same path on every worker (one machine, or a shared mount).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from metrics.backends.connect import DatabaseError, make_engine
from metrics.ingest import rollups
from metrics.ingest.derived import closure_rows, earliest, month_rows, newest_date
from metrics.model import schema

log = logging.getLogger(__name__)
PARTITIONS = {"billing_monthly": "month"}
SORT_BY = {"tickets": "opened_at", "surveys": "answered_at", "outages": "started_at"}
ROW_GROUP_ROWS = 128 * 1024
NEW = "_swnew_"


def arrow_type(col: sa.Column) -> pa.DataType:
    """The Parquet (Arrow) type Spark reads as the column's declared Spark type."""
    t = col.type
    if isinstance(t, sa.DateTime):
        return pa.timestamp("us", tz="UTC")
    if isinstance(t, sa.Date):
        return pa.date32()
    if isinstance(t, sa.Boolean):
        return pa.bool_()
    if isinstance(t, sa.SmallInteger):
        return pa.int16()
    if isinstance(t, sa.BigInteger):
        return pa.int64()
    if isinstance(t, sa.Integer):
        return pa.int32()
    if isinstance(t, sa.Double | sa.Float | sa.Numeric):
        return pa.float64()
    return pa.string()


def arrow_table(table: sa.Table, df: pd.DataFrame | None) -> pa.Table:
    """``df`` as an Arrow table with exactly the columns and Spark-readable types of ``table``.

    Timestamps are wall-clock times: they are stored as UTC instants and read back unchanged by
    sessions in UTC (:class:`metrics.backends.spark.dialect.SparkDialect` sets that on every connection)."""
    cols = [c.name for c in table.columns]
    if df is None:
        df = pd.DataFrame({c: pd.Series(dtype=object) for c in cols})
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{table.name}: missing columns {missing}")
    arrays = []
    for col in table.columns:
        s, typ = df[col.name], arrow_type(col)
        if isinstance(col.type, sa.DateTime):
            s = pd.to_datetime(s)
            s = s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")
        elif isinstance(col.type, sa.Date):
            s = pd.to_datetime(s).dt.date.astype(object).where(s.notna(), None)
        elif pa.types.is_string(typ):
            s = s.astype(object).where(s.notna(), None)
        arrays.append(pa.array(s, type=typ, from_pandas=True))
    return pa.Table.from_arrays(arrays, names=cols)


def parquet_root(engine: sa.Engine) -> Path:
    """Where this load writes: ``?parquet_dir=`` of the URL, else the server's warehouse folder."""
    given = engine.url.query.get("parquet_dir")
    if given:
        return Path(given)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SET spark.sql.warehouse.dir").fetchall()
    value = str(rows[0][-1]) if rows else ""
    if value.startswith("file:"):
        value = value[len("file:"):]
        while value.startswith("//"):
            value = value[1:]
    if not value.startswith("/"):
        raise DatabaseError(f"the Spark warehouse is {value or '(unknown)'}, not a local folder: give "
                            "?parquet_dir=/a/folder/every/worker/reads in the database URL")
    return Path(value) / "servicewatch"


def create_table_sql(engine: sa.Engine, table: sa.Table, name: str, location: Path) -> str:
    """``CREATE TABLE name (...) USING parquet [PARTITIONED BY (...)] LOCATION '...'``."""
    q = engine.dialect.identifier_preparer.quote_identifier  # always quoted: Spark's keywords differ
    types = engine.dialect.type_compiler_instance
    cols = ", ".join(f"{q(c.name)} {types.process(c.type)}" for c in table.columns)
    part = PARTITIONS.get(table.name)
    part_sql = f" PARTITIONED BY ({q(part)})" if part else ""
    loc = str(location).replace("\\", "\\\\").replace("'", "\\'")
    return f"CREATE TABLE {q(name)} ({cols}) USING parquet{part_sql} LOCATION '{loc}'"


class SparkLoad:
    """One load: a load id, the folders it writes and the tables it registered."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.q = engine.dialect.identifier_preparer.quote
        self.load_id = f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        self.root = parquet_root(engine) / (engine.url.database or "default")
        self.current: dict[str, Path] = {}  # table -> the folder its _swnew_ version reads
        self.swapped: set[str] = set()  # tables whose current folder is read by the live table (swapped in)
        self.dropped: set[str] = set()  # live tables dropped by swap (their _swnew_ is the only copy)
        self.versions = itertools.count()

    def new_folder(self, table: str) -> Path:
        """A fresh folder for one version of ``table`` (never one a registered table reads)."""
        folder = self.root / table / f"{self.load_id}-{next(self.versions)}"
        folder.mkdir(parents=True, exist_ok=False)
        self.current[table] = folder
        self.swapped.discard(table)
        self.dropped.discard(table)
        return folder

    def write(self, conn: sa.Connection, table: sa.Table, df: pd.DataFrame | None) -> None:
        """Write ``df`` as Parquet and register it as ``_swnew_<table>``."""
        started = time.perf_counter()
        data = arrow_table(table, df)
        if table.name in SORT_BY and data.num_rows:
            data = data.sort_by(SORT_BY[table.name])
        folder = self.new_folder(table.name)
        part = PARTITIONS.get(table.name)
        if part and data.num_rows:
            pq.write_to_dataset(data, folder, partition_cols=[part], row_group_size=ROW_GROUP_ROWS,
                                basename_template="part-{i}.parquet", existing_data_behavior="error")
        else:
            pq.write_table(data, folder / "part-0.parquet", row_group_size=ROW_GROUP_ROWS)
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {self.q(NEW + table.name)}")
        conn.exec_driver_sql(create_table_sql(self.engine, table, NEW + table.name, folder))
        if part:
            conn.exec_driver_sql(f"ALTER TABLE {self.q(NEW + table.name)} RECOVER PARTITIONS")
        log.info("spark %s: %d rows in %.1f s", table.name, data.num_rows, time.perf_counter() - started)

    def swap(self, conn: sa.Connection, names: list[str]) -> None:
        """Replace each table by its ``_swnew_`` version (drop, rename)."""
        for name in names:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {self.q(name)}")
            self.dropped.add(name)
            conn.exec_driver_sql(f"ALTER TABLE {self.q(NEW + name)} RENAME TO {self.q(name)}")
            self.swapped.add(name)

    def clean(self, names: list[str]) -> None:
        """Remove the folders of earlier versions of ``names`` (no table reads them any more)."""
        for name in names:
            for old in (self.root / name).glob("*"):
                if old != self.current.get(name) and old.is_dir():
                    shutil.rmtree(old, ignore_errors=True)

    def discard(self, conn: sa.Connection, names: list[str]) -> None:
        """Drop the ``_swnew_`` versions of ``names`` not swapped in yet and remove their folders; one
        whose live table :meth:`swap` dropped before its rename failed is kept (the only copy left)."""
        for name in names:
            if name in self.swapped:
                continue  # live now: its folder is read by the table itself
            if name in self.dropped:
                log.warning("spark: %s was dropped and its new version not renamed; kept as %s%s", name, NEW, name)
                continue
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {self.q(NEW + name)}")
            if name in self.current:
                shutil.rmtree(self.current.pop(name), ignore_errors=True)

    def discard_quietly(self, conn: sa.Connection, names: list[str]) -> None:
        """:meth:`discard` after a failure, best effort: an error here is logged, never raised (the
        caller re-raises the failure's own); whatever is left goes with the next load."""
        for name in names:
            try:
                self.discard(conn, [name])
            except Exception as exc:  # noqa: BLE001 - the original error matters, not this one
                log.warning("spark: %s%s not removed after a failed build (%s)", NEW, name, type(exc).__name__)
                if name in self.current and name not in self.swapped and name not in self.dropped:
                    shutil.rmtree(self.current.pop(name), ignore_errors=True)


def _derived(regions: pd.DataFrame | None, as_of: dt.date | None, first: dt.date | None,
             meta: Mapping[str, object]) -> dict[str, pd.DataFrame]:
    """region_closure, calendar_months and sw_meta (the rules of :mod:`metrics.ingest.load`)."""
    from types import SimpleNamespace


    rows = [] if regions is None else [
        SimpleNamespace(region_id=int(r.region_id), level=r.level,
                        parent_id=None if pd.isna(r.parent_id) else int(r.parent_id))
        for r in regions[["region_id", "parent_id", "level"]].itertuples(index=False)]
    closure = pd.DataFrame(closure_rows(rows), columns=[c.name for c in schema.region_closure.columns])
    months = pd.DataFrame(month_rows(first or as_of, as_of) if as_of else [], columns=["month_start", "month_end"])
    values = {str(k): str(v) for k, v in meta.items()}
    values["refreshed_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if as_of is not None:
        values["as_of"] = as_of.isoformat()
    sw_meta = pd.DataFrame({"key": list(values), "value": list(values.values())})
    return {"region_closure": closure, "calendar_months": months, "sw_meta": sw_meta}


def _frame_dates(frames: Mapping[str, pd.DataFrame]) -> tuple[dt.date | None, dt.date | None]:
    """(as-of, earliest): newest of ticket openings, survey answers, customer start/end dates; the
    earliest of ticket openings and customer starts (the same rule as :func:`metrics.ingest.derived.newest_date`)."""
    def col(table: str, name: str) -> pd.Series:
        df = frames.get(table)
        return pd.to_datetime(df[name]).dropna() if df is not None and len(df) else pd.Series(dtype="datetime64[ns]")

    newest = [col("tickets", "opened_at"), col("surveys", "answered_at"), col("customers", "start_date"),
              col("customers", "end_date")]
    newest = [s.max().date() for s in newest if len(s)]
    earliest = [s.min().date() for s in (col("tickets", "opened_at"), col("customers", "start_date")) if len(s)]
    return (max(newest) if newest else None), (min(earliest) if earliest else None)


def replace_spark(url: str, frames: Mapping[str, pd.DataFrame], meta: Mapping[str, object]) -> None:
    """Replace the whole content of the Spark database at ``url`` (see the module docstring)."""
    engine = make_engine(url)
    try:
        load = SparkLoad(engine)
        derived = _derived(frames.get("regions"), *_frame_dates(frames), meta)
        # source_keys too (empty without a frame): ids are shown as the source's keys on Spark as well
        tables = [*schema.DATA_TABLES, *schema.KEY_TABLES, schema.region_closure, schema.calendar_months, schema.meta]
        names = [t.name for t in tables]
        with engine.connect() as conn:
            try:
                for t in tables:
                    load.write(conn, t, frames.get(t.name) if t.name in frames else derived.get(t.name))
            except BaseException:
                load.discard(conn, names)
                raise
            _drop_rollups(conn, load)
            load.swap(conn, names)
        load.clean(names)
        build_rollups(engine, load)
    finally:
        engine.dispose()


def refresh_spark(engine: sa.Engine, meta: Mapping[str, object] | None = None) -> None:
    """Rebuild region_closure, calendar_months and sw_meta from the data tables in Spark, then the
    rollups (what :func:`metrics.ingest.load.refresh_derived` does on the other databases)."""

    load = SparkLoad(engine)
    with engine.connect() as conn:
        regions = pd.DataFrame(conn.execute(sa.select(schema.regions)).fetchall(),
                               columns=[c.name for c in schema.regions.columns])
        old = dict(conn.execute(sa.select(schema.meta.c.key, schema.meta.c.value)).fetchall())
        as_of, first = newest_date(conn), earliest(conn)
    kept = {k: v for k, v in old.items() if k not in _refreshed_keys()}
    derived = _derived(regions, as_of, first, {**kept, **(meta or {})})
    tables = [schema.region_closure, schema.calendar_months, schema.meta]
    names = [t.name for t in tables]
    with engine.connect() as conn:
        for t in tables:
            load.write(conn, t, derived[t.name])
        _drop_rollups(conn, load)
        load.swap(conn, names)
    load.clean(names)
    build_rollups(engine, load)


def _rollup_tables() -> list[sa.Table]:
    """Every table a refresh builds from the data: the cubes, resolved tickets, circuits, the tenure
    tables and the open tickets per customer."""
    from metrics.churn import tenure_rollup
    from metrics.ingest import open_tickets

    return [*rollups.ALL_TABLES.values(), *tenure_rollup.TABLES, open_tickets.rollup_open_tickets]


def _refreshed_keys() -> frozenset[str]:
    """The sw_meta keys a refresh writes anew: the as-of and the keys that say which rollups are built."""
    from metrics.churn import tenure_rollup
    from metrics.ingest import open_tickets

    return frozenset({"as_of", "refreshed_at", rollups.AS_OF_KEY, rollups.SOURCES_KEY, tenure_rollup.AS_OF_KEY,
                      tenure_rollup.HISTORY_KEY, open_tickets.BUILT_KEY, schema.LOCAL_ROLLUPS_KEY})


def _drop_rollups(conn: sa.Connection, load: SparkLoad) -> None:
    """Remove the rollups built on the old data (their sw_meta keys go with the swap of sw_meta)."""
    for t in _rollup_tables():
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {load.q(t.name)}")


def _rollup_builds(engine: sa.Engine, conn: sa.Connection, as_of: dt.date, new: Callable[[sa.Table], sa.Table]
                   ) -> tuple[list[rollups.Build], dict[str, str]]:
    """Each rollup table with the SELECT that fills it and the columns it fills, in order of building,
    and the sw_meta keys that record them: the cubes of :func:`metrics.ingest.rollups.builds` (the same
    list every database builds), then the tables of :func:`metrics.churn.tenure_rollup.refresh` and
    :func:`metrics.ingest.open_tickets.refresh` (``new``: the table a SELECT reads when it sums another
    rollup of the same refresh, i.e. that one's new version)."""
    from metrics.churn import tenure_rollup
    from metrics.churn.life_table import observed_from
    from metrics.ingest import open_tickets
    from metrics.query.warehouse import Warehouse

    cubes, sources = rollups.builds(conn, as_of, new)
    history = observed_from(Warehouse(engine, use_rollups=False))
    more = [*tenure_rollup.builds(as_of, history, new(tenure_rollup.rollup_tenure)),
            (open_tickets.rollup_open_tickets, open_tickets.build_select())]
    meta = {rollups.SOURCES_KEY: ",".join(sources), **tenure_rollup.meta_values(as_of, history),
            open_tickets.BUILT_KEY: "1"}
    return cubes + [(t, q, list(q.selected_columns.keys())) for t, q in more], meta


def build_rollups(engine: sa.Engine, load: SparkLoad | None = None) -> dt.date | None:
    """Build every rollup in Spark at the load's as-of (``INSERT … SELECT`` into new Parquet tables,
    swapped in together), copy them into the local DuckDB file the views read
    (:mod:`metrics.backends.spark.local_copy`), then record the as-of, the sources and the copy's path
    in ``sw_meta``: no reader sees a rollup before all of them are complete."""
    from metrics.backends.spark import local_copy

    load = load or SparkLoad(engine)
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.select(schema.meta.c.key, schema.meta.c.value)).fetchall())
        if not rows.get("as_of"):
            return None
        as_of = dt.date.fromisoformat(rows["as_of"][:10])
        fresh = {t.name: t.to_metadata(sa.MetaData(), name=NEW + t.name) for t in _rollup_tables()}
        try:
            builds, keys = _rollup_builds(engine, conn, as_of, lambda t: fresh[t.name])
            for table, select, columns in builds:
                started = time.perf_counter()
                folder = load.new_folder(table.name)
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {load.q(NEW + table.name)}")
                conn.exec_driver_sql(create_table_sql(engine, table, NEW + table.name, folder))
                new = fresh[table.name]
                conn.execute(new.insert().from_select(columns, select))
                log.info("spark rollup %s in %.1f s", table.name, time.perf_counter() - started)
            names = [t.name for t, *_ in builds]
            load.swap(conn, names)
            copy = local_copy.write(engine, load.root, load.load_id, {t: load.current[t.name] for t, *_ in builds})
            meta = {**rows, **keys, rollups.AS_OF_KEY: as_of.isoformat(), schema.LOCAL_ROLLUPS_KEY: str(copy)}
            load.write(conn, schema.meta, pd.DataFrame({"key": list(meta), "value": list(meta.values())}))
            load.swap(conn, [schema.meta.name])
        except BaseException:
            load.discard_quietly(conn, [*fresh, schema.meta.name])  # the _swnew_ tables not swapped in
            raise
    load.clean([*names, schema.meta.name])
    local_copy.remove_others(load.root, copy)
    return as_of


__all__ = ["SparkLoad", "build_rollups", "parquet_root", "refresh_spark", "replace_spark"]
