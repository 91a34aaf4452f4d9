"""Change a few Spark tables by rewriting them whole: the write path of stores on Spark.

Spark's Parquet tables cannot ``DELETE`` or ``UPDATE`` rows, and ``INSERT`` adds a file per
statement (a store that inserts row by row would leave thousands of tiny files). So a store that
changes a table on Spark (the churn model's :mod:`metrics.churn.store`; ``sw_meta``, whose keys it
sets) reads the table, changes the frame in Python and has it written again with the discipline of
:mod:`metrics.backends.spark.load`:

1. every changed table is written as Parquet into a fresh folder and registered as ``_swnew_<table>``;
   a failure here drops those and removes their folders: the old tables are untouched and readable;
2. only when all are written are they swapped in (drop the old table, rename the new one), one
   after another, ``sw_meta`` last (its ``data_version`` tells the dashboard to read anew);
3. the folders of earlier versions of those tables are removed.

There are no transactions on Spark: two writers that rewrite the same table at once keep only the
later one's version (a fit and an import of ``sw_meta`` keys, say). The tables are small (one row a
fit, a few dozen terms, one score a customer), so reading and rewriting them whole costs a few
seconds through Thrift.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import pandas as pd
import sqlalchemy as sa

from metrics.backends.spark.load import SparkLoad
from metrics.model import schema

log = logging.getLogger(__name__)


def read_table(engine: sa.Engine, table: sa.Table) -> pd.DataFrame | None:
    """Every row of ``table`` with exactly its declared columns (a column the stored table lacks,
    being older, is None); None when the table does not exist. Any other error is raised: a rewrite
    must not take a table it failed to read for an empty one."""
    with engine.connect() as conn:
        if not _exists(conn, table.name):
            return None
        result = conn.execute(sa.select(sa.text("*")).select_from(table))
        df = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    return df.reindex(columns=[c.name for c in table.columns])


def _exists(conn: sa.Connection, name: str) -> bool:
    """Whether the connection's database has a table ``name`` (one of ServiceWatch's own names)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a table name: {name!r}")
    return any(row[1] == name for row in conn.exec_driver_sql(f"SHOW TABLES LIKE '{name}'").fetchall())


def read_meta(engine: sa.Engine) -> dict[str, str]:
    """``sw_meta`` as a dict (empty when the table does not exist)."""
    df = read_table(engine, schema.meta)
    return {} if df is None else dict(zip(df["key"], df["value"], strict=True))


def meta_frame(current: Mapping[str, str], values: Mapping[str, object],
               drop: Iterable[str] = ()) -> pd.DataFrame:
    """``sw_meta``'s rows: ``current`` without the keys ``drop``, with ``values`` set (as strings)."""
    gone = set(drop)
    rows = {k: v for k, v in current.items() if k not in gone}
    rows.update({str(k): str(v) for k, v in values.items()})
    return pd.DataFrame({"key": list(rows), "value": list(rows.values())})


def replace_tables(engine: sa.Engine, frames: Mapping[sa.Table, pd.DataFrame]) -> None:
    """Replace each table of ``frames`` by its frame (in the given order; see the module docstring)."""
    load = SparkLoad(engine)
    order = sorted(frames, key=lambda t: t.name == schema.meta.name)  # sw_meta last
    names = [t.name for t in order]
    with engine.connect() as conn:
        try:
            for table in order:
                load.write(conn, table, frames[table])
        except BaseException:
            load.discard(conn, names)
            raise
        load.swap(conn, names)
    load.clean(names)
    log.info("spark rewrote %s", ", ".join(names))


__all__ = ["meta_frame", "read_meta", "read_table", "replace_tables"]
