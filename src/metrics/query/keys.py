"""Ids shown as the source's keys, and keys a user names (a link, a command) turned into ids.

See :mod:`metrics.model.keys`: plain whole numbers are their own ids; other keys have negative ids
recorded in ``source_keys``. A database written before that table existed holds only the former.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from metrics.model import schema
from metrics.model.keys import ENTITIES, plain_id

_CHUNK = 900  # ids per IN list (well inside every dialect's parameter limits)


def has_source_keys(conn: sa.Connection) -> bool:
    """Whether the database has the ``source_keys`` table (an older one may not)."""
    return sa.inspect(conn).has_table(schema.source_keys.name)


def key_text(col: sa.ColumnElement, entity: str, stored: bool = True) -> sa.ColumnElement:
    """SQL: the key of the ``entity`` id in ``col`` as the source wrote it, as text (``stored``:
    the database has ``source_keys``)."""
    as_text = sa.cast(col, sa.String(64))
    if not stored:
        return as_text
    sk = schema.source_keys
    lookup = sa.select(sk.c.key).where(sk.c.entity == entity, sk.c.id == col).scalar_subquery()
    return sa.case((col < 0, lookup), else_=as_text)


def texts(conn: sa.Connection, entity: str, ids: Iterable[object], stored: bool | None = None) -> dict[int, str]:
    """The source keys of the negative ``ids`` of ``entity`` (an id without one is left out);
    ``stored``: whether the database has ``source_keys``, when the caller knows."""
    wanted = sorted({int(i) for i in ids if _whole(i) and int(i) < 0})
    if not wanted or not (has_source_keys(conn) if stored is None else stored):
        return {}
    sk = schema.source_keys
    out: dict[int, str] = {}
    if conn.dialect.name == "duckdb":  # the list as an array joined: 4x faster than a long IN list there
        raw = conn.connection.driver_connection
        rows = raw.execute(f"SELECT s.id, s.key FROM {sk.name} s JOIN unnest(?::INTEGER[]) AS w(id) ON s.id = w.id "
                           "WHERE s.entity = ?", [wanted, entity]).fetchall()
        return {int(i): str(k) for i, k in rows}
    for i in range(0, len(wanted), _CHUNK):
        part = wanted[i:i + _CHUNK]
        rows = conn.execute(sa.select(sk.c.id, sk.c.key).where(sk.c.entity == entity, sk.c.id.in_(part)))
        out.update({int(r[0]): str(r[1]) for r in rows})
    return out


def ids(conn: sa.Connection, entity: str, keys: Iterable[str]) -> dict[str, int]:
    """The ids of the ``keys`` of ``entity`` a user names; a key the database does not know is left
    out (a plain number is its own id whether or not a row has it: the caller checks that)."""
    if entity not in ENTITIES:
        raise ValueError(f"not an entity with keys: {entity}")
    out: dict[str, int] = {}
    other: list[str] = []
    for k in keys:
        text = str(k).strip()
        plain = plain_id(text)
        if plain is not None:
            out[text] = plain
        elif text:
            other.append(text)
    if other and has_source_keys(conn):
        sk = schema.source_keys
        for i in range(0, len(other), _CHUNK):
            part = other[i:i + _CHUNK]
            rows = conn.execute(sa.select(sk.c.key, sk.c.id).where(sk.c.entity == entity, sk.c.key.in_(part)))
            out.update({str(r[0]): int(r[1]) for r in rows})
    return out


def show(conn: sa.Connection, df: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """``df`` with each id column of ``columns`` (column -> entity) replaced by the keys as the
    source wrote them, as text (missing ids stay missing)."""
    out = df.copy()
    stored: bool | None = None  # asked once, and only when some id is negative
    for col, entity in columns.items():
        if col not in out.columns:
            continue
        values = out[col].dropna().unique()
        if stored is None and any(_whole(v) and int(v) < 0 for v in values):
            stored = has_source_keys(conn)
        known = texts(conn, entity, values, bool(stored))
        out[col] = [None if v is None or pd.isna(v) else v if not _whole(v)  # shown already
                    else known.get(int(v), str(int(v))) if int(v) < 0 else str(int(v)) for v in out[col]]
    return out


def _whole(value: object) -> bool:
    """Whether ``value`` is an id (a whole number, not a key already shown as text)."""
    if value is None or isinstance(value, str | bytes):
        return False
    try:
        return not pd.isna(value) and float(value) == int(value)
    except (TypeError, ValueError):
        return False


__all__ = ["has_source_keys", "key_text", "texts", "ids", "show"]
