"""Ticket due times from the commitments, when the data gave none (docs/data-model.md, "Due times").

A derived step of every load, import and refresh (:func:`metrics.ingest.derived.refresh_meta`): a
ticket without ``response_due_at`` and ``resolution_due_at`` gets ``opened_at`` + the
``response_hours`` / ``resolution_hours`` of the ``sla_policies`` row of its customer's
``sla_level`` and its ``priority`` (rounded to the second). ``tickets.due_source`` records which way
the due times came:

* ``'file'``: the loaded data gave at least one due time; they are kept as given, never overwritten
  and never completed from a policy;
* ``'policy'``: derived here; recomputed on every refresh, so a changed, added or removed policy
  changes them (a removed one leaves them NULL again);
* NULL: neither (no due time in the data and no policy for the customer's level and the priority).

The data model has no commitments for consumer tiers (only ``sla_policies``, one row per enterprise
SLA level × priority), so consumer tickets get due times only from the data. Four UPDATE statements
of SQLAlchemy Core with correlated subqueries, the same on DuckDB, PostgreSQL and MariaDB; only
"timestamp + hours" is spelled per dialect (:class:`hours_after`). Spark's file tables are written
from frames: :func:`fill_frame` applies the same rule in pandas.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from metrics.model import schema
from metrics.query.dialect import hours_after

FILE = "file"
POLICY = "policy"
DUE_SOURCES = (FILE, POLICY)
DUE_COLUMNS = {"response_due_at": "response_hours", "resolution_due_at": "resolution_hours"}


def _commitment(due_column: str) -> sa.ScalarSelect:
    """The due time of the enclosing ticket row from its customer's policy (NULL when none)."""
    t, c, p = schema.tickets, schema.customers, schema.sla_policies
    return (sa.select(hours_after(t.c.opened_at, p.c[DUE_COLUMNS[due_column]]))
            .select_from(c.join(p, p.c.sla_level == c.c.sla_level))
            .where(c.c.customer_id == t.c.customer_id, p.c.priority == t.c.priority)
            .correlate(t).scalar_subquery())


def refresh(conn: sa.Connection) -> None:
    """Mark due times given by the data as ``'file'`` and (re)derive the others from ``sla_policies``,
    in the caller's transaction. Rows already right are not written (a refresh after an import that
    changed nothing here writes nothing)."""
    t = schema.tickets
    given = sa.or_(*[t.c[col].isnot(None) for col in DUE_COLUMNS])
    derivable = sa.or_(t.c.due_source.is_(None), t.c.due_source == POLICY)
    # 1. every ticket not derived here: 'file' when the data gave a due time, else NULL
    source = sa.case((given, sa.literal(FILE)), else_=sa.null())
    not_derived = sa.or_(t.c.due_source.is_(None), t.c.due_source != POLICY)
    conn.execute(t.update().where(not_derived, t.c.due_source.is_distinct_from(source)).values(due_source=source))
    # 2. the tickets without due times from the data: due times from the policies (or NULL)
    due = {col: _commitment(col) for col in DUE_COLUMNS}
    changed = sa.or_(*[t.c[col].is_distinct_from(expr) for col, expr in due.items()])
    conn.execute(t.update().where(derivable, changed).values(due))
    # 3. which of them the policies gave due times to
    source = sa.case((given, sa.literal(POLICY)), else_=sa.null())
    conn.execute(t.update().where(derivable, t.c.due_source.is_distinct_from(source)).values(due_source=source))


def has_column(conn: sa.Connection) -> bool:
    """Whether the database's ``tickets`` has ``due_source`` (a database created before it has not)."""
    return schema.has_column(conn, schema.tickets.c.due_source)


def add_column(engine: sa.Engine) -> bool:
    """Add ``tickets.due_source`` to a database created before it, in its own transaction (MariaDB
    commits DDL at once, so never inside a load's or an import's). True when it was added."""
    return schema.add_column(engine, schema.tickets.c.due_source)


def counts(conn: sa.Connection) -> dict[str | None, int]:
    """Tickets per ``due_source`` (``'file'``, ``'policy'``, None)."""
    t = schema.tickets
    rows = conn.execute(sa.select(t.c.due_source, sa.func.count()).group_by(t.c.due_source)).all()
    return {src: int(n) for src, n in rows}


def fill_frame(tickets: pd.DataFrame, customers: pd.DataFrame | None,
               policies: pd.DataFrame | None) -> pd.DataFrame:
    """The same rule on frames (Spark's file tables are written, not updated): a copy of ``tickets``
    with ``due_source`` set and the due times of tickets without any derived from ``policies``."""
    out = tickets.copy()
    given = out[list(DUE_COLUMNS)].notna().any(axis=1)
    out["due_source"] = pd.Series(pd.NA, index=out.index, dtype=object)
    out.loc[given, "due_source"] = FILE
    if customers is None or policies is None or customers.empty or policies.empty or given.all():
        return out
    level = out["customer_id"].map(customers.set_index("customer_id")["sla_level"])
    keys = pd.MultiIndex.from_arrays([level, out["priority"]])
    pol = policies.set_index(["sla_level", "priority"])
    derived = pd.Series(False, index=out.index)
    for col, hours in DUE_COLUMNS.items():
        h = pd.Series(pol[hours].reindex(keys).to_numpy(dtype=float), index=out.index)
        due = pd.to_datetime(out["opened_at"]) + pd.to_timedelta((h * 3600).round(), unit="s")
        fill = ~given & h.notna()
        out[col] = out[col].astype("datetime64[ns]").where(~fill, due)
        derived |= fill
    out.loc[derived, "due_source"] = POLICY
    return out


__all__ = ["DUE_SOURCES", "FILE", "POLICY", "add_column", "counts", "fill_frame", "has_column", "hours_after",
           "refresh"]
