"""Results shared by the app replicas of one machine (or of a shared folder): a view one replica has
computed is read by the others instead of being computed again.

Opt-in: ``$SERVICEWATCH_SHARED_CACHE`` names a folder of the app's user. Values are pickles, so
whoever can write there could run code in the app, and the figures are every scope's: the folder is
made with mode 0700, entries with 0600, and a folder that another user owns or that others may open
is refused (nothing is shared, a warning is logged). Each entry is one file named by the SHA-256 of
its key: the code (a digest of the engine's and the app's source files), the function, the database
URL, the data version and the arguments' ``repr``. So a load, import or fit never serves an older
result, nor a deploy of other code; an entry older than ``max_age_s`` (the app's cache lifetime) is
computed again, as for anything the data version does not cover (settings files, today's date).
A result is stored only when the caller's ``still_current()`` (if given) holds after it was computed:
the app checks there that the ``sw_meta.data_version`` its engine reads is still the one in the key,
so a result computed from an older file (a DuckDB file swapped while an old connection was open) or
before a load committed is served to this caller but never shared under the newer key.
Entries of older versions are no longer asked for and go first when the folder is pruned (least
recently used, by modification time, which a read refreshes) to ``$SERVICEWATCH_SHARED_CACHE_MB``
(default 512 MB). Files are written under a unique temporary name and renamed, so a reader sees a
whole entry or none; an unreadable entry is computed again. Arguments whose ``repr`` is not the same
in every process or does not show the whole value (an object's ``<… at 0x…>``, a frame's ``...``) are
not shared.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import stat
import threading
import time
import uuid
from collections.abc import Callable
from functools import cache
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
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.stat()
    except OSError:
        log.warning("shared cache folder cannot be made; results are not shared")
        return None
    if st.st_uid != os.getuid() or st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("shared cache folder is not the app user's alone (owner, mode 0700); results are not shared")
        return None
    return path


@cache
def code_stamp() -> str:
    """A digest of the source files of the engine and the app (read once per process): entries written
    by other code are not read."""
    import metrics

    roots = [Path(metrics.__file__).parent, Path(metrics.__file__).parents[1] / "servicewatch"]
    digest = hashlib.sha256()
    for root in roots:
        for f in sorted(root.rglob("*.py")) + sorted(root.rglob("*.toml")):
            digest.update(str(f.relative_to(root.parent)).encode("utf-8"))
            digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


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
    if " at 0x" in text or "..." in text:
        return None
    return hashlib.sha256((code_stamp() + text).encode("utf-8")).hexdigest()


def get_or_compute(parts: tuple, compute: Callable[[], T], max_age_s: float = float("inf"),
                   still_current: Callable[[], bool] | None = None) -> T:
    """The shared result for ``parts`` if an entry at most ``max_age_s`` (seconds) old exists and reads
    back, else ``compute()``, stored for the other replicas unless ``still_current()`` (called once, after
    ``compute()``, only on a miss) is false or fails. Without a usable shared folder, simply ``compute()``."""
    root = folder()
    name = key(*parts) if root is not None else None
    if root is None or name is None:
        return compute()
    path = root / (name + SUFFIX)
    try:
        with path.open("rb") as fh:
            created, value = pickle.load(fh)  # noqa: S301 - the folder is the app user's alone (folder())
    except FileNotFoundError:
        pass
    except Exception:  # noqa: BLE001 - a damaged or foreign entry: computed again and replaced
        log.warning("shared cache entry unreadable; computing it again")
    else:
        if time.time() - created <= max_age_s:
            with contextlib.suppress(OSError):  # pruned meanwhile by another replica: the value stands
                os.utime(path)  # recently used: pruned last
            return value
    value = compute()
    if still_current is not None:
        try:
            current = still_current()
        except Exception:  # noqa: BLE001 - the version cannot be read back: served, not shared
            current = False
        if not current:
            log.info("shared cache entry not written: the data version changed while it was computed")
            return value
    _store(root, path, value)
    return value


def _store(root: Path, path: Path, value: object) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")  # unique across processes and hosts
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            pickle.dump((time.time(), value), fh, protocol=pickle.HIGHEST_PROTOCOL)
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


__all__ = ["DIR_ENV", "SIZE_ENV", "code_stamp", "folder", "get_or_compute", "key", "limit_bytes", "prune"]
