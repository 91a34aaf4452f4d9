"""Sets of ids an import meets: :class:`SeenKeys` (keys of the file so far, with the row of each) and
:class:`KeyIndex` (the keys the database holds), both on int64 codes so that tens of millions of keys
stay cheap; :func:`key_codes` gives a table's rows one code each."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from metrics.ingest.importer import columns as import_columns
from metrics.ingest.importer.parse import kind_of


class SeenKeys:
    """Keys met so far (int64 codes) with the file row of each: sorted runs merged as they grow,
    8+8 bytes per key, so tens of millions of keys stay cheap."""

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []
        self.low, self.high = np.iinfo(np.int64).max, np.iinfo(np.int64).min  # range of the keys seen

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """The row where each key was seen, 0 where it was not."""
        out = np.zeros(len(keys), dtype=np.int64)
        if len(keys) == 0 or keys.min() > self.high or keys.max() < self.low:
            return out  # e.g. ids rising through the file: nothing to search
        for k, r in self.runs:
            i = np.searchsorted(k, keys)
            i[i >= len(k)] = 0
            hit = (k[i] == keys) if len(k) else np.zeros(len(keys), dtype=bool)
            out[hit & (out == 0)] = r[i[hit & (out == 0)]]
        return out

    def add(self, keys: np.ndarray, rows: np.ndarray) -> None:
        if len(keys) == 0:
            return
        self.low, self.high = min(self.low, int(keys.min())), max(self.high, int(keys.max()))
        order = np.argsort(keys, kind="stable")
        self.runs.append((keys[order], rows[order]))
        while len(self.runs) > 1 and len(self.runs[-2][0]) <= 2 * len(self.runs[-1][0]):
            (k1, r1), (k2, r2) = self.runs.pop(-2), self.runs.pop(-1)
            k, r = np.concatenate([k1, k2]), np.concatenate([r1, r2])
            order = np.argsort(k, kind="stable")
            self.runs.append((k[order], r[order]))

    def contains(self, keys: np.ndarray) -> np.ndarray:
        return self.lookup(keys) > 0


class KeyIndex:
    """A fixed set of int64 keys (read once per import) and a fast membership test: a bitmap over
    the keys' range when they are dense, as ids are (a million lookups in about 4 ms, 1 byte per
    id in the range), else a binary search over the sorted keys."""

    def __init__(self, keys: np.ndarray | list | None = None) -> None:
        self.keys = np.unique(np.asarray(keys if keys is not None else [], dtype=np.int64))
        self.bitmap: np.ndarray | None = None
        if len(self.keys):
            self.low, self.high = int(self.keys[0]), int(self.keys[-1])
            if self.high - self.low < 8 * len(self.keys) + (1 << 20):
                self.bitmap = np.zeros(self.high - self.low + 1, dtype=bool)
                self.bitmap[self.keys - self.low] = True

    def __len__(self) -> int:
        return len(self.keys)

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Whether each of ``values`` is in the set."""
        values = np.asarray(values, dtype=np.int64)
        out = np.zeros(len(values), dtype=bool)
        if not len(self.keys) or not len(values):
            return out
        if self.bitmap is not None:
            inside = (values >= self.low) & (values <= self.high)
            out[inside] = self.bitmap[values[inside] - self.low]
            return out
        i = np.searchsorted(self.keys, values)
        i[i >= len(self.keys)] = 0
        return self.keys[i] == values


def key_codes(table: str, cols: dict[str, pa.Array]) -> np.ndarray | None:
    """One int64 per row for the table's primary key, or None when it is not numeric."""
    key = import_columns.key_columns(table)
    if len(key) == 1 and kind_of(import_columns.TABLES[table].c[key[0]]) == "int":
        return np.asarray(cols[key[0]].fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
    if table == "billing_monthly":
        cust = np.asarray(cols["customer_id"].fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
        days = np.asarray(pc.cast(cols["month"], pa.int32()).fill_null(0).to_numpy(zero_copy_only=False),
                          dtype=np.int64)
        return cust * 10_000_000 + days + 1_000_000
    return None
