"""Example import files: the expected headers of a table and two rows that import cleanly.

``servicewatch template TABLE`` and the Data page write these. The example rows of all tables form
one consistent chain (region 900001 → manager 900001 → customer 900001 → ticket 900001 → …), so
the templates import cleanly in the documented order into an empty database or beside existing
data (ids from 900001 on, which a real export rarely uses; change them before loading real data).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import yaml

from metrics.ingest.importer import columns as import_columns

# the example rows, per table (data: template_rows.yaml next to this file)
EXAMPLES: dict[str, list[dict[str, object]]] = yaml.safe_load(
    Path(__file__).with_name("template_rows.yaml").read_text(encoding="utf-8"))
# the order in which the templates (and real files) import cleanly: parents first
ORDER = ("regions", "account_managers", "customers", "tickets", "surveys", "sla_policies", "services",
         "outages", "billing_monthly", "targets", "visits", "retention_actions", "regulator_categories",
         "user_base", "outlets", "queue_records", "audits", "audit_items")


def headers(table: str, lang: str = "en") -> list[str]:
    """The columns of ``table``: data-model names (en) or the first Chinese name the importer
    recognises (zh; the data-model name where there is none)."""
    aliases = import_columns.ALIASES.get(table, {})
    out = []
    for c in import_columns.importable_columns(table):
        zh = [a for a in aliases.get(c.name, ()) if any(ord(ch) > 127 for ch in a)]
        out.append(zh[0] if lang == "zh" and zh else c.name)
    return out


def template_csv(table: str, lang: str = "en", rows: bool = True) -> bytes:
    """A CSV (UTF-8 with BOM, so Excel shows the Chinese) with the headers of ``table`` and, unless
    ``rows`` is False, two example rows that import cleanly (see the module docstring)."""
    if table not in import_columns.TABLES:
        raise KeyError(table)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(headers(table, lang))
    if rows:
        for r in EXAMPLES[table]:
            w.writerow(["" if r.get(c.name) is None else r[c.name] for c in import_columns.importable_columns(table)])
    return buf.getvalue().encode("utf-8-sig")
