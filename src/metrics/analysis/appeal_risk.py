"""Complaints that may become regulator appeals (issue 20): a user may appeal to 工信部 / 通信管理局
only after 15 days without a satisfactory answer, so every complaint still open past
:data:`WAIT_DAYS` days is an appeal waiting to happen, and one that passes it within :data:`SOON_DAYS`
days is next. The list carries each complaint's **owner**: the ticket's handler (``tickets.handler``, who
handles it) when the data names one, else the customer's account manager, and says which
(``owner_kind``: handler, account_manager, none); and the region. It follows the filters' slices and the
user's scope, and an aggregate-only user (a viewer) gets the counts only (one COUNT … GROUP BY
state in SQL: no ticket or name is read). A database created before
``tickets.handler`` lists the account managers.

Open = not resolved at the as-of moment (:func:`metrics.model.ticket_status.still_open`, the end of
the as-of day); age = that moment − opened_at, in days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa

from metrics.analysis.regulator import ticket_slices
from metrics.model import schema as s
from metrics.model import ticket_status
from metrics.model.filters import Filters
from metrics.query.where import end_of_day, slice_conditions
from metrics.query.where import timestamp_literal as _ts

WAIT_DAYS = 15  # the operator's time to answer before a user may appeal
SOON_DAYS = 3  # "due to pass it within" this many days
PAST, SOON = "past", "soon"
HANDLER, ACCOUNT_MANAGER, NO_OWNER = "handler", "account_manager", "none"  # owner_kind: who the owner is
COLUMNS = ["ticket_id", "customer_id", "customer", "region_id", "category", "priority", "channel", "opened_at",
           "age_days", "days_left", "state", "owner", "owner_kind", "handler", "manager_id", "manager"]


@dataclass
class AppealRisk:
    """The list (empty for an aggregate-only user) and the counts of each state."""

    as_of: date
    table: pd.DataFrame
    past: int
    soon: int
    listed: bool  # False: counts only (viewer)


def appeal_risk(wh, f: Filters, as_of: date | None = None, wait_days: int = WAIT_DAYS,  # noqa: ANN001
                soon_days: int = SOON_DAYS) -> AppealRisk:
    """Complaints open at the end of ``as_of`` (default: the data's as-of date) for ``wait_days`` days
    or more (``past``) or reaching it within ``soon_days`` days (``soon``), oldest first."""
    as_of = as_of or f.as_of or wh.as_of()
    now = end_of_day(as_of)
    t, c, am = s.tickets, s.customers, s.account_managers
    cut = now - timedelta(days=wait_days - soon_days)
    conds = [t.c.kind == "complaint", t.c.opened_at <= _ts(cut), ticket_status.still_open(t, _ts(now)),
             *slice_conditions(f, c, t.c.channel), *ticket_slices(f)]
    if f.scope is not None and f.scope.aggregates_only:  # a viewer: the counts, in SQL
        state = sa.case((t.c.opened_at <= _ts(now - timedelta(days=wait_days)), PAST), else_=SOON).label("state")
        n = wh.read(sa.select(state, sa.func.count().label("n")).select_from(
            t.join(c, c.c.customer_id == t.c.customer_id)).where(*conds).group_by(state))
        by = {str(k): int(v) for k, v in zip(n["state"], n["n"], strict=True)}
        return AppealRisk(as_of, pd.DataFrame(columns=COLUMNS), by.get(PAST, 0), by.get(SOON, 0), False)
    j = t.join(c, c.c.customer_id == t.c.customer_id).outerjoin(
        am, am.c.manager_id == c.c.account_manager_id)
    with wh.engine.connect() as conn:  # a database created before tickets.handler: no handler
        handler = t.c.handler if s.has_column(conn, t.c.handler) else sa.null()
    stmt = (sa.select(t.c.ticket_id, t.c.customer_id, c.c.name.label("customer"), c.c.region_id, t.c.category,
                      t.c.priority, t.c.channel, t.c.opened_at, handler.label("handler"),
                      c.c.account_manager_id.label("manager_id"), am.c.name.label("manager"))
            .select_from(j)
            .where(*conds).order_by(t.c.opened_at, t.c.ticket_id))
    df = wh.read(stmt, keys={"ticket_id": "tickets", "customer_id": "customers", "manager_id": "account_managers"})
    age = (pd.Timestamp(now) - pd.to_datetime(df["opened_at"])).dt.total_seconds() / 86400.0
    df["age_days"] = age.to_numpy(dtype=float)
    df["days_left"] = np.maximum(wait_days - df["age_days"], 0.0)
    df["state"] = np.where(df["age_days"] >= wait_days, PAST, SOON)
    df["owner"], df["owner_kind"] = owners(df["handler"], df["manager"])
    past, soon = int((df["state"] == PAST).sum()), int((df["state"] == SOON).sum())
    return AppealRisk(as_of, df[COLUMNS].reset_index(drop=True), past, soon, True)


def owners(handler: pd.Series, manager: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Each row's owner and who that is: the handler when named (not blank), else the account manager,
    else none (owner None)."""

    def named(col: pd.Series) -> pd.Series:
        return pd.Series([str(v).strip() if v is not None and not pd.isna(v) else "" for v in col],
                         index=col.index, dtype=object)

    h, m = named(handler), named(manager)
    kind = pd.Series(np.where(h != "", HANDLER, np.where(m != "", ACCOUNT_MANAGER, NO_OWNER)), index=h.index,
                     dtype=object)
    owner = pd.Series(np.where(h != "", h, np.where(m != "", m, None)), index=h.index, dtype=object)
    return owner, kind


__all__ = ["ACCOUNT_MANAGER", "COLUMNS", "HANDLER", "NO_OWNER", "owners",
           "PAST", "SOON", "SOON_DAYS", "WAIT_DAYS", "AppealRisk", "appeal_risk"]
