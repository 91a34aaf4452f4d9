"""Read CSV, Excel (.xlsx) and Parquet files in chunks of raw values, with file row numbers.

Every reader yields :class:`Chunk` objects: a ``pyarrow.Table`` whose columns are the file's
columns as they are (strings for CSV and Excel, the stored types for Parquet) and the file row
number of each row, the header being row 1. CSV is streamed with ``pyarrow.csv.open_csv`` (its
encoding detected: UTF-8, UTF-8 with BOM, GB18030/GBK), Parquet by row groups, Excel with
openpyxl's read-only mode, so files larger than memory pass through in pieces.
"""

from __future__ import annotations

import codecs
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from metrics.backends.connect import first_line
from metrics.model.i18n import t

CHUNK_ROWS = 250_000
CSV_BLOCK_BYTES = 16 << 20
NULL_VALUES = ["", "NULL", "null", "\\N"]
SAMPLE_BYTES = 1 << 20


class ReadError(ValueError):
    """The file cannot be read at all; one line for users, from the catalogue (``import.read.<key>``)
    in either language, naming the file as the user knows it (an upload's own name, not the temporary
    file's)."""

    def __init__(self, key: str, file: str = "", **params: object) -> None:
        self.key, self.file, self.params = key, file, params
        super().__init__(self.message("en"))

    def message(self, lang: str, file: str | None = None, dashboard: bool = False) -> str:
        """The message in ``lang``; ``dashboard``: worded for the Data page (no command-line flags)."""
        hint = t("import.read.hint_dashboard" if dashboard else "import.read.hint", lang)
        return t(f"import.read.{self.key}", lang, file=file or self.file, hint=hint, **self.params)


@dataclass
class Chunk:
    data: pa.Table
    rows: np.ndarray  # file row number of each row (header = 1)


@dataclass
class Source:
    """An opened input: its headers, chunks, and rows that could not even be split into fields."""

    path: Path
    format: str
    headers: list[str]
    encoding: str | None = None
    delimiter: str = ","  # of a CSV file: the rejects file splits lines with the wrong field count by it
    bad_rows: list[tuple[int, str]] = field(default_factory=list)  # (row, text) with a wrong field count
    _chunks: Iterator[Chunk] | None = None
    _close: Callable[[], None] | None = None

    def chunks(self) -> Iterator[Chunk]:
        assert self._chunks is not None
        return self._chunks

    def close(self) -> None:
        """Release what the source holds (a query's connection); files need nothing."""
        if self._close is not None:
            self._close()
            self._close = None


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise ReadError("unsupported_type", path.name, suffix=suffix or "—")


def detect_encoding(sample: bytes, name: str = "") -> str:
    """UTF-8 with BOM, UTF-8, else GB18030 (a superset of GBK and GB2312)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for enc in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(enc)().decode(sample, final=False)
            return enc
        except UnicodeDecodeError:
            continue
    raise ReadError("undetectable_encoding", name)


def open_source(path: str | Path, encoding: str | None = None, chunk_rows: int = CHUNK_ROWS) -> Source:
    path = Path(path)
    if not path.is_file():
        raise ReadError("no_file", str(path))
    fmt = file_format(path)
    try:
        if fmt == "csv":
            return _open_csv(path, encoding, chunk_rows)
        if fmt == "parquet":
            return _open_parquet(path, chunk_rows)
        return _open_xlsx(path, chunk_rows)
    except ReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - OSError, Arrow, openpyxl/zipfile: many kinds for a broken file
        raise ReadError("unreadable", path.name, detail=first_line(exc)) from None


# -- CSV --------------------------------------------------------------------------------------
def _open_csv(path: Path, encoding: str | None, chunk_rows: int) -> Source:
    import csv

    import pyarrow.csv as pcsv

    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    enc = encoding or detect_encoding(sample, path.name)
    try:
        codecs.lookup(enc)
    except LookupError:
        raise ReadError("unknown_encoding", path.name, encoding=enc) from None
    try:
        text = codecs.getincrementaldecoder(enc)().decode(sample, final=len(sample) < SAMPLE_BYTES)
    except UnicodeDecodeError as exc:
        raise ReadError("wrong_encoding", path.name, encoding=enc, byte=exc.start) from None
    text = text.lstrip("\ufeff")
    first = text.splitlines()[0] if text.strip() else ""
    if not first.strip():
        raise ReadError("empty", path.name)
    delimiter = max(",;\t|", key=first.count) if any(d in first for d in ",;\t|") else ","
    headers = next(csv.reader([first], delimiter=delimiter))
    source = Source(path, "csv", [h.strip() for h in headers], enc, delimiter)
    names = [f"c{i}" for i in range(len(headers))]  # positional names: headers may repeat or be blank

    def on_invalid(row: object) -> str:
        text = getattr(row, "text", "") or ""
        if text.strip():
            source.bad_rows.append((int(getattr(row, "number", 0) or 0), text[:200]))
        else:
            source.bad_rows.append((int(getattr(row, "number", 0) or 0), ""))  # blank line: numbered, ignored
        return "skip"

    arrow_enc = "utf8" if enc.replace("_", "-").lower() in ("utf-8", "utf8", "utf-8-sig") else enc
    reader = pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(encoding=arrow_enc, column_names=names, skip_rows=1,
                                      block_size=CSV_BLOCK_BYTES, use_threads=False),  # threads lose row numbers
        parse_options=pcsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid,
                                        ignore_empty_lines=False, newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                            null_values=NULL_VALUES, strings_can_be_null=True,
                                            quoted_strings_can_be_null=True),
    )
    source._chunks = _csv_chunks(reader, source, chunk_rows)
    return source


def _csv_chunks(reader: object, source: Source, chunk_rows: int) -> Iterator[Chunk]:
    next_row = 2
    used_bad = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0

    def flush(final: bool = False) -> Chunk:
        """The pending batches numbered. Lines the reader skipped (wrong field count, blank) are
        numbered without a batch row; the reader may already have met some beyond the pending rows
        (it parses ahead), so those stay for the next flush."""
        nonlocal next_row, used_bad, pending, pending_rows
        table = pa.Table.from_batches(pending)
        n = table.num_rows
        bad = np.asarray(sorted(r for r, _ in source.bad_rows[used_bad:]), dtype=np.int64)
        rows = np.arange(next_row, next_row + n + len(bad), dtype=np.int64)
        if len(bad):
            rows = rows[~np.isin(rows, bad)][:n]
        last = int(rows[-1]) if n else next_row - 1
        taken = len(bad) if final else int((bad <= last).sum())
        used_bad += taken
        next_row = max(last + 1, int(bad[taken - 1]) + 1 if taken else 0)
        pending, pending_rows = [], 0
        blank = None  # blank lines and lines of bare delimiters: numbered, then dropped
        for col in table.columns:
            nulls = col.is_null()
            blank = nulls if blank is None else pc.and_(blank, nulls)
        if blank is not None and pc.any(blank).as_py():
            keep = pc.invert(blank)
            table, rows = table.filter(keep), rows[np.asarray(keep.to_numpy(zero_copy_only=False), dtype=bool)]
        return Chunk(table, rows)

    carry: Chunk | None = None  # rows beyond the last full chunk, joined to the next ones
    try:
        for batch in reader:
            pending.append(batch)
            pending_rows += batch.num_rows
            if pending_rows + (carry.data.num_rows if carry else 0) >= chunk_rows:
                *full, carry = _split(_join(carry, flush()), chunk_rows)
                yield from full
    except pa.ArrowException as exc:
        raise ReadError("unreadable", source.path.name, detail=first_line(exc)) from None
    except UnicodeDecodeError:
        raise ReadError("wrong_encoding_later", source.path.name, encoding=source.encoding) from None
    if pending or source.bad_rows[used_bad:]:
        if not pending:
            pending = [pa.RecordBatch.from_pylist([], schema=reader.schema)]
        carry = _join(carry, flush(final=True))
    if carry is not None:
        yield from _split(carry, chunk_rows)


def _join(a: Chunk | None, b: Chunk) -> Chunk:
    if a is None:
        return b
    return Chunk(pa.concat_tables([a.data, b.data]), np.concatenate([a.rows, b.rows]))


def _split(chunk: Chunk, chunk_rows: int) -> list[Chunk]:
    """Pieces of ``chunk_rows`` rows, the last one shorter (at least one piece, maybe empty)."""
    if chunk.data.num_rows <= chunk_rows:
        return [chunk]
    return [Chunk(chunk.data.slice(lo, chunk_rows), chunk.rows[lo:lo + chunk_rows])
            for lo in range(0, chunk.data.num_rows, chunk_rows)]


# -- Parquet ----------------------------------------------------------------------------------
def _open_parquet(path: Path, chunk_rows: int) -> Source:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    headers = list(pf.schema_arrow.names)

    def chunks() -> Iterator[Chunk]:
        row = 2
        names = [f"c{i}" for i in range(len(headers))]
        for batch in pf.iter_batches(batch_size=chunk_rows):
            table = pa.Table.from_batches([batch]).rename_columns(names)
            yield Chunk(table, np.arange(row, row + table.num_rows, dtype=np.int64))
            row += table.num_rows

    return Source(path, "parquet", headers, None, _chunks=chunks())


# -- Excel ------------------------------------------------------------------------------------
def _cell_text(v: object) -> str | None:
    """Excel cells as text: dates ISO, whole numbers without '.0' (serial dates stay numbers)."""
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, dt.time):
        return v.isoformat()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    text = str(v)
    return text if text.strip() else None


def _open_xlsx(path: Path, chunk_rows: int) -> Source:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    ws = wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None or all(h is None for h in header):
        wb.close()
        raise ReadError("empty_sheet", path.name)
    headers = [str(h).strip() if h is not None else "" for h in header]
    while headers and headers[-1] == "":
        headers.pop()
    width = len(headers)
    names = [f"c{i}" for i in range(width)]

    def chunks() -> Iterator[Chunk]:
        buf: list[list[str | None]] = [[] for _ in range(width)]
        numbers: list[int] = []
        try:
            for i, values in enumerate(rows, start=2):
                cells = [_cell_text(v) for v in values[:width]]
                if all(c is None for c in cells):
                    continue  # blank spreadsheet row
                cells += [None] * (width - len(cells))
                for col, c in zip(buf, cells, strict=True):
                    col.append(c)
                numbers.append(i)
                if len(numbers) >= chunk_rows:
                    yield Chunk(pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, buf, strict=True)}),
                                np.asarray(numbers, dtype=np.int64))
                    buf, numbers = [[] for _ in range(width)], []
            if numbers:
                yield Chunk(pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, buf, strict=True)}),
                            np.asarray(numbers, dtype=np.int64))
        finally:
            wb.close()

    return Source(path, "xlsx", headers, None, _chunks=chunks())


# -- SQL query on another database ------------------------------------------------------------
def open_query(source_url: str, query: str, chunk_rows: int = CHUNK_ROWS, name: str = "sql") -> Source:
    """The rows of ``query`` run on ``source_url``, streamed (server-side cursor where the driver
    has one) in chunks of ``chunk_rows``, every value as text like an Excel cell, so the same
    parsing and validation apply. The query is the user's own, on their own database: it runs as
    given (``sa.text``), on a read-only connection for DuckDB files. Errors raise
    :class:`~metrics.backends.connect.DatabaseError` naming the source database, one line, no password."""
    import sqlalchemy as sa

    from metrics.backends.connect import DatabaseError, describe_error, duckdb_path, make_engine

    engine = make_engine(source_url, read_only=duckdb_path(source_url) is not None)
    conn = None
    try:
        conn = engine.connect()
        result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(sa.text(query))
        if not result.returns_rows:
            raise DatabaseError(describe_error(ValueError("the query returns no rows (use a SELECT)"), source_url))
        headers = [str(k).strip() for k in result.keys()]
    except DatabaseError:
        if conn is not None:
            conn.close()
        engine.dispose()
        raise
    except Exception as exc:  # noqa: BLE001 - any driver error becomes one line
        if conn is not None:
            conn.close()
        engine.dispose()
        raise DatabaseError(describe_error(exc, source_url)) from None
    names = [f"c{i}" for i in range(len(headers))]

    def chunks() -> Iterator[Chunk]:
        row = 1
        try:
            for part in result.partitions(chunk_rows):
                cols = list(zip(*part, strict=True)) if part else [()] * len(names)
                table = pa.table({n: pa.array([_cell_text(v) for v in col], pa.string())
                                  for n, col in zip(names, cols, strict=True)})
                yield Chunk(table, np.arange(row, row + len(part), dtype=np.int64))
                row += len(part)
        except Exception as exc:  # noqa: BLE001 - a failure while fetching: the source's, one line
            raise ReadError("source_failed", detail=describe_error(exc, source_url)) from None

    def close() -> None:
        conn.close()
        engine.dispose()

    return Source(Path(name), "sql", headers, None, _chunks=chunks(), _close=close)
