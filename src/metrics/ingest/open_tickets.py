"""Open tickets per customer, counted in the database at every refresh, for the at-risk list.

Counting a hundred customers' open tickets means scanning every ticket (ten million at L: ~0.1–0.3 s
on a DuckDB file, since tickets are stored by opening time). ``rollup_open_tickets`` holds the count
of open tickets (no ``resolved_at``, status not ``'resolved'``) per customer (only customers with at
least one), rebuilt with one ``INSERT … SELECT`` by every load and import (:func:`refresh`, called from
``metrics.ingest.load``), so it is as current as the data. :func:`counts` is the table when it is built,
else the same aggregate over the tickets.
"""

from __future__ import annotations

import sqlalchemy as sa

from metrics.ingest.rollups import analyze
from metrics.model import schema as s
from metrics.model import ticket_status

BUILT_KEY = "open_tickets_built"  # sw_meta: present once the table is complete

metadata = sa.MetaData()
rollup_open_tickets = sa.Table(
    "rollup_open_tickets", metadata,
    sa.Column("customer_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("open_tickets", sa.BigInteger, nullable=False),
)


def build_select() -> sa.Select:
    """Per customer: tickets not resolved (``resolved_at`` NULL and not resolved by their status)."""
    tk = s.tickets
    return (sa.select(tk.c.customer_id, sa.func.count().label("open_tickets"))
            .where(ticket_status.still_open(tk), tk.c.customer_id.isnot(None)).group_by(tk.c.customer_id))


def refresh(engine: sa.Engine) -> None:
    """Rebuild the table; the sw_meta key is removed first and written last, so a failed refresh
    leaves nothing that could be read (readers then count the tickets)."""
    m = s.meta
    with engine.begin() as conn:
        conn.execute(m.delete().where(m.c.key == BUILT_KEY))
    metadata.drop_all(engine)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(rollup_open_tickets.insert().from_select(["customer_id", "open_tickets"], build_select()))
        conn.execute(m.insert().values(key=BUILT_KEY, value="1"))
    analyze(engine, [rollup_open_tickets])


def counts(built: bool) -> sa.FromClause:
    """customer_id, open_tickets: the refreshed table when ``built`` (sw_meta has :data:`BUILT_KEY`),
    else the aggregate over the tickets."""
    return rollup_open_tickets if built else build_select().subquery("open_t")


__all__ = ["BUILT_KEY", "counts", "refresh", "rollup_open_tickets"]
