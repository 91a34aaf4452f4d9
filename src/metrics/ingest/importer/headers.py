"""A file's headers matched to the data model's columns: loosely (full-width, spaces, case, units in
brackets), by the column's own name, its other names (:data:`.spec.ALIASES`, from headers.toml), the
columns beyond the data model a file may have (region names, a snapshot's tenure and churn flag) and
the user's mapping file (``columns:``, one header filling several columns)."""

from __future__ import annotations

import re
import unicodedata

from metrics.ingest.importer.columns import ALIASES, REJECTS_EXTRA, TABLES, extra_columns, importable_columns
from metrics.ingest.importer.mapping import Mapping


def normalise_header(text: object) -> str:
    """Compare headers loosely: NFKC (full-width to half-width), no spaces, case, units in brackets."""
    s = unicodedata.normalize("NFKC", str(text)).strip().lstrip("\ufeff")
    s = re.sub(r"\(.*?\)$", "", s).strip()  # "响应时限(小时)" -> "响应时限"
    return re.sub(r"[\s\-]+", "_", s).lower()


def header_map(table: str) -> dict[str, str]:
    """Normalised header -> data-model column for ``table`` (own names win over aliases)."""
    out: dict[str, str] = {}
    for col, names in ALIASES.get(table, {}).items():
        for name in names:
            out.setdefault(normalise_header(name), col)
    for col in TABLES[table].columns:
        out[normalise_header(col.name)] = col.name
    return out


def resolve_headers(table: str, headers: list[str], mapping: Mapping,
                    snapshot: bool = False) -> tuple[dict[str, str], list[str]]:
    """File header -> data-model column, and the headers that match nothing (ignored, reported;
    the rejects file's own ``_row``, ``_reasons``, ``_codes`` are ignored without a word).
    ``snapshot``: a customers snapshot, whose tenure and churn columns are recognised too; a
    customers file's region names (province, city, district) always are."""
    known = header_map(table)
    cols = {c.name for c in importable_columns(table)}
    extra = extra_columns(table, snapshot, bool(mapping.create))
    for col, names in extra.items():
        for n in (col, *names):
            known.setdefault(normalise_header(n), col)
    cols |= set(extra)
    user = {normalise_header(k): v for k, v in mapping.columns.items()}
    out: dict[str, str] = {}
    unused: list[str] = []
    for h in headers:
        n = normalise_header(h)
        target = user.get(n) or known.get(n)
        if target in cols and target not in out.values():
            out[h] = target
        elif str(h) not in REJECTS_EXTRA:
            unused.append(str(h))
    return out, unused


def also_columns(table: str, header_to_column: dict[str, str], mapping: Mapping) -> dict[str, str]:
    """Data-model column -> file header for the further columns a header fills (``columns:`` given as
    a list): the same values under a second name, e.g. a ticket number as ``survey_id`` and ``ticket_id``.
    A column the file already gives under its own header is not taken twice."""
    cols = {c.name for c in importable_columns(table)}
    more = {normalise_header(k): v for k, v in mapping.also.items()}
    taken = set(header_to_column.values())
    out: dict[str, str] = {}
    for header in header_to_column:
        for col in more.get(normalise_header(header), ()):
            if col in cols and col not in taken:
                out[col] = header
                taken.add(col)
    return out
