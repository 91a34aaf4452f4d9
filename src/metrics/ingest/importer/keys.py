"""Keys as the source writes them, turned into the integer ids stored inside (see
:mod:`metrics.model.keys`): a plain whole number in INTEGER's range is its own id; any other key of
up to 64 characters (case, leading zeros and all) gets a negative id, the same one in every import,
recorded in ``source_keys`` in the import's transaction.

One :class:`KeyEncoder` serves one import: the file's own key column and every reference column
(a ticket's customer, a region's parent) go through it, so a reference to a text key finds the row
that key was given to, in the database or earlier in the same file.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from metrics.model import schema
from metrics.model.keys import INT_MAX, MAX_LENGTH, PLAIN_PATTERN
from metrics.query.keys import has_source_keys

_PLAIN_RE = f"^(?:{PLAIN_PATTERN})$"  # the rule of metrics.model.keys.plain_id, on a column
# a number a spreadsheet reformatted, never a key anyone wrote: scientific notation (1.23457E+11), a
# whole number with a zero decimal part (1000.0), thousands separators (1,000), a leading plus (+1000)
_REFORMATTED_RE = (r"^(?:[+-]?[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+|\+?[0-9]+\.0+|[0-9]{1,3}(?:,[0-9]{3})+"
                   r"|\+[0-9]+)$")
_CONTROL_RE = "[\\x00-\\x1f\\x7f]"


class Encoded:
    """One column's ids (int64, null where the cell is empty or refused) and masks of the cells
    refused: longer than :data:`MAX_LENGTH`, holding a control character, or a number a spreadsheet
    reformatted (``1.23457E+11``, ``1000.0``, ``1,000``: read as a key it would name another row)."""

    def __init__(self, ids: pa.Array, too_long: np.ndarray, bad_character: np.ndarray, mangled: np.ndarray) -> None:
        self.ids, self.too_long, self.bad_character, self.mangled = ids, too_long, bad_character, mangled

    @property
    def refused(self) -> np.ndarray:
        return self.too_long | self.bad_character | self.mangled


class KeyEncoder:
    """The ids of the keys one import meets, per entity (see the module docstring)."""

    def __init__(self, conn: sa.Connection | None) -> None:
        self.conn = conn
        self._ids: dict[str, dict[str, int]] = {}  # entity -> text key -> id (database and this import)
        self._next: dict[str, int] = {}  # entity -> the next negative id to give
        self._texts: dict[str, dict[int, str]] = {}  # entity -> id -> text key
        self.new: list[dict] = []  # source_keys rows this import adds

    def encode(self, entity: str, arr: pa.Array) -> Encoded:
        """The ids of the keys in ``arr`` (text or numbers as a file or a query gives them)."""
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        n = len(arr)
        none = np.zeros(n, dtype=bool)
        if pa.types.is_null(arr.type):
            return Encoded(pa.nulls(n, pa.int64()), none, none, none)
        if pa.types.is_floating(arr.type):  # a number cell: a key only while a whole number
            v = np.asarray(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
            whole = ~np.isnan(v) & (v == np.round(v)) & (np.abs(v) < 2**53)
            text = [str(int(x)) if w else (None if np.isnan(x) else repr(x)) for x, w in zip(v, whole, strict=True)]
            arr = pa.array(text, pa.string())
        elif not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
            arr = pc.cast(arr, pa.string())
        text = pc.utf8_trim_whitespace(arr)
        text = pc.if_else(pc.equal(text, "").fill_null(True), pa.scalar(None, pa.string()), text)
        if pc.all(pc.string_is_ascii(text)).as_py() is False:
            normal = pa.array([None if x is None else _nfkc(x) for x in text.to_pylist()], pa.string())
        else:
            normal = text
        plain = _mask(pc.match_substring_regex(normal, _PLAIN_RE))
        out = np.zeros(n, dtype=np.int64)
        valid = plain.copy()
        if plain.any():
            values = np.asarray(pc.cast(normal.filter(pa.array(plain)), pa.int64()).to_numpy(), dtype=np.int64)
            in_range = values <= INT_MAX
            idx = np.flatnonzero(plain)
            out[idx[in_range]] = values[in_range]
            plain[idx[~in_range]] = False  # a 64-bit number: a text key
            valid = plain.copy()
        present = ~_mask(pc.is_null(text))
        other = present & ~plain
        too_long = other & _mask(pc.greater(pc.utf8_length(text), MAX_LENGTH))
        bad_character = other & _mask(pc.match_substring_regex(text, _CONTROL_RE))
        mangled = other & _mask(pc.match_substring_regex(normal, _REFORMATTED_RE))
        keyed = other & ~too_long & ~bad_character & ~mangled
        if keyed.any():
            idx = np.flatnonzero(keyed)
            keys = text.filter(pa.array(keyed))
            uniq = pc.unique(keys)
            ids = np.asarray(self._ids_of(entity, uniq.to_pylist()), dtype=np.int64)
            out[idx] = ids[np.asarray(pc.index_in(keys, value_set=uniq).to_numpy(), dtype=np.int64)]
            valid |= keyed
        return Encoded(pa.array(out, pa.int64(), mask=~valid), too_long, bad_character, mangled)

    def _ids_of(self, entity: str, keys: list[str]) -> list[int]:
        """The id of each text key, a new one for a key met the first time."""
        known = self._known(entity)
        out = []
        for k in keys:
            i = known.get(k)
            if i is None:
                i = known[k] = self._next[entity]
                self._texts[entity][i] = k
                self._next[entity] -= 1
                self.new.append({"entity": entity, "id": i, "key": k})
            out.append(i)
        return out

    def _known(self, entity: str) -> dict[str, int]:
        if entity not in self._ids:
            known: dict[str, int] = {}
            if self.conn is not None and has_source_keys(self.conn):
                sk = schema.source_keys
                rows = self.conn.execute(sa.select(sk.c.key, sk.c.id).where(sk.c.entity == entity))
                known = {str(k): int(i) for k, i in rows}
            self._ids[entity] = known
            self._texts[entity] = {i: k for k, i in known.items()}
            self._next[entity] = min(known.values(), default=0) - 1
        return self._ids[entity]

    def text(self, entity: str, id_: int) -> str:
        """The key an id was given for (its number when it is its own key)."""
        if id_ >= 0:
            return str(id_)
        self._known(entity)
        return self._texts[entity].get(id_, str(id_))

    def save(self, conn: sa.Connection) -> int:
        """Record the keys this import gave ids to (in the import's transaction); returns how many."""
        if not self.new:
            return 0
        conn.execute(schema.source_keys.insert(), self.new)
        n, self.new = len(self.new), []
        return n


def _mask(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


__all__ = ["KeyEncoder", "Encoded"]
