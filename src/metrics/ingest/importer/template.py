"""Example import files: the expected headers of a table and two rows that import cleanly.

``servicewatch template TABLE`` and the Data page write these. The example rows of all tables form
one consistent chain (region 900001 → manager 900001 → customer 900001 → ticket 900001 → …), so
the templates import cleanly in the documented order into an empty database or beside existing
data (ids from 900001 on, which a real export rarely uses; change them before loading real data).
"""

from __future__ import annotations

import csv
import io

from metrics.ingest.importer import spec

EXAMPLES: dict[str, list[dict[str, object]]] = {
    "regions": [
        {"region_id": 900001, "name_en": "Example Province", "name_zh": "示例省", "parent_id": None,
         "level": "province"},
        {"region_id": 900002, "name_en": "Example City", "name_zh": "示例市", "parent_id": 900001, "level": "city"},
    ],
    "account_managers": [
        {"manager_id": 900001, "name": "张示例", "region_id": 900002},
        {"manager_id": 900002, "name": "李示例", "region_id": 900002},
    ],
    "customers": [
        {"customer_id": 900001, "name": "示例客户甲", "segment": "consumer", "tier": "gold", "region_id": 900002,
         "acquisition_channel": "hotline", "account_manager_id": None, "sla_level": None,
         "start_date": "2024-03-01", "end_date": None, "churn_reason": None, "monthly_revenue": 128.5},
        {"customer_id": 900002, "name": "示例企业乙", "segment": "enterprise", "tier": "enterprise",
         "region_id": 900002, "acquisition_channel": "account_manager", "account_manager_id": 900001,
         "sla_level": "gold", "start_date": "2023-01-15", "end_date": "2025-06-30", "churn_reason": "price",
         "monthly_revenue": 5200},
    ],
    "tickets": [
        {"ticket_id": 900001, "customer_id": 900001, "channel": "hotline", "kind": "complaint",
         "category": "billing", "priority": "P2", "opened_at": "2025-03-05 09:30:00",
         "first_response_at": "2025-03-05 10:05:00", "resolved_at": "2025-03-06 16:00:00",
         "response_due_at": "2025-03-05 13:30:00", "resolution_due_at": "2025-03-07 09:30:00",
         "first_contact_resolved": "false", "reopened": "false", "escalated": "false",
         "revisited_at": "2025-03-07 11:00:00", "revisit_satisfied": "true", "compensation": 0},
        {"ticket_id": 900002, "customer_id": 900002, "channel": "account_manager", "kind": "fault",
         "category": "fault_repair", "priority": "P1", "opened_at": "2025-04-10 14:00:00",
         "first_response_at": "2025-04-10 14:10:00", "resolved_at": None,
         "response_due_at": "2025-04-10 14:15:00", "resolution_due_at": "2025-04-10 18:00:00",
         "first_contact_resolved": "false", "reopened": "false", "escalated": "true",
         "revisited_at": None, "revisit_satisfied": None, "compensation": 200},
    ],
    "surveys": [
        {"survey_id": 900001, "customer_id": 900001, "ticket_id": 900001, "channel": "hotline",
         "kind": "post_interaction", "answered_at": "2025-03-07 11:00:00", "csat": 4, "nps": 8, "ces": 2,
         "comment": "处理及时"},
        {"survey_id": 900002, "customer_id": 900002, "ticket_id": None, "channel": "account_manager",
         "kind": "relationship", "answered_at": "2025-05-20 15:30:00", "csat": 3, "nps": 6, "ces": None,
         "comment": None},
    ],
    "sla_policies": [
        {"sla_level": "gold", "priority": "P1", "response_hours": 0.25, "resolution_hours": 4,
         "onsite_hours": 2, "availability_target": 0.9995},
        {"sla_level": "gold", "priority": "P2", "response_hours": 0.5, "resolution_hours": 8,
         "onsite_hours": 4, "availability_target": 0.9995},
    ],
    "services": [
        {"service_id": 900001, "customer_id": 900002, "product": "dedicated_line", "sla_level": "gold",
         "start_date": "2023-02-01", "end_date": None},
        {"service_id": 900002, "customer_id": 900002, "product": "idc", "sla_level": "gold",
         "start_date": "2023-05-01", "end_date": "2025-06-30"},
    ],
    "outages": [
        {"outage_id": 900001, "service_id": 900001, "started_at": "2025-02-11 03:20:00",
         "restored_at": "2025-02-11 05:05:00", "cause": "fiber_cut"},
        {"outage_id": 900002, "service_id": 900002, "started_at": "2025-04-02 22:00:00",
         "restored_at": None, "cause": None},
    ],
    "billing_monthly": [
        {"customer_id": 900001, "month": "2025-03-01", "revenue": 131.2},
        {"customer_id": 900001, "month": "2025-04-01", "revenue": 126.8},
    ],
    "targets": [
        {"target_id": 900001, "metric": "csat", "region_id": None, "tier": None, "channel": None,
         "valid_from": "2025-01-01", "value": 0.85},
        {"target_id": 900002, "metric": "csat", "region_id": 900002, "tier": "gold", "channel": None,
         "valid_from": "2025-01-01", "value": 0.9},
    ],
}
# the order in which the templates (and real files) import cleanly: parents first
ORDER = ("regions", "account_managers", "customers", "tickets", "surveys", "sla_policies", "services",
         "outages", "billing_monthly", "targets")


def headers(table: str, lang: str = "en") -> list[str]:
    """The columns of ``table``: data-model names (en) or the first Chinese name the importer
    recognises (zh; the data-model name where there is none)."""
    aliases = spec.ALIASES.get(table, {})
    out = []
    for c in spec.importable_columns(table):
        zh = [a for a in aliases.get(c.name, ()) if any(ord(ch) > 127 for ch in a)]
        out.append(zh[0] if lang == "zh" and zh else c.name)
    return out


def template_csv(table: str, lang: str = "en", rows: bool = True) -> bytes:
    """A CSV (UTF-8 with BOM, so Excel shows the Chinese) with the headers of ``table`` and, unless
    ``rows`` is False, two example rows that import cleanly (see the module docstring)."""
    if table not in spec.TABLES:
        raise KeyError(table)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(headers(table, lang))
    if rows:
        for r in EXAMPLES[table]:
            w.writerow(["" if r.get(c.name) is None else r[c.name] for c in spec.importable_columns(table)])
    return buf.getvalue().encode("utf-8-sig")
