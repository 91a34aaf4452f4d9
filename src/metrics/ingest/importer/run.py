"""One import: read a file in chunks, validate, upsert the good rows in one transaction, report.

:func:`import_file` is what the CLI and the Data page call. The whole import is one database
transaction (rows of every chunk and the ``import_log`` row): a failure or a kill before the commit
leaves the database as it was. After the commit the derived tables (region closure, calendar,
as-of, rollups) are rebuilt with :func:`metrics.ingest.load.refresh_derived`.
"""

from __future__ import annotations

import datetime as dt
import getpass
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from metrics.backends.connect import DatabaseError, describe_error, duckdb_path, make_engine, safe_url
from metrics.backends.swap import writable
from metrics.ingest import due_times
from metrics.ingest.derived import refresh_in_transaction, refresh_rollups
from metrics.ingest.importer import columns as import_columns
from metrics.ingest.importer import mapping as import_mapping
from metrics.ingest.importer.headers import also_columns, resolve_headers
from metrics.ingest.importer.keys import KeyEncoder
from metrics.ingest.importer.known import Known
from metrics.ingest.importer.pipeline import customer_creator, run_chunks
from metrics.ingest.importer.read import CHUNK_ROWS, ReadError, Source, open_query, open_source
from metrics.ingest.importer.rejects import RejectsFile, free_text_headers, rejects_path_for, rejects_target
from metrics.ingest.importer.result import ImportFailed, ImportResult
from metrics.ingest.importer.validate import Validator
from metrics.ingest.importer.write import Refused, ensure_schema, relax_not_null
from metrics.model import schema, ticket_status, vocabulary
from metrics.model.i18n import t

# tables the churn scores are computed from: an import that changes them marks the scores stale
CHURN_INPUTS = frozenset({"customers", "tickets", "surveys", "billing_monthly"})
STALE_KEY = schema.CHURN_STALE_KEY  # sw_meta key; cleared by metrics.churn.store.save

def _open_engine(url: str, dry_run: bool) -> sa.Engine | None:
    path = duckdb_path(url)
    if dry_run and path is not None and not path.is_file():
        return None  # nothing there yet: validate against an empty database
    return make_engine(url, read_only=dry_run and path is not None)


def _db_error(exc: BaseException, url: str, lang: str = "en", name: str = "") -> DatabaseError:
    """One line naming the file and the database's cause; never a password."""
    text = str(getattr(exc, "orig", None) or exc)
    busy = "lock" in text.lower() or "different configuration" in text.lower()  # other process / this one
    if busy and duckdb_path(url) is not None:
        return DatabaseError(t("import.error.locked", lang, path=duckdb_path(url).name))
    return DatabaseError(t("import.error.database", lang, file=name, detail=describe_error(exc, url)))


def import_file(url: str, table: str, path: str | Path, *, mapping: str | Path | import_mapping.Mapping | None = None,
                dry_run: bool = False, encoding: str | None = None, user: str | None = None, lang: str = "en",
                rejects: bool | Path = True, refresh: bool = True, chunk_rows: int = CHUNK_ROWS,
                display_name: str | None = None, dashboard: bool = False, snapshot_date: dt.date | None = None,
                on_chunk: Callable[[ImportResult], None] | None = None) -> ImportResult:
    """Import ``path`` into ``table`` of the database at ``url``; see the module docstring.

    ``rejects``: True writes ``<file>.rejects.csv`` next to the input (removing a stale one of ours
    when all rows pass; nothing on a dry run), a path writes there, False keeps problems in memory
    only (the first 500). The path is checked first (:func:`metrics.present.files.check`); the file is
    complete or absent, never partial.
    ``display_name``: the file's name as the user knows it (an upload stored under another name);
    messages name it. ``dashboard``: worded for the Data page (no CLI flags, no rejects path).
    ``snapshot_date``: a customers snapshot (tenure and churn flag; see docs/import.md).
    Messages are in ``lang``.
    Raises :class:`ImportFailed` (file or columns unusable), :class:`~.spec.MappingError` or
    :class:`DatabaseError`.
    """
    started = dt.datetime.now()
    clock = time.perf_counter()
    _check_table(table, lang)
    mapping = _mapping(mapping, table, snapshot_date, lang)
    path = Path(path)
    try:
        source = open_source(path, encoding, chunk_rows)
    except ReadError as exc:
        raise ImportFailed(exc.message(lang, Path(display_name).name if display_name else None, dashboard)) from None
    rej_path = rejects_target(rejects, rejects_path_for(path), dry_run, lang, [url], [path])
    return _import(url, table, source, Path(display_name).name if display_name else path.name,
                   display_name or str(path), mapping, rej_path, dry_run=dry_run, user=user, lang=lang,
                   refresh=refresh, on_chunk=on_chunk, started=started, clock=clock, dashboard=dashboard,
                   snapshot_date=snapshot_date)


def import_query(url: str, table: str, query: str, source_url: str, *,
                 mapping: str | Path | import_mapping.Mapping | None = None, dry_run: bool = False,
                 user: str | None = None,
                 lang: str = "en", rejects: bool | Path = True, refresh: bool = True, chunk_rows: int = CHUNK_ROWS,
                 snapshot_date: dt.date | None = None,
                 on_chunk: Callable[[ImportResult], None] | None = None) -> ImportResult:
    """Import the rows of ``query`` (the user's own SQL, run on the database at ``source_url``) into
    ``table`` of ``url``: streamed in chunks, then the same validation, upsert and report as a file.

    The columns of the result are matched like file headers (``SELECT 工单号, … FROM …`` or aliases
    with ``AS``). ``rejects``: True writes ``<table>-from-sql.rejects.csv`` in the current directory,
    a path writes there, False keeps problems in memory. Row numbers count result rows from 1.
    Raises :class:`ImportFailed` or :class:`DatabaseError` (one line, no password; the source
    database's errors name the source database).
    """
    started = dt.datetime.now()
    clock = time.perf_counter()
    _check_table(table, lang)
    mapping = _mapping(mapping, table, snapshot_date, lang)
    rej_path = rejects_target(rejects, Path.cwd() / f"{table}-from-sql.rejects.csv", dry_run, lang,
                               [url, source_url], [])
    source = open_query(source_url, query, chunk_rows, name=f"{table}-from-sql")
    display = f"sql {safe_url(source_url)}: {' '.join(query.split())}"
    try:
        return _import(url, table, source, "SQL", display, mapping, rej_path, dry_run=dry_run, user=user,
                       lang=lang, refresh=refresh, on_chunk=on_chunk, started=started, clock=clock,
                       snapshot_date=snapshot_date)
    finally:
        source.close()


def _mapping(mapping: str | Path | import_mapping.Mapping | None, table: str, snapshot_date: dt.date | None,
             lang: str) -> import_mapping.Mapping:
    """The mapping file read and checked against ``table`` (one line naming the key, else)."""
    _check_table(table, lang)
    if snapshot_date is not None and table != "customers":
        raise ImportFailed(t("import.error.snapshot_table", lang, table=table))
    if not isinstance(mapping, import_mapping.Mapping):
        mapping = import_mapping.load_mapping(mapping)
    import_mapping.check_mapping(mapping, table, snapshot=snapshot_date is not None)
    return mapping


def _check_table(table: str, lang: str = "en") -> None:
    if table not in import_columns.TABLES:
        raise ImportFailed(t("import.error.unknown_table", lang, table=table, tables=", ".join(import_columns.TABLES)))


def _import(url: str, table: str, source: Source, name: str, display: str, mapping: import_mapping.Mapping,
            rej_path: Path | None, *, dry_run: bool, user: str | None, lang: str, refresh: bool,
            on_chunk: Callable[[ImportResult], None] | None, started: dt.datetime, clock: float,
            dashboard: bool = False, snapshot_date: dt.date | None = None) -> ImportResult:
    """Validate and upsert an opened source (a file or a query); see :func:`import_file`."""
    if not dry_run and sa.engine.make_url(url).get_backend_name() == "spark":
        raise ImportFailed(t("import.error.spark_target", lang))
    header_map, unused = resolve_headers(table, source.headers, mapping, snapshot=snapshot_date is not None)
    given = set(header_map.values()) | set(mapping.defaults) | set(also_columns(table, header_map, mapping))
    missing = [c for c in import_columns.required_columns(table, mapping, given) if c not in given]
    if mapping.create:  # what a created customer needs: the mapping's defaults, a region from names
        need = [c for c in import_columns.required_columns("customers", mapping)
                if c not in ("customer_id", "name", "start_date")]
        missing += [f"customers.{c}" for c in need if c not in given
                    and not (c == "region_id" and given & set(import_columns.REGION_NAME_COLUMNS))]
    if snapshot_date is not None:
        if "start_date" in missing and given & {"tenure_months", "tenure_days"}:
            missing.remove("start_date")
        if not given & {"tenure_months", "tenure_days", "start_date"}:
            missing.append("tenure_months/tenure_days")
        if "churned" not in given:
            missing.append("churned")
    if missing:
        names = [f"{c} ({'/'.join(import_columns.ALIASES.get(table, {}).get(c, ())[:2]) or c})" for c in missing]
        if dashboard and lang == "zh":  # the Data page names the columns as its mapping form does (Chinese)
            aliases = import_columns.ALIASES.get(table, {})
            names = [next((a for a in aliases.get(c, ()) if not a.isascii()), c) for c in missing]
        key = "import.error.missing_columns_dashboard" if dashboard else "import.error.missing_columns"
        raise ImportFailed(t(key, lang, file=name, cols=", ".join(names)))
    result = ImportResult(table, display, dry_run, import_id=uuid.uuid4().hex,
                          unused_headers=[h for h in unused if h], dashboard=dashboard)
    result.defaults = [c for c in import_columns.UNKNOWN_IF_ABSENT.get(table, ()) if c not in given]
    result.snapshot_date = snapshot_date
    result.rejects_path = rej_path
    # nothing is deleted before the run has succeeded
    out = RejectsFile(rej_path, lang, dry_run, source.headers, getattr(source, "delimiter", ","),
                      masked=free_text_headers(table, header_map))

    try:
        if dry_run:
            _dry_run(url, table, source, header_map, mapping, result, out, on_chunk)
        else:
            with writable(url) as engine:
                _commit(engine, table, source, header_map, mapping, result, out, on_chunk, user, started,
                        clock, refresh)
    except (ImportFailed, DatabaseError):
        raise
    except ReadError as exc:  # a part of the file past the first chunk; the transaction rolled back
        raise ImportFailed(exc.message(lang, name, dashboard)) from None
    except Refused as exc:
        raise DatabaseError(t("import.error.refused", lang, file=name, detail=exc)) from None
    except Exception as exc:
        if _driver_error(exc):
            raise _db_error(exc, url, lang, name) from None
        raise
    else:
        out.finish()  # success: the complete rejects file into place (or a stale one of ours removed)
    finally:
        out.close()  # after a failure: the temporary rejects file removed, an existing one untouched
    result.seconds = time.perf_counter() - clock
    return result


def _dry_run(url: str, table: str, source: Source, header_map: dict[str, str], mapping: import_mapping.Mapping,
             result: ImportResult, out: RejectsFile, on_chunk: Callable[[ImportResult], None] | None) -> None:
    """Check every row against the database as it is (read-only), writing nothing."""
    engine = _open_engine(url, True)
    if engine is None:
        run_chunks(None, table, source, header_map, mapping, result, out, on_chunk)
        return
    try:
        with engine.connect() as conn:
            run_chunks(conn, table, source, header_map, mapping, result, out, on_chunk)
    finally:
        engine.dispose()


def _commit(engine: sa.Engine, table: str, source: Source, header_map: dict[str, str], mapping: import_mapping.Mapping,
            result: ImportResult, out: RejectsFile, on_chunk: Callable[[ImportResult], None] | None,
            user: str | None, started: dt.datetime, clock: float, refresh: bool) -> None:
    """Write the good rows, the ``import_log`` row, the data version and the derived tables in one
    transaction; the rollups are marked not built in it and rebuilt after the commit (on a DuckDB
    file all of it happens in the copy that replaces the file: see :mod:`metrics.backends.swap`)."""
    result.created_tables = ensure_schema(engine)
    relax_not_null(engine, table)  # an older database: unknown flags must be storable as NULL
    if table == "tickets":
        due_times.add_column(engine)  # an older database: where each ticket's due times came from
        ticket_status.add_column(engine)  # … and the source's status (resolved without a time)
        schema.add_column(engine, schema.tickets.c.source)  # … and where it came from (issue 20)
        schema.add_column(engine, schema.tickets.c.handler)  # … and who handles it (issue 20)
    if table in ("tickets", "surveys"):  # an older database: the outlet where it happened (issue 19)
        schema.add_column(engine, import_columns.TABLES[table].c.outlet_id)
    changed = False
    with engine.begin() as conn:
        run_chunks(conn, table, source, header_map, mapping, result, out, on_chunk)
        result.seconds = time.perf_counter() - clock
        conn.execute(schema.import_log.insert(), [_log_row(result, user, started)])
        changed = bool(result.inserted or result.updated or result.created_regions)
        if result.new_codes or mapping.labels:  # new codes and the mapping's labels: names and order
            changed = bool(vocabulary.upsert(conn, result.new_codes, mapping.labels)) or changed
        if changed and result.snapshot_date is not None:  # the views open on the snapshot's departures
            m = schema.meta
            conn.execute(m.delete().where(m.c.key == schema.SNAPSHOT_DATE_KEY))
            conn.execute(m.insert(), [{"key": schema.SNAPSHOT_DATE_KEY, "value": result.snapshot_date.isoformat()}])
        if changed:
            schema.bump_data_version(conn)
            refresh_in_transaction(conn)  # cheap; rollups marked not built until rebuilt below
        if table in CHURN_INPUTS and changed:
            _mark_churn_stale(conn)
    if refresh and changed:
        t0 = time.perf_counter()
        refresh_rollups(engine)
        result.refresh_seconds = time.perf_counter() - t0


def _driver_error(exc: BaseException) -> bool:
    """An error raised by a database driver itself (DuckDB's live in ``_duckdb``; COPY on
    PostgreSQL runs on the driver's connection, whose errors SQLAlchemy does not wrap)."""
    module = type(exc).__module__.lstrip("_")
    return (isinstance(exc, sa.exc.SQLAlchemyError) or module.startswith(("duckdb", "psycopg", "pymysql"))
            or type(exc).__name__ in ("DataError", "IntegrityError", "OperationalError", "ProgrammingError"))


def _mark_churn_stale(conn: sa.Connection) -> None:
    """``sw_meta.churn_scores_stale`` = now: the stored churn scores predate the data (see churn_store)."""
    m = schema.meta
    conn.execute(m.delete().where(m.c.key == STALE_KEY))
    conn.execute(m.insert(), [{"key": STALE_KEY, "value": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}])


def _log_row(result: ImportResult, user: str | None, started: dt.datetime) -> dict:
    return {"import_id": result.import_id, "user": (user or _user())[:80], "started_at": started,
            "finished_at": dt.datetime.now(), "table_name": result.table, "file": result.file[-400:],
            "rows_read": result.rows_read, "rows_loaded": result.rows_loaded, "rows_rejected": result.rows_rejected,
            "rows_inserted": result.inserted, "rows_updated": result.updated, "dry_run": result.dry_run}


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def preview(url: str, table: str, path: str | Path, *, mapping: str | Path | import_mapping.Mapping | None = None,
            rows: int = 20, encoding: str | None = None, lang: str = "en", display_name: str | None = None
            ) -> tuple[pd.DataFrame, ImportResult]:
    """The first ``rows`` rows of ``path`` as they would load into ``table`` (typed values after the
    mapping's renames, value maps, defaults and formats; column ``row`` = the file row) and the dry
    run of those rows (their problems, with reasons in ``lang``). Nothing is written. The Data page's
    mapping form shows it. Raises like :func:`import_file`."""
    from dataclasses import replace

    _check_table(table, lang)
    mapping = _mapping(mapping, table, None, lang)
    name = Path(display_name).name if display_name else Path(path).name
    try:
        source = open_source(Path(path), encoding, max(rows, 1))
        first = next(iter(source.chunks()), None)
    except ReadError as exc:
        raise ImportFailed(exc.message(lang, name, True)) from None
    chunks = [first] if first is not None else []
    result = _import(url, table, replace(source, _chunks=iter(chunks)), name, display_name or str(path), mapping,
                     None, dry_run=True, user=None, lang=lang, refresh=False, on_chunk=None,
                     started=dt.datetime.now(), clock=time.perf_counter(), dashboard=True)
    header_map, _ = resolve_headers(table, source.headers, mapping)
    engine = _open_engine(url, True)
    goods: list[pa.Table] = []
    numbers: list[np.ndarray] = []
    try:
        conn = engine.connect() if engine is not None else None
        try:
            known = Known.read(conn, table)
            encoder = KeyEncoder(conn)  # as _run sets up its validator, nothing saved
            creator = customer_creator(conn, table, header_map, mapping, known, encoder)
            validator = Validator(table, header_map, source.headers, known, mapping, None, creator, encoder)
            for chunk in chunks:
                good, good_rows, _ = validator.check(chunk)
                goods.append(good)
                numbers.append(good_rows)
            good, good_rows, _ = validator.finish()
            goods.append(good)
            numbers.append(good_rows)
        finally:
            if conn is not None:
                conn.close()
    finally:
        if engine is not None:
            engine.dispose()
    frame = pa.concat_tables(goods).to_pandas(timestamp_as_object=True) if goods else pd.DataFrame()
    frame.insert(0, "row", np.concatenate(numbers).astype("int64") if numbers else [])
    from metrics.present.masking import mask_columns  # the customers' own words shown masked (issue 20)

    frame = mask_columns(frame, table)
    return frame.sort_values("row", kind="stable").reset_index(drop=True), result
