"""The chunk loop of one import: check each chunk (:class:`~.validate.Validator`), write its good rows
(:class:`~.write.Writer`) while the next chunk is read and checked, report the rejected ones
(:class:`~.rejects.RejectsFile`), and create the customers a tickets or surveys file names
(``create: customers``, :class:`~.create_customers.CustomerCreator`) before the rows that name them."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from metrics.ingest.importer import columns as import_columns
from metrics.ingest.importer import mapping as import_mapping
from metrics.ingest.importer import spec
from metrics.ingest.importer.create_customers import CustomerCreator
from metrics.ingest.importer.headers import also_columns
from metrics.ingest.importer.keys import KeyEncoder
from metrics.ingest.importer.known import Known
from metrics.ingest.importer.read import Chunk
from metrics.ingest.importer.rejects import RejectsFile
from metrics.ingest.importer.result import FIRST_PROBLEMS, ImportResult
from metrics.ingest.importer.validate import Validator
from metrics.ingest.importer.write import Writer
from metrics.model import schema
from metrics.present.masking import mask


def run_chunks(conn: sa.Connection | None, table: str, source: object, header_map: dict[str, str],
         mapping: import_mapping.Mapping, result: ImportResult, out: RejectsFile,
         on_chunk: Callable[[ImportResult], None] | None) -> None:
    """Check and write the chunks of ``source``. The write of one chunk (in a worker thread: DuckDB,
    the database drivers and the Arrow kernels release the GIL) overlaps reading and checking the
    next one; at most one write is in flight and a chunk is counted, and ``on_chunk`` called, only
    once it is written. An error anywhere waits for the write in flight before the caller rolls back."""
    known = Known.read(conn, table) if conn is not None else Known.read(None, table)
    encoder = KeyEncoder(conn)  # the file's keys as ids (metrics.model.keys)
    creator = customer_creator(conn, table, header_map, mapping, known, encoder)
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
                result.problems = pd.concat([result.problems, shown(problems.head(FIRST_PROBLEMS))],
                                            ignore_index=True)
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


def shown(problems: pd.DataFrame) -> pd.DataFrame:
    """``problems`` as the problem list shows them (the summary, the CLI, the Data page): a line the reader
    could not split (``bad_row``) carries its whole text as the value, which may hold anything (a phone,
    an ID-card number, a name), so that text is masked (:func:`metrics.present.masking.mask`). The rejects
    file gets the problems as read: it rebuilds the row from that text for the user to fix."""
    bad = (problems["code"] == "bad_row").to_numpy()
    if not bad.any():
        return problems
    out = problems.copy()
    out.loc[bad, "value"] = [mask(v) for v in out.loc[bad, "value"]]
    return out


def customer_creator(conn: sa.Connection | None, table: str, header_map: dict[str, str],
                     mapping: import_mapping.Mapping, known: Known, encoder: KeyEncoder) -> CustomerCreator | None:
    """``create: customers``: the creator of the customers a tickets or surveys file names (anonymous,
    one per row, when the file gives no customer id), or None."""
    if not mapping.create or table not in import_columns.CREATE_TABLES:
        return None
    given = set(header_map.values()) | set(also_columns(table, header_map, mapping))
    levels = [c for c in (*import_columns.REGION_NAME_COLUMNS, *import_columns.created_customer_columns(table))
              if c in given]
    existing = known.keys.get("customers.customer_id")
    next_id = int(existing.keys[-1]) + 1 if existing is not None and len(existing) else 1
    anonymous = "customer_id" not in given
    loaded: dict[int, int] = {}
    if anonymous and conn is not None and sa.inspect(conn).has_table(table):
        tb = import_columns.TABLES[table]
        key = tb.c[import_columns.key_columns(table)[0]]
        loaded = {int(k): int(c) for k, c in conn.execute(sa.select(key, tb.c.customer_id))}
    known_customers = Known.read(conn, "customers")

    def check(headers: list[str], customer_mapping: import_mapping.Mapping) -> Validator:
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
