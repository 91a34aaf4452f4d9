"""One customer's history for the at-risk drill-down (the customer card): profile, tickets, surveys,
monthly spend, account managers' visits and retention actions.

Whole history, not the page's period (the point is what happened to this customer). Every function
first checks that the customer is inside the user's scope (``Filters.scope``) with the compiler's
own customer conditions, and refuses (``ScopeError``) otherwise; viewers get no rows at all. A
customer is named by its id (int) or by the source's key (text, ``"7590-VHVEG"``); tickets and
surveys are listed with their keys.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from metrics.access.users import ScopeError, require_rows
from metrics.model import schema as s
from metrics.model import ticket_status
from metrics.model.filters import Filters
from metrics.model.keys import shown
from metrics.query.warehouse import Warehouse
from metrics.query.where import slice_conditions

TICKET_COLUMNS = ("ticket_id", "opened_at", "channel", "kind", "category", "priority", "first_response_at",
                  "resolved_at", "resolution_due_at", "escalated", "reopened", "compensation")
SURVEY_COLUMNS = ("survey_id", "answered_at", "kind", "channel", "ticket_id", "csat", "nps", "ces", "comment")
VISIT_COLUMNS = ("visit_id", "visit_date", "manager_id", "kind", "purpose", "outcome", "next_step")
ACTION_COLUMNS = ("action_id", "created_date", "action_type", "owner", "due_date", "status", "outcome", "cost",
                  "arm", "risk_decile")
PROFILE_COLUMNS = ("customer_id", "name", "segment", "tier", "sla_level", "region_id", "acquisition_channel",
                   "start_date", "end_date", "churn_reason", "monthly_revenue", "account_manager_id")


def resolve_customer(wh: Warehouse, customer: int | str) -> int:
    """The id of a customer named by its id (int) or its key as the source wrote it (text); a key
    the data does not hold is refused like a customer outside the scope."""
    if not isinstance(customer, str):
        return int(customer)
    found = wh.key_ids("customers", [customer]).get(customer.strip())
    if found is None:
        raise ScopeError.said("scope_refusal.no_customer", customer=repr(customer[:64]))
    return found


def _check(wh: Warehouse, f: Filters, customer: int | str) -> int:
    """The customer's id; refuses a customer outside the user's scope (the page filters do not
    matter here)."""
    require_rows(f.scope, "customer_histories")
    customer_id = resolve_customer(wh, customer)
    scope_only = f.scope_only()
    wh.resolve_as_of(scope_only)  # refuses a region outside the scope
    c = s.customers
    stmt = sa.select(c.c.customer_id).where(c.c.customer_id == sa.bindparam("cid", int(customer_id)),
                                             *slice_conditions(scope_only, c))
    if wh.read(stmt).empty:
        raise ScopeError.said("scope_refusal.customer", customer=int(customer_id))
    return customer_id


def profile(wh: Warehouse, f: Filters, customer: int | str) -> dict:
    """The customer's row with the account manager's name and ``customer_key``, the customer as the
    source wrote it (``customer_id`` stays the id)."""
    customer_id = _check(wh, f, customer)
    c, am = s.customers, s.account_managers
    stmt = (sa.select(*[c.c[n] for n in PROFILE_COLUMNS], am.c.name.label("account_manager"))
            .select_from(c.outerjoin(am, am.c.manager_id == c.c.account_manager_id))
            .where(c.c.customer_id == sa.bindparam("cid", int(customer_id))))
    df = wh.read(stmt)
    if df.empty:
        return {}
    out = df.iloc[0].to_dict()
    out["customer_key"] = shown(customer_id, wh.key_texts("customers", [customer_id]))
    return out


def tickets(wh: Warehouse, f: Filters, customer: int | str, limit: int = 500) -> pd.DataFrame:
    """The customer's tickets, newest first, with ``open`` (unresolved as of the data's date);
    ``ticket_id`` as the source's key (text)."""
    customer_id = _check(wh, f, customer)
    t = s.tickets
    stmt = (sa.select(*[t.c[n] for n in TICKET_COLUMNS], ticket_status.still_open(t).label("open"))
            .where(t.c.customer_id == sa.bindparam("cid", int(customer_id)))
            .order_by(t.c.opened_at.desc(), t.c.ticket_id.desc()).limit(limit))
    return wh.read(stmt, keys={"ticket_id": "tickets"})


def surveys(wh: Warehouse, f: Filters, customer: int | str, limit: int = 500) -> pd.DataFrame:
    """The customer's survey answers, newest first; ``survey_id`` and ``ticket_id`` as the source's
    keys (text)."""
    customer_id = _check(wh, f, customer)
    sv = s.surveys
    stmt = (sa.select(*[sv.c[n] for n in SURVEY_COLUMNS])
            .where(sv.c.customer_id == sa.bindparam("cid", int(customer_id)))
            .order_by(sv.c.answered_at.desc(), sv.c.survey_id.desc()).limit(limit))
    return wh.read(stmt, keys={"survey_id": "surveys", "ticket_id": "tickets"})


def spend(wh: Warehouse, f: Filters, customer: int | str) -> pd.DataFrame:
    """Monthly spend: month, revenue, oldest first."""
    customer_id = _check(wh, f, customer)
    b = s.billing_monthly
    stmt = (sa.select(b.c.month, b.c.revenue)
            .where(b.c.customer_id == sa.bindparam("cid", int(customer_id))).order_by(b.c.month))
    df = wh.read(stmt)
    if len(df):
        df["month"] = pd.to_datetime(df["month"])
    return df


def _has(wh: Warehouse, table: sa.Table) -> bool:
    """Whether the database holds ``table`` (visits and actions came with issue 18: an older
    database has neither)."""
    with wh.engine.connect() as conn:
        return sa.inspect(conn).has_table(table.name)


def visits(wh: Warehouse, f: Filters, customer: int | str, limit: int = 200) -> pd.DataFrame | None:
    """The account managers' visits and calls to the customer, newest first, with the manager's name
    (``manager``); None when the database has no visits table (nothing recorded is an empty frame)."""
    customer_id = _check(wh, f, customer)
    if not _has(wh, s.visits):
        return None
    v, am = s.visits, s.account_managers
    stmt = (sa.select(*[v.c[n] for n in VISIT_COLUMNS], am.c.name.label("manager"))
            .select_from(v.outerjoin(am, am.c.manager_id == v.c.manager_id))
            .where(v.c.customer_id == sa.bindparam("cid", int(customer_id)))
            .order_by(v.c.visit_date.desc(), v.c.visit_id.desc()).limit(limit))
    return wh.read(stmt, keys={"visit_id": "visits"})


def actions(wh: Warehouse, f: Filters, customer: int | str) -> pd.DataFrame | None:
    """The retention actions on the customer, newest first, with the owner's name (``owner_name``)
    and ``overdue`` (open, treated, due before the data's as-of date); ``action_id`` the id (to close
    it), ``action_key`` as the source wrote it; None when the database has no actions table."""
    customer_id = _check(wh, f, customer)
    if not _has(wh, s.retention_actions):
        return None
    from metrics.query.where import date_literal

    a, am = s.retention_actions, s.account_managers
    overdue = sa.and_(a.c.status == "open", a.c.due_date < date_literal(f.as_of or wh.as_of()))
    stmt = (sa.select(*[a.c[n] for n in ACTION_COLUMNS], a.c.action_id.label("action_key"),
                      am.c.name.label("owner_name"), sa.case((overdue, True), else_=False).label("overdue"))
            .select_from(a.outerjoin(am, am.c.manager_id == a.c.owner))
            .where(a.c.customer_id == sa.bindparam("cid", int(customer_id)))
            .order_by(a.c.created_date.desc(), a.c.action_id.desc()))
    df = wh.read(stmt, keys={"action_key": "retention_actions"})
    df["overdue"] = df["overdue"].fillna(False).astype(bool)
    return df
