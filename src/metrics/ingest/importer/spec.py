"""What an import file may contain, per table of the data model: value vocabularies, ranges, order
rules, references and contradictions; the columns (header names in English and the common Chinese
ones, extra columns, keys) are :mod:`metrics.ingest.importer.columns` and the user's mapping file
:mod:`metrics.ingest.importer.mapping` (read them there).

Everything here is data; :mod:`metrics.ingest.importer.validate` applies it. Types come from
:mod:`metrics.model.schema`, so a column added there is importable under its own name at once.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import sqlalchemy as sa

from metrics.model import schema, ticket_status
from metrics.model.i18n import catalogue

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

# columns whose dates must be the first day of a month ("2026-03" is read as 2026-03-01)
MONTH_COLUMNS = {("billing_monthly", "month"), ("user_base", "month")}


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


