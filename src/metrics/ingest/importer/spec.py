"""What an import file may contain, per table of the data model: header names (English and the
common Chinese ones), value vocabularies, ranges, order rules, references and defaults.

Everything here is data; :mod:`metrics.ingest.importer.validate` applies it. Types come from
:mod:`metrics.model.schema`, so a column added there is importable under its own name at once.
Over 400 lines on purpose: one declaration per table of the model, kept together so that what a
file may hold is read in one place.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from metrics.model import schema, ticket_status, vocabulary
from metrics.model.i18n import catalogue

TABLES: dict[str, sa.Table] = {t.name: t for t in schema.DATA_TABLES}

# Chinese (and a few alternative English) header names per table and column: data, in headers.toml
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    table: {col: tuple(names) for col, names in cols.items()}
    for table, cols in tomllib.loads(Path(__file__).with_name("headers.toml").read_text(encoding="utf-8")).items()}

# Which vocabulary a column's values come from. Strict ones are fixed by the data model; open ones
# accept what the catalogue or the database already holds, and new values only in their home
# tables (a customers file may introduce a tier; a tickets file may not invent a channel).
VOCAB: dict[tuple[str, str], str] = {
    ("regions", "level"): "level",
    ("customers", "segment"): "segment",
    ("customers", "tier"): "tier",
    ("customers", "acquisition_channel"): "channel",
    ("customers", "sla_level"): "sla_level",
    ("customers", "churn_reason"): "churn_reason",
    ("tickets", "channel"): "channel",
    ("tickets", "kind"): "kind",
    ("tickets", "category"): "category",
    ("tickets", "priority"): "priority",
    ("tickets", "status"): "ticket_status",
    ("surveys", "channel"): "channel",
    ("surveys", "kind"): "survey_kind",
    ("sla_policies", "sla_level"): "sla_level",
    ("sla_policies", "priority"): "priority",
    ("services", "product"): "product",
    ("services", "sla_level"): "sla_level",
    ("outages", "cause"): "cause",
    ("targets", "tier"): "tier",
    ("targets", "channel"): "channel",
    ("targets", "metric"): "metric",
    ("retention_actions", "status"): "action_status",
    ("retention_actions", "arm"): "action_arm",
    ("outlets", "kind"): "outlet_kind",
    ("queue_records", "service_type"): "service_type",
    ("audit_items", "item"): "audit_item",
    ("regulator_categories", "category"): "category",
    ("user_base", "base"): "user_base",
}
# ``kind`` keeps the four meanings the metrics use: a file's own kinds are mapped to them in the
# mapping file's ``values:`` (an unmapped one is not_allowed, the four listed).
STRICT_VOCABS: dict[str, tuple[str, ...]] = {
    "level": schema.REGION_LEVELS,
    "kind": schema.TICKET_KINDS,
    "survey_kind": schema.SURVEY_KINDS,
    "ticket_status": ticket_status.STATUSES,  # a file's words (Closed, 已办结, Pending …): aliases.toml
    "action_status": schema.ACTION_STATUSES,
    "action_arm": schema.ACTION_ARMS,
    "user_base": schema.USER_BASES,
}
HOME_TABLES: dict[str, frozenset[str]] = {
    "tier": frozenset({"customers"}),
    "segment": frozenset({"customers"}),
    "channel": frozenset({"customers", "tickets", "surveys"}),
    "priority": frozenset({"tickets", "sla_policies"}),
    "sla_level": frozenset({"customers", "sla_policies", "services"}),
    "churn_reason": frozenset({"customers"}),
    "category": frozenset({"tickets"}),
    "product": frozenset({"services"}),
    "cause": frozenset({"outages"}),
    "outlet_kind": frozenset({"outlets"}),
    "service_type": frozenset({"queue_records"}),
    "audit_item": frozenset({"audit_items"}),
}
# where the database holds the values of each open vocabulary
VOCAB_COLUMNS: dict[str, tuple[sa.Column, ...]] = {
    "tier": (schema.customers.c.tier,),
    "segment": (schema.customers.c.segment,),
    "priority": (schema.tickets.c.priority, schema.sla_policies.c.priority),
    "channel": (schema.customers.c.acquisition_channel, schema.tickets.c.channel, schema.surveys.c.channel),
    "sla_level": (schema.sla_policies.c.sla_level, schema.customers.c.sla_level, schema.services.c.sla_level),
    "churn_reason": (schema.customers.c.churn_reason,),
    "category": (schema.tickets.c.category,),
    "product": (schema.services.c.product,),
    "cause": (schema.outages.c.cause,),
    "outlet_kind": (schema.outlets.c.kind,),
    "service_type": (schema.queue_records.c.service_type,),
    "audit_item": (schema.audit_items.c.item,),
}
# Chinese names of values the catalogue has no section for (products, outage causes) and other
# spellings of codes: data, in aliases.toml next to this file
EXTRA_VALUE_ALIASES: dict[str, dict[str, str]] = tomllib.loads(
    Path(__file__).with_name("aliases.toml").read_text(encoding="utf-8"))

# inclusive ranges of numeric columns
RANGES: dict[tuple[str, str], tuple[float | None, float | None]] = {
    ("surveys", "csat"): (1, 5),
    ("surveys", "nps"): (0, 10),
    ("surveys", "ces"): (1, 7),
    ("sla_policies", "availability_target"): (0, 1),
    ("sla_policies", "response_hours"): (0, None),
    ("sla_policies", "resolution_hours"): (0, None),
    ("sla_policies", "onsite_hours"): (0, None),
    ("customers", "monthly_revenue"): (0, None),
    ("tickets", "compensation"): (0, None),
    ("retention_actions", "cost"): (0, None),
    ("retention_actions", "risk_score"): (0, 1),
    ("retention_actions", "risk_decile"): (1, 10),
    ("outlets", "stars"): (1, 5),
    ("audit_items", "score"): (0, None),
    ("audit_items", "max_score"): (0, None),
    ("user_base", "users"): (0, None),
}

# (later, earlier): the later time may not lie before the earlier one
ORDER: dict[str, tuple[tuple[str, str], ...]] = {
    "tickets": (("first_response_at", "opened_at"), ("resolved_at", "opened_at"),
                ("response_due_at", "opened_at"), ("resolution_due_at", "opened_at"),
                ("revisited_at", "resolved_at")),
    "customers": (("end_date", "start_date"),),
    "services": (("end_date", "start_date"),),
    "outages": (("restored_at", "started_at"),),
    "retention_actions": (("due_date", "created_date"),),
    "queue_records": (("called_at", "arrived_at"), ("started_at", "arrived_at"), ("ended_at", "started_at"),
                      ("ended_at", "arrived_at")),
    "regulator_categories": (("valid_to", "valid_from"),),
}

# (column, bound): the column may not exceed the other one of its row (a score above its maximum)
NOT_ABOVE: dict[str, tuple[tuple[str, str], ...]] = {"audit_items": (("score", "max_score"),)}

# column -> (table, key column) it must name a row of: in the database or in the same file
REFS: dict[str, dict[str, tuple[str, str]]] = {
    "regions": {"parent_id": ("regions", "region_id")},
    "account_managers": {"region_id": ("regions", "region_id")},
    "customers": {"region_id": ("regions", "region_id"),
                  "account_manager_id": ("account_managers", "manager_id")},
    "tickets": {"customer_id": ("customers", "customer_id"), "outlet_id": ("outlets", "outlet_id")},
    "surveys": {"customer_id": ("customers", "customer_id"), "ticket_id": ("tickets", "ticket_id"),
                "outlet_id": ("outlets", "outlet_id")},
    "services": {"customer_id": ("customers", "customer_id")},
    "outages": {"service_id": ("services", "service_id")},
    "billing_monthly": {"customer_id": ("customers", "customer_id")},
    "targets": {"region_id": ("regions", "region_id")},
    "visits": {"customer_id": ("customers", "customer_id"), "manager_id": ("account_managers", "manager_id")},
    "retention_actions": {"customer_id": ("customers", "customer_id"), "owner": ("account_managers", "manager_id")},
    "outlets": {"region_id": ("regions", "region_id")},
    "queue_records": {"outlet_id": ("outlets", "outlet_id"), "customer_id": ("customers", "customer_id")},
    "audits": {"outlet_id": ("outlets", "outlet_id")},
    "audit_items": {"audit_id": ("audits", "audit_id")},
    "user_base": {"region_id": ("regions", "region_id")},
}

# columns a file may lack although metrics use them: stored as unknown (NULL), never as "no" or 0,
# and named in the summary ("not in the file: stored as unknown")
UNKNOWN_IF_ABSENT: dict[str, tuple[str, ...]] = {
    "tickets": ("first_contact_resolved", "reopened", "escalated", "compensation"),
}

# (column, value, other column, reason): a row whose column holds the value while the other column is
# given contradicts itself and is rejected (a ticket still open that has a resolution time)
CONTRADICTIONS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "tickets": (("status", ticket_status.OPEN, "resolved_at", "open_but_resolved"),),
    "queue_records": (("abandoned", True, "started_at", "abandoned_but_served"),),
}

# references that may point nowhere: the row loads without the link (stored NULL), counted in the
# summary as a warning, not a rejection (a survey whose ticket is not loaded is still an answer)
OPTIONAL_REFS: frozenset[tuple[str, str]] = frozenset({("surveys", "ticket_id"), ("tickets", "outlet_id"),
                                                      ("surveys", "outlet_id")})

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


# columns whose dates must be the first day of a month ("2026-03" is read as 2026-03-01)
MONTH_COLUMNS = {("billing_monthly", "month"), ("user_base", "month")}


MAPPING_KEYS = ("columns", "values", "defaults", "formats", "labels", "create")


@dataclass(frozen=True)
class Mapping:
    """A user's mapping file: header renames, value renames (per data-model column), constants for
    columns the file lacks or cells left empty, and date/time formats (strftime codes)."""

    columns: dict[str, str] = field(default_factory=dict)  # file header -> data-model column
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> {file value: value}
    defaults: dict[str, str] = field(default_factory=dict)  # column -> constant (as text in a file)
    formats: dict[str, str] = field(default_factory=dict)  # date/time column -> strftime format
    # dimension -> code -> {"zh": name, "en": name, "order": int} (metrics.model.vocabulary)
    labels: dict[str, dict[str, dict[str, object]]] = field(default_factory=dict)
    name: str = "mapping file"  # how messages name it
    # file header -> further data-model columns it fills (``Ticket ID: [survey_id, ticket_id]``)
    also: dict[str, tuple[str, ...]] = field(default_factory=dict)
    create: tuple[str, ...] = ()  # tables whose rows the file creates (``create: customers``)

    def customer_defaults(self) -> dict[str, str]:
        """The defaults that are for created customers (columns of customers only)."""
        return {c: v for c, v in self.defaults.items() if c in CREATED_CUSTOMER_COLUMNS}


class MappingError(ValueError):
    """The mapping file cannot be used; one line for users."""


def load_mapping(path: str | Path | None, table: str | None = None) -> Mapping:
    """Read a YAML mapping file (checked against ``table`` when given, see :func:`check_mapping`)::

        columns:            # file header: data-model column (or a list of columns it fills)
          Kunden-Nr: customer_id
          Ticket ID: [survey_id, ticket_id]
        values:             # data-model column: {value in the file: value in the data model}
          channel: {"10086热线": hotline}
        defaults:           # data-model column: constant for a missing column or an empty cell
          kind: complaint
        formats:            # date/time column: strftime format of the file's values
          opened_at: "%d-%m-%y %I:%M:%S %p"
        labels:             # dimension: {code: {zh: name, en: name, order: n}}
          priority: {Critical: {zh: 紧急, en: Critical, order: 1}}
        create: customers   # a tickets or surveys file creates the customers it names
    """
    if path is None:
        return Mapping()
    import yaml

    name = f"mapping file {path}"
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8-sig")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MappingError(f"cannot read {name}: {first}") from None
    if not isinstance(data, dict):
        raise MappingError(f"{name}: expected the keys {', '.join(MAPPING_KEYS)}")
    for key in data:
        if key not in MAPPING_KEYS:
            raise MappingError(f"{name}: unknown key '{key}' (expected {', '.join(MAPPING_KEYS)})")
    create = data.get("create") or ()
    create = (create,) if isinstance(create, str) else create
    if not isinstance(create, list | tuple) or any(c != "customers" for c in create):
        raise MappingError(f"{name}: create: only 'customers' can be created")
    parts = {k: data.get(k) or {} for k in MAPPING_KEYS if k != "create"}
    for key, part in parts.items():
        if not isinstance(part, dict):
            raise MappingError(f"{name}: '{key}' must be a map (name: value)")
    for col, m in parts["values"].items():
        if not isinstance(m, dict):
            raise MappingError(f"{name}: values: '{col}' must map values in the file to values")
    for key in ("columns", "defaults", "formats"):
        for k, v in parts[key].items():
            several = key == "columns" and isinstance(v, list) and v and all(isinstance(x, str) for x in v)
            if v is None or isinstance(v, dict) or (isinstance(v, list) and not several):
                raise MappingError(f"{name}: {key}: '{k}' must be a single value"
                                   + (" or a list of columns" if key == "columns" else ""))
    columns = {str(k): (list(v) if isinstance(v, list) else [v]) for k, v in parts["columns"].items()}
    mapping = Mapping({k: str(v[0]) for k, v in columns.items()},
                      {str(c): {_text(k): _text(v) for k, v in m.items()} for c, m in parts["values"].items()},
                      {str(k): _text(v) for k, v in parts["defaults"].items()},
                      {str(k): str(v) for k, v in parts["formats"].items()},
                      _labels(parts["labels"], name), name,
                      {k: tuple(str(x) for x in v[1:]) for k, v in columns.items() if len(v) > 1},
                      tuple(dict.fromkeys(create)))
    if table is not None:
        check_mapping(mapping, table)
    return mapping


def _labels(part: dict, name: str) -> dict[str, dict[str, dict[str, object]]]:
    """The ``labels:`` section checked: known dimensions, each code a map of zh / en / order."""
    out: dict[str, dict[str, dict[str, object]]] = {}
    for dim, codes in part.items():
        if str(dim) not in vocabulary.DIMENSIONS:
            raise MappingError(f"{name}: labels: '{dim}' is not a vocabulary "
                               f"(expected {', '.join(vocabulary.DIMENSIONS)})")
        if not isinstance(codes, dict):
            raise MappingError(f"{name}: labels: '{dim}' must map codes to {{zh, en, order}}")
        for code, given in codes.items():
            if not isinstance(given, dict) or not given or set(map(str, given)) - set(vocabulary.LABEL_KEYS):
                raise MappingError(f"{name}: labels: {dim}: '{code}' must be a map of "
                                   f"{', '.join(vocabulary.LABEL_KEYS)}")
            order = given.get("order")
            if order is not None and (isinstance(order, bool) or not isinstance(order, int)):
                raise MappingError(f"{name}: labels: {dim}: '{code}': order must be a whole number")
            for key in ("zh", "en"):
                if given.get(key) is not None and (isinstance(given[key], dict | list) or len(str(given[key])) > 80):
                    raise MappingError(f"{name}: labels: {dim}: '{code}': {key} must be a name "
                                       "of at most 80 characters")
            out.setdefault(str(dim), {})[_text(code)] = {str(k): v for k, v in given.items()}
    return out


def _text(v: object) -> str:
    """A YAML scalar as the text a file would hold (YAML reads yes/no as booleans)."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def check_mapping(mapping: Mapping, table: str, snapshot: bool = False) -> None:
    """Raise :class:`MappingError` (one line naming the key) for anything in ``mapping`` that does
    not fit ``table``: renames to unknown columns, values/defaults/formats of unknown columns,
    defaults that are not of the column's type, formats of non-date columns or with unknown codes."""
    import pyarrow as pa

    from metrics.ingest.importer.parse import format_problem, kind_of, parse

    cols = {c.name: c for c in TABLES[table].columns}
    name = mapping.name
    if mapping.create and table not in CREATE_TABLES:
        raise MappingError(f"{name}: create: customers works for {' and '.join(CREATE_TABLES)} files, not {table}")
    targets = set(cols) | set(extra_columns(table, snapshot, bool(mapping.create)))
    customer_cols = {c: TABLES["customers"].c[c] for c in CREATED_CUSTOMER_COLUMNS} if mapping.create else {}
    for header, col in mapping.columns.items():
        for one in (col, *mapping.also.get(header, ())):
            if one not in targets:
                raise MappingError(f"{name}: columns: '{header}' → '{one}' is not a column of {table}")
    for key in ("values", "defaults", "formats"):
        for col in getattr(mapping, key):
            if col not in targets and not (key != "formats" and col in customer_cols):
                raise MappingError(f"{name}: {key}: '{col}' is not a column of {table}")
    for col, value in mapping.defaults.items():
        if col not in cols and col in customer_cols:  # for the customers the file creates
            kind = kind_of(customer_cols[col])
            if kind != "str" and col != "region_id":
                _, bad = parse(pa.array([value], pa.string()), kind)
                if bad.any():
                    raise MappingError(f"{name}: defaults: '{col}': '{value}' is not a {kind} value")
        elif col in cols and col not in key_columns(table):
            kind = kind_of(cols[col])
            if kind != "str" and col not in mapping.formats:
                _, bad = parse(pa.array([value], pa.string()), kind)
                if bad.any():
                    raise MappingError(f"{name}: defaults: '{col}': '{value}' is not a {kind} value")
        elif col in cols:
            raise MappingError(f"{name}: defaults: '{col}' is a key; a key cannot have a default")
    for col, fmt in mapping.formats.items():
        kind = kind_of(cols[col]) if col in cols else kind_of(customer_cols[col]) if col in customer_cols else "str"
        if kind not in ("date", "datetime"):
            raise MappingError(f"{name}: formats: '{col}' is not a date or date/time column")
        problem = format_problem(fmt, kind)
        if problem:
            raise MappingError(f"{name}: formats: '{col}': '{fmt}' {problem}")


def value_aliases(vocab: str) -> dict[str, str]:
    """Display names (zh and en, from the catalogue) and extra Chinese names -> stored value."""
    out: dict[str, str] = {}
    prefix = f"{vocab}."
    for key, texts in catalogue().items():
        if key.startswith(prefix) and key.count(".") == 1:
            value = key[len(prefix):]
            for text in texts.values():
                out.setdefault(text, value)
                out.setdefault(text.lower(), value)
    out.update(EXTRA_VALUE_ALIASES.get(vocab, {}))
    return out


def catalogue_values(vocab: str) -> set[str]:
    prefix = f"{vocab}."
    return {k[len(prefix):] for k in catalogue() if k.startswith(prefix) and k.count(".") == 1}


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
