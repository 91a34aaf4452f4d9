"""The checks of an import's rows that need no memory of earlier chunks: allowed values (the
vocabularies), numeric ranges, the order of times, contradictions within a row and months given as
their first day; with the value translation (trimmed, display names and the mapping's ``values:``) they
read. :class:`~metrics.ingest.importer.validate.Validator` calls them on each chunk with its
``reject(mask, column, code, detail)``; the checks that remember (keys seen, references to later rows,
new codes) stay with it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from metrics.ingest.importer import spec
from metrics.ingest.importer.result import PROBLEM_COLUMNS

# reject(rows, column, code, detail): records a problem for each row of the mask
Reject = Callable[..., None]

TYPE_CODES = {"int": "not_integer", "float": "not_number", "bool": "not_boolean", "date": "not_date",
              "datetime": "not_datetime"}
# the integer types of the data model and the values every supported database can store in them
INT_LIMITS = ((sa.BigInteger, 2**63 - 1), (sa.SmallInteger, 2**15 - 1), (sa.Integer, 2**31 - 1))


def int_limit(col: sa.Column) -> int:
    """The largest value ``col`` holds on every supported database (INTEGER is 32-bit on all)."""
    return next(limit for ty, limit in INT_LIMITS if isinstance(col.type, ty))


def translate(arr: pa.Array, aliases: dict[str, str]) -> pa.Array:
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


def check_vocab(table: str, cols: dict[str, pa.Array], known: dict[str, set[str]], translated: set[str],
                reject: Reject) -> tuple[dict[str, np.ndarray], list[tuple[str, np.ndarray]]]:
    """Reject values outside the vocabularies (``known``: vocabulary -> its values; only the columns
    ``translated`` to codes are checked); return the masks of rejected unknown values per column, and
    of new values (home tables), which are counted once the row is known to load."""
    unknown_masks: dict[str, np.ndarray] = {}
    introduced: list[tuple[str, np.ndarray]] = []
    for (tbl, name), vocab in spec.VOCAB.items():
        if tbl != table or name not in cols or name not in translated:
            continue
        arr = cols[name]
        values = known.get(vocab, set())
        uniq = [u for u in pc.unique(arr).to_pylist() if u is not None]
        unknown = [u for u in uniq if u not in values]
        if not unknown:
            continue
        mask = np.asarray(pc.is_in(arr, value_set=pa.array(unknown, pa.string())).to_numpy(
            zero_copy_only=False), dtype=bool)
        if vocab not in spec.STRICT_VOCABS and vocab != "metric" and table in spec.HOME_TABLES.get(vocab, ()):
            introduced.append((name, mask))
            continue
        code = "not_allowed" if vocab in spec.STRICT_VOCABS or vocab == "metric" else "unknown_value"
        reject(mask, name, code, ", ".join(sorted(values)[:30]))
        unknown_masks[name] = mask
    return unknown_masks, introduced


def check_ranges(table: str, cols: dict[str, pa.Array], reject: Reject) -> None:
    """Numbers outside their inclusive range (spec.RANGES)."""
    for (tbl, name), (lo, hi) in spec.RANGES.items():
        if tbl != table:
            continue
        v = np.asarray(pc.cast(cols[name], pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
        out = np.zeros(len(v), dtype=bool)
        if lo is not None:
            out |= v < lo
        if hi is not None:
            out |= v > hi
        detail = f"{'' if lo is None else _num(lo)}–{'' if hi is None else _num(hi)}"
        reject(out & ~np.isnan(v), name, "out_of_range", detail)


def check_order(table: str, cols: dict[str, pa.Array], reject: Reject) -> None:
    """A later time before the earlier one (spec.ORDER), a score above its maximum (spec.NOT_ABOVE)."""
    for later, earlier in spec.ORDER.get(table, ()):
        a, b = cols[later], cols[earlier]
        less = pc.less(a, b).fill_null(False).to_numpy(zero_copy_only=False)
        reject(np.asarray(less, dtype=bool), later, "before", earlier)
    for name, bound in spec.NOT_ABOVE.get(table, ()):  # a score above its maximum
        more = pc.greater(cols[name], cols[bound]).fill_null(False).to_numpy(zero_copy_only=False)
        reject(np.asarray(more, dtype=bool), name, "above", bound)


def check_contradictions(table: str, cols: dict[str, pa.Array], raw: dict[str, pa.Array], reject: Reject) -> None:
    """A row whose column holds a value while another column is given (spec.CONTRADICTIONS); the
    other column's value is shown as the file wrote it (``raw``)."""
    for name, value, other, code in spec.CONTRADICTIONS.get(table, ()):
        given = ~isnull(cols[other])
        if name not in cols or not given.any():
            continue
        mask = np.asarray(pc.equal(cols[name], value).fill_null(False).to_numpy(zero_copy_only=False),
                          dtype=bool) & given
        if mask.any():
            shown = raw.get(other, cols[other])
            reject(mask, name, code, np.array(["" if v is None else str(v) for v in shown.to_pylist()],
                                              dtype=object))


def check_month_starts(table: str, cols: dict[str, pa.Array], reject: Reject) -> None:
    """A month column (spec.MONTH_COLUMNS) whose date is not the first day of its month."""
    for (tbl, name) in spec.MONTH_COLUMNS:
        if tbl == table:
            day = pc.day(cols[name]).to_numpy(zero_copy_only=False)
            reject(~isnull(cols[name]) & (np.nan_to_num(np.asarray(day, dtype=float), nan=1) != 1),
                   name, "not_month_start")


def coalesce_text(first: pa.Array, then: pa.Array) -> pa.Array:
    """``first`` as text where it holds more than spaces, else ``then``."""
    a = first if pa.types.is_string(first.type) else pc.cast(first, pa.string())
    b = then if pa.types.is_string(then.type) else pc.cast(then, pa.string())
    empty = pc.or_kleene(pc.is_null(a), pc.equal(pc.utf8_trim_whitespace(a), "")).fill_null(True)
    return pc.if_else(empty, b, a)


def isnull(arr: pa.Array) -> np.ndarray:
    """Which values of ``arr`` are null, as a boolean array."""
    return np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def no_problems() -> pd.DataFrame:
    """An empty frame of problems (row, column, value, code, detail)."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in PROBLEM_COLUMNS})
