"""Read side of the action loop (issue 18): the retention actions on the customers of a filter's
slices and scope, with whether each is overdue (open, treated, due before the as-of date) — the
``actions list`` command, the At-risk page's list and a digest's overdue count. The write side is
:mod:`metrics.churn.actions_store`, which re-exports these names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from metrics.model import schema

LIST_COLUMNS = ("action_id", "customer_id", "action_type", "owner", "created_date", "due_date", "status",
                "outcome", "cost", "arm", "risk_decile")


def _list_query(f, as_of: dt.date, status: Sequence[str] = (), owner: int | None = None,  # noqa: ANN001
                overdue_only: bool = False) -> sa.Select:
    """The actions on the customers of ``f``'s slices and scope (the customer's acquisition channel
    for the channel slice), :data:`LIST_COLUMNS` and ``overdue``: open (treated) and due before ``as_of``."""
    from metrics.query.where import date_literal, slice_conditions

    a, c = schema.retention_actions, schema.customers
    overdue = sa.and_(a.c.status == "open", a.c.due_date < date_literal(as_of))
    stmt = (sa.select(*[a.c[n] for n in LIST_COLUMNS], sa.case((overdue, True), else_=False).label("overdue"))
            .select_from(a.join(c, c.c.customer_id == a.c.customer_id))
            .where(*slice_conditions(f, c, c.c.acquisition_channel)).order_by(a.c.action_id))
    if status:
        stmt = stmt.where(a.c.status.in_(list(status)))
    if owner is not None:
        stmt = stmt.where(a.c.owner == owner)
    return stmt.where(overdue) if overdue_only else stmt


def action_list(wh, f, status: Sequence[str] = (), owner: int | None = None,  # noqa: ANN001 - Warehouse, Filters
                overdue_only: bool = False) -> pd.DataFrame:
    """The retention actions of ``f``'s slices and scope (:data:`LIST_COLUMNS` and ``overdue`` at the
    as-of date of ``f``), optionally only of ``status``, of account manager id ``owner``, or overdue.
    Refused to viewers (:class:`~metrics.access.users.ScopeError`): a list of customers' actions."""
    from metrics.access.users import require_rows
    from metrics.churn.features import read_frame

    require_rows(f.scope, "retention_action_lists")
    df = read_frame(wh, _list_query(f, f.as_of or wh.as_of(), status, owner, overdue_only))
    df["owner"] = pd.array(df["owner"], dtype="Float64").astype("Int64")
    df["overdue"] = df["overdue"].fillna(False).astype(bool)
    return df


def overdue_count(wh, f) -> int | None:  # noqa: ANN001 - a Warehouse and Filters
    """Open (treated) actions past their due date at the as-of date of ``f``, on the customers of its
    slices and scope (for a digest: the recipient's), as :func:`action_list` counts them; None when the
    database has no actions table."""
    with wh.engine.connect() as conn:
        if not sa.inspect(conn).has_table(schema.retention_actions.name):
            return None
        q = _list_query(f, f.as_of or wh.as_of(), overdue_only=True).order_by(None).subquery()
        return int(conn.execute(sa.select(sa.func.count()).select_from(q)).scalar_one())
