"""Turn raw file values into the data model's types, flagging values that are not of the type.

Each parser takes a ``pyarrow`` array (strings from CSV/Excel, anything from Parquet) and returns
the typed array plus a boolean numpy mask of the values that could not be read (input not null,
output null). Clean files take one vectorised Arrow cast per column; only columns with unusual
values fall back to the slower pandas path (``2026/3/5``, ``2026年3月5日``, Excel serial days,
``是``/``否``, ``1,234.50``).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

TRUE = frozenset({"1", "true", "t", "y", "yes", "是", "对", "√", "✓", "满意", "已解决"})
FALSE = frozenset({"0", "false", "f", "n", "no", "否", "不", "×", "✗", "不满意", "未解决"})
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_DATE_RE = (r"^(?P<year>\d{4})[-/.年](?P<month>\d{1,2})[-/.月](?P<day>\d{1,2})日?"
            r"(?:[ T]+(?P<hour>\d{1,2})[:时](?P<minute>\d{1,2})分?(?::?(?P<second>\d{1,2}(?:\.\d+)?)秒?)?)?$")
_COMPACT_RE = r"^(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})$"
_MONTH_RE = r"^(?P<year>\d{4})(?:[-/.年]?)(?P<month>\d{1,2})月?$"


def kind_of(col: sa.Column) -> str:
    t = col.type
    if isinstance(t, sa.Boolean):
        return "bool"
    if isinstance(t, sa.DateTime):
        return "datetime"
    if isinstance(t, sa.Date):
        return "date"
    if isinstance(t, sa.Integer):
        return "int"
    if isinstance(t, sa.Double | sa.Float | sa.Numeric):
        return "float"
    return "str"


ARROW_TYPES = {"bool": pa.bool_(), "datetime": pa.timestamp("us"), "date": pa.date32(), "int": pa.int64(),
               "float": pa.float64(), "str": pa.string()}


def _nulls(arr: pa.Array) -> np.ndarray:
    return np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def _text(arr: pa.Array) -> pa.Array:
    """Strings, trimmed, '' as null."""
    if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        arr = pc.cast(arr, pa.string())
    arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)


def _fail_mask(raw: pa.Array, out: pa.Array) -> np.ndarray:
    return ~_nulls(raw) & _nulls(out)


def _series(arr: pa.Array) -> pd.Series:
    return pd.Series(arr.to_pylist(), dtype=object)


def _nfkc(s: pd.Series) -> pd.Series:
    """Full-width digits and punctuation (１２３，：) to ASCII."""
    if pc.all(pc.string_is_ascii(pa.array(s, pa.string()))).as_py() is not False:
        return s
    return s.map(lambda v: unicodedata.normalize("NFKC", v) if isinstance(v, str) else v)


def parse(arr: pa.Array, kind: str, length: int | None = None, trimmed: bool = False) -> tuple[pa.Array, np.ndarray]:
    """``arr`` as ``kind`` (see :func:`kind_of`) and the mask of unreadable values; NaN and
    infinity (``nan``, ``inf``, ``1e309``) are not numbers."""
    out, bad = _parse(arr, kind, length, trimmed)
    return _finite(out, bad) if kind == "float" else (out, bad)


def _parse(arr: pa.Array, kind: str, length: int | None = None, trimmed: bool = False) -> tuple[pa.Array, np.ndarray]:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if kind == "str":
        out = arr if trimmed else _text(arr)
        bad = np.zeros(len(out), dtype=bool)
        if length:
            lens = pc.utf8_length(out).to_numpy(zero_copy_only=False)
            bad = np.nan_to_num(np.asarray(lens, dtype=float), nan=0) > length
        return out, bad
    target = ARROW_TYPES[kind]
    if arr.type == target:
        return arr, np.zeros(len(arr), dtype=bool)
    if kind in ("datetime", "date") and (pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type)):
        return pc.cast(arr, target), np.zeros(len(arr), dtype=bool)
    if kind in ("int", "float", "bool") and (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)
                                             or pa.types.is_boolean(arr.type)):
        return _numeric_typed(arr, kind)
    if pa.types.is_string(arr.type):  # a clean column needs neither trimming nor the slow path
        fast = _fast_cast(arr, kind)
        if fast is not None:
            return fast, np.zeros(len(fast), dtype=bool)
    text = _text(arr)
    fast = _fast_cast(text, kind)
    if fast is not None:
        return fast, np.zeros(len(fast), dtype=bool)
    out = {"int": _int, "float": _float, "bool": _bool, "datetime": _datetime, "date": _date}[kind](text)
    return out, _fail_mask(text, out)


def _finite(out: pa.Array, bad: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """A float column without NaN or infinity: those become null and unreadable (``not_number``)."""
    nonfinite = finite_mask(out)
    if not nonfinite.any():
        return out, bad
    return pc.if_else(pa.array(nonfinite), pa.scalar(None, out.type), out), bad | nonfinite


def _fast_cast(text: pa.Array, kind: str) -> pa.Array | None:
    """The whole column cast by Arrow when it is all in the canonical form, else None."""
    tries = [pa.timestamp("us"), pa.timestamp("ns")] if kind in ("date", "datetime") else [ARROW_TYPES[kind]]
    for ty in tries:
        try:
            out = pc.cast(text, ty)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        if kind in ("date", "datetime"):
            out = pc.cast(out, pa.timestamp("us"), safe=False)
        return pc.cast(out, pa.date32()) if kind == "date" else out
    return None


def _numeric_typed(arr: pa.Array, kind: str) -> tuple[pa.Array, np.ndarray]:
    if kind == "float":
        return pc.cast(arr, pa.float64()), np.zeros(len(arr), dtype=bool)
    values = pc.cast(arr, pa.float64())
    s = pd.Series(values.to_numpy(zero_copy_only=False))
    if kind == "int":
        ok = s.isna() | (s == s.round())
        out = pa.array(s.where(ok).astype("Int64"), pa.int64())
    else:
        ok = s.isna() | s.isin([0, 1])
        out = pa.array(s.where(ok).map({0: False, 1: True}).astype("boolean"), pa.bool_())
    return out, _fail_mask(arr, out)


def _number_text(text: pa.Array) -> pd.Series:
    s = _nfkc(_series(text))
    s = s.str.replace(r"[,\s¥￥元]", "", regex=True)
    pct = s.str.endswith("%", na=False)
    num = pd.to_numeric(s.str.rstrip("%"), errors="coerce")
    return num.where(~pct, num / 100)


def _float(text: pa.Array) -> pa.Array:
    return pa.array(_number_text(text).astype(float), pa.float64(), from_pandas=True)


def _int(text: pa.Array) -> pa.Array:
    num = _number_text(text)
    ok = num.notna() & (num == num.round()) & (num.abs() < 2**62)
    return pa.array(num.where(ok).astype("Int64"), pa.int64())


def _bool(text: pa.Array) -> pa.Array:
    s = _series(text).str.lower()
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[s.isin(TRUE)] = True
    out[s.isin(FALSE)] = False
    return pa.array(out, pa.bool_())


def _datetime_series(text: pa.Array) -> pd.Series:
    s = _nfkc(_series(text))
    out = pd.to_datetime(s, format="ISO8601", errors="coerce")
    todo = out.isna() & s.notna()
    if todo.any():
        parts = s[todo].str.extract(_DATE_RE)
        parts = parts.astype(float).fillna({"hour": 0.0, "minute": 0.0, "second": 0.0})
        # each field in its own range: 25:61 is no time (pandas would roll it into the next day)
        fields_ok = (parts["hour"] <= 23) & (parts["minute"] <= 59) & (parts["second"] < 60)
        got = pd.to_datetime(parts[["year", "month", "day", "hour", "minute", "second"]].where(fields_ok),
                             errors="coerce")
        out[todo] = got
        todo = out.isna() & s.notna()
    if todo.any():
        parts = s[todo].str.extract(_COMPACT_RE).astype(float)
        out[todo] = pd.to_datetime(parts, errors="coerce")
        todo = out.isna() & s.notna()
    if todo.any():  # Excel serial day numbers (1900 date system): 1 ≈ 1900-01-01, 100000 ≈ 2173-10-14
        num = pd.to_numeric(s[todo], errors="coerce")
        num = num.where((num >= 1) & (num < 100_000))
        out[todo] = EXCEL_EPOCH + pd.to_timedelta(num.round(6), unit="D")
    return out.dt.round("us") if hasattr(out, "dt") else out


def _datetime(text: pa.Array) -> pa.Array:
    return pa.array(_datetime_series(text), pa.timestamp("us"), from_pandas=True)


def _date(text: pa.Array) -> pa.Array:
    return pc.cast(_datetime(text), pa.date32())


_KEY_RE = r"^[0-9]+$"
_SCIENTIFIC_RE = r"^[+-]?[0-9]+(?:[.,][0-9]+)?[eE][+-]?[0-9]+$"


def key_problems(raw: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Masks of key values not written as plain digits, and of those that look like a number a
    spreadsheet reformatted (``1.23457E+11``): a key is text of digits, never read through a float
    (``1e3`` is not key 1000, ``1000.0`` is not either)."""
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks()
    n = len(raw)
    if pa.types.is_integer(raw.type) or pa.types.is_null(raw.type):
        return np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    if pa.types.is_floating(raw.type):  # a number cell: exact only while integral and below 2**53
        v = np.asarray(pc.cast(raw, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
        bad = ~np.isnan(v) & ((v != np.round(v)) | (np.abs(v) >= 2**53))
        return bad, np.zeros(n, dtype=bool)
    text = _text(raw)
    if pc.all(pc.string_is_ascii(text)).as_py() is False:  # full-width digits
        text = pa.array(_nfkc(_series(text)), pa.string())
    present = ~_nulls(text)
    plain = _matches(text, _KEY_RE, True)
    sci = _matches(text, _SCIENTIFIC_RE, False)
    return present & ~plain, present & sci


def _matches(text: pa.Array, pattern: str, if_null: bool) -> np.ndarray:
    hit = pc.match_substring_regex(text, pattern).fill_null(if_null)
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


_CONTROL_RE = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]"


def control_characters(text: pa.Array) -> np.ndarray:
    """Mask of texts holding a NUL or another control character (tab and line breaks allowed):
    no database stores a NUL in text, and none of them belongs in a name or a code."""
    if len(text) == 0:
        return np.zeros(0, dtype=bool)
    return _matches(text, _CONTROL_RE, False)


_FORMAT_CODE_RE = re.compile(r"%(.)")
_FORMAT_CODES = frozenset("aAbBdHIjmMpSfyYzZ%")


def format_problem(fmt: str, kind: str) -> str | None:
    """What is wrong with a user's strftime format for a ``date``/``datetime`` column, or None."""
    codes = _FORMAT_CODE_RE.findall(fmt)
    if fmt.rstrip("%").count("%") != len(codes) or fmt.endswith("%") and not fmt.endswith("%%"):
        return "ends with a lone %"
    unknown = sorted({c for c in codes if c not in _FORMAT_CODES})
    if unknown:
        return f"uses unknown codes {' '.join('%' + c for c in unknown)} (known: %d %m %b %y %Y %H %I %M %S %p %f …)"
    have = set(codes)
    if not (have & set("yY")) or not (have & set("dj")) or not (have & set("mbBj")):
        return "needs a day, a month and a year (e.g. %d-%m-%y)"
    if "I" in have and "p" not in have:
        return "uses %I (12-hour clock) without %p (AM/PM)"
    sample = dt.datetime(2026, 3, 5, 14, 30, 15)
    try:
        back = pd.to_datetime(pd.Series([sample.strftime(fmt)]), format=fmt)
    except (ValueError, TypeError) as exc:
        return f"cannot be read back ({str(exc).splitlines()[0][:80]})"
    if kind == "date" and back.iloc[0].date() != sample.date():
        return "does not give the date back"
    return None


def parse_formatted(arr: pa.Array, kind: str, fmt: str) -> tuple[pa.Array, np.ndarray]:
    """``arr`` read with the user's strftime format ``fmt`` (a mapping file's ``formats:``): values
    that do not match it are unreadable (``not_date``/``not_datetime``); real date cells pass."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        return parse(arr, kind)
    text = _text(arr)
    s = _nfkc(_series(text))
    out = pd.to_datetime(s, format=fmt, errors="coerce")
    result = pa.array(out.dt.round("us"), pa.timestamp("us"), from_pandas=True)
    if kind == "date":
        result = pc.cast(result, pa.date32())
    return result, _fail_mask(text, result)


def finite_mask(out: pa.Array) -> np.ndarray:
    """Mask of NaN and infinite values of a float array (``nan``, ``inf``, ``1e309``): not numbers."""
    v = np.asarray(out.to_numpy(zero_copy_only=False), dtype=float)
    return ~np.isfinite(v) & ~_nulls(out)


def parse_month(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """A month: ``2026-03``, ``202603``, ``2026年3月`` or any date on the first day of the month."""
    text = _text(arr) if not (pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type)) else None
    if text is None:
        return parse(arr, "date")
    s = _nfkc(_series(text))
    parts = s.str.extract(_MONTH_RE).astype(float)
    parts["day"] = 1.0
    months = pd.to_datetime(parts[["year", "month", "day"]], errors="coerce")
    dates, _ = parse(text, "date")
    d = pd.to_datetime(pd.Series(dates.to_pandas(), dtype="datetime64[s]"), errors="coerce")
    out = months.where(months.notna(), d)
    result = pc.cast(pa.array(out, pa.timestamp("us"), from_pandas=True), pa.date32())
    return result, _fail_mask(text, result)
