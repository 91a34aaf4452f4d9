"""Where the database is, and how to open it safely.

The URL comes from, in order: an explicit value (``--db``), the environment variable
``SERVICEWATCH_DB``, ``.streamlit/secrets.toml`` (``[servicewatch] db = "..."`` or top-level
``db``), and finally the embedded demo file ``data/servicewatch.duckdb``. The app and the CLI
call the same function, so they always agree.

Errors never show a password: :func:`safe_url` renders any URL with the password masked, and
:class:`DatabaseError` carries a one-line message meant for users.
"""

from __future__ import annotations

import os
import re
import tomllib
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
import sqlalchemy.dialects
from sqlalchemy.engine import URL, make_url

from metrics.model.i18n import Worded, t

# Spark SQL over impyla (metrics.backends.spark.dialect), imported only when a spark:// URL is used
sa.dialects.registry.register("spark", "metrics.backends.spark.dialect", "SparkDialect")

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DB_PATH = PROJECT_ROOT / "data" / "servicewatch.duckdb"
ENV_VAR = "SERVICEWATCH_DB"


class DatabaseError(RuntimeError):
    """A database problem worded for users: one line, no password, says what and where."""


def default_url() -> str:
    return f"duckdb:///{DEFAULT_DB_PATH}"


def _secrets_url(root: Path) -> str | None:
    path = root / ".streamlit" / "secrets.toml"
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DatabaseError(f"cannot read {path}: {exc}") from None
    section = data.get("servicewatch", {})
    return section.get("db") or data.get("db")


def resolve_url(explicit: str | None = None, root: Path | None = None) -> str:
    """The database URL to use: explicit value, then env, then secrets file, then the demo file."""
    if explicit:
        return explicit
    if os.environ.get(ENV_VAR):
        return os.environ[ENV_VAR]
    return _secrets_url(root or Path.cwd()) or _secrets_url(PROJECT_ROOT) or default_url()


def parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except Exception:  # noqa: BLE001 - sqlalchemy raises ArgumentError with the URL inside
        raise DatabaseError(f"not a database URL: {mask_text(url)}") from None


def mask_text(url: str) -> str:
    """Best-effort password masking for a string that may not even parse as a URL."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def safe_url(url: str | URL) -> str:
    """The URL as text with its password replaced by ***."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except Exception:  # noqa: BLE001
            return mask_text(url)
    return url.render_as_string(hide_password=True)


def where(url: str | URL) -> str:
    """A short description of the place a URL points at: file path or host:port/database."""
    u = parse_url(url) if isinstance(url, str) else url
    if u.get_backend_name() in ("duckdb", "sqlite"):
        return u.database or ":memory:"
    port = f":{u.port}" if u.port else ""
    return f"{u.host or 'localhost'}{port}/{u.database or ''}"


def duckdb_path(url: str | URL) -> Path | None:
    u = parse_url(url) if isinstance(url, str) else url
    if u.get_backend_name() != "duckdb" or not u.database or u.database == ":memory:":
        return None
    return Path(u.database)


STATE_DIR_ENV = "SERVICEWATCH_STATE_DIR"  # where a Spark warehouse's app state lives (side_store_url)
STATE_DIR_KEY = "connect.state_dir_unwritable"  # its catalogue line when it cannot be created


class StateDirError(Worded, DatabaseError):
    """The state folder cannot be created: one line from the catalogue (no path), English as the
    message, :meth:`~metrics.model.i18n.Worded.text` in the user's language."""

    def __init__(self) -> None:
        super().__init__(t(STATE_DIR_KEY, "en", env=STATE_DIR_ENV))
        self.key, self.params = STATE_DIR_KEY, {"env": STATE_DIR_ENV}


@lru_cache(maxsize=8)
def _state_folder(folder: Path) -> Path:
    """``folder`` created once per process (not on every store opened); :class:`StateDirError` when it
    cannot be (a failure is not cached: the next call tries again)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        raise StateDirError() from None
    return folder


def side_store_url(data_url: str, name: str) -> str | None:
    """Where the app's own state for this data (``name``: audit, alerts) is written when no variable
    names a database for it: for a DuckDB file an SQLite file beside it (``<stem>-<name>.sqlite``: the
    dashboard holds the file read-only); for Spark, whose file tables cannot update or delete a row,
    an SQLite file per warehouse in ``$SERVICEWATCH_STATE_DIR`` (default ``~/.local/share/servicewatch``);
    None elsewhere: the data database itself."""
    u = parse_url(data_url)
    path = duckdb_path(u)
    if path is not None:
        return f"sqlite:///{path.with_name(f'{path.stem}-{name}.sqlite')}"
    if u.get_backend_name() != "spark":
        return None
    folder = _state_folder(Path(os.environ.get(STATE_DIR_ENV) or Path.home() / ".local" / "share" / "servicewatch"))
    where_ = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{u.host or 'local'}-{u.port or ''}-{u.database or 'default'}")
    return f"sqlite:///{folder / f'spark-{where_}-{name}.sqlite'}"


def make_engine(url: str, read_only: bool = False, keep_open: bool = False) -> sa.Engine:
    """Create an engine for ``url``; DuckDB files can be opened read-only for dashboards.

    Raises :class:`DatabaseError` for an unparseable URL, a missing driver or a missing DuckDB file
    when read-only. Connectivity is checked lazily; use :func:`check_connection` to test it.
    """
    u = parse_url(url)
    kwargs: dict = {}
    backend = u.get_backend_name()
    if backend == "duckdb":
        path = duckdb_path(u)
        if read_only:
            if path is None or not path.is_file():
                raise DatabaseError(f"no DuckDB database at {where(u)}")
            return _duckdb_reader(u, path, keep_open)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        kwargs["poolclass"] = sa.pool.SingletonThreadPool
    elif backend == "spark":  # a ping is a Thrift round trip (~0.6 s): recycle idle connections instead
        kwargs["pool_recycle"] = 600
    else:
        kwargs["pool_pre_ping"] = True
        if backend in ("mysql", "mariadb"):
            kwargs["pool_recycle"] = 3600
    try:
        return sa.create_engine(u, **kwargs)
    except Exception as exc:  # noqa: BLE001 - missing driver modules and bad options
        raise DatabaseError(f"cannot use database {safe_url(u)}: {first_line(exc)}") from None


def _duckdb_reader(u: URL, path: Path, keep_open: bool) -> sa.Engine:
    """A read-only engine on a DuckDB file whose every connection is its own in-memory DuckDB with
    the file attached read-only.

    DuckDB keeps one database instance per file path in a process and hands it to every new
    connection while one is open, so a reader that connected before a writer swapped in a new file
    (:mod:`metrics.backends.swap`) would keep serving the old file to every later connection. A connection
    that attaches the file sees the file as it is when it connects, and connections are never
    shared: ``keep_open`` (the dashboard) pools them, one per running query (a pooled connection is
    owned by one thread at a time); otherwise each query opens and closes its own."""
    target = str(path.resolve()).replace("'", "''")

    def attach(dbapi_conn: object, _record: object) -> None:
        dbapi_conn.execute(f"ATTACH '{target}' AS sw_data (READ_ONLY)")
        dbapi_conn.execute("USE sw_data")

    pool = dict(poolclass=sa.pool.QueuePool, pool_size=4, max_overflow=12) if keep_open else \
        dict(poolclass=sa.pool.NullPool)
    try:
        engine = sa.create_engine(u.set(database=":memory:"), **pool)
    except Exception as exc:  # noqa: BLE001 - missing driver modules and bad options
        raise DatabaseError(f"cannot use database {safe_url(u)}: {first_line(exc)}") from None
    sa.event.listen(engine, "connect", attach)
    engine.sw_url = u  # type: ignore[attr-defined]  # where the data is (the engine's URL says :memory:)
    return engine


def create_tables(metadata: sa.MetaData, engine: sa.Engine, tables: list[sa.Table] | None = None) -> None:
    """``metadata.create_all(checkfirst=True)`` that tolerates another process creating the same
    tables at the same moment (two workers starting together: the check and the CREATE are two
    steps); a second pass then finds them."""
    for attempt in range(3):
        try:
            metadata.create_all(engine, tables=tables, checkfirst=True)
            return
        except sa.exc.DBAPIError as exc:
            if "already exists" not in str(exc).lower() or attempt == 2:
                raise


def engine_url(engine: sa.Engine) -> URL:
    """The URL an engine was made for (a DuckDB reader's own URL names an in-memory database)."""
    return getattr(engine, "sw_url", None) or engine.url


def first_line(exc: BaseException) -> str:
    """The first line of an error's own message (of the driver's error under SQLAlchemy's wrapper)."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def describe_error(exc: BaseException, url: str | URL) -> str:
    """One line for users about a failure talking to the database at ``url``; never a password."""
    msg = first_line(exc)
    u = parse_url(url) if isinstance(url, str) else url
    if u.password:
        msg = msg.replace(str(u.password), "***")
    return f"database {where(u)} ({u.get_backend_name()}): {msg}"


def check_connection(engine: sa.Engine) -> None:
    """Open one connection and run ``SELECT 1``; raise :class:`DatabaseError` if that fails."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any driver error becomes one line
        raise DatabaseError(describe_error(exc, engine_url(engine))) from None
