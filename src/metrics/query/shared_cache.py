"""Results shared by the app replicas of one machine (or of a shared folder): a view one replica has
computed is read by the others instead of being computed again.

Opt-in: ``$SERVICEWATCH_SHARED_CACHE`` names a folder writable only by the app's user (values are
pickles: whoever can write there can run code in the app). Each entry is one file named by the
SHA-256 of its key: the function, the database URL, the data version and the arguments' ``repr``.
The data version is part of the key, so a load, import or fit never serves an older result; entries
of older versions are simply no longer asked for and go first when the folder is pruned (least
recently used, by modification time, which a read refreshes) to ``$SERVICEWATCH_SHARED_CACHE_MB``
(default 512 MB). Files are written under a temporary name and renamed, so a reader sees a whole
entry or none; an unreadable entry is computed again. Arguments whose ``repr`` is not stable across
processes (an object's default ``<… at 0x…>``) are not shared.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

DIR_ENV = "SERVICEWATCH_SHARED_CACHE"
SIZE_ENV = "SERVICEWATCH_SHARED_CACHE_MB"
DEFAULT_MB = 512
SUFFIX = ".swc"
PRUNE_EVERY = 50  # writes between two prunings of the folder

T = TypeVar("T")
log = logging.getLogger(__name__)
_writes = {"n": 0}
_lock = threading.Lock()


def folder() -> Path | None:
    """The shared folder (``$SERVICEWATCH_SHARED_CACHE``), made if missing; None when unset or not usable."""
    value = os.environ.get(DIR_ENV, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        log.warning("shared cache folder cannot be made; results are not shared")
        return None
    return path


def limit_bytes() -> int:
    """The folder's size limit in bytes (``$SERVICEWATCH_SHARED_CACHE_MB``, default 512 MB)."""
    try:
        return max(1, int(os.environ.get(SIZE_ENV, DEFAULT_MB))) * 2**20
    except ValueError:
        return DEFAULT_MB * 2**20


def key(*parts: object) -> str | None:
    """The entry name of ``parts`` (hex SHA-256 of their ``repr``), or None when a part's ``repr`` is not
    the same in every process (it shows an address)."""
    text = repr(parts)
    if " at 0x" in text:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def get_or_compute(parts: tuple, compute: Callable[[], T]) -> T:
    """The shared result for ``parts`` if an entry exists and reads back, else ``compute()``, stored for
    the other replicas. Without a shared folder, simply ``compute()``."""
    root = folder()
    name = key(*parts) if root is not None else None
    if root is None or name is None:
        return compute()
    path = root / (name + SUFFIX)
    try:
        with path.open("rb") as fh:
            value = pickle.load(fh)  # noqa: S301 - the folder is the app user's own (module docstring)
        os.utime(path)  # recently used: pruned last
        return value
    except FileNotFoundError:
        pass
    except Exception:  # noqa: BLE001 - a damaged or foreign entry: computed again and replaced
        log.warning("shared cache entry unreadable; computing it again")
    value = compute()
    _store(root, path, value)
    return value


def _store(root: Path, path: Path, value: object) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with tmp.open("wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except Exception:  # noqa: BLE001 - not shared this time (disk full, unpicklable value): still served
        tmp.unlink(missing_ok=True)
        log.warning("shared cache entry not written")
        return
    with _lock:
        _writes["n"] += 1
        due = _writes["n"] % PRUNE_EVERY == 1
    if due:
        prune(root, limit_bytes())


def prune(root: Path, limit: int) -> int:
    """Remove the least recently used entries of ``root`` until it holds at most ``limit`` bytes, and
    temporary files older than an hour (a writer that died); the number of files removed."""
    entries, removed, now = [], 0, time.time()
    for p in root.iterdir():
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        if p.name.endswith(".tmp") and now - st.st_mtime > 3600:
            p.unlink(missing_ok=True)
            removed += 1
        elif p.suffix == SUFFIX:
            entries.append((st.st_mtime, st.st_size, p))
    total = sum(size for _, size, _ in entries)
    for _, size, p in sorted(entries, key=lambda e: e[0]):
        if total <= limit:
            break
        p.unlink(missing_ok=True)
        total -= size
        removed += 1
    return removed


__all__ = ["DIR_ENV", "SIZE_ENV", "folder", "get_or_compute", "key", "limit_bytes", "prune"]
