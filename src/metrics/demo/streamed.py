"""A big demo written into a DuckDB file chunk by chunk, never held whole (issue 21 item 1).

:func:`load_streamed` draws the population in chunks (:mod:`metrics.demo.chunks`) and appends each
chunk's rows to a new DuckDB file as soon as they are drawn, then builds the derived tables, ``sw_meta``
and the rollups once at the end, exactly as :func:`metrics.ingest.load.replace_all` writes a DuckDB file:
tables created as there (:func:`metrics.ingest.load.duckdb_table`: no secondary indexes, the keys of
``billing_monthly`` checked by one query), rows through Arrow, the file built beside the target under
the file's write lock, checkpointed and moved over it with ``os.replace``. A failure at any point
removes the temporary file and leaves the old file as it was. Memory stays that of one chunk (plus
DuckDB's own buffer, bounded by its ``memory_limit``), whatever the population.

Only DuckDB files: PostgreSQL, MariaDB and Spark take the whole path (``replace_all``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from metrics import processes
from metrics.backends.bulk import duckdb_insert
from metrics.backends.connect import duckdb_path, make_engine
from metrics.backends.swap import new_file, write_lock
from metrics.demo import chunks, parallel_chunks
from metrics.ingest.derived import refresh_meta, refresh_rollups
from metrics.ingest.load import DUCKDB_CHECKED_KEYS, check_unique, duckdb_table
from metrics.model import schema

STREAM_ABOVE = 1_000_000  # ``servicewatch demo`` streams above this many customers (generate() up to it)
CHUNK_CUSTOMERS = 250_000
MAX_WORKERS = 3  # each holds one chunk (about 3.5 GB at 250,000 customers): see parallel_chunks.memory_limit
# DuckDB's buffer while the file is built (its default is 80% of the machine's memory): with one chunk of
# 250,000 customers in Python (about 3 GB) the load stays within 16 GB; DuckDB spills to disk beyond it
MEMORY_LIMIT = "10GB"
log = logging.getLogger(__name__)


@dataclass
class StreamedLoad:
    """What :func:`load_streamed` wrote and how long each phase took (seconds)."""

    rows: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    generate_s: float = 0.0  # drawing the chunks (and the shared tables)
    write_s: float = 0.0  # appending them to the file
    derived_s: float = 0.0  # region closure, calendar, due times, sw_meta
    rollups_s: float = 0.0  # every rollup table, then the checkpoint
    duckdb_memory_limit: str = ""
    duckdb_memory_mb: float = 0.0  # DuckDB's own buffer after the last append (duckdb_memory(), MB)
    duckdb_memory_peak_mb: float = 0.0  # the largest of those
    workers: int = 1  # processes drawing the chunks (1: this one)
    draw_s: float = 0.0  # with workers: the workers' time drawing and writing chunk files, summed
    worker_peak_mb: float = 0.0  # with workers: the largest peak RSS of one worker (MB)


def default_workers() -> int:
    """Worker processes drawing chunks by default: one per core this process may use, at most
    :data:`MAX_WORKERS`, and no more than the memory holds (about 5 GB a worker with its share of
    DuckDB's buffer: see :func:`metrics.demo.parallel_chunks.memory_limit`)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory_gb = 16.0
    return max(1, min(cores, MAX_WORKERS, int(memory_gb // 5)))


def load_streamed(url: str, customers: int, seed: int = 7, chunk_customers: int = CHUNK_CUSTOMERS,
                  end: dt.date = dt.date(2026, 10, 31), years: float = 2.5,
                  progress: Callable[[int, int, StreamedLoad], None] | None = None,
                  memory_limit: str | None = MEMORY_LIMIT, workers: int = 1) -> StreamedLoad:
    """Replace the DuckDB file at ``url`` by a demo of ``customers`` drawn in chunks of ``chunk_customers``.

    ``workers`` > 1 draws the chunks in that many processes (:mod:`metrics.demo.parallel_chunks`), the same
    rows as ``workers=1``; ``memory_limit`` bounds DuckDB's buffer during the load (``None``: DuckDB's
    default; with workers, :func:`parallel_chunks.memory_limit` unless given).

    ``progress(chunk index, number of chunks, figures so far)`` is called after each chunk is written
    (an exception there aborts the load like any other: the old file stays).
    """
    path = duckdb_path(url)
    if path is None:
        raise ValueError("the streamed demo writes DuckDB files only")
    if workers < 1:
        raise ValueError("workers must be >= 1")
    sizes = chunks.chunk_sizes(customers, chunk_customers)
    workers = processes.workers_allowed(min(workers, len(sizes)))  # off a command's main thread: this process
    meta = {"demo_seed": seed, "demo_customers": customers, "demo_end": end.isoformat(),
            "demo_chunk_customers": chunk_customers}
    if workers > 1 and memory_limit == MEMORY_LIMIT:
        memory_limit = parallel_chunks.memory_limit(workers)
    with write_lock(path), new_file(path) as tmp:
        return _write(tmp, sizes, seed, end, years, meta, progress, memory_limit, workers)


def _write(tmp: Path, sizes: list[int], seed: int, end: dt.date, years: float, meta: dict[str, object],
           progress: Callable[[int, int, StreamedLoad], None] | None, memory_limit: str | None,
           workers: int) -> StreamedLoad:
    out = StreamedLoad(chunks=len(sizes), workers=workers)
    engine = make_engine(f"duckdb:///{tmp}")
    if memory_limit:
        limit = memory_limit.replace("'", "")
        sa.event.listen(engine, "connect", lambda dbapi, _rec: dbapi.execute(f"SET memory_limit = '{limit}'"))
    try:
        with engine.begin() as conn:
            for table in schema.metadata.sorted_tables:
                conn.execute(sa.schema.CreateTable(duckdb_table(table)))
            out.duckdb_memory_limit = str(conn.exec_driver_sql("SELECT current_setting('memory_limit')").scalar())
        started = time.perf_counter()
        shared = chunks.draw_shared(sum(sizes), seed, end, years)
        out.generate_s += time.perf_counter() - started
        _append(engine, shared.frames, out)
        if workers > 1:
            active = parallel_chunks.draw_and_append(engine, shared, sizes, seed, workers, tmp, out, progress)
        else:
            active = _sequential(engine, shared, sizes, seed, out, progress)
        _append(engine, {"user_base": chunks.user_base(active.astype("int64"))}, out)
        started = time.perf_counter()
        with engine.begin() as conn:
            for table in DUCKDB_CHECKED_KEYS & set(out.rows):
                check_unique(conn, schema.metadata.tables[table])
            refresh_meta(conn, meta)
        out.derived_s = time.perf_counter() - started
        started = time.perf_counter()
        refresh_rollups(engine)
        with engine.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")
        out.rollups_s = time.perf_counter() - started
        return out
    finally:
        engine.dispose()


def _sequential(engine: sa.Engine, shared: chunks.Shared, sizes: list[int], seed: int, out: StreamedLoad,
                progress: Callable[[int, int, StreamedLoad], None] | None) -> pd.Series:
    """Draw and append the chunks one after the other in this process; the summed active counts."""
    offsets, active = chunks.Offsets(), None
    for k, n in enumerate(sizes):
        started = time.perf_counter()
        frames = chunks.chunk_frames(shared, k, n, seed, offsets)
        counts = frames.pop("active")
        active = counts if active is None else active.add(counts, fill_value=0)
        out.generate_s += time.perf_counter() - started
        _append(engine, frames, out)
        del frames
        log.info("streamed demo: chunk %d/%d (%d customers)", k + 1, len(sizes), n)
        if progress is not None:
            progress(k, len(sizes), out)
    return active


def _append(engine: sa.Engine, frames: dict[str, pd.DataFrame], out: StreamedLoad) -> None:
    """Append the frames (parents before children, as the tables' keys require), one transaction."""
    started = time.perf_counter()
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        for table in schema.DATA_TABLES:
            df = frames.get(table.name)
            if df is None:
                continue
            duckdb_insert(raw, conn.dialect, table, df)
            out.rows[table.name] = out.rows.get(table.name, 0) + len(df)
        used = raw.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0] or 0
        out.duckdb_memory_mb = round(used / 2**20)
        out.duckdb_memory_peak_mb = max(out.duckdb_memory_peak_mb, out.duckdb_memory_mb)
    out.write_s += time.perf_counter() - started


__all__ = ["CHUNK_CUSTOMERS", "STREAM_ABOVE", "StreamedLoad", "load_streamed"]
