"""Failed sign-ins and locks, stored beside the users file and shared by every process using it.

Policy (:class:`RateLimiter`, unchanged since issue 7): ``max_failures`` failed sign-ins for a name
within ``window_s`` seconds lock the name for ``lockout_s`` seconds (5 in 5 minutes lock for 15
minutes). Unknown names are counted and locked like real ones, so a lock tells nothing about
whether a name exists.

Store: an SQLite file ``<users file>.lockout.sqlite`` (mode 0600, created at the first sign-in
attempt; ``$SERVICEWATCH_LOCKOUT_STORE`` puts it elsewhere), so every dashboard replica and the CLI
that use one users file see the same counts, and a restart keeps them. Every change is one ``BEGIN
IMMEDIATE`` transaction (the database's write lock taken before anything is read), so concurrent
failures from several processes all count; a busy store is waited for (``BUSY_TIMEOUT_S``), not
reported as an error. The store's folder must be writable by every process (SQLite writes a
journal file beside the store during each change).

An attempt is counted **before** its password is checked (:meth:`RateLimiter.attempt`) and cleared
when it succeeds: a burst of concurrent guesses cannot slip past the count, and a process that dies
in the middle leaves a failure, not a free guess. A store that cannot be created, read or written,
or whose contents are not this module's, raises :class:`StoreError`; callers refuse the sign-in
(fail closed). Times are wall-clock seconds (``time.time``): they must mean the same in every
process and after a restart.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

SUFFIX = ".lockout.sqlite"
STORE_ENV = "SERVICEWATCH_LOCKOUT_STORE"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0  # how long a write waits for another process's transaction
_SCHEMA = (
    "CREATE TABLE attempts (name TEXT NOT NULL, at REAL NOT NULL CHECK (typeof(at) = 'real'))",
    "CREATE INDEX attempts_name_at ON attempts (name, at)",
    "CREATE INDEX attempts_at ON attempts (at)",
    "CREATE TABLE locks (name TEXT PRIMARY KEY, until REAL NOT NULL CHECK (typeof(until) = 'real'))",
)


class StoreError(RuntimeError):
    """The lockout store cannot be used (unreadable, unwritable, not ours): refuse every sign-in."""


class Locked(Exception):
    """The name is locked until ``until`` (wall-clock seconds)."""

    def __init__(self, until: float) -> None:
        super().__init__(until)
        self.until = until


def store_path(users_file: str | Path) -> Path:
    """The lockout store of a users file: ``$SERVICEWATCH_LOCKOUT_STORE`` when set (for a users file
    in a folder the dashboard may not write; every process must then be given the same path), else
    ``<users file>.lockout.sqlite`` in the same folder."""
    override = os.environ.get(STORE_ENV, "").strip()
    if override:
        return Path(override)
    p = Path(users_file)
    return p.with_name(p.name + SUFFIX)


def key(name: str) -> str:
    """The stored key of a typed name: the name itself, or a digest of a name longer than any user
    name may be (64 characters), so that no typed text makes the store grow by more than a row."""
    if len(name) <= 64:
        return name
    return "sha256:" + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class RateLimiter:
    """At most ``max_failures`` failed sign-ins per name within ``window_s`` seconds; then the name
    is locked for ``lockout_s`` seconds. Stored beside the users file (module docstring); ``clock``
    gives wall-clock seconds and is injectable for tests."""

    max_failures: int = 5
    window_s: float = 300.0
    lockout_s: float = 900.0
    clock: Callable[[], float] = time.time

    # -- the sign-in path ---------------------------------------------------------------------
    def attempt(self, users_file: str | Path, name: str) -> None:
        """Before a password is checked: raise :class:`Locked` when the name is locked (or has used
        up its attempts, which locks it); otherwise count this attempt as a failure, cleared by
        :meth:`succeeded`."""
        now, k = self.clock(), key(name)
        with self._write(users_file) as con:
            con.execute("DELETE FROM attempts WHERE at <= ?", (now - self.window_s,))
            con.execute("DELETE FROM locks WHERE until <= ?", (now,))
            until = _until(con, k, now)
            if until is None and _count(con, k, now - self.window_s) >= self.max_failures:
                until = self._lock(con, k, now)
            if until is None:
                con.execute("INSERT INTO attempts (name, at) VALUES (?, ?)", (k, now))
        if until is not None:
            raise Locked(until)

    def failed(self, users_file: str | Path, name: str) -> None:
        """After a wrong password (already counted by :meth:`attempt`): lock the name when it has
        reached ``max_failures`` within the window."""
        now, k = self.clock(), key(name)
        with self._write(users_file) as con:
            if _until(con, k, now) is None and _count(con, k, now - self.window_s) >= self.max_failures:
                self._lock(con, k, now)

    def succeeded(self, users_file: str | Path, name: str) -> None:
        """After a right password: the name's failures are forgotten."""
        with self._write(users_file) as con:
            con.execute("DELETE FROM attempts WHERE name = ?", (key(name),))

    # -- administration -----------------------------------------------------------------------
    def locked_until(self, users_file: str | Path, name: str) -> float | None:
        """When the name's lock ends (wall-clock seconds), None when it is not locked."""
        with self._read(users_file) as con:
            return None if con is None else _until(con, key(name), self.clock())

    def failures(self, users_file: str | Path, name: str) -> int:
        """Failed (or unfinished) sign-ins of the name within the window."""
        with self._read(users_file) as con:
            return 0 if con is None else _count(con, key(name), self.clock() - self.window_s)

    def locks(self, users_file: str | Path) -> dict[str, float]:
        """Every locked key → when its lock ends."""
        with self._read(users_file) as con:
            if con is None:
                return {}
            rows = con.execute("SELECT name, until FROM locks WHERE until > ?", (self.clock(),)).fetchall()
            return {str(n): _number(u) for n, u in rows}

    def unlock(self, users_file: str | Path, name: str) -> bool:
        """Clear the name's lock and failures; whether it was locked."""
        if not store_path(users_file).exists():
            return False
        now, k = self.clock(), key(name)
        with self._write(users_file) as con:
            was = _until(con, k, now) is not None
            con.execute("DELETE FROM locks WHERE name = ?", (k,))
            con.execute("DELETE FROM attempts WHERE name = ?", (k,))
        return was

    # -- the store ----------------------------------------------------------------------------
    def _lock(self, con: sqlite3.Connection, k: str, now: float) -> float:
        until = now + self.lockout_s
        con.execute("INSERT INTO locks (name, until) VALUES (?, ?) ON CONFLICT (name) DO UPDATE "
                    "SET until = max(until, excluded.until)", (k, until))
        con.execute("DELETE FROM attempts WHERE name = ?", (k,))
        return until

    @contextmanager
    def _write(self, users_file: str | Path) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction on the store, created (mode 0600) when missing."""
        path = store_path(users_file)
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as exc:
            raise StoreError(_describe(path, exc)) from None
        with _transaction(path, "BEGIN IMMEDIATE") as con:
            _check_schema(con, path, create=True)
            yield con

    @contextmanager
    def _read(self, users_file: str | Path) -> Iterator[sqlite3.Connection | None]:
        """A read of the store; None when there is none yet (nothing stored, nothing created)."""
        path = store_path(users_file)
        if not path.exists() and not path.is_symlink():
            yield None
            return
        with _transaction(path, "BEGIN") as con:
            fresh = not _check_schema(con, path, create=False)
            yield None if fresh else con


@contextmanager
def _transaction(path: Path, begin: str) -> Iterator[sqlite3.Connection]:
    """``begin`` … ``COMMIT`` on a new connection to the store at ``path`` (closed after), rolled back
    on any failure; a failure of SQLite or of opening the file raised as a one-line :class:`StoreError`."""
    try:
        con = _connect(path)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(_describe(path, exc)) from None
    with closing(con):
        try:
            con.execute(begin)
            yield con
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(con)
            raise StoreError(_describe(path, exc)) from None
        except BaseException:
            _rollback(con)
            raise


def _connect(path: Path) -> sqlite3.Connection:
    # mode=rw: never create a file here (it was created with mode 0600, or it is missing: an error)
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_S,
                           isolation_level=None)


def _check_schema(con: sqlite3.Connection, path: Path, create: bool) -> bool:
    """Whether the store holds this module's tables; an empty file gets them when ``create``.
    Anything else (another version, foreign tables) raises :class:`StoreError`."""
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables != {"attempts", "locks"}:
            raise StoreError(f"lockout store {path} is damaged (tables {sorted(tables)})")
        return True
    if version == 0 and con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
        if not create:
            return False
        for stmt in _SCHEMA:
            con.execute(stmt)
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return True
    raise StoreError(f"lockout store {path} is not a ServiceWatch lockout store (version {version})")


def _until(con: sqlite3.Connection, k: str, now: float) -> float | None:
    row = con.execute("SELECT until FROM locks WHERE name = ?", (k,)).fetchone()
    if row is None:
        return None
    until = _number(row[0])
    return until if until > now else None


def _count(con: sqlite3.Connection, k: str, since: float) -> int:
    return int(con.execute("SELECT count(*) FROM attempts WHERE name = ? AND at > ?", (k, since)).fetchone()[0])


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise sqlite3.DatabaseError(f"a lock time is not a number ({type(value).__name__})")
    return float(value)


def _rollback(con: sqlite3.Connection) -> None:
    try:
        if con.in_transaction:
            con.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _describe(path: Path, exc: BaseException) -> str:
    cause = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"lockout store {path} is unusable ({cause}); nobody can sign in until it is repaired or removed"
