"""``create: customers``: a tickets or surveys file creates the customers it names.

A helpdesk or complaint export has no customers file. With ``create: customers`` in the mapping,
each customer id the file names that is neither in the database nor created earlier in this import
becomes a new customer: its region from the region-name columns of its rows (province, city,
district; see :mod:`.region_names`) or the mapping's ``region_id`` default, its other required
columns from the mapping's ``defaults:``, ``name`` its id when no default is given, and
``start_date`` the earliest ticket opening (survey answer) of that customer in the file unless a
default gives one. A file without customer ids gets one anonymous customer per row: a new id above
the largest customer id in use. The created rows are checked like a customers file (a
:class:`~.validate.Validator` for customers), written in the import's transaction before the rows
that name them, and only for rows that load; existing customers are never modified.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from metrics.ingest.importer import columns as import_columns
from metrics.ingest.importer import mapping as import_mapping
from metrics.ingest.importer.read import Chunk


class CustomerCreator:
    """The customers one tickets or surveys import creates (see the module docstring)."""

    def __init__(self, table: str, mapping: import_mapping.Mapping, anonymous: bool, levels: list[str], next_id: int,
                 check: Callable[[list[str], import_mapping.Mapping], object], loaded: dict[int, int] | None = None,
                 key_text: Callable[[int], str] = str) -> None:
        """``check(headers, mapping)`` builds the customers :class:`~.validate.Validator` the created
        rows go through (passed in: that module uses this one); ``key_text(id)``: a customer's key as
        the file wrote it (its name when the mapping gives none)."""
        self.key_text = key_text
        self.table = table
        self.time_column = import_columns.CREATE_TABLES[table]
        self.anonymous = anonymous
        self.levels = levels  # the file's columns for its customers: region names, tier, segment …
        self.next_id = next_id
        self.loaded = loaded or {}  # anonymous: key of a row already in the database -> its customer
        defaults = mapping.customer_defaults()
        self.fixed_start = "start_date" in defaults or "start_date" in levels  # else the earliest row's
        formats = {c: f for c, f in mapping.formats.items() if c in levels}
        values = {c: v for c, v in mapping.values.items()
                  if c in import_columns.REGION_NAME_COLUMNS or (c in import_columns.CREATED_CUSTOMER_COLUMNS
                                                       and c not in import_columns.TABLES[table].c)}
        self.headers = ["customer_id", *([] if "name" in defaults else ["name"]),
                        *([] if self.fixed_start else ["start_date"]), *levels]
        self.validator = check(self.headers, import_mapping.Mapping(defaults=defaults, values=values, formats=formats,
                                                          name=mapping.name))
        self.created: dict[int, dt.date | None] = {}  # id -> start date (from the file's rows)
        self.failed: dict[int, str] = {}  # id -> why the customer could not be created
        self.pending: list[pa.Table] = []  # created rows not yet written
        self.later_start: dict[int, dt.date] = {}  # created customers with an earlier row in a later chunk
        self.count = 0

    def ids(self, keys: pa.Array) -> pa.Array:
        """Customer ids for the rows of a file without customer ids, given the ids of the rows' own
        keys: the customer of a row already in the database (imported before) is kept, so importing
        the same file again creates nobody; every other row gets a new id."""
        out = []
        for k in keys.to_pylist():
            cid = self.loaded.get(int(k)) if k is not None else None
            if cid is None:
                cid, self.next_id = self.next_id, self.next_id + 1
            out.append(cid)
        return pa.array(out, pa.int64())

    def create(self, ids: np.ndarray, times: pa.Array, names: dict[str, pa.Array], todo: np.ndarray
               ) -> tuple[np.ndarray, list[str]]:
        """Create the customers of the rows in ``todo`` (their ids not in the database): returns the
        rows whose customer could not be created and, for each of them, the reason."""
        failed = np.zeros(len(ids), dtype=bool)
        reasons = [""] * len(ids)
        if not todo.any():
            return failed, reasons
        idx = np.flatnonzero(todo)
        start = pc.cast(times, pa.date32()) if pa.types.is_timestamp(times.type) else times
        starts = start.take(pa.array(idx)).to_pylist()
        level_values = {lv: names[lv].take(pa.array(idx)).to_pylist() for lv in self.levels}
        first: dict[int, int] = {}  # new id -> position in idx of its first row
        earliest: dict[int, dt.date | None] = {}
        for j, i in enumerate(idx):
            cid = int(ids[i])
            if cid in self.created:
                s = starts[j]
                if not self.fixed_start and s is not None and (self.created[cid] is None or s < self.created[cid]):
                    self.created[cid] = s
                    self.later_start[cid] = s
                continue
            if cid in self.failed:
                continue
            if cid not in first:
                first[cid] = j
                earliest[cid] = starts[j]
            else:
                s = starts[j]
                if s is not None and (earliest[cid] is None or s < earliest[cid]):
                    earliest[cid] = s
                for lv in self.levels:  # the first row giving a value (a region name, a tier …) gives it
                    if not level_values[lv][first[cid]] and level_values[lv][j]:
                        level_values[lv][first[cid]] = level_values[lv][j]
        if first:
            self._check(first, earliest, level_values)
        for i in idx:
            cid = int(ids[i])
            if cid in self.failed:
                failed[i] = True
                reasons[i] = self.failed[cid]
        return failed, reasons

    def _check(self, first: dict[int, int], earliest: dict[int, dt.date | None],
               level_values: dict[str, list]) -> None:
        """Check the new customers as a customers file; keep the good rows for writing."""
        new = list(first)
        cols: dict[str, list] = {"customer_id": [str(c) for c in new]}
        if "name" in self.headers:
            cols["name"] = [self.key_text(c) for c in new]
        if "start_date" in self.headers:
            cols["start_date"] = [None if earliest[c] is None else earliest[c].isoformat() for c in new]
        for lv in self.levels:
            cols[lv] = [level_values[lv][first[c]] for c in new]
        if "start_date" in self.levels and "start_date" not in self.validator.mapping.defaults:
            fmt = self.validator.mapping.formats.get("start_date")  # the file's own format, if any
            cols["start_date"] = [v if v not in (None, "") else None if earliest[c] is None
                                  else earliest[c].strftime(fmt) if fmt else earliest[c].isoformat()
                                  for v, c in zip(cols["start_date"], new, strict=True)]
        data = pa.table({h: pa.array([None if v is None else str(v) for v in cols[h]], pa.string())
                         for h in self.headers})
        rows = np.arange(1, len(new) + 1, dtype=np.int64)
        good, good_rows, problems = self.validator.check(Chunk(data, rows))
        ok = set(good_rows.tolist())
        why: dict[int, list[str]] = {}
        for r, col, value, code in zip(problems["row"], problems["column"], problems["value"], problems["code"],
                                       strict=True):
            why.setdefault(int(r), []).append(f"{col} {value!r}: {code}" if value else f"{col}: {code}")
        for k, cid in enumerate(new, start=1):
            if k in ok:
                self.created[cid] = earliest[cid]
            else:
                self.failed[cid] = "; ".join(why.get(k, ["refused"]))
        if good.num_rows:
            self.pending.append(good)
            self.count += good.num_rows

    def take(self) -> tuple[list, list[dict]]:
        """The regions and customer rows to write before the rows checked so far (each once)."""
        if not self.pending:
            return [], []
        good = pa.concat_tables(self.pending)
        self.pending = []
        regions = []
        if self.validator.region_names is not None:
            regions = self.validator.region_names.take_used(good.column("region_id"))
        return regions, good.to_pylist()
