"""Regions from the names a customers file carries (province, city, district columns, any of them)
instead of a ``region_id``: each row's names are found among the regions the database holds, or
created under their parents, and the row gets the id of its deepest named region.

Names match ``name_zh`` or ``name_en`` case-insensitively, ignoring full-width forms and spaces
(``深圳``, ``深 圳``, ``ＳＨＥＮＺＨＥＮ`` and ``shenzhen`` are one city); failing that, without a
trailing 省/市/区/县 (``深圳`` finds ``深圳市``). A name is looked for
among the children of the row's region one level up when the file gives that level, else among all
regions of its level (the lowest id when several share the name). A region not found is created:
a new id above the largest one in use, the level of its column, the name as first written (half-width,
spaces collapsed) in both languages.
Only regions that rows which load sit in (or lie under) are written — in the import's transaction,
before those rows — and listed in the summary; a dry run lists them and writes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from metrics.model import schema

LEVEL_COLUMNS: tuple[str, ...] = schema.REGION_LEVELS  # pseudo-columns of a customers file, top down
NAME_LENGTH = 80  # regions.name_zh / name_en
LEVEL_SUFFIXES = "省市区县"


def normalise_name(text: object) -> str:
    """A region name compared loosely: NFKC (full-width to half-width), no spaces, any case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).casefold()


def short_name(normalised: str) -> str:
    """The name without its Chinese level suffix (``广州市`` → ``广州``), when two characters remain:
    a second, looser match, tried only when the full name matches nothing."""
    return normalised[:-1] if len(normalised) > 2 and normalised[-1] in LEVEL_SUFFIXES else normalised


@dataclass(frozen=True)
class NewRegion:
    region_id: int
    name: str
    level: str
    parent_id: int | None

    def row(self) -> dict:
        return {"region_id": self.region_id, "name_en": self.name, "name_zh": self.name,
                "parent_id": self.parent_id, "level": self.level}


class RegionNames:
    """The regions of the database (read once per import) and those this import creates."""

    def __init__(self, rows: list | None = None) -> None:
        self.parent: dict[int, int | None] = {}
        self.names: dict[int, str] = {}  # id -> a name to show in the summary
        self.under: dict[tuple[int | None, str, str], int] = {}  # (parent, level, name) -> id
        self.anywhere: dict[tuple[str, str], int] = {}  # (level, name) -> lowest id
        self.under_short: dict[tuple[int | None, str, str], int] = {}  # the same by short_name()
        self.anywhere_short: dict[tuple[str, str], int] = {}
        self.new: dict[int, NewRegion] = {}  # created by this import, in order
        self.written: list[NewRegion] = []  # of those, the ones rows that load sit in
        self._written_ids: set[int] = set()
        self.next_id = 1
        for r in sorted(rows or [], key=lambda r: r[0]):
            rid, name_en, name_zh, parent_id, level = r
            self._add(int(rid), parent_id, level, name_zh or name_en, (name_zh, name_en))
            self.next_id = max(self.next_id, int(rid) + 1)

    @classmethod
    def read(cls, conn: sa.Connection | None) -> RegionNames:
        """The database's regions (none without a database or a regions table)."""
        if conn is None or not sa.inspect(conn).has_table(schema.regions.name):
            return cls()
        r = schema.regions.c
        return cls(conn.execute(sa.select(r.region_id, r.name_en, r.name_zh, r.parent_id, r.level)).all())

    def _add(self, rid: int, parent: int | None, level: str, shown: str, names: tuple) -> None:
        self.parent[rid] = None if parent is None else int(parent)
        self.names[rid] = str(shown)
        for name in names:
            if name is None or not str(name).strip():
                continue
            n = normalise_name(name)
            self.under.setdefault((self.parent[rid], level, n), rid)
            self.anywhere.setdefault((level, n), rid)
            self.under_short.setdefault((self.parent[rid], level, short_name(n)), rid)
            self.anywhere_short.setdefault((level, short_name(n)), rid)

    def resolve(self, names: dict[str, pa.Array]) -> tuple[pa.Array, np.ndarray]:
        """The region id (as text, null where every name is empty) of each row, from the rows'
        names per level (``province``, ``city``, ``district``: the columns the file has), and a
        mask of the rows with a name longer than a region name may be (no id for those)."""
        levels = [lv for lv in LEVEL_COLUMNS if lv in names]
        n = len(names[levels[0]])
        text = {}
        for lv in levels:
            arr = names[lv]
            arr = arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())
            text[lv] = pc.utf8_trim_whitespace(arr).to_pylist()
        ids: list[str | None] = [None] * n
        too_long = np.zeros(n, dtype=bool)
        memo: dict[tuple, int | None] = {}
        for i in range(n):
            key = tuple(text[lv][i] or None for lv in levels)
            if any(k is not None and len(k) > NAME_LENGTH for k in key):
                too_long[i] = True
                continue
            if key not in memo:
                memo[key] = self._row(dict(zip(levels, key, strict=True)))
            rid = memo[key]
            ids[i] = None if rid is None else str(rid)
        return pa.array(ids, pa.string()), too_long

    def _row(self, names: dict[str, str | None]) -> int | None:
        """The deepest region the names of one row lead to, found or created top down."""
        here: int | None = None
        above_given = False  # whether a level above was named in this row
        for level, name in names.items():
            if name is None:
                continue
            n = normalise_name(name)
            if above_given:
                rid = self.under.get((here, level, n), self.under_short.get((here, level, short_name(n))))
            else:
                rid = self.anywhere.get((level, n), self.anywhere_short.get((level, short_name(n))))
            if rid is None:
                rid = self.next_id
                self.next_id += 1
                name = " ".join(unicodedata.normalize("NFKC", name).split())  # as first written, half-width
                self.new[rid] = NewRegion(rid, name, level, here)
                self._add(rid, here, level, name, (name,))
            here, above_given = rid, True
        return here

    def is_new(self, ids: np.ndarray) -> np.ndarray:
        """Whether each id is one this import creates."""
        if not self.new:
            return np.zeros(len(ids), dtype=bool)
        return np.isin(np.asarray(ids, dtype=np.int64), np.fromiter(self.new, dtype=np.int64))

    def take_used(self, region_ids: pa.Array | pa.ChunkedArray) -> list[NewRegion]:
        """The new regions that ``region_ids`` (of rows about to load) sit in or lie under, parents
        first, each once per import: the rows to insert before those rows."""
        if not self.new:
            return []
        out: list[NewRegion] = []
        for rid in pc.unique(region_ids).to_pylist():
            chain = []
            node = rid
            while node is not None and node in self.new and node not in self._written_ids:
                chain.append(self.new[node])
                self._written_ids.add(node)
                node = self.new[node].parent_id
            out.extend(reversed(chain))
        self.written.extend(out)
        return out

    def describe(self, region: NewRegion) -> str:
        """``广东 › 深圳 (city, id 12)``: the region with its ancestors' names."""
        path, node = [region.name], region.parent_id
        while node is not None:
            path.append(self.names.get(node, str(node)))
            node = self.parent.get(node)
        return f"{' › '.join(reversed(path))} ({region.level}, id {region.region_id})"
