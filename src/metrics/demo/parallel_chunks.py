"""The streamed demo's chunks drawn in worker processes (issue 21 item 1): the rows of the sequential path
(:func:`metrics.demo.streamed.load_streamed` with ``workers=1``), drawn on several cores.

Each worker (a ``spawn``-ed process given the shared tables once) draws chunk ``k`` with ids from 1
(:func:`metrics.demo.chunks.chunk_frames` with fresh :class:`~metrics.demo.chunks.Offsets`), writes its
tables as Arrow IPC files into a folder beside the file being built and returns their paths, each table's
largest id and the chunk's active counts. The loading process, DuckDB's only writer, takes the chunks in
order and appends each file with its ids shifted past the chunks before it (``id + offset`` in the
INSERT), then removes the files. Nothing a chunk draws depends on the values of its ids, only on their
order, so the file holds the sequential path's rows (tests/ingest/test_demo_streamed.py compares both).

At most ``workers + 1`` chunks are drawn ahead of the one being appended, so the folder holds at most that
many chunks' files; it is removed when the load ends, on success or on failure (the target file is then
left as it was by :func:`metrics.backends.swap.new_file`). On a failure or an interruption (Ctrl-C) the
chunks not started are cancelled and the workers ended at once (:func:`metrics.processes.stop`), not waited for;
the workers ignore SIGINT (a Ctrl-C reaches the whole process group), so the loading process alone
decides. The folder's name carries the loading process's pid (``.<name>.<pid>.tmp.chunks``): a load
killed outright leaves it to the next writer of the file (:func:`metrics.backends.swap.remove_dead_temporaries`).

Memory: each worker holds one chunk at a time (about 3.5 GB at 250,000 customers); the loading process
maps the files it appends. :func:`memory_limit` gives DuckDB's buffer 15 GB less 4 GB per worker (at least
2 GB), so the whole load stays within 16 GB with up to three workers.
"""

from __future__ import annotations

import dataclasses
import resource
import shutil
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from metrics import processes
from metrics.backends.bulk import duckdb_insert
from metrics.demo import chunks
from metrics.model import schema

if TYPE_CHECKING:
    from metrics.demo.streamed import StreamedLoad

WORKER_TABLES = ("regions", "account_managers", "outlets")  # the shared frames chunk_frames reads
_SHARED: chunks.Shared | None = None  # in a worker: the shared tables (set once by _start)


def memory_limit(workers: int) -> str:
    """DuckDB's buffer while ``workers`` processes draw chunks: 15 GB less 4 GB per worker, at least 2 GB."""
    return f"{max(2, 15 - 4 * workers)}GB"


@dataclasses.dataclass
class Drawn:
    """One chunk as a worker wrote it (ids from 1)."""

    k: int
    files: dict[str, str]  # table -> Arrow IPC file (tables without rows left out)
    last: dict[str, int]  # table -> largest id in the chunk (0 when it has no rows)
    active: pd.Series  # chunks.active_per_city_month
    targets: pd.DataFrame | None  # chunk 0 only
    seconds: float  # drawing and writing the files
    peak_mb: float  # the worker's peak RSS so far


def _start(shared: chunks.Shared) -> None:
    # SIGINT: ignored by metrics.processes.spawn_pool's initializer before this one, and inherited ignored
    # from the start (processes.starting_workers), which covers the imports before it too.
    global _SHARED
    _SHARED = shared


def draw_chunk(k: int, n: int, seed: int, folder: str) -> Drawn:
    """In a worker: draw chunk ``k`` (``n`` customers) with ids from 1 and write its tables into ``folder``."""
    return _draw(_SHARED, k, n, seed, folder)


def _draw(shared: chunks.Shared, k: int, n: int, seed: int, folder: str) -> Drawn:
    started = time.perf_counter()
    offsets = chunks.Offsets()
    frames = chunks.chunk_frames(shared, k, n, seed, offsets)
    files = {}
    for name in chunks.CHUNK_TABLES:
        df = frames.pop(name)
        if not len(df):
            continue
        table = pa.Table.from_pandas(df, preserve_index=False)
        del df
        files[name] = str(Path(folder) / f"{k}.{name}.arrow")
        with pa.OSFile(files[name], "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
    return Drawn(k, files, dict(offsets.last), frames["active"], frames.get("targets"),
                 time.perf_counter() - started, peak)


def draw_and_append(engine: sa.Engine, shared: chunks.Shared, sizes: list[int], seed: int, workers: int,
                    tmp: Path, out: StreamedLoad,
                    progress: Callable[[int, int, StreamedLoad], None] | None) -> pd.Series:
    """Draw the chunks of ``sizes`` in ``workers`` processes and append them in order to the file of
    ``engine`` (being built at ``tmp``); returns the summed active counts. On a command's main thread
    only (:func:`metrics.processes.workers_allowed`: the streamed demo draws in turn elsewhere). ``out``
    gets the times: waiting for chunks in ``generate_s``, appending in ``write_s``, the workers' own time
    in ``draw_s``."""
    folder = tmp.with_name(f"{tmp.name}.chunks")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    slim = dataclasses.replace(shared, frames={name: shared.frames[name] for name in WORKER_TABLES})
    base = dict.fromkeys(chunks.ID_COLUMNS, 0)  # ids written so far per table
    active: pd.Series | None = None
    tasks = iter(enumerate(sizes))
    pending: deque[Future[Drawn]] = deque()

    def take(drawn: Drawn) -> None:
        nonlocal active
        out.draw_s += drawn.seconds
        out.worker_peak_mb = max(out.worker_peak_mb, round(drawn.peak_mb))
        _append_chunk(engine, drawn, base, out)
        active = drawn.active if active is None else active.add(drawn.active, fill_value=0)
        if progress is not None:
            progress(drawn.k, len(sizes), out)

    try:
        pool = processes.spawn_pool(workers, initializer=_start, initargs=(slim,))
        try:
            def submit() -> None:
                task = next(tasks, None)
                if task is not None:
                    pending.append(pool.submit(draw_chunk, task[0], task[1], seed, str(folder)))

            with processes.starting_workers():  # the workers are started by the first submits
                for _ in range(workers + 1):
                    submit()
            while pending:
                started = time.perf_counter()
                drawn = pending.popleft().result()
                out.generate_s += time.perf_counter() - started
                submit()
                take(drawn)
        except BaseException:
            with processes.sigint_ignored():
                processes.stop(pool, pending)  # the chunks being drawn are not waited for, no new ones start
            raise
        pool.shutdown(wait=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return active


def _append_chunk(engine: sa.Engine, drawn: Drawn, base: dict[str, int], out: StreamedLoad) -> None:
    """Append a drawn chunk's files (parents before children, one transaction), ids shifted by ``base``,
    which then advances past the chunk; the files are removed."""
    started = time.perf_counter()
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        for table in schema.DATA_TABLES:
            if table.name == "targets" and drawn.targets is not None:
                duckdb_insert(raw, conn.dialect, table, drawn.targets)
                out.rows["targets"] = out.rows.get("targets", 0) + len(drawn.targets)
            if table.name not in drawn.files:
                continue
            shift = {chunks.ID_COLUMNS[table.name]: base[table.name]} if table.name in chunks.ID_COLUMNS else {}
            shift.update({col: base[to] for col, to in chunks.REFERENCES.get(table.name, {}).items()})
            out.rows[table.name] = out.rows.get(table.name, 0) + _insert_file(raw, conn.dialect, table,
                                                                              drawn.files[table.name], shift)
            Path(drawn.files[table.name]).unlink()
        used = raw.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()[0] or 0
        out.duckdb_memory_mb = round(used / 2**20)
        out.duckdb_memory_peak_mb = max(out.duckdb_memory_peak_mb, out.duckdb_memory_mb)
    for name, last in drawn.last.items():
        base[name] += last
    out.write_s += time.perf_counter() - started


def _insert_file(raw: object, dialect: sa.Dialect, table: sa.Table, file: str, shift: dict[str, int]) -> int:
    """Append the Arrow IPC ``file`` to ``table`` (as :func:`metrics.backends.bulk.duckdb_insert` appends a
    frame), adding ``shift[column]`` to those columns; returns the number of rows."""
    arrow = pa.ipc.open_file(pa.memory_map(file)).read_all()
    q = dialect.identifier_preparer.quote

    def expr(c: sa.Column) -> str:
        e = f"{q(c.name)} + CAST({int(shift[c.name])} AS BIGINT)" if shift.get(c.name) else q(c.name)
        return f"CAST({e} AS DATE)" if isinstance(c.type, sa.Date) and not isinstance(c.type, sa.DateTime) else e

    name = "_sw_load_chunk"
    raw.register(name, arrow)
    try:
        cols = ", ".join(q(c.name) for c in table.columns)
        raw.execute(f"INSERT INTO {q(table.name)} ({cols}) SELECT {', '.join(map(expr, table.columns))} FROM {name}")
    finally:
        raw.unregister(name)
    return arrow.num_rows


__all__ = ["Drawn", "draw_and_append", "draw_chunk", "memory_limit"]
