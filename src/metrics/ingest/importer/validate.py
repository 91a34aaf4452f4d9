"""Check the rows of an import chunk by chunk: types, required values, allowed values, ranges,
order of times, references and duplicate keys, keeping what it has seen across chunks.

:class:`Validator` is built once per import with what the database already holds (keys of the
referenced tables, the values of open vocabularies) and then fed :class:`~.read.Chunk` objects;
each call returns the good rows (typed, in the table's column order) and a frame of problems:
``row``, ``column``, ``value``, ``code``, ``detail``. Reason texts come from the catalogue
(``import.reason.<code>``), so reports can be shown in Chinese or English.

The checks that need no memory of earlier chunks are :mod:`.row_checks` (vocabularies, ranges, order
of times, contradictions, month starts) and :mod:`.snapshot` (dates from a snapshot's tenure); the
keys let through so far are :mod:`.file_keys`.
Long because :class:`Validator` holds the state of one import across chunks (rows waiting for a parent
later in the file, keys of rejected rows, new codes, counters) and its per-chunk pass reads or updates
it at every step; the parts without that state live beside it (:mod:`.row_checks`, :mod:`.snapshot`,
:mod:`.file_keys`, :mod:`.key_sets`, :mod:`.known`, :mod:`.keys`, :mod:`.parse`, :mod:`.region_names`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from metrics.ingest.importer import columns as import_columns
from metrics.ingest.importer import mapping as import_mapping
from metrics.ingest.importer import spec
from metrics.ingest.importer.file_keys import FileKeys
from metrics.ingest.importer.headers import also_columns
from metrics.ingest.importer.key_sets import KeyIndex, SeenKeys, key_codes
from metrics.ingest.importer.keys import KeyEncoder
from metrics.ingest.importer.known import Known
from metrics.ingest.importer.parse import (
    ARROW_TYPES,
    control_characters,
    key_problems,
    kind_of,
    parse,
    parse_formatted,
    parse_month,
)
from metrics.ingest.importer.read import Chunk
from metrics.ingest.importer.region_names import NAME_LENGTH, RegionNames
from metrics.ingest.importer.row_checks import (
    TYPE_CODES,
    check_contradictions,
    check_month_starts,
    check_order,
    check_ranges,
    check_vocab,
    coalesce_text,
    int_limit,
    isnull,
    no_problems,
    translate,
)
from metrics.ingest.importer.snapshot import derive_dates
from metrics.model import plausible
from metrics.model.keys import ENTITIES, MAX_LENGTH
from metrics.present.masking import FREE_TEXT
from metrics.present.masking import mask as mask_text

if TYPE_CHECKING:
    from metrics.ingest.importer.create_customers import CustomerCreator

class Validator:
    """Checks chunks of one file for ``table``; remembers keys and new values across chunks."""

    def __init__(self, table: str, header_to_column: dict[str, str], headers: list[str], known: Known,
                 mapping: import_mapping.Mapping | None = None, snapshot_date: dt.date | None = None,
                 creator: CustomerCreator | None = None, encoder: KeyEncoder | None = None,
                 encoded: frozenset[str] = frozenset()) -> None:
        """``encoder`` turns the file's keys into ids (one per import, shared with the validator of
        the customers it creates); ``encoded``: columns given as ids already (created customers)."""
        self.table = table
        self.encoder = encoder or KeyEncoder(None)
        self.encoded = encoded
        self.sa_table = import_columns.TABLES[table]
        self.position = {col: headers.index(h) for h, col in header_to_column.items()}
        for col, h in also_columns(table, header_to_column, mapping or import_mapping.Mapping()).items():
            self.position[col] = headers.index(h)  # one header, several columns
        self.creator = creator  # create: customers (a tickets or surveys file)
        self._to_create = np.zeros(0, dtype=bool)
        self.known = known
        self.mapping = mapping or import_mapping.Mapping()
        self.snapshot_date = snapshot_date
        self.loaded = FileKeys(table)  # keys of the rows let through so far
        self.rejected_keys = SeenKeys()  # keys of rows this file rejected: their children are parent_rejected
        self.introduced: Counter[tuple[str, str]] = Counter()  # (column, new value) -> rows
        self.mangled: Counter[str] = Counter()  # column -> values that look spreadsheet-reformatted
        self.defaulted: Counter[str] = Counter()  # column -> cells filled from the mapping's defaults
        self.unlinked: Counter[str] = Counter()  # optional reference column -> rows loaded without the link
        self.unlinked_examples: dict[str, list[str]] = {}
        self.keys = set(import_columns.key_columns(table)) | set(spec.REFS.get(table, {}))
        self.windows = {c.name: plausible.window(table, c.name) for c in self.sa_table.columns
                        if kind_of(c) in ("date", "datetime")}
        self.self_refs = {c: key for c, (t, key) in spec.REFS.get(table, {}).items() if t == table}
        # key and reference columns whose values are the source's keys: column -> entity
        self.key_entity = {c: t for c, (t, _) in spec.REFS.get(table, {}).items() if t in ENTITIES}
        if table in ENTITIES:
            self.key_entity[ENTITIES[table]] = table
        self.pending: list[tuple[pa.Table, np.ndarray, pd.DataFrame, pa.Table]] = []
        self.finished_raw: tuple[pa.Table, np.ndarray] | None = None  # raw rows of finish()'s problems
        # region names (province, city, district) in place of region_id: found or created
        self.name_levels = [c for c in import_columns.REGION_NAME_COLUMNS if c in self.position
                            and table in import_columns.REGION_NAME_TABLES]
        self.region_names = (known.regions or RegionNames()) if self.name_levels else None
        vocab_of = {col: vocab for (t, col), vocab in spec.VOCAB.items() if t == table}
        self._aliases: dict[str, dict[str, str]] = {}
        for col, vocab in vocab_of.items():  # codes match whatever their case: HOTLINE, Hotline -> hotline
            aliases = {v.lower(): v for v in sorted(known.vocab.get(vocab, ()))}
            aliases.update(spec.value_aliases(vocab))
            self._aliases[col] = aliases
        for col, vocab in vocab_of.items():  # the mapping's labels name their codes too: 紧急 -> Critical
            for code, given in self.mapping.labels.get(vocab, {}).items():
                for key in ("zh", "en"):
                    if given.get(key) is not None:
                        self._aliases[col].setdefault(str(given[key]).lower(), code)
                self._aliases[col].setdefault(code.lower(), code)
        for col, values in self.mapping.values.items():
            aliases = self._aliases.setdefault(col, {})
            aliases.update({k.lower(): v for k, v in values.items()})
            aliases.update(values)

    def _source(self, data: pa.Table) -> dict[str, pa.Array]:
        """Each column's raw values: the file's, empty cells (or a missing column) filled with the
        mapping's default, and in snapshot mode start/end dates from tenure and the churn flag."""
        n = data.num_rows
        out: dict[str, pa.Array] = {col: data.column(i).combine_chunks() for col, i in self.position.items()}
        for col, value in self.mapping.defaults.items():
            created = import_columns.CREATED_CUSTOMER_COLUMNS
            if self.creator is not None and col in created and col not in self.sa_table.c:
                continue  # for the customers it creates: counted there
            if col in out:
                arr = out[col]
                text = arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())
                text = pc.utf8_trim_whitespace(text)
                empty = pc.or_kleene(pc.is_null(text), pc.equal(text, "")).fill_null(True)
                self.defaulted[col] += int(pc.sum(empty).as_py() or 0)
                out[col] = pc.if_else(empty, pa.scalar(value, pa.string()), text)
            else:
                self.defaulted[col] += n
                out[col] = pa.array([value] * n, pa.string())
        pair = import_columns.EITHER_COLUMNS.get(self.table)
        for one, other in (pair, pair[::-1]) if pair else ():  # a name in one language serves both
            if one in out:
                out[other] = out[one] if other not in out else coalesce_text(out[other], out[one])
        return out

    def _encode_keys(self, src: dict[str, pa.Array], reject: object
                     ) -> tuple[dict[str, pa.Array], dict[str, np.ndarray]]:
        """The ids of the file's keys and references (the mapping's ``values:`` applied first), and
        per column the cells refused (too long, a control character, a reformatted number)."""
        enc: dict[str, pa.Array] = {}
        refused: dict[str, np.ndarray] = {}
        for col, entity in self.key_entity.items():
            if col not in src:
                continue
            if col in self.encoded:
                enc[col] = pc.cast(src[col], pa.int64())
                continue
            arr = translate(src[col], self._aliases[col]) if col in self.mapping.values else src[col]
            e = self.encoder.encode(entity, arr)
            reject(e.too_long, col, "too_long", MAX_LENGTH)
            reject(e.bad_character, col, "bad_character")
            if e.mangled.any():
                self.mangled[col] += int(e.mangled.sum())
            reject(e.mangled, col, "mangled_number")
            enc[col], refused[col] = e.ids, e.refused
        return enc, refused

    def _region_ids(self, src: dict[str, pa.Array], enc: dict[str, pa.Array], reject: object) -> None:
        """``region_id`` from the row's region names where the file gives none (the mapping's
        ``values:`` apply to the names first): found among the regions or created."""
        names = {}
        for level in self.name_levels:
            arr = src.pop(level)
            if level in self._aliases:
                arr = translate(arr, self._aliases[level])
            names[level] = arr
        ids, too_long = self.region_names.resolve(names)
        for level in self.name_levels:
            length = pc.utf8_length(pc.utf8_trim_whitespace(pc.cast(names[level], pa.string())))
            long = np.asarray(pc.greater(length, NAME_LENGTH).fill_null(False).to_numpy(zero_copy_only=False),
                              dtype=bool)
            reject(too_long & long, level, "too_long", NAME_LENGTH)
        ids = pc.cast(ids, pa.int64())
        if "region_id" in self.position:  # an id the file gives wins over its names
            enc["region_id"] = pc.coalesce(enc["region_id"], ids)
        elif "region_id" in enc:  # the mapping's default: for rows that name no region
            enc["region_id"] = pc.coalesce(ids, enc["region_id"])
        else:
            enc["region_id"] = ids

    # -- per chunk ----------------------------------------------------------------------------
    def check(self, chunk: Chunk) -> tuple[pa.Table, np.ndarray, pd.DataFrame]:
        """Good rows (typed table), their file rows, and the problems of this chunk."""
        data, rows = chunk.data, chunk.rows
        n = data.num_rows
        bad = np.zeros(n, dtype=bool)
        problems: list[pd.DataFrame] = []
        raw: dict[str, pa.Array] = {}

        def reject(mask: np.ndarray, column: str, code: str, detail: object = "") -> None:
            mask = np.asarray(mask, dtype=bool)
            if not mask.any():
                return
            idx = np.flatnonzero(mask)
            if column in raw:
                vals = raw[column].take(pa.array(idx)).to_pylist()
                values = ["" if v is None else str(v) for v in vals]
                if column in FREE_TEXT.get(self.table, ()):  # customers' own words: masked as on every page
                    values = [mask_text(v) for v in values]
            else:
                values = [""] * len(idx)
            det = detail[idx] if isinstance(detail, np.ndarray) else [str(detail)] * len(idx)
            problems.append(pd.DataFrame({"row": rows[idx], "column": column, "value": values, "code": code,
                                          "detail": [str(d) for d in det]}))
            bad[mask] = True

        src = self._source(data)
        raw.update(src)
        enc, refused = self._encode_keys(src, reject)
        if self.creator is not None and self.creator.anonymous:  # one new customer per row
            key = import_columns.key_columns(self.table)[0]
            enc["customer_id"] = self.creator.ids(enc[key] if key in enc else pa.nulls(n, pa.int64()))
            raw["customer_id"] = pc.cast(enc["customer_id"], pa.string())
        if self.region_names is not None:
            self._region_ids(src, enc, reject)
        if self.snapshot_date is not None:
            derive_dates(src, self.snapshot_date, self._aliases.get("churned"), reject)
        cols: dict[str, pa.Array] = {}
        too_long: dict[str, np.ndarray] = {}
        for col in self.sa_table.columns:
            kind = kind_of(col)
            if col.name in enc:  # a key or a reference: ids from the source's keys
                cols[col.name] = enc[col.name]
                if not col.nullable:
                    reject(isnull(enc[col.name]) & ~refused.get(col.name, np.zeros(n, dtype=bool)),
                           col.name, "missing")
                continue
            if col.name not in src:
                cols[col.name] = pa.nulls(n, ARROW_TYPES[kind])
                continue
            arr = src[col.name]
            raw.setdefault(col.name, arr)
            trimmed = col.name in self._aliases and kind == "str"
            if trimmed or col.name in self.mapping.values:  # values: apply to any column (names -> ids too)
                arr = translate(arr, self._aliases[col.name])
            if col.name in self.mapping.formats:
                out, type_bad = parse_formatted(arr, kind, self.mapping.formats[col.name])
            elif (self.table, col.name) in spec.MONTH_COLUMNS:
                out, type_bad = parse_month(arr)
            else:
                out, type_bad = parse(arr, kind, getattr(col.type, "length", None), trimmed)
            if kind == "str" and (self.table, col.name) in spec.VOCAB:
                too_long[col.name] = type_bad  # an unknown code is reported as unknown, not as too long
            else:
                code = "too_long" if kind == "str" else TYPE_CODES[kind]
                reject(type_bad, col.name, code, getattr(col.type, "length", "") or "")
            cols[col.name] = out
            # a key mapped under values: is checked as mapped (SZ -> 2), reported as written
            self._check_value(col, kind, arr if col.name in self.mapping.values else raw[col.name], out,
                              type_bad, reject)
            if not col.nullable:
                reject(isnull(out) & ~type_bad, col.name, "missing")

        unknown, introduced = check_vocab(self.table, cols, self.known.vocab, set(self._aliases), reject)
        for name, long in too_long.items():
            reject(long & ~unknown.get(name, np.zeros(n, dtype=bool)), name, "too_long",
                   getattr(self.sa_table.c[name].type, "length", "") or "")
        check_ranges(self.table, cols, reject)
        check_order(self.table, cols, reject)
        check_contradictions(self.table, cols, raw, reject)
        check_month_starts(self.table, cols, reject)
        self_fail, unlinked = self._check_refs(cols, reject)
        first = self.loaded.first_rows(cols, rows, bad)
        reject((first > 0) & ~bad, self.loaded.label, "duplicate_key", first)  # detail: the first row
        if self.creator is not None:  # the customers of the rows that load, created
            ids = np.asarray(cols["customer_id"].fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
            names = {lv: src[lv] for lv in self.creator.levels}
            failed, why = self.creator.create(ids, cols[self.creator.time_column], names, self._to_create & ~bad)
            reject(failed, "customer_id", "customer_not_created", np.array(why, dtype=object))

        problems_df = pd.concat(problems, ignore_index=True) if problems else no_problems()
        typed = pa.table([cols[c.name] for c in self.sa_table.columns], names=[c.name for c in self.sa_table.columns])
        keep = ~bad
        if self.self_refs and bad.any():
            codes = key_codes(self.table, cols)
            if codes is not None:
                known_key = bad & ~isnull(cols[import_columns.key_columns(self.table)[0]])
                self.rejected_keys.add(codes[known_key], rows[known_key].astype(np.int64))
        if self_fail is not None and (self_fail & keep).any():
            wait = self_fail & keep
            self.pending.append((typed.filter(pa.array(wait)), rows[wait],
                                 pd.DataFrame({"value": [str(v) for v in raw[next(iter(self.self_refs))]
                                                        .filter(pa.array(wait)).to_pylist()]}),
                                 data.filter(pa.array(wait))))
            keep &= ~wait
        for name, mask in introduced:  # only values of rows that load are new values of the database
            counts = pc.value_counts(cols[name].filter(pa.array(mask & keep))).to_pylist()
            for c in counts:
                self.introduced[(name, c["values"])] += c["counts"]
        for name, mask in unlinked.items():
            loaded = mask & keep
            self.unlinked[name] += int(loaded.sum())
            examples = self.unlinked_examples.setdefault(name, [])
            if loaded.any() and len(examples) < 5:
                for v in raw[name].filter(pa.array(loaded)).to_pylist():
                    if str(v) not in examples and len(examples) < 5:
                        examples.append(str(v))
        good = typed if keep.all() else typed.filter(pa.array(keep))
        self.loaded.remember(good, rows[keep])
        return good, rows[keep], problems_df

    def finish(self) -> tuple[pa.Table, np.ndarray, pd.DataFrame]:
        """Rows held back for a reference to a later row of the same file: good now, or rejected
        (``parent_rejected`` when the row they name was rejected by this file, else
        ``unknown_reference``). Their raw rows are in :attr:`finished_raw`."""
        empty = pa.table({c.name: pa.array([], ARROW_TYPES[kind_of(c)]) for c in self.sa_table.columns})
        self.finished_raw = None
        if not self.pending:
            return empty, np.zeros(0, dtype=np.int64), no_problems()
        col, key = next(iter(self.self_refs.items()))
        db = self.known.keys.get(f"{self.table}.{key}", KeyIndex())
        goods, good_rows = [], []
        pending = self.pending
        changed = True
        while changed and pending:
            changed, rest = False, []
            for table, rows, raw, data in pending:
                ref = np.asarray(table.column(col).fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
                ok = db.contains(ref) | self.loaded.seen.contains(ref)
                if ok.any():
                    changed = True
                    t_ok = table.filter(pa.array(ok))
                    goods.append(t_ok)
                    good_rows.append(rows[ok])
                    self.loaded.remember(t_ok, rows[ok])
                if (~ok).any():
                    rest.append((table.filter(pa.array(~ok)), rows[~ok], raw[~ok].reset_index(drop=True),
                                 data.filter(pa.array(~ok))))
            pending = rest
        problems = []
        changed = True
        while changed and pending:  # children (and grandchildren) of rows this file rejected
            changed, rest = False, []
            for table, rows, raw, data in pending:
                ref = np.asarray(table.column(col).fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
                orphan = self.rejected_keys.contains(ref)
                if orphan.any():
                    changed = True
                    problems.append(pd.DataFrame({"row": rows[orphan], "column": col,
                                                  "value": raw["value"][orphan].to_numpy(),
                                                  "code": "parent_rejected", "detail": self.rejected_keys.lookup(
                                                      ref[orphan]).astype(str)}))
                    own = key_codes(self.table, {k: table.column(k).combine_chunks()
                                                 for k in import_columns.key_columns(self.table)})
                    self.rejected_keys.add(own[orphan], rows[orphan].astype(np.int64))
                if (~orphan).any():
                    rest.append((table.filter(pa.array(~orphan)), rows[~orphan],
                                 raw[~orphan].reset_index(drop=True), data.filter(pa.array(~orphan))))
            pending = rest
        problems += [pd.DataFrame({"row": rows, "column": col, "value": raw["value"], "code": "unknown_reference",
                                   "detail": self.table}) for _, rows, raw, _ in pending]
        datas = [d for *_, d in self.pending]
        self.finished_raw = (pa.concat_tables(datas), np.concatenate([r for _, r, _, _ in self.pending]))
        self.pending = []
        good = pa.concat_tables(goods) if goods else empty
        rows = np.concatenate(good_rows) if good_rows else np.zeros(0, dtype=np.int64)
        return good, rows, pd.concat(problems, ignore_index=True) if problems else no_problems()

    # -- checks -------------------------------------------------------------------------------
    def _check_value(self, col: sa.Column, kind: str, raw: pa.Array, out: pa.Array, type_bad: np.ndarray,
                     reject: object) -> None:
        """Checks of one value on its own: keys written as digits, integers the column can hold,
        dates in the plausible window, text without control characters."""
        present = ~isnull(out) & ~type_bad
        if kind == "int":
            if col.name in self.keys:
                not_key, sci = key_problems(raw)
                if sci.any():
                    self.mangled[col.name] += int(sci.sum())
                reject(sci & ~type_bad, col.name, "mangled_number")
                reject(not_key & ~sci & ~type_bad, col.name, "not_key")
                present &= ~not_key
            limit = int_limit(col)
            v = out.fill_null(0).to_numpy(zero_copy_only=False)
            reject(present & ((v > limit) | (v < -limit - 1)), col.name, "out_of_range", f"{-limit - 1}–{limit}")
        elif kind in ("date", "datetime"):
            w = self.windows[col.name]
            lo, hi = (w.earliest, w.latest + dt.timedelta(days=1))
            if kind == "datetime":
                lo, hi = (pa.scalar(dt.datetime.combine(d, dt.time()), pa.timestamp("us")) for d in (lo, hi))
            else:
                lo, hi = pa.scalar(lo, pa.date32()), pa.scalar(hi, pa.date32())
            outside = pc.or_(pc.less(out, lo), pc.greater_equal(out, hi)).fill_null(False)
            reject(np.asarray(outside.to_numpy(zero_copy_only=False), dtype=bool) & present, col.name,
                   "implausible_date", w.text())
        elif kind == "str":
            reject(control_characters(out) & present, col.name, "bad_character")

    def _check_refs(self, cols: dict[str, pa.Array], reject: object
                    ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """Reject references to rows that exist neither in the database nor in the file; return the
        rows waiting for a later row of the same file, and per optional reference (a survey's
        ticket) the rows whose link is dropped (stored NULL) instead."""
        self_fail = None
        unlinked: dict[str, np.ndarray] = {}
        for name, (target, key) in spec.REFS.get(self.table, {}).items():
            if name not in cols:
                continue
            arr = cols[name]
            present = ~isnull(arr)
            if not present.any():
                continue
            ref = np.asarray(arr.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
            found = self.known.keys.get(f"{target}.{key}", KeyIndex()).contains(ref)
            if target == "regions" and self.region_names is not None:
                found |= self.region_names.is_new(ref)  # created from the names in this import
            if target == self.table:
                found |= self.loaded.seen.contains(ref)
                self_fail = present & ~found
                continue
            if name == "customer_id" and self.creator is not None:
                self._to_create = present & ~found  # created, not rejected
                continue
            if (self.table, name) in spec.OPTIONAL_REFS:
                drop = present & ~found
                if drop.any():
                    cols[name] = pc.if_else(pa.array(drop), pa.scalar(None, arr.type), arr)
                    unlinked[name] = drop
                continue
            reject(present & ~found, name, "unknown_reference", target)
        return self_fail, unlinked


__all__ = ["Validator"]
