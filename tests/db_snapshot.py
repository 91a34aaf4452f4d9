"""Shared database helpers of the tests: read a query, build a fresh server database, and leave a
shared test database as found.

Leave a shared test database as found after a test that imports tickets into it.

The session's databases (``duckdb_url``, ``postgres_url``, ``mariadb_url``) are shared by every test
of the session. A test that imports tickets with ids from ``first_id`` up wraps itself in
:func:`left_as_found`: afterwards those tickets and the new ``import_log`` rows are deleted, the
derived tables and rollups rebuilt from the original rows, and ``sw_meta`` restored row for row
(data version, as-of, rollup markers, "churn scores stale").
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from metrics.backends.connect import make_engine
from metrics.backends.swap import writable
from metrics.ingest.load import refresh_derived, replace_all
from metrics.model import schema


def read(url: str, query: sa.Select, read_only: bool = False) -> pd.DataFrame:
    """The rows of ``query`` on the database at ``url`` (a connection of its own, closed after; a DuckDB
    file opened read-only when ``read_only``: no write-ahead log left beside it)."""
    engine = make_engine(url, read_only=read_only)
    try:
        with engine.connect() as conn:
            return pd.DataFrame(conn.execute(query).mappings().all())
    finally:
        engine.dispose()


def ticket_count(url: str, read_only: bool = False) -> int:
    """How many rows ``tickets`` holds on the database at ``url`` (:func:`read`)."""
    return int(read(url, sa.select(sa.func.count().label("n")).select_from(schema.tickets), read_only)["n"].iloc[0])


def copy_duckdb(url: str, path: Path) -> str:
    """Copy the DuckDB file of ``url`` to ``path`` (a private copy a test may write to); the copy's URL."""
    shutil.copyfile(sa.engine.make_url(url).database or "", path)
    return f"duckdb:///{path}"


def changed_copy(url: str, path: Path, change: Callable[[sa.Connection], object], rollups: bool = False) -> str:
    """A copy of the DuckDB file of ``url`` at ``path`` with ``change(connection)`` applied in one
    transaction, and the rollups rebuilt from the changed rows when ``rollups``; the copy's URL."""
    copy = copy_duckdb(url, path)
    engine = sa.create_engine(copy)
    try:
        with engine.begin() as conn:
            change(conn)
        if rollups:
            from metrics.ingest import rollups as rollup_tables

            rollup_tables.refresh(engine)
    finally:
        engine.dispose()
    return copy


ADMIN = {"postgres": "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
         "mariadb": "mysql+pymysql://root@127.0.0.1:3306/"}
_SERVER = {"postgres": "PostgreSQL on 127.0.0.1:5432 as postgres", "mariadb": "MariaDB on 127.0.0.1:3306 as root"}
_CREATE = {"postgres": "CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0",
           "mariadb": "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"}
# the other connections to the database (a worker or an app still holding one), ended before the drop
_SESSIONS = {"postgres": "SELECT pid FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()",
             "mariadb": "SELECT id FROM information_schema.processlist WHERE db = :name AND id <> CONNECTION_ID()"}
_END_SESSION = {"postgres": "SELECT pg_terminate_backend({id})", "mariadb": "KILL {id}"}
_DROP = {"postgres": 'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', "mariadb": "DROP DATABASE IF EXISTS `{name}`"}


def server_database(kind: str, frames: dict, meta: dict | None = None) -> Iterator[str]:
    """A fresh database ``sw_test_<hex>`` on the local PostgreSQL / MariaDB (``kind``) holding ``frames``
    (and ``sw_meta`` entries ``meta``, e.g. the as-of); its other connections ended and the database dropped
    afterwards. No server: skipped, or failed under CI (``conftest.require``)."""
    from conftest import _first_line, require

    admin = sa.create_engine(ADMIN[kind], isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool,
                             connect_args={"connect_timeout": 5})
    name = f"sw_test_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(_CREATE[kind].format(name=name)))
    except Exception as exc:  # noqa: BLE001 - any connection error means "no server"
        admin.dispose()
        require(False, f"{_SERVER[kind]}: {_first_line(exc)}")
    url = (f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}" if kind == "postgres"
           else f"mysql+pymysql://root@127.0.0.1:3306/{name}")
    try:
        replace_all(url, frames, meta)
        yield url
    finally:
        with admin.connect() as conn:
            for session in list(conn.execute(sa.text(_SESSIONS[kind]), {"name": name}).scalars()):
                try:
                    conn.execute(sa.text(_END_SESSION[kind].format(id=int(session))))
                except sa.exc.DBAPIError:
                    pass  # it ended by itself meanwhile
            conn.execute(sa.text(_DROP[kind].format(name=name)))
        admin.dispose()


# The backends of a ``params=`` list: DuckDB always, the servers under their markers.
MARKED_BACKENDS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres),
                   pytest.param("mariadb", marks=pytest.mark.mariadb)]


def fresh_database(kind: str, frames: dict, folder: Path) -> Iterator[str]:
    """A fresh database of ``kind`` ("duckdb", "postgres" or "mariadb") holding ``frames``: a DuckDB file
    ``sw.duckdb`` in ``folder``, or a server database dropped afterwards (:func:`server_database`)."""
    if kind == "duckdb":
        url = f"duckdb:///{folder / 'sw.duckdb'}"
        replace_all(url, frames)
        yield url
    else:
        yield from server_database(kind, frames)


def rewrite(url: str, change: Callable[[sa.Connection], object]) -> str:
    """Apply ``change(connection)`` to the database at ``url`` in one transaction (through
    :func:`metrics.backends.swap.writable`, as an import writes) and rebuild the derived tables and rollups
    from the changed rows; ``url``."""
    with writable(url) as engine:
        with engine.begin() as conn:
            change(conn)
        refresh_derived(engine)
    return url


def snapshot(url: str) -> tuple[int, list[str], list[dict]]:
    """(tickets, import ids, sw_meta rows) of the database at ``url``."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(schema.tickets)).scalar_one()
            logged = list(conn.execute(sa.select(schema.import_log.c.import_id)).scalars())
            meta = [dict(r) for r in conn.execute(sa.select(schema.meta)).mappings()]
    finally:
        engine.dispose()  # a DuckDB file is replaced by each import: an open connection would see the old one
    return n, logged, meta


@contextlib.contextmanager
def left_as_found(url: str, first_id: int) -> Iterator[None]:
    """Run the block, then undo its ticket imports (ids >= ``first_id``) and check the ticket count."""
    n, logged, meta = snapshot(url)
    try:
        yield
    finally:
        with writable(url) as engine:
            with engine.begin() as conn:
                conn.execute(schema.tickets.delete().where(schema.tickets.c.ticket_id >= first_id))
                conn.execute(schema.import_log.delete().where(schema.import_log.c.import_id.not_in(logged)))
            refresh_derived(engine)  # the rollups of the original rows again
            with engine.begin() as conn:
                conn.execute(schema.meta.delete())
                conn.execute(schema.meta.insert(), meta)
    after, after_logged, after_meta = snapshot(url)
    assert (after, sorted(after_logged)) == (n, sorted(logged))
    assert sorted(after_meta, key=lambda r: r["key"]) == sorted(meta, key=lambda r: r["key"])
