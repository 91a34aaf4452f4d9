"""One import: read a file in chunks, validate, upsert the good rows in one transaction, report.

:func:`import_file` is what the CLI and the Data page call. The whole import is one database
transaction (rows of every chunk and the ``import_log`` row): a failure or a kill before the commit
leaves the database as it was. After the commit the derived tables (region closure, calendar,
as-of, rollups) are rebuilt with :func:`metrics.ingest.load.refresh_derived`.
"""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import time
import uuid
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from metrics.backends.connect import DatabaseError, describe_error, duckdb_path, make_engine, safe_url
from metrics.backends.swap import writable
from metrics.ingest import due_times
from metrics.ingest.derived import refresh_in_transaction, refresh_rollups
from metrics.ingest.importer import spec
from metrics.ingest.importer.create_customers import CustomerCreator
from metrics.ingest.importer.keys import KeyEncoder
from metrics.ingest.importer.read import CHUNK_ROWS, Chunk, ReadError, Source, open_query, open_source
from metrics.ingest.importer.validate import PROBLEM_COLUMNS, Known, Validator
from metrics.ingest.importer.write import Refused, Writer, ensure_schema, relax_not_null
from metrics.model import schema, ticket_status, vocabulary
from metrics.model.i18n import t
from metrics.present import files as outputs
from metrics.present.cells import safe_cell

FIRST_PROBLEMS = 500  # kept in memory for the summary and the Data page; the rejects file has all
# tables the churn scores are computed from: an import that changes them marks the scores stale
CHURN_INPUTS = frozenset({"customers", "tickets", "surveys", "billing_monthly"})
STALE_KEY = schema.CHURN_STALE_KEY  # sw_meta key; cleared by metrics.churn.store.save


class ImportFailed(ValueError):
    """The import could not run at all (unreadable file, missing columns, unknown table)."""


@dataclass
class ImportResult:
    table: str
    file: str
    dry_run: bool
    import_id: str = ""
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    inserted: int = 0
    updated: int = 0
    reasons: Counter = field(default_factory=Counter)  # code -> problems
    problems: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PROBLEM_COLUMNS))
    rejects_path: Path | None = None
    unused_headers: list[str] = field(default_factory=list)
    defaults: list[str] = field(default_factory=list)  # columns not in the file, stored as unknown (NULL)
    defaulted: dict[str, int] = field(default_factory=dict)  # "column=value" -> cells from the mapping's defaults
    unlinked: dict[str, int] = field(default_factory=dict)  # optional reference -> rows loaded without the link
    unlinked_examples: dict[str, list[str]] = field(default_factory=dict)
    snapshot_date: dt.date | None = None
    introduced: dict[str, int] = field(default_factory=dict)  # "column=value" -> rows
    new_codes: dict[str, list[str]] = field(default_factory=dict)  # vocabulary -> codes new to the data
    mangled: list[str] = field(default_factory=list)  # key columns that look spreadsheet-reformatted
    created_tables: list[str] = field(default_factory=list)
    created_regions: list[str] = field(default_factory=list)  # regions made from the file's names (described)
    created_customers: int = 0  # customers made by ``create: customers`` (would be, on a dry run)
    anonymous_customers: bool = False  # one per row: the file has no customer ids
    seconds: float = 0.0
    refresh_seconds: float | None = None
    dashboard: bool = False  # run from the Data page: no CLI flags or server paths in the report

    @property
    def unchanged(self) -> int:
        return self.rows_loaded - self.inserted - self.updated

    def problems_text(self, lang: str = "en") -> pd.DataFrame:
        """The first problems with the reason as text: row, column, value, reason."""
        p = self.problems
        return pd.DataFrame({"row": p["row"].astype("int64"), "column": p["column"], "value": p["value"],
                             "reason": [reason_text(c, d, lang) for c, d in zip(p["code"], p["detail"], strict=True)]})

    def reason_counts(self, lang: str = "en") -> pd.DataFrame:
        rows = [{"reason": t(f"import.reason_name.{code}", lang), "code": code, "problems": n}
                for code, n in self.reasons.most_common()]
        return pd.DataFrame(rows, columns=["reason", "code", "problems"])

    def summary(self, lang: str = "en") -> list[str]:
        key = "import.summary_dry" if self.dry_run else "import.summary"
        lines = [t(key, lang, table=self.table, file=self.file, read=f"{self.rows_read:,}",
                   loaded=f"{self.rows_loaded:,}", inserted=f"{self.inserted:,}", updated=f"{self.updated:,}",
                   unchanged=f"{self.unchanged:,}", rejected=f"{self.rows_rejected:,}",
                   seconds=f"{self.seconds:.1f}")]
        if self.rows_read == 0:
            lines.append(t("import.empty", lang))
        for code, n in self.reasons.most_common():
            lines.append(t("import.by_reason", lang, n=f"{n:,}", reason=t(f"import.reason_name.{code}", lang)))
        if self.rejects_path is not None and self.rows_rejected and not self.dashboard:  # the page offers a download
            lines.append(t("import.rejects_file", lang, path=self.rejects_path))
        if self.unused_headers:
            key = "import.unused_headers_dashboard" if self.dashboard else "import.unused_headers"
            lines.append(t(key, lang, cols=", ".join(self.unused_headers)))
        if self.defaults:
            lines.append(t("import.defaults", lang, cols=", ".join(self.defaults)))
        if self.defaulted:
            vals = ", ".join(f"{k} ({v:,})" for k, v in self.defaulted.items())
            lines.append(t("import.defaults_used", lang, values=vals))
        if self.snapshot_date is not None:
            lines.append(t("import.snapshot", lang, date=self.snapshot_date.isoformat()))
        for col, n in self.unlinked.items():
            target = spec.REFS[self.table][col][0]
            examples = ", ".join(self.unlinked_examples.get(col, [])[:5])
            lines.append(t("import.unlinked", lang, n=f"{n:,}", column=col, table=target, examples=examples))
        if self.mangled:
            lines.append(t("import.mangled_hint", lang, cols=", ".join(self.mangled)))
        if self.introduced:
            vals = ", ".join(f"{k} ({v:,})" for k, v in list(self.introduced.items())[:20])
            lines.append(t("import.introduced", lang, values=vals))
        if self.created_regions:
            key = "import.regions_would_create" if self.dry_run else "import.regions_created"
            shown = "; ".join(self.created_regions[:20]) + (" …" if len(self.created_regions) > 20 else "")
            lines.append(t(key, lang, n=f"{len(self.created_regions):,}", regions=shown))
        if self.created_customers:
            key = "import.customers_would_create" if self.dry_run else "import.customers_created"
            lines.append(t(key, lang, n=f"{self.created_customers:,}"))
            if self.anonymous_customers:
                lines.append(t("import.customers_anonymous", lang))
        if self.created_tables:
            lines.append(t("import.created_schema", lang, tables=", ".join(self.created_tables)))
        if self.refresh_seconds is not None:
            lines.append(t("import.refreshed", lang, seconds=f"{self.refresh_seconds:.1f}"))
        return lines


def reason_text(code: str, detail: object, lang: str = "en") -> str:
    return t(f"import.reason.{code}", lang, detail=detail)


def rejects_path_for(path: str | Path) -> Path:
    p = Path(path)
    return p.with_name(p.name + ".rejects.csv")


def _rejects_target(rejects: bool | Path, default: Path, dry_run: bool, lang: str, db_urls: list[str | None],
                    inputs: list[str | Path | None]) -> Path | None:
    """Where the rejects go, checked by :func:`metrics.present.files.check` before anything is written or
    deleted (never the database, an input, a link, a folder, someone else's file). The default file
    (``rejects=True``) is not written on a dry run; a path the caller names is (the Data page's own)."""
    if not rejects or (rejects is True and dry_run):
        return None
    path = default if rejects is True else Path(rejects)
    try:
        return outputs.check(path, outputs.REJECTS, option="--rejects", lang=lang, db_urls=db_urls, inputs=inputs)
    except outputs.OutputRefused as exc:
        raise ImportFailed(str(exc)) from None


class _Rejects:
    """The rejects file (UTF-8 with BOM so Excel reads Chinese): one line per rejected row holding
    the row as read (the file's own columns, under its own headers) and then ``_row`` (the file row),
    ``_reasons`` (each problem as "column: reason", in the user's language) and ``_codes``, so the
    user can correct the rows and import the file as it is. Written to a temporary file in the
    target's folder as problems arrive and renamed into place by :meth:`finish` at the end of a
    successful run, so it is complete or absent, never partial. A run without rejects removes a
    stale rejects file of ours (header checked) at its end, not on a dry run."""

    def __init__(self, path: Path | None, lang: str, dry_run: bool = False, headers: list[str] | None = None,
                 delimiter: str = ",") -> None:
        self.path, self.lang, self.dry_run = path, lang, dry_run
        self.headers = [str(h) for h in (headers or [])]
        self.delimiter = delimiter
        self.file: outputs.AtomicFile | None = None
        self.writer = None

    def add(self, problems: pd.DataFrame, raw: pa.Table | None = None, raw_rows: np.ndarray | None = None) -> None:
        """Write the rejected rows of ``problems``; ``raw`` holds the rows as read, ``raw_rows`` their
        file rows (a line that could not be split into fields is split here as well as it goes)."""
        if self.path is None or problems.empty:
            return
        if self.file is None:
            self.file = outputs.AtomicFile(self.path, "w", encoding="utf-8-sig", newline="")
            self.writer = csv.writer(self.file.fh)
            self.writer.writerow([safe_cell(h) for h in self.headers] + list(outputs.REJECTS_COLUMNS))
        width = len(self.headers)
        p = problems.assign(row=problems["row"].astype("int64")).sort_values("row", kind="stable")
        row_of = p["row"].to_numpy()
        starts = np.flatnonzero(np.r_[True, row_of[1:] != row_of[:-1]])
        ends = np.r_[starts[1:], len(row_of)]
        texts_of: dict[tuple, str] = {}  # (code, detail) -> reason text: looked up once each
        texts = []
        for c, code, d in zip(p["column"], p["code"], p["detail"], strict=True):
            reason = texts_of.get((code, d))
            if reason is None:
                reason = texts_of[(code, d)] = reason_text(code, d, self.lang)
            texts.append(f"{c}: {reason}" if c else reason)
        codes = p["code"].tolist()
        firsts = row_of[starts]
        cells: list[list[str]] = [[] for _ in firsts]
        if raw is not None and raw_rows is not None and len(raw_rows):
            at = pd.Index(np.asarray(raw_rows, dtype=np.int64)).get_indexer(firsts)
            found = np.flatnonzero(at >= 0)
            if len(found):
                taken = raw.take(pa.array(at[found], pa.int64()))
                columns = [[_cell(v) for v in col.to_pylist()] for col in taken.columns[:width]]
                for j, i in enumerate(found):
                    cells[i] = [col[j] for col in columns]
        out = []
        for i, (lo, hi) in enumerate(zip(starts, ends, strict=True)):
            row_cells = cells[i] if cells[i] else self._split(p.iloc[lo:hi])
            row_cells = (row_cells + [""] * width)[:width]
            reasons = "; ".join(texts[lo:hi])
            code = codes[lo] if hi - lo == 1 else ";".join(dict.fromkeys(codes[lo:hi]))
            out.append([safe_cell(v) for v in row_cells] + [int(firsts[i]), safe_cell(reasons), code])
        self.writer.writerows(out)

    def _split(self, group: pd.DataFrame) -> list[str]:
        """A line with the wrong number of fields (``bad_row``, its text as the value), split as it goes:
        fields beyond the header's last column are joined into the last one."""
        bad = group[group["code"] == "bad_row"]
        if bad.empty:
            return []
        fields = next(csv.reader([str(bad["value"].iloc[0])], delimiter=self.delimiter), [])
        width = len(self.headers)
        if width and len(fields) > width:
            fields = fields[:width - 1] + [self.delimiter.join(fields[width - 1:])]
        return fields

    def finish(self) -> None:
        """The run succeeded: the complete file into place, or (no rejects, not a dry run) a stale one removed."""
        if self.path is None:
            return
        try:
            if self.file is not None:
                self.file, file = None, self.file
                file.commit()
            elif not self.dry_run:
                outputs.remove_ours(self.path, outputs.REJECTS)
        except OSError as exc:
            raise ImportFailed(t("output.rejects_not_written", self.lang, path=self.path,
                                 detail=exc.strerror or type(exc).__name__)) from None

    def close(self) -> None:
        """After a failure: the temporary file removed; an existing rejects file stays as it was."""
        if self.file is not None:
            self.file, file = None, self.file
            file.discard()


def _cell(v: object) -> str:
    """A value as read, as text for the rejects file (Parquet values keep their own spelling)."""
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


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


def import_file(url: str, table: str, path: str | Path, *, mapping: str | Path | spec.Mapping | None = None,
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
    rej_path = _rejects_target(rejects, rejects_path_for(path), dry_run, lang, [url], [path])
    return _import(url, table, source, Path(display_name).name if display_name else path.name,
                   display_name or str(path), mapping, rej_path, dry_run=dry_run, user=user, lang=lang,
                   refresh=refresh, on_chunk=on_chunk, started=started, clock=clock, dashboard=dashboard,
                   snapshot_date=snapshot_date)


def import_query(url: str, table: str, query: str, source_url: str, *,
                 mapping: str | Path | spec.Mapping | None = None, dry_run: bool = False, user: str | None = None,
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
    rej_path = _rejects_target(rejects, Path.cwd() / f"{table}-from-sql.rejects.csv", dry_run, lang,
                               [url, source_url], [])
    source = open_query(source_url, query, chunk_rows, name=f"{table}-from-sql")
    display = f"sql {safe_url(source_url)}: {' '.join(query.split())}"
    try:
        return _import(url, table, source, "SQL", display, mapping, rej_path, dry_run=dry_run, user=user,
                       lang=lang, refresh=refresh, on_chunk=on_chunk, started=started, clock=clock,
                       snapshot_date=snapshot_date)
    finally:
        source.close()


def _mapping(mapping: str | Path | spec.Mapping | None, table: str, snapshot_date: dt.date | None,
             lang: str) -> spec.Mapping:
    """The mapping file read and checked against ``table`` (one line naming the key, else)."""
    _check_table(table, lang)
    if snapshot_date is not None and table != "customers":
        raise ImportFailed(t("import.error.snapshot_table", lang, table=table))
    if not isinstance(mapping, spec.Mapping):
        mapping = spec.load_mapping(mapping)
    spec.check_mapping(mapping, table, snapshot=snapshot_date is not None)
    return mapping


def _check_table(table: str, lang: str = "en") -> None:
    if table not in spec.TABLES:
        raise ImportFailed(t("import.error.unknown_table", lang, table=table, tables=", ".join(spec.TABLES)))


def _import(url: str, table: str, source: Source, name: str, display: str, mapping: spec.Mapping,
            rej_path: Path | None, *, dry_run: bool, user: str | None, lang: str, refresh: bool,
            on_chunk: Callable[[ImportResult], None] | None, started: dt.datetime, clock: float,
            dashboard: bool = False, snapshot_date: dt.date | None = None) -> ImportResult:
    """Validate and upsert an opened source (a file or a query); see :func:`import_file`."""
    if not dry_run and sa.engine.make_url(url).get_backend_name() == "spark":
        raise ImportFailed(t("import.error.spark_target", lang))
    header_map, unused = spec.resolve_headers(table, source.headers, mapping, snapshot=snapshot_date is not None)
    given = set(header_map.values()) | set(mapping.defaults) | set(spec.also_columns(table, header_map, mapping))
    missing = [c for c in spec.required_columns(table, mapping, given) if c not in given]
    if mapping.create:  # what a created customer needs: the mapping's defaults, a region from names
        need = [c for c in spec.required_columns("customers", mapping)
                if c not in ("customer_id", "name", "start_date")]
        missing += [f"customers.{c}" for c in need if c not in given
                    and not (c == "region_id" and given & set(spec.REGION_NAME_COLUMNS))]
    if snapshot_date is not None:
        if "start_date" in missing and given & {"tenure_months", "tenure_days"}:
            missing.remove("start_date")
        if not given & {"tenure_months", "tenure_days", "start_date"}:
            missing.append("tenure_months/tenure_days")
        if "churned" not in given:
            missing.append("churned")
    if missing:
        names = [f"{c} ({'/'.join(spec.ALIASES.get(table, {}).get(c, ())[:2]) or c})" for c in missing]
        key = "import.error.missing_columns_dashboard" if dashboard else "import.error.missing_columns"
        raise ImportFailed(t(key, lang, file=name, cols=", ".join(names)))
    result = ImportResult(table, display, dry_run, import_id=uuid.uuid4().hex,
                          unused_headers=[h for h in unused if h], dashboard=dashboard)
    result.defaults = [c for c in spec.UNKNOWN_IF_ABSENT.get(table, ()) if c not in given]
    result.snapshot_date = snapshot_date
    result.rejects_path = rej_path
    # nothing is deleted before the run has succeeded
    out = _Rejects(rej_path, lang, dry_run, source.headers, getattr(source, "delimiter", ","))

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


def _dry_run(url: str, table: str, source: Source, header_map: dict[str, str], mapping: spec.Mapping,
             result: ImportResult, out: _Rejects, on_chunk: Callable[[ImportResult], None] | None) -> None:
    """Check every row against the database as it is (read-only), writing nothing."""
    engine = _open_engine(url, True)
    if engine is None:
        _run(None, table, source, header_map, mapping, result, out, on_chunk)
        return
    try:
        with engine.connect() as conn:
            _run(conn, table, source, header_map, mapping, result, out, on_chunk)
    finally:
        engine.dispose()


def _commit(engine: sa.Engine, table: str, source: Source, header_map: dict[str, str], mapping: spec.Mapping,
            result: ImportResult, out: _Rejects, on_chunk: Callable[[ImportResult], None] | None,
            user: str | None, started: dt.datetime, clock: float, refresh: bool) -> None:
    """Write the good rows, the ``import_log`` row, the data version and the derived tables in one
    transaction; the rollups are marked not built in it and rebuilt after the commit (on a DuckDB
    file all of it happens in the copy that replaces the file: see :mod:`metrics.backends.swap`)."""
    result.created_tables = ensure_schema(engine)
    relax_not_null(engine, table)  # an older database: unknown flags must be storable as NULL
    if table == "tickets":
        due_times.add_column(engine)  # an older database: where each ticket's due times came from
        ticket_status.add_column(engine)  # … and the source's status (resolved without a time)
    changed = False
    with engine.begin() as conn:
        _run(conn, table, source, header_map, mapping, result, out, on_chunk)
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


def _run(conn: sa.Connection | None, table: str, source: object, header_map: dict[str, str],
         mapping: spec.Mapping, result: ImportResult, out: _Rejects,
         on_chunk: Callable[[ImportResult], None] | None) -> None:
    """Check and write the chunks of ``source``. The write of one chunk (in a worker thread: DuckDB,
    the database drivers and the Arrow kernels release the GIL) overlaps reading and checking the
    next one; at most one write is in flight and a chunk is counted, and ``on_chunk`` called, only
    once it is written. An error anywhere waits for the write in flight before the caller rolls back."""
    known = Known.read(conn, table) if conn is not None else Known.read(None, table)
    encoder = KeyEncoder(conn)  # the file's keys as ids (metrics.model.keys)
    creator = _creator(conn, table, header_map, mapping, known, encoder)
    validator = Validator(table, header_map, source.headers, known, mapping, result.snapshot_date, creator,
                          encoder)
    writer = Writer(conn, table) if conn is not None and not result.dry_run else None
    rejected_rows: set[int] = set()
    used_bad = 0
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-write") if writer is not None else None
    in_flight: list[tuple[Future | None, pa.Table, pd.DataFrame, int, tuple]] = []  # at most one

    def settle() -> None:
        """Count the chunk whose write was started last (waiting for it), then report it."""
        if not in_flight:
            return
        future, good, problems, read, (raw, raw_rows) = in_flight.pop()
        loaded = good.num_rows
        if future is not None:
            inserted, updated, refused = future.result()
            result.inserted += inserted
            result.updated += updated
            if not refused.empty:  # rows the database itself would not store
                loaded -= len(refused)
                problems = pd.concat([problems, refused], ignore_index=True)
        result.rows_read += read
        result.rows_loaded += loaded
        if not problems.empty:
            rejected_rows.update(problems["row"].astype(int).tolist())
            result.reasons.update(problems["code"].tolist())
            out.add(problems, raw, raw_rows)
            if len(result.problems) < FIRST_PROBLEMS:
                result.problems = pd.concat([result.problems, problems.head(FIRST_PROBLEMS)], ignore_index=True)
        result.rows_rejected = len(rejected_rows)
        if on_chunk is not None:
            on_chunk(result)

    def start(good: pa.Table, rows: np.ndarray, problems: pd.DataFrame, read: int,
              raw: tuple = (None, None)) -> None:
        settle()
        if creator is not None and good.num_rows:  # the customers (and their regions) these rows name, first
            regions, customers = creator.take()
            if writer is not None:
                if regions:
                    conn.execute(schema.regions.insert(), [r.row() for r in regions])
                if customers:
                    conn.execute(schema.customers.insert(), customers)
            result.created_regions += [creator.validator.region_names.describe(r) for r in regions]
        if validator.region_names is not None and good.num_rows:  # the regions these rows name, first
            new = validator.region_names.take_used(good.column("region_id"))
            if new and writer is not None:
                conn.execute(schema.regions.insert(), [r.row() for r in new])
            result.created_regions += [validator.region_names.describe(r) for r in new]
        future = pool.submit(writer.write, good, rows) if pool is not None and good.num_rows else None
        in_flight.append((future, good, problems, read, raw))

    chunks = _read_ahead(source.chunks())
    try:
        for chunk in chunks:
            good, rows, problems = validator.check(chunk)
            bad_lines = [(r, text) for r, text in source.bad_rows[used_bad:] if text]
            used_bad = len(source.bad_rows)
            if bad_lines:
                problems = pd.concat([problems, pd.DataFrame({
                    "row": [r for r, _ in bad_lines], "column": "", "value": [x for _, x in bad_lines],
                    "code": "bad_row", "detail": len(source.headers)})], ignore_index=True)
            start(good, rows, problems, chunk.data.num_rows + len(bad_lines), (chunk.data, chunk.rows))
        good, rows, problems = validator.finish()
        start(good, rows, problems, 0, validator.finished_raw or (None, None))
        settle()
    finally:
        chunks.close()  # waits for a read in flight (a query's source connection is closed next)
        if pool is not None:
            pool.shutdown(wait=True)  # no statement may run while the caller rolls back
    if writer is not None:
        writer.close()
        encoder.save(conn)  # the text keys given ids, in the import's transaction
    result.rows_rejected = len(rejected_rows)
    result.introduced = {f"{c}={v}": n for (c, v), n in validator.introduced.most_common()}
    for (c, v) in validator.introduced:
        result.new_codes.setdefault(spec.VOCAB[(table, c)], []).append(v)
    if creator is not None:
        result.created_customers, result.anonymous_customers = creator.count, creator.anonymous
        for (c, v), n in creator.validator.introduced.most_common():
            result.introduced[f"{c}={v}"] = n
            result.new_codes.setdefault(spec.VOCAB[("customers", c)], []).append(v)
        if writer is not None and creator.later_start:  # a customer's earliest row came in a later chunk
            cu = schema.customers
            for cid, start in creator.later_start.items():
                conn.execute(cu.update().where(cu.c.customer_id == cid).values(start_date=start))
    result.mangled = list(validator.mangled)
    result.defaulted = {f"{c}={mapping.defaults[c]}": n for c, n in validator.defaulted.items() if n}
    if creator is not None:  # cells of the created customers
        result.defaulted.update({f"{c}={mapping.defaults[c]}": n for c, n in creator.validator.defaulted.items()
                                 if n and c in mapping.defaults})
    result.unlinked = {c: n for c, n in validator.unlinked.items() if n}
    result.unlinked_examples = {c: validator.unlinked_examples.get(c, []) for c in result.unlinked}
    if len(result.problems) > FIRST_PROBLEMS:
        result.problems = result.problems.head(FIRST_PROBLEMS)
    result.problems = result.problems.sort_values("row", kind="stable").reset_index(drop=True)


def _creator(conn: sa.Connection | None, table: str, header_map: dict[str, str], mapping: spec.Mapping,
             known: Known, encoder: KeyEncoder) -> CustomerCreator | None:
    """``create: customers``: the creator of the customers a tickets or surveys file names (anonymous,
    one per row, when the file gives no customer id), or None."""
    if not mapping.create or table not in spec.CREATE_TABLES:
        return None
    given = set(header_map.values()) | set(spec.also_columns(table, header_map, mapping))
    levels = [c for c in (*spec.REGION_NAME_COLUMNS, *spec.created_customer_columns(table)) if c in given]
    existing = known.keys.get("customers.customer_id")
    next_id = int(existing.keys[-1]) + 1 if existing is not None and len(existing) else 1
    anonymous = "customer_id" not in given
    loaded: dict[int, int] = {}
    if anonymous and conn is not None and sa.inspect(conn).has_table(table):
        tb = spec.TABLES[table]
        key = tb.c[spec.key_columns(table)[0]]
        loaded = {int(k): int(c) for k, c in conn.execute(sa.select(key, tb.c.customer_id))}
    known_customers = Known.read(conn, "customers")

    def check(headers: list[str], customer_mapping: spec.Mapping) -> Validator:
        return Validator("customers", {h: h for h in headers}, headers, known_customers, customer_mapping,
                         encoder=encoder, encoded=frozenset({"customer_id"}))

    return CustomerCreator(table, mapping, anonymous, levels, max(next_id, 1), check, loaded,
                           lambda cid: encoder.text("customers", cid))


def _read_ahead(chunks: Iterator[Chunk]) -> Generator[Chunk, None, None]:
    """``chunks``, the next one read in a thread while the caller checks the current one (the
    Arrow CSV and Parquet readers and the database drivers release the GIL)."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-read") as pool:
        ahead = pool.submit(next, chunks, None)
        while (chunk := ahead.result()) is not None:
            ahead = pool.submit(next, chunks, None)
            yield chunk


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


def preview(url: str, table: str, path: str | Path, *, mapping: str | Path | spec.Mapping | None = None,
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
    header_map, _ = spec.resolve_headers(table, source.headers, mapping)
    engine = _open_engine(url, True)
    goods: list[pa.Table] = []
    numbers: list[np.ndarray] = []
    try:
        conn = engine.connect() if engine is not None else None
        try:
            known = Known.read(conn, table)
            encoder = KeyEncoder(conn)  # as _run sets up its validator, nothing saved
            creator = _creator(conn, table, header_map, mapping, known, encoder)
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
    return frame.sort_values("row", kind="stable").reset_index(drop=True), result
