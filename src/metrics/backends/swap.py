"""One writer and many readers of a DuckDB file.

DuckDB lets many processes open a file read-only, or one process open it for writing, never both.
Dashboards hold the file read-only, so a writer (an import, a churn fit, a load) never writes the
file in place: it copies the file to a temporary file beside it, writes there, checkpoints, and
moves the result over the original with ``os.replace``. Readers see the old file or the new one,
never a mix, and never new rows with old rollups (the rollups are rebuilt in the copy before the
swap). A kill at any point leaves the original untouched, and temporaries that the next writer
removes under the lock: every temporary name carries its writer's pid (``.<name>.<pid>.swap``,
``.<name>.<pid>.tmp``, their ``.wal`` and the streamed demo's ``.<name>.<pid>.tmp.chunks`` folder), and
only those of pids no longer running are removed (:func:`remove_dead_temporaries`).

Writers of one file take an exclusive lock (``flock`` on ``.<name>.write.lock`` beside it), so two
imports one after another both land instead of the second swap dropping the first one's rows.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import logging
import os
import re
import shutil
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from metrics.backends.connect import DatabaseError, duckdb_path, make_engine

LOCK_WAIT_S = 600.0  # how long a writer waits for another one to finish
# what follows ".<name>." in a writer's temporaries: its pid, then the kind (and a WAL or chunk folder)
_TEMPORARY = re.compile(r"(\d+)\.(?:swap|tmp)(?:\.wal|\.chunks)?")
log = logging.getLogger(__name__)


class WriterBusy(DatabaseError):
    """Another writer held the file's write lock for longer than the wait."""


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.write.lock")


@contextlib.contextmanager
def write_lock(path: Path, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold the exclusive write lock of the DuckDB file ``path`` (waiting up to ``wait_s`` seconds).
    The lock dies with its process, so a killed writer never leaves the file locked."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WriterBusy(f"another writer is still busy with {path.name}; try again later") from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)  # releases the lock


def foreign_writer(path: Path) -> int | None:
    """The pid of another process holding the DuckDB file open for writing (DuckDB takes a POSIX
    write lock on the whole file), or None. Only asks (F_GETLK); takes no lock."""
    if not path.exists():
        return None
    query = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
    fd = os.open(path, os.O_RDONLY)
    try:
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
    finally:
        os.close(fd)
    l_type, _, _, _, pid = struct.unpack("hhqqi4x", answer)
    return pid if l_type == fcntl.F_WRLCK else None


def _remove(p: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        p.unlink()


def pid_running(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (signal 0: asks, sends nothing). A process of
    another user counts as running; a killed one its parent has not reaped yet (a zombie) does not."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # Linux: the state follows the command name in parentheses
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def remove_dead_temporaries(path: Path) -> list[str]:
    """Remove the temporaries beside the DuckDB file ``path`` left by writers that were killed (their pid,
    in the name, no longer runs): swapped copies, files built from scratch, their WALs and chunk folders.
    A running process's temporaries stay (a pid reused since is taken for alive: those wait for the next
    writer). The caller holds the write lock. Returns the names removed."""
    path = path.resolve()
    prefix = f".{path.name}."
    removed = []
    for p in path.parent.glob(f".{glob.escape(path.name)}.*"):
        found = _TEMPORARY.fullmatch(p.name[len(prefix):])
        if found is None or pid_running(int(found.group(1))):
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            _remove(p)
        removed.append(p.name)
    if removed:
        log.info("removed %d temporaries of killed writers beside %s", len(removed), path.name)
    return sorted(removed)


@contextlib.contextmanager
def new_file(path: Path) -> Iterator[Path]:
    """A temporary name beside the DuckDB file ``path`` for a file built from scratch, moved over ``path``
    (``os.replace``) when the block ends without an error; on an error the temporary file is removed and
    ``path`` stays as it was. The caller holds the write lock, and checkpoints and disposes its engine
    before the block ends (a stale WAL of ``path`` is removed before the move: it would be replayed onto
    the new file). Temporaries of killed writers beside ``path`` are removed first
    (:func:`remove_dead_temporaries`)."""
    path = path.resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        Path(f"{path}.wal").unlink(missing_ok=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)


@contextlib.contextmanager
def swapped_copy(path: Path) -> Iterator[Path]:
    """A writable copy of the DuckDB file ``path`` that replaces it when the block ends without an
    error (the caller checkpoints and closes its connections first); on an error it is removed."""
    path = path.resolve()
    with write_lock(path):
        remove_dead_temporaries(path)
        if foreign_writer(path) is not None:  # not one of ours (ours take the write lock): its writes would be lost
            raise DatabaseError(f"the DuckDB file {path.name} is in use by another process (write lock)")
        tmp = path.with_name(f".{path.name}.{os.getpid()}.swap")
        try:
            if path.exists():
                shutil.copyfile(path, tmp)
                wal = Path(f"{path}.wal")
                if wal.exists():  # a crashed writer's log: replayed into the copy when it opens
                    shutil.copyfile(wal, Path(f"{tmp}.wal"))
            yield tmp
            _remove(Path(f"{path}.wal"))  # folded into the copy; would be replayed onto it
            os.replace(tmp, path)
        finally:
            _remove(tmp)
            _remove(Path(f"{tmp}.wal"))


@contextlib.contextmanager
def writable(url: str) -> Iterator[sa.Engine]:
    """An engine to write the database at ``url``: for a DuckDB file, on a swapped copy (above),
    checkpointed and disposed before the swap; for a server database, the database itself."""
    path = duckdb_path(url)
    if path is None:
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    with swapped_copy(path) as tmp:
        engine = make_engine(f"duckdb:///{tmp}")
        try:
            yield engine
            with engine.connect() as conn:
                conn.exec_driver_sql("CHECKPOINT")  # one self-contained file, no WAL beside it
        finally:
            engine.dispose()
