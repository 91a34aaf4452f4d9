"""Where a statement runs when the warehouse is Spark: on the local copy of its rollups, or on Spark.

A Spark refresh writes the rollups and the small tables they join into a DuckDB file
(:mod:`metrics.backends.spark.local_copy`) and records its path in ``sw_meta``. The rule is one line:
a statement whose every table the copy holds runs on the copy, any other on Spark. Rollup statements
(the compiler's ``compile_from_rollup``, the tenure rollup's life tables) therefore take milliseconds
instead of a Thrift round trip; raw rows, drill-downs and ``sw_meta`` (the data version, read afresh)
stay on the warehouse. SQL functions are ``@compiles`` hooks, so a statement is written for the
database that runs it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.sql.util import find_tables

from metrics.backends.connect import DatabaseError, make_engine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocalRollups:
    """The local copy a Warehouse reads (``engine`` None: none, every statement runs on the warehouse)."""

    engine: sa.Engine | None = None
    tables: frozenset[str] = frozenset()

    @classmethod
    def open(cls, path: str | None) -> LocalRollups:
        """The copy at ``path`` (``sw_meta.local_rollups``), or none when no path is recorded or the
        file is not on this machine (a dashboard on another host than the refresh reads Spark)."""
        if not path or not Path(path).is_file():
            if path:
                log.info("local rollup copy %s not on this machine: every statement runs on Spark", Path(path).name)
            return cls()
        try:
            engine = make_engine(f"duckdb:///{path}", read_only=True, keep_open=True)
            with engine.connect() as conn:
                tables = frozenset(sa.inspect(conn).get_table_names())
        except (DatabaseError, sa.exc.SQLAlchemyError) as exc:  # removed by a newer refresh meanwhile
            log.info("local rollup copy not readable (%s): every statement runs on Spark", type(exc).__name__)
            return cls()
        return cls(engine, tables)

    def engine_for(self, stmt: sa.Executable) -> sa.Engine | None:
        """The copy's engine when it holds every table ``stmt`` reads, else None."""
        if self.engine is None:
            return None
        names = {t.name for t in find_tables(stmt, include_aliases=False, include_joins=False)
                 if isinstance(t, sa.TableClause)}  # sa.Table and sa.table() alike
        return self.engine if names and names <= self.tables else None

    def dispose(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


__all__ = ["LocalRollups"]
