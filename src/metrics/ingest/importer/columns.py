"""Which columns a file for a table of the data model may have: the model's own (under their
names and the common Chinese ones, :data:`ALIASES`), the extra columns some files carry (region names,
a snapshot's tenure and churn flag, the customers a tickets or surveys file creates), the keys, the
columns a file must have and those the product derives itself.

Data and small lookups over it, read by :mod:`metrics.ingest.importer.headers`, the mapping file's
checks (:mod:`metrics.ingest.importer.mapping`) and the validator; also importable from
:mod:`metrics.ingest.importer.spec`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from metrics.model import schema

if TYPE_CHECKING:
    from metrics.ingest.importer.mapping import Mapping

TABLES: dict[str, sa.Table] = {t.name: t for t in schema.DATA_TABLES}

# Chinese (and a few alternative English) header names per table and column: data, in headers.toml
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    table: {col: tuple(names) for col, names in cols.items()}
    for table, cols in tomllib.loads(Path(__file__).with_name("headers.toml").read_text(encoding="utf-8")).items()}

# columns a file may lack although metrics use them: stored as unknown (NULL), never as "no" or 0,
# and named in the summary ("not in the file: stored as unknown")
UNKNOWN_IF_ABSENT: dict[str, tuple[str, ...]] = {
    "tickets": ("first_contact_resolved", "reopened", "escalated", "compensation"),
}

# snapshot extracts of customers (``--snapshot-date``): columns that are not in the data model but
# give start_date (snapshot - tenure) and end_date (the snapshot date, for churned customers)
SNAPSHOT_COLUMNS: dict[str, tuple[str, ...]] = {
    "tenure_months": ("tenure", "在网月数", "在网时长", "在网时长月", "网龄"),
    "tenure_days": ("在网天数", "在网时长天"),
    "churned": ("churn", "is_churned", "churn_flag", "是否流失", "是否离网", "流失标志", "流失"),
}
# a customers file may name its regions instead of giving ``region_id``: columns that are not in the
# data model, one per region level (metrics.ingest.importer.region_names finds or creates the regions)
REGION_NAME_COLUMNS: dict[str, tuple[str, ...]] = {
    "province": ("省", "省份", "所属省份", "省名", "province_name"),
    "city": ("市", "地市", "城市", "所属地市", "地市名称", "city_name"),
    "district": ("区", "区县", "县", "区/县", "所属区县", "区县名称", "district_name", "county"),
}
REGION_NAME_TABLES = frozenset({"customers"})
# ``create: customers`` in a mapping: a tickets or surveys file creates the customers it names; the
# time of each table whose earliest value per customer is a created customer's start_date
CREATE_TABLES: dict[str, str] = {"tickets": "opened_at", "surveys": "answered_at"}
# customers columns a created customer takes from the mapping's defaults (or the file's region names)
CREATED_CUSTOMER_COLUMNS = ("name", "segment", "tier", "region_id", "acquisition_channel", "account_manager_id",
                            "sla_level", "start_date", "end_date", "churn_reason", "monthly_revenue")


def created_customer_columns(table: str) -> dict[str, tuple[str, ...]]:
    """Columns of customers a tickets or surveys file may give for the customers it creates
    (``create: customers``: a tier, a segment, a region key …), with their other names: those the
    file's own table does not have."""
    return {c: ALIASES["customers"].get(c, ()) for c in CREATED_CUSTOMER_COLUMNS if c not in TABLES[table].c}


def extra_columns(table: str, snapshot: bool = False, create: bool = False) -> dict[str, tuple[str, ...]]:
    """Columns a file for ``table`` may have beyond the data model's, with their other names: the
    region names of a customers file (or of a tickets/surveys file that creates its customers, with
    the created customers' own columns), and the tenure and churn columns of a snapshot."""
    out = dict(REGION_NAME_COLUMNS) if table in REGION_NAME_TABLES or create else {}
    if create and table in CREATE_TABLES:
        out.update(created_customer_columns(table))
    if snapshot:
        out.update(SNAPSHOT_COLUMNS)
    return out


# the rejects file's own columns after the file's: re-importing a corrected rejects file ignores them
REJECTS_EXTRA = ("_row", "_reasons", "_codes")

# columns the product derives itself (never read from a file, not in templates)
DERIVED: dict[str, frozenset[str]] = {"tickets": frozenset({"due_source"})}


def importable_columns(table: str) -> list[sa.Column]:
    """The columns a file may give for ``table`` (all but the derived ones)."""
    return [c for c in TABLES[table].columns if c.name not in DERIVED.get(table, ())]


# columns either of which is enough: the other falls back to it (a region named in one language)
EITHER_COLUMNS: dict[str, tuple[str, str]] = {"regions": ("name_zh", "name_en")}


def required_columns(table: str, mapping: Mapping | None = None, given: set[str] | None = None) -> list[str]:
    """Columns the file must have: NOT NULL ones without a default in the mapping file. With the
    columns ``given`` (file and defaults): ``region_id`` is not needed when region names are
    given, and one of a pair of :data:`EITHER_COLUMNS` is enough."""
    defaults = mapping.defaults if mapping is not None else {}
    out = [c.name for c in TABLES[table].columns if not c.nullable and c.name not in defaults]
    given = given or set()
    if table in REGION_NAME_TABLES and given & set(REGION_NAME_COLUMNS) and "region_id" in out:
        out.remove("region_id")
    if mapping is not None and mapping.create and "customer_id" in out:  # anonymous customers, one per row
        out.remove("customer_id")
    pair = EITHER_COLUMNS.get(table)
    if pair and given & set(pair):
        out = [c for c in out if c not in pair]
    return out


def key_columns(table: str) -> list[str]:
    return [c.name for c in TABLES[table].primary_key.columns]
