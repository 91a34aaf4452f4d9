"""The keys of the rows an import has let through so far, with the file row of each: what finds a
duplicate key (``duplicate_key``, its detail the first row) and a reference to an earlier row of the
same file. Kept by :class:`~metrics.ingest.importer.validate.Validator` across chunks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from metrics.ingest.importer import columns as import_columns
from metrics.ingest.importer.key_sets import SeenKeys, key_codes


class FileKeys:
    """Keys of one file's good rows: int64 codes (:class:`SeenKeys`), or the key tuples themselves for
    a table whose key does not reduce to one code."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.key = import_columns.key_columns(table)
        self.seen = SeenKeys()
        self.other: dict[tuple, int] = {}  # non-numeric keys -> first row

    @property
    def label(self) -> str:
        """The key's column, or its columns joined by "+": how a duplicate is reported."""
        return self.key[0] if len(self.key) == 1 else "+".join(self.key)

    def first_rows(self, cols: dict[str, pa.Array], rows: np.ndarray, bad: np.ndarray) -> np.ndarray:
        """Per row of a chunk (``rows``: their file rows), the file row that had its key first (earlier
        in the chunk or in an earlier chunk), 0 where none; rows already ``bad`` neither count nor claim."""
        codes = key_codes(self.table, cols)
        if codes is None:
            first = np.zeros(len(rows), dtype=np.int64)
            tuples = list(zip(*(cols[k].to_pylist() for k in self.key), strict=True))
            local: dict[tuple, int] = {}
            for i, tup in enumerate(tuples):
                if bad[i]:
                    continue
                prev = self.other.get(tup) or local.get(tup)
                if prev:
                    first[i] = prev
                else:
                    local[tup] = int(rows[i])
            return first
        first = self.seen.lookup(codes)
        s = pd.Series(codes)
        dup_in_chunk = s.where(~bad).duplicated(keep="first").to_numpy() & ~bad
        if dup_in_chunk.any():
            firsts = pd.Series(rows).where(~bad).groupby(s.where(~bad)).transform("first")
            first = np.where(dup_in_chunk & (first == 0), firsts.fillna(0).to_numpy(dtype=np.int64), first)
        return first

    def remember(self, good: pa.Table, rows: np.ndarray) -> None:
        """Add the keys of rows that load (``rows``: their file rows)."""
        if good.num_rows == 0:
            return
        cols = {n: good.column(n).combine_chunks() for n in self.key}
        codes = key_codes(self.table, cols)
        if codes is None:
            for tup, r in zip(zip(*(cols[k].to_pylist() for k in self.key), strict=True), rows, strict=True):
                self.other.setdefault(tup, int(r))
        else:
            self.seen.add(codes, rows.astype(np.int64))
