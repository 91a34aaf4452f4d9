"""Shared database helpers of the tests: read a query, build a fresh server database, and leave a
shared test database as found.

Leave a shared test database as found after a test that imports tickets into it.

The session's databases (``duckdb_url``, ``postgres_url``, ``mariadb_url``) are shared by every test
of the session. A test that imports tickets with ids from ``first_id`` up wraps itself in
:func:`left_as_found`: afterwards those tickets and the new ``import_log`` rows are deleted, and the
derived tables, rollups and ``sw_meta`` (data version, as-of, rollup markers, "churn scores stale") put
back row for row from copies kept aside in the database before the import (not rebuilt: a rebuild
took seconds per test on PostgreSQL and MariaDB).
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


KEEP = "keep_"  # the prefix of the copies :func:`left_as_found` keeps aside in the database itself


def derived_tables(conn: sa.Connection) -> list[str]:
    """The tables of the database an import rewrites from the data (not by adding rows): every table but
    the data tables of the schema (``DATA_TABLES``, ``KEY_TABLES``, ``import_log``), the app's own state
    (audit trail, subscriptions, alerts: their own MetaData) and kept copies. That is ``region_closure``,
    ``calendar_months``, ``sw_meta`` and every rollup, whichever module builds it: read from the database,
    so a new rollup is kept aside without being listed here."""
    data = {t.name for t in (*schema.DATA_TABLES, *schema.KEY_TABLES, schema.import_log)}
    own = {name for md in (schema.audit_metadata, schema.delivery_metadata, schema.alert_metadata)
           for name in md.tables}
    return sorted(n for n in sa.inspect(conn).get_table_names()
                  if n not in data and n not in own and not n.startswith(KEEP))


def _keep_aside(url: str) -> list[str]:
    """Copy every derived table (:func:`derived_tables`) to ``keep_<name>`` in the same database; the names."""
    with writable(url) as engine, engine.begin() as conn:
        q = conn.dialect.identifier_preparer.quote
        names = derived_tables(conn)
        for name in names:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {q(KEEP + name)}")
            conn.exec_driver_sql(f"CREATE TABLE {q(KEEP + name)} AS SELECT * FROM {q(name)}")
    return names


def _restore(engine: sa.Engine, kept: list[str], first_id: int, logged: list[str]) -> None:
    """Delete the imported tickets and new ``import_log`` rows and put the kept rows back in every derived
    table (one transaction), then drop the copies: the tables as they were, nothing recomputed."""
    with engine.begin() as conn:
        q = conn.dialect.identifier_preparer.quote
        conn.execute(schema.tickets.delete().where(schema.tickets.c.ticket_id >= first_id))
        conn.execute(schema.import_log.delete().where(schema.import_log.c.import_id.not_in(logged)))
        present = set(sa.inspect(conn).get_table_names())
        for name in kept:
            if name not in present:  # not rebuilt by the import (e.g. rollup_customers on refused data)
                conn.exec_driver_sql(f"CREATE TABLE {q(name)} AS SELECT * FROM {q(KEEP + name)}")
                continue
            cols = ", ".join(q(c["name"]) for c in sa.inspect(conn).get_columns(KEEP + name))
            conn.exec_driver_sql(f"DELETE FROM {q(name)}")
            conn.exec_driver_sql(f"INSERT INTO {q(name)} ({cols}) SELECT {cols} FROM {q(KEEP + name)}")
        for name in set(derived_tables(conn)) - set(kept):  # built by the import only
            conn.exec_driver_sql(f"DROP TABLE {q(name)}")
    with engine.begin() as conn:  # DDL: MariaDB commits before it, so after the restore
        q = conn.dialect.identifier_preparer.quote
        for name in kept:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {q(KEEP + name)}")


@contextlib.contextmanager
def left_as_found(url: str, first_id: int) -> Iterator[None]:
    """Run the block, then undo its ticket imports (ids >= ``first_id``): the tickets and new ``import_log``
    rows deleted, and the derived tables and rollups (:func:`derived_tables`) put back from the copies
    kept aside before the block, not rebuilt; the ticket count, import log and ``sw_meta`` checked."""
    n, logged, meta = snapshot(url)
    kept = _keep_aside(url)
    try:
        yield
    finally:
        with writable(url) as engine:
            _restore(engine, kept, first_id, logged)
    after, after_logged, after_meta = snapshot(url)
    assert (after, sorted(after_logged)) == (n, sorted(logged))
    assert sorted(after_meta, key=lambda r: r["key"]) == sorted(meta, key=lambda r: r["key"])
