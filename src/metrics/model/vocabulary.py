"""The codes of the open vocabularies as data: display names (zh, en) and order, per dimension.

The ``vocabulary`` table (:data:`metrics.model.schema.vocabulary`) holds one row per (dimension,
code): the demo fills it from the catalogue, an import adds the new codes of a file and the
``labels:`` of its mapping file. A :class:`~metrics.query.warehouse.Warehouse` reads it once and
:func:`register` merges it into one in-process lookup, so :func:`metrics.model.i18n.label` and the
theme's order (:func:`rank`) cost a dictionary look-up, never a query. No module lists codes for
logic: orders and ladders come from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa

from metrics.model import schema

# the dimensions whose codes are data (kind keeps its four metric meanings; see importer.spec)
DIMENSIONS = ("tier", "segment", "sla_level", "channel", "category", "kind", "survey_kind", "priority",
              "churn_reason", "product", "cause", "outlet_kind", "service_type", "audit_item")
LABEL_KEYS = ("zh", "en", "order")


class Entry(tuple):
    """(label_zh, label_en, sort_order), each possibly None."""

    __slots__ = ()

    def __new__(cls, zh: str | None, en: str | None, order: int | None) -> Entry:
        return super().__new__(cls, (zh, en, order))


# dimension -> code -> Entry; merged from every Warehouse of the process (later reads win)
_STORE: dict[str, dict[str, Entry]] = {}


def register(rows: Iterable[Mapping[str, object]]) -> None:
    """Merge rows of the ``vocabulary`` table (dimension, code, label_zh, label_en, sort_order)."""
    for r in rows:
        order = r.get("sort_order")
        _STORE.setdefault(str(r["dimension"]), {})[str(r["code"])] = Entry(
            _text(r.get("label_zh")), _text(r.get("label_en")),
            None if order is None or order != order else int(order))


def clear() -> None:
    """Forget every registered code (tests)."""
    _STORE.clear()


def stored_label(dim: str, code: object, lang: str) -> str | None:
    """The stored display name of ``code`` in ``lang`` (the other language when only that one is
    given); None when the data holds none."""
    e = _STORE.get(dim, {}).get(str(code))
    if e is None:
        return None
    zh, en, _ = e
    return (zh or en) if lang == "zh" else (en or zh)


def rank(dim: str, fallback: Iterable[str] = ()) -> dict[str, int]:
    """code -> position in the dimension's order: codes with a stored order first (by order, then
    code), then ``fallback`` (e.g. the catalogue's order), then the other stored codes by code."""
    stored = _STORE.get(dim, {})
    codes = [c for _, c in sorted((e[2], c) for c, e in stored.items() if e[2] is not None)]
    seen = set(codes)
    codes += [c for c in fallback if c not in seen]
    seen = set(codes)
    codes += sorted(c for c in stored if c not in seen)
    return {c: i for i, c in enumerate(codes)}


def section_codes(catalogue: Mapping[str, object], dim: str) -> list[str]:
    """The codes a catalogue (:func:`metrics.model.i18n.catalogue`) has entries for, in its order."""
    prefix = f"{dim}."
    return [k[len(prefix):] for k in catalogue if k.startswith(prefix) and k.count(".") == 1]


def catalogue_rows(catalogue: Mapping[str, Mapping[str, str]]) -> list[dict]:
    """Rows for the ``vocabulary`` table from the catalogue (the demo's codes), in its order."""
    out = []
    for dim in DIMENSIONS:
        for i, code in enumerate(section_codes(catalogue, dim), start=1):
            texts = catalogue[f"{dim}.{code}"]
            out.append({"dimension": dim, "code": code, "label_zh": texts.get("zh"),
                        "label_en": texts.get("en"), "sort_order": i})
    return out


def read(conn: sa.Connection) -> list[dict]:
    """Every row of the ``vocabulary`` table ([] when the database has none: an older database)."""
    v = schema.vocabulary
    if not sa.inspect(conn).has_table(v.name):
        return []
    return [dict(r._mapping) for r in conn.execute(sa.select(v))]


def upsert(conn: sa.Connection, new_codes: Mapping[str, Iterable[str]],
           labels: Mapping[str, Mapping[str, Mapping[str, object]]]) -> int:
    """In the caller's transaction: add ``new_codes`` (dimension -> codes; appended after the codes
    the table orders) and apply ``labels`` (dimension -> code -> {zh, en, order}; what is given
    replaces what is stored). Returns the rows written."""
    v = schema.vocabulary
    v.create(conn, checkfirst=True)
    existing = {(r["dimension"], r["code"]): r for r in read(conn)}
    top: dict[str, int] = {}
    for (dim, _), r in existing.items():
        if r["sort_order"] is not None:
            top[dim] = max(top.get(dim, 0), int(r["sort_order"]))
    inserts: dict[tuple[str, str], dict] = {}
    for dim in DIMENSIONS:
        for code in [*sorted(new_codes.get(dim, ())), *labels.get(dim, {})]:
            if (dim, code) in existing or (dim, code) in inserts:
                continue
            top[dim] = top.get(dim, 0) + 1
            inserts[(dim, code)] = {"dimension": dim, "code": code, "label_zh": None, "label_en": None,
                                    "sort_order": top[dim]}
    updates = []
    for dim, codes in labels.items():
        for code, given in codes.items():
            row = inserts.get((dim, code)) or dict(existing[(dim, code)])
            for key, col in (("zh", "label_zh"), ("en", "label_en"), ("order", "sort_order")):
                if given.get(key) is not None:
                    row[col] = int(given[key]) if key == "order" else str(given[key])
            if (dim, code) not in inserts:
                updates.append(row)
    if inserts:
        conn.execute(v.insert(), list(inserts.values()))
    for row in updates:
        conn.execute(v.update().where(v.c.dimension == row["dimension"], v.c.code == row["code"])
                     .values(label_zh=row["label_zh"], label_en=row["label_en"], sort_order=row["sort_order"]))
    return len(inserts) + len(updates)


def _text(v: object) -> str | None:
    return None if v is None or v != v or str(v) == "" else str(v)
