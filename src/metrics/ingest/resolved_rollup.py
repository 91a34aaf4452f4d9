"""The resolved tickets, denormalised and sorted: what the resolution-time quantiles read.

An exact median or p90 needs every value of its slice, so no cube of sums can answer it; what
costs the time on raw rows is the join of the tickets with a million customers. ``rollup_resolved``
is a copy of the tickets a quantile metric of the registry counts as of the load's as-of (its
``where``: resolved, with a resolution time known by then), each with the columns its value reads
(``opened_at``, ``resolved_at``), the ticket's channel, category, kind and priority and the
customer's region_id, tier, segment and sla_level — every dimension and filter of those metrics —
ordered by ``opened_at`` (a period is a contiguous run of rows: DuckDB's zone maps skip the rest;
PostgreSQL gets a BRIN index). It is rebuilt with one ``INSERT … SELECT`` by
:func:`metrics.ingest.rollups.refresh` and listed as ``resolved`` in ``sw_meta.rollup_sources``.

Reading it is :func:`metrics.query.rollup_compiler.compile_from_rollup`: the metric's own value and
``where`` expressions over this table instead of ``tickets`` (:class:`metrics.model.registry.Ctx`
with ``t`` = this table), the same period and filters as the raw query, at the same as-of, so the
rows, hence the quantiles, are those of the raw query exactly.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from metrics.model import dimensions
from metrics.model import schema as s
from metrics.model.registry import METRICS, Ctx, Metric
from metrics.query.where import end_of_day

SOURCE = "resolved"  # its name in sw_meta.rollup_sources
_t, _c = s.tickets.c, s.customers.c
TICKET_COLUMNS = ("opened_at", "resolved_at")  # what the quantile metrics' value and where read
FACT_DIMS = ("channel", "category", "kind", "priority")
DIMS = dimensions.CUSTOMER_DIMS + FACT_DIMS + ("month", "week")  # month, week: of opened_at

metadata = sa.MetaData()
rollup_resolved = sa.Table(
    "rollup_resolved", metadata,
    *[sa.Column(name, _t[name].type) for name in TICKET_COLUMNS],
    sa.Column("region_id", sa.Integer), sa.Column("tier", _c.tier.type), sa.Column("segment", _c.segment.type),
    sa.Column("sla_level", _c.sla_level.type), *[sa.Column(d, _t[d].type) for d in FACT_DIMS],
)
# PostgreSQL: block ranges of opened_at, made after the rows are in (a BRIN index summarises the
# pages present when it is built; pages added later wait for a VACUUM)
_BRIN = "CREATE INDEX ix_rollup_resolved_opened ON rollup_resolved USING brin (opened_at)"


def ctx(as_of_end: datetime, table: sa.Table = rollup_resolved) -> Ctx:
    """The registry's row context with ``table`` in place of ``tickets``, as of ``as_of_end``."""
    return Ctx(as_of_end=sa.literal(as_of_end, sa.DateTime), t=table)


def expressions(m: Metric, as_of_end: datetime, table: sa.Table = rollup_resolved
                ) -> tuple[sa.ColumnElement, sa.ColumnElement | None] | None:
    """(value, where) of quantile metric ``m`` over ``table`` at ``as_of_end``; None when they read
    a column the table does not hold (that metric stays on raw rows)."""
    x = ctx(as_of_end, table)
    try:
        return m.value(x), (m.where(x) if m.where is not None else None)
    except (KeyError, AttributeError):
        return None


def served(m: Metric) -> bool:
    """Whether ``rollup_resolved`` can hold ``m``'s rows: a quantile of tickets whose expressions read
    only the table's columns."""
    return (m.kind == "quantile" and m.source == "tickets" and not m.needs
            and expressions(m, datetime(2000, 1, 1)) is not None)


def build_select(as_of: date) -> sa.Select:
    """The rows of ``rollup_resolved`` as of ``as_of``: tickets joined to their customer (the raw
    query's inner join) where some served metric's ``where`` holds, ordered by opening time."""
    t, c = s.tickets, s.customers
    end = end_of_day(as_of)
    wheres = []
    for m in METRICS:
        if served(m):
            _, where = expressions(m, end, t)  # type: ignore[misc]
            wheres.append(sa.true() if where is None else where)
    cols = [t.c[n] for n in TICKET_COLUMNS] + [c.c.region_id, c.c.tier, c.c.segment, c.c.sla_level]
    cols += [t.c[d] for d in FACT_DIMS]
    q = sa.select(*cols).select_from(t.join(c, c.c.customer_id == t.c.customer_id))
    return q.where(sa.or_(*wheres) if wheres else sa.false()).order_by(t.c.opened_at)


def drop(engine: sa.Engine) -> None:
    """Remove the table (before its rows could disagree with new data)."""
    metadata.drop_all(engine)


def index(conn: sa.Connection) -> None:
    """After the table is filled: on PostgreSQL a BRIN index on the opening time (the rows are in that
    order), so a period reads only its blocks; the other databases need none."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(_BRIN)


__all__ = ["DIMS", "SOURCE", "build_select", "ctx", "drop", "expressions", "index", "rollup_resolved", "served"]
