"""Check the rows of an import chunk by chunk: types, required values, allowed values, ranges,
order of times, references and duplicate keys, keeping what it has seen across chunks.

:class:`Validator` is built once per import with what the database already holds (keys of the
referenced tables, the values of open vocabularies) and then fed :class:`~.read.Chunk` objects;
each call returns the good rows (typed, in the table's column order) and a frame of problems:
``row``, ``column``, ``value``, ``code``, ``detail``. Reason texts come from the catalogue
(``import.reason.<code>``), so reports can be shown in Chinese or English.

Why one module of about 600 lines: :class:`Validator` holds the state of one import across chunks
(keys seen, rows waiting for a parent later in the file, new codes, counters) and every check reads
or updates it; the parts without that state live beside it (:mod:`.key_sets`, :mod:`.known`,
:mod:`.keys`, :mod:`.parse`, :mod:`.region_names`).
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

from metrics.ingest.importer import spec
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
from metrics.ingest.importer.result import PROBLEM_COLUMNS
from metrics.model import plausible
from metrics.model.keys import ENTITIES, MAX_LENGTH
from metrics.present.masking import FREE_TEXT
from metrics.present.masking import mask as mask_text

if TYPE_CHECKING:
    from metrics.ingest.importer.create_customers import CustomerCreator

TYPE_CODES = {"int": "not_integer", "float": "not_number", "bool": "not_boolean", "date": "not_date",
              "datetime": "not_datetime"}
# the integer types of the data model and the values every supported database can store in them
INT_LIMITS = ((sa.BigInteger, 2**63 - 1), (sa.SmallInteger, 2**15 - 1), (sa.Integer, 2**31 - 1))


def int_limit(col: sa.Column) -> int:
    """The largest value ``col`` holds on every supported database (INTEGER is 32-bit on all)."""
    return next(limit for ty, limit in INT_LIMITS if isinstance(col.type, ty))


class Validator:
    """Checks chunks of one file for ``table``; remembers keys and new values across chunks."""

    def __init__(self, table: str, header_to_column: dict[str, str], headers: list[str], known: Known,
                 mapping: spec.Mapping | None = None, snapshot_date: dt.date | None = None,
                 creator: CustomerCreator | None = None, encoder: KeyEncoder | None = None,
                 encoded: frozenset[str] = frozenset()) -> None:
        """``encoder`` turns the file's keys into ids (one per import, shared with the validator of
        the customers it creates); ``encoded``: columns given as ids already (created customers)."""
        self.table = table
        self.encoder = encoder or KeyEncoder(None)
        self.encoded = encoded
        self.sa_table = spec.TABLES[table]
        self.position = {col: headers.index(h) for h, col in header_to_column.items()}
        for col, h in also_columns(table, header_to_column, mapping or spec.Mapping()).items():
            self.position[col] = headers.index(h)  # one header, several columns
        self.creator = creator  # create: customers (a tickets or surveys file)
        self._to_create = np.zeros(0, dtype=bool)
        self.known = known
        self.mapping = mapping or spec.Mapping()
        self.snapshot_date = snapshot_date
        self.seen = SeenKeys()
        self.rejected_keys = SeenKeys()  # keys of rows this file rejected: their children are parent_rejected
        self.seen_other: dict[tuple, int] = {}  # non-numeric keys
        self.introduced: Counter[tuple[str, str]] = Counter()  # (column, new value) -> rows
        self.mangled: Counter[str] = Counter()  # column -> values that look spreadsheet-reformatted
        self.defaulted: Counter[str] = Counter()  # column -> cells filled from the mapping's defaults
        self.unlinked: Counter[str] = Counter()  # optional reference column -> rows loaded without the link
        self.unlinked_examples: dict[str, list[str]] = {}
        self.keys = set(spec.key_columns(table)) | set(spec.REFS.get(table, {}))
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
        self.name_levels = [c for c in spec.REGION_NAME_COLUMNS if c in self.position
                            and table in spec.REGION_NAME_TABLES]
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
            if self.creator is not None and col in spec.CREATED_CUSTOMER_COLUMNS and col not in self.sa_table.c:
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
        pair = spec.EITHER_COLUMNS.get(self.table)
        for one, other in (pair, pair[::-1]) if pair else ():  # a name in one language serves both
            if one in out:
                out[other] = out[one] if other not in out else _coalesce_text(out[other], out[one])
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
            arr = self._translate(src[col], self._aliases[col]) if col in self.mapping.values else src[col]
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
                arr = self._translate(arr, self._aliases[level])
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

    def _snapshot(self, src: dict[str, pa.Array], reject: object) -> None:
        """Snapshot extract: start_date = snapshot - tenure (calendar months or days), end_date =
        the snapshot date for churned customers; a date the file gives itself wins."""
        tenure_col = "tenure_months" if "tenure_months" in src else "tenure_days"
        tenure, bad = parse(src[tenure_col], "int")
        reject(bad, tenure_col, "not_integer")
        flag = src["churned"]
        if "churned" in self._aliases:  # the mapping's values: for the flag ({Left: yes, Active: no})
            flag = self._translate(flag, self._aliases["churned"])
        churned, cbad = parse(flag, "bool")
        reject(cbad, "churned", "not_boolean")
        reject(_isnull(churned) & ~cbad, "churned", "missing")
        reject(_isnull(tenure) & ~bad, tenure_col, "missing")
        n_t = np.asarray(tenure.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
        limit = 1200 if tenure_col == "tenure_months" else 36_600
        too_big = (n_t < 0) | (n_t > limit)
        reject(too_big & ~_isnull(tenure), tenure_col, "out_of_range", f"0–{limit}")
        n_t = np.where(too_big, 0, n_t)
        snap = pd.Timestamp(self.snapshot_date)
        if tenure_col == "tenure_days":
            start = snap - pd.to_timedelta(n_t, unit="D")
        else:  # calendar months back, the day of the month kept (clipped to the month's last day)
            total = snap.year * 12 + snap.month - 1 - n_t
            first = pd.to_datetime(pd.DataFrame({"year": total // 12, "month": total % 12 + 1, "day": 1}))
            day = np.minimum(snap.day, first.dt.days_in_month.to_numpy())
            start = first + pd.to_timedelta(day - 1, unit="D")
        start_text = pa.array(pd.Series(start).dt.strftime("%Y-%m-%d"), pa.string())
        start_text = pc.if_else(pa.array(_isnull(tenure)), pa.scalar(None, pa.string()), start_text)
        is_churned = np.asarray(churned.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
        end_text = pa.array(np.where(is_churned, snap.strftime("%Y-%m-%d"), None), pa.string())
        for col, computed in (("start_date", start_text), ("end_date", end_text)):
            if col in src:
                given = pc.utf8_trim_whitespace(pc.cast(src[col], pa.string()))
                given = pc.if_else(pc.equal(given, "").fill_null(True), pa.scalar(None, pa.string()), given)
                src[col] = pc.coalesce(given, computed)
            else:
                src[col] = computed

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
            key = spec.key_columns(self.table)[0]
            enc["customer_id"] = self.creator.ids(enc[key] if key in enc else pa.nulls(n, pa.int64()))
            raw["customer_id"] = pc.cast(enc["customer_id"], pa.string())
        if self.region_names is not None:
            self._region_ids(src, enc, reject)
        if self.snapshot_date is not None:
            self._snapshot(src, reject)
        cols: dict[str, pa.Array] = {}
        too_long: dict[str, np.ndarray] = {}
        for col in self.sa_table.columns:
            kind = kind_of(col)
            if col.name in enc:  # a key or a reference: ids from the source's keys
                cols[col.name] = enc[col.name]
                if not col.nullable:
                    reject(_isnull(enc[col.name]) & ~refused.get(col.name, np.zeros(n, dtype=bool)),
                           col.name, "missing")
                continue
            if col.name not in src:
                cols[col.name] = pa.nulls(n, ARROW_TYPES[kind])
                continue
            arr = src[col.name]
            raw.setdefault(col.name, arr)
            trimmed = col.name in self._aliases and kind == "str"
            if trimmed or col.name in self.mapping.values:  # values: apply to any column (names -> ids too)
                arr = self._translate(arr, self._aliases[col.name])
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
                reject(_isnull(out) & ~type_bad, col.name, "missing")

        unknown, introduced = self._check_vocab(cols, reject)
        for name, long in too_long.items():
            reject(long & ~unknown.get(name, np.zeros(n, dtype=bool)), name, "too_long",
                   getattr(self.sa_table.c[name].type, "length", "") or "")
        self._check_ranges(cols, reject)
        self._check_order(cols, reject)
        self._check_contradictions(cols, raw, reject)
        for (tbl, name) in spec.MONTH_COLUMNS:
            if tbl == self.table:
                day = pc.day(cols[name]).to_numpy(zero_copy_only=False)
                reject(~_isnull(cols[name]) & (np.nan_to_num(np.asarray(day, dtype=float), nan=1) != 1),
                       name, "not_month_start")
        self_fail, unlinked = self._check_refs(cols, reject)
        self._check_duplicates(cols, rows, bad, reject)
        if self.creator is not None:  # the customers of the rows that load, created
            ids = np.asarray(cols["customer_id"].fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
            names = {lv: src[lv] for lv in self.creator.levels}
            failed, why = self.creator.create(ids, cols[self.creator.time_column], names, self._to_create & ~bad)
            reject(failed, "customer_id", "customer_not_created", np.array(why, dtype=object))

        problems_df = pd.concat(problems, ignore_index=True) if problems else _no_problems()
        typed = pa.table([cols[c.name] for c in self.sa_table.columns], names=[c.name for c in self.sa_table.columns])
        keep = ~bad
        if self.self_refs and bad.any():
            codes = key_codes(self.table, cols)
            if codes is not None:
                known_key = bad & ~_isnull(cols[spec.key_columns(self.table)[0]])
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
        self._remember(good, rows[keep])
        return good, rows[keep], problems_df

    def finish(self) -> tuple[pa.Table, np.ndarray, pd.DataFrame]:
        """Rows held back for a reference to a later row of the same file: good now, or rejected
        (``parent_rejected`` when the row they name was rejected by this file, else
        ``unknown_reference``). Their raw rows are in :attr:`finished_raw`."""
        empty = pa.table({c.name: pa.array([], ARROW_TYPES[kind_of(c)]) for c in self.sa_table.columns})
        self.finished_raw = None
        if not self.pending:
            return empty, np.zeros(0, dtype=np.int64), _no_problems()
        col, key = next(iter(self.self_refs.items()))
        db = self.known.keys.get(f"{self.table}.{key}", KeyIndex())
        goods, good_rows = [], []
        pending = self.pending
        changed = True
        while changed and pending:
            changed, rest = False, []
            for table, rows, raw, data in pending:
                ref = np.asarray(table.column(col).fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
                ok = db.contains(ref) | self.seen.contains(ref)
                if ok.any():
                    changed = True
                    t_ok = table.filter(pa.array(ok))
                    goods.append(t_ok)
                    good_rows.append(rows[ok])
                    self._remember(t_ok, rows[ok])
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
                                                 for k in spec.key_columns(self.table)})
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
        return good, rows, pd.concat(problems, ignore_index=True) if problems else _no_problems()

    # -- checks -------------------------------------------------------------------------------
    def _check_value(self, col: sa.Column, kind: str, raw: pa.Array, out: pa.Array, type_bad: np.ndarray,
                     reject: object) -> None:
        """Checks of one value on its own: keys written as digits, integers the column can hold,
        dates in the plausible window, text without control characters."""
        present = ~_isnull(out) & ~type_bad
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

    @staticmethod
    def _translate(arr: pa.Array, aliases: dict[str, str]) -> pa.Array:
        """Trimmed, '' as null, display names and mapped values replaced: done on the distinct values."""
        text = arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())
        uniq = pc.unique(text).to_pylist()
        new = []
        for u in uniq:
            v = u.strip() if isinstance(u, str) else u
            new.append(aliases.get(v, aliases.get(v.lower(), v)) if v else None)
        if new == uniq:
            return text
        return pa.array(new, pa.string()).take(pc.index_in(text, value_set=pa.array(uniq, pa.string())))

    def _check_vocab(self, cols: dict[str, pa.Array], reject: object
                     ) -> tuple[dict[str, np.ndarray], list[tuple[str, np.ndarray]]]:
        """Reject values outside the vocabularies; return the masks of rejected unknown values per
        column, and of new values (home tables), which are counted once the row is known to load."""
        unknown_masks: dict[str, np.ndarray] = {}
        introduced: list[tuple[str, np.ndarray]] = []
        for (tbl, name), vocab in spec.VOCAB.items():
            if tbl != self.table or name not in cols or name not in self._aliases:
                continue
            arr = cols[name]
            known = self.known.vocab.get(vocab, set())
            uniq = [u for u in pc.unique(arr).to_pylist() if u is not None]
            unknown = [u for u in uniq if u not in known]
            if not unknown:
                continue
            mask = np.asarray(pc.is_in(arr, value_set=pa.array(unknown, pa.string())).to_numpy(
                zero_copy_only=False), dtype=bool)
            if vocab not in spec.STRICT_VOCABS and vocab != "metric" and self.table in spec.HOME_TABLES.get(vocab, ()):
                introduced.append((name, mask))
                continue
            code = "not_allowed" if vocab in spec.STRICT_VOCABS or vocab == "metric" else "unknown_value"
            reject(mask, name, code, ", ".join(sorted(known)[:30]))
            unknown_masks[name] = mask
        return unknown_masks, introduced

    def _check_ranges(self, cols: dict[str, pa.Array], reject: object) -> None:
        for (tbl, name), (lo, hi) in spec.RANGES.items():
            if tbl != self.table:
                continue
            v = np.asarray(pc.cast(cols[name], pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
            out = np.zeros(len(v), dtype=bool)
            if lo is not None:
                out |= v < lo
            if hi is not None:
                out |= v > hi
            detail = f"{'' if lo is None else _num(lo)}–{'' if hi is None else _num(hi)}"
            reject(out & ~np.isnan(v), name, "out_of_range", detail)

    def _check_order(self, cols: dict[str, pa.Array], reject: object) -> None:
        for later, earlier in spec.ORDER.get(self.table, ()):
            a, b = cols[later], cols[earlier]
            less = pc.less(a, b).fill_null(False).to_numpy(zero_copy_only=False)
            reject(np.asarray(less, dtype=bool), later, "before", earlier)
        for name, bound in spec.NOT_ABOVE.get(self.table, ()):  # a score above its maximum
            more = pc.greater(cols[name], cols[bound]).fill_null(False).to_numpy(zero_copy_only=False)
            reject(np.asarray(more, dtype=bool), name, "above", bound)

    def _check_contradictions(self, cols: dict[str, pa.Array], raw: dict[str, pa.Array], reject: object) -> None:
        """A row whose column holds a value while another column is given (spec.CONTRADICTIONS)."""
        for name, value, other, code in spec.CONTRADICTIONS.get(self.table, ()):
            given = ~_isnull(cols[other])
            if name not in cols or not given.any():
                continue
            mask = np.asarray(pc.equal(cols[name], value).fill_null(False).to_numpy(zero_copy_only=False),
                              dtype=bool) & given
            if mask.any():
                shown = raw.get(other, cols[other])
                reject(mask, name, code, np.array(["" if v is None else str(v) for v in shown.to_pylist()],
                                                  dtype=object))

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
            present = ~_isnull(arr)
            if not present.any():
                continue
            ref = np.asarray(arr.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)
            found = self.known.keys.get(f"{target}.{key}", KeyIndex()).contains(ref)
            if target == "regions" and self.region_names is not None:
                found |= self.region_names.is_new(ref)  # created from the names in this import
            if target == self.table:
                found |= self.seen.contains(ref)
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

    def _check_duplicates(self, cols: dict[str, pa.Array], rows: np.ndarray, bad: np.ndarray,
                          reject: object) -> None:
        codes = key_codes(self.table, cols)
        key = spec.key_columns(self.table)
        if codes is None:
            first = np.zeros(len(rows), dtype=np.int64)
            tuples = list(zip(*(cols[k].to_pylist() for k in key), strict=True))
            local: dict[tuple, int] = {}
            for i, tup in enumerate(tuples):
                if bad[i]:
                    continue
                prev = self.seen_other.get(tup) or local.get(tup)
                if prev:
                    first[i] = prev
                else:
                    local[tup] = int(rows[i])
        else:
            first = self.seen.lookup(codes)
            s = pd.Series(codes)
            dup_in_chunk = s.where(~bad).duplicated(keep="first").to_numpy() & ~bad
            if dup_in_chunk.any():
                firsts = pd.Series(rows).where(~bad).groupby(s.where(~bad)).transform("first")
                first = np.where(dup_in_chunk & (first == 0), firsts.fillna(0).to_numpy(dtype=np.int64), first)
        mask = (first > 0) & ~bad
        reject(mask, key[0] if len(key) == 1 else "+".join(key), "duplicate_key", first)  # detail: first row

    def _remember(self, good: pa.Table, rows: np.ndarray) -> None:
        if good.num_rows == 0:
            return
        key = spec.key_columns(self.table)
        cols = {n: good.column(n).combine_chunks() for n in key}
        codes = key_codes(self.table, cols)
        if codes is None:
            for tup, r in zip(zip(*(cols[k].to_pylist() for k in key), strict=True), rows, strict=True):
                self.seen_other.setdefault(tup, int(r))
        else:
            self.seen.add(codes, rows.astype(np.int64))


def _coalesce_text(first: pa.Array, then: pa.Array) -> pa.Array:
    """``first`` as text where it holds more than spaces, else ``then``."""
    a = first if pa.types.is_string(first.type) else pc.cast(first, pa.string())
    b = then if pa.types.is_string(then.type) else pc.cast(then, pa.string())
    empty = pc.or_kleene(pc.is_null(a), pc.equal(pc.utf8_trim_whitespace(a), "")).fill_null(True)
    return pc.if_else(empty, b, a)


def _isnull(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _no_problems() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})


__all__ = ["Validator", "TYPE_CODES", "int_limit"]
