"""When a ticket is resolved: by its resolution time, or by a status without one (``tickets.status``).

Helpdesk exports often close a ticket (Closed, 已办结) without a resolution time. ``tickets.status``
keeps what the source said: ``'resolved'``, ``'open'`` or NULL (no status: derived from
``resolved_at`` as before). A ticket is resolved when ``resolved_at`` is known or its status is
``'resolved'``; a ticket resolved *without* a time (:func:`undated`) is resolved at every as-of
date (the status is the extract's), is never open or in the backlog, and is left out of every
duration figure and of SLA resolution compliance (met or breached is unknown). The import rejects a
row whose status is ``'open'`` while it gives a resolution time (``open_but_resolved``).

A database created before the column keeps working: loads, imports and refreshes add it
(:func:`add_column`, in their own transaction), and :meth:`metrics.query.warehouse.Warehouse.read`
reads such a database with the column taken as NULL (:func:`without_column`).
"""

from __future__ import annotations

import sqlalchemy as sa

from metrics.model import schema as s

OPEN = "open"
RESOLVED = "resolved"
STATUSES = (OPEN, RESOLVED)


def undated(t: sa.Table = s.tickets) -> sa.ColumnElement:
    """Resolved by its status, without a resolution time (never NULL: safe under NOT)."""
    return sa.and_(t.c.status.isnot(None), t.c.status == RESOLVED, t.c.resolved_at.is_(None))


def resolved(t: sa.Table = s.tickets, as_of_end: sa.ColumnElement | None = None) -> sa.ColumnElement:
    """Resolved (as of ``as_of_end``, exclusive, when given): a known resolution time, or the status."""
    timed = t.c.resolved_at.isnot(None)
    if as_of_end is not None:
        timed = sa.and_(timed, t.c.resolved_at < as_of_end)
    return sa.or_(timed, undated(t))


def still_open(t: sa.Table = s.tickets, as_of_end: sa.ColumnElement | None = None) -> sa.ColumnElement:
    """Not resolved (as of ``as_of_end`` when given): the complement of :func:`resolved`."""
    untimed = t.c.resolved_at.is_(None)
    if as_of_end is not None:
        untimed = sa.or_(untimed, t.c.resolved_at >= as_of_end)
    return sa.and_(untimed, sa.not_(undated(t)))


def has_column(conn: sa.Connection) -> bool:
    """Whether the database's ``tickets`` has ``status`` (one created before it has not)."""
    return s.has_column(conn, s.tickets.c.status)


def add_column(engine: sa.Engine) -> bool:
    """Add ``tickets.status`` to a database created before it, in its own transaction (MariaDB
    commits DDL at once). True when it was added."""
    return s.add_column(engine, s.tickets.c.status)


def without_column(stmt: sa.Executable) -> sa.Executable:
    """``stmt`` with ``tickets.status`` read as NULL, for a database created before the column."""
    column = s.tickets.c.status

    def swap(element: object) -> object:
        if element is column:
            return sa.cast(sa.null(), column.type)
        return None

    return sa.sql.visitors.replacement_traverse(stmt, {}, swap)


__all__ = ["OPEN", "RESOLVED", "STATUSES", "add_column", "has_column", "resolved", "still_open", "undated",
           "without_column"]
