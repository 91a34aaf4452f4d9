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
import threading
import time
from collections.abc import Callable
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


class LocalCopySlot:
    """The copy one Warehouse reads, opened once however many threads ask for it at once.

    The dashboard's threads share a Warehouse: the first open (and each re-open after
    ``recheck_s``) runs under a lock, so one engine is opened and the other threads wait for it
    rather than each opening its own (whose engines nobody would dispose)."""

    def __init__(self, recheck_s: float) -> None:
        self.recheck_s = recheck_s  # seconds before a slot holding no copy looks for one again
        self._lock = threading.RLock()  # re-entrant: finding the path reads the warehouse, which asks again
        self._held: tuple[LocalRollups, float] | None = None  # (copy, monotonic time to look again)
        self._opening = False  # True while the lock's holder reads the copy's path

    def get(self, find_path: Callable[[bool], str | None] | None) -> LocalRollups:
        """The copy, opened on first use at ``find_path(again)`` (``again``: a re-check after
        ``recheck_s`` with no copy); ``find_path`` None: never a copy (not a Spark reader)."""
        held = self._held
        if not self._opening and self._current(held, find_path):
            return held[0]
        with self._lock:  # other threads wait here while one opens
            held = self._held
            if self._opening or self._current(held, find_path):
                return held[0]  # opened by another thread meanwhile, or re-entered while finding the path
            if find_path is None:
                self._held = (LocalRollups(), time.monotonic() + self.recheck_s)
                return self._held[0]
            self._opening = True  # other threads wait on the lock until the copy is stored, not read Spark
            try:
                # the path is read on the warehouse: re-entered, this thread gets no copy (the placeholder)
                self._held = (LocalRollups(), time.monotonic() + self.recheck_s)
                path = find_path(held is not None)
                self._held = (LocalRollups.open(path), time.monotonic() + self.recheck_s)
            finally:
                self._opening = False
            return self._held[0]

    def _current(self, held: tuple[LocalRollups, float] | None, find_path: object) -> bool:
        """Whether ``held`` is still the answer: a copy, or none not yet due for a re-check."""
        return held is not None and (held[0].engine is not None or find_path is None or time.monotonic() <= held[1])

    def forget(self) -> None:
        """Stop reading the copy (unreadable): none until ``find_path`` is asked again after ``recheck_s``."""
        with self._lock:
            if self._held is not None:
                self._held[0].dispose()
            self._held = (LocalRollups(), time.monotonic() + self.recheck_s)

    def hold(self, local: LocalRollups) -> None:
        """Read ``local`` from now on, until :meth:`forget` (tests: a copy standing for a Spark refresh's)."""
        with self._lock:
            self._held = (local, float("inf"))

    def dispose(self) -> None:
        """Close the copy's connections (a slot is not used after this)."""
        with self._lock:
            if self._held is not None:
                self._held[0].dispose()


__all__ = ["LocalCopySlot", "LocalRollups"]
