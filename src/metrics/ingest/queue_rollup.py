"""Queue rollup (issue 19): the halls' queue records pre-aggregated per outlet × day × hour × service
type × tier, with a per-minute histogram of the waiting time, so the Outlets page reads a few small rows
instead of every ticket the halls' machines printed.

``rollup_queue`` holds, per outlet_id, day (of arrival), hour (of arrival, 0–23), service_type, tier (the
customer's; NULL: not identified) and ``wait_min`` (the waiting time called_at − arrived_at in whole
minutes, floored; NULL: never called): visits, abandoned, waited (visits with a waiting time), wait_s and
wait_sq (the sum of the waits in seconds and of their squares), served (visits with a service time) and
service_s (the sum of ended_at − started_at, seconds). Every time difference is rounded to the second.

It is rebuilt with one ``INSERT … SELECT`` by every load and import (:func:`refresh`, called from
:func:`metrics.ingest.derived.refresh_rollups`). Counts, sums, means and shares read from it are exact;
medians and 90th percentiles are read from the minute histogram, so they have a resolution of one
minute — and the raw path (:func:`aggregate` over :func:`record_rows`) computes the same histogram from
the queue records, so both paths give identical numbers (docs/outlets.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from metrics.ingest.rollups import analyze
from metrics.model import schema as s
from metrics.query.dialect import hours_between

BUILT_KEY = "queue_rollup_built"  # sw_meta: present once the table is complete
KEYS = ("outlet_id", "day", "hour", "service_type", "tier")
SUMS = ("visits", "abandoned", "waited", "wait_s", "wait_sq", "served", "service_s")
RESOLUTION_MIN = 1  # minutes: the resolution of medians and percentiles of waiting time

metadata = sa.MetaData()
rollup_queue = sa.Table(
    "rollup_queue", metadata,
    sa.Column("outlet_id", sa.Integer, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("hour", sa.SmallInteger, nullable=False),
    sa.Column("service_type", sa.String(24), nullable=False),
    sa.Column("tier", s.customers.c.tier.type, nullable=True),
    sa.Column("wait_min", sa.Integer, nullable=True),
    *[sa.Column(n, sa.BigInteger, nullable=False) for n in ("visits", "abandoned", "waited", "served")],
    *[sa.Column(n, sa.Double, nullable=True) for n in ("wait_s", "wait_sq", "service_s")],
)


def seconds(start: sa.ColumnElement, end: sa.ColumnElement) -> sa.ColumnElement:
    """Seconds from ``start`` to ``end``, rounded to the second (NULL when either is NULL)."""
    return sa.func.round(hours_between(start, end) * 3600)


def record_from() -> sa.FromClause:
    """The queue records with their customer (for the tier and the customer's slices)."""
    q, c = s.queue_records, s.customers
    return q.outerjoin(c, c.c.customer_id == q.c.customer_id)


def record_columns() -> list[sa.ColumnElement]:
    """One row per queue record: the rollup's keys, ``wait_min`` and the values its sums add up
    (``one``, ``ab``, ``wait``, ``service``: seconds)."""
    q, c = s.queue_records, s.customers
    wait = seconds(q.c.arrived_at, q.c.called_at)
    return [q.c.outlet_id.label("outlet_id"), sa.cast(q.c.arrived_at, sa.Date).label("day"),
            sa.cast(sa.extract("hour", q.c.arrived_at), sa.SmallInteger).label("hour"),
            q.c.service_type.label("service_type"), c.c.tier.label("tier"),
            sa.cast(sa.func.floor(wait / 60), sa.Integer).label("wait_min"),
            sa.case((q.c.abandoned, 1), else_=0).label("ab"), wait.label("wait"),
            seconds(q.c.started_at, q.c.ended_at).label("service")]


def aggregate(per: sa.FromClause, dims: Sequence[str], summed: bool, by_minute: bool = True,
              target_minutes: float | None = None) -> sa.Select:
    """``dims`` and ``wait_min`` (``by_minute``; else ``dims`` alone) with the rollup's sums, grouped:
    from per-record rows of :func:`record_columns` (``summed`` False) or from rows already summed like
    ``rollup_queue``; with ``target_minutes``, also ``within``: the waits of fewer whole minutes."""
    keys = [per.c[d] for d in ((*dims, "wait_min") if by_minute else dims)]
    if summed:
        sums = [sa.func.sum(per.c[n]).label(n) for n in SUMS]
    else:
        w, sv = per.c.wait, per.c.service
        sums = [sa.func.count().label("visits"), sa.func.sum(per.c.ab).label("abandoned"),
                sa.func.count(w).label("waited"), sa.func.sum(w).label("wait_s"), sa.func.sum(w * w).label("wait_sq"),
                sa.func.count(sv).label("served"), sa.func.sum(sv).label("service_s")]
    if target_minutes is not None:
        waited = per.c.waited if summed else 1
        sums.append(sa.func.sum(sa.case((per.c.wait_min < sa.literal(target_minutes, sa.Double), waited), else_=0))
                    .label("within"))
    return sa.select(*keys, *sums).group_by(*keys)


def build_select() -> sa.Select:
    """The rows of ``rollup_queue``: every queue record, grouped by :data:`KEYS` and ``wait_min``."""
    per = sa.select(*record_columns()).select_from(record_from()).subquery("qr")
    return aggregate(per, KEYS, summed=False)


def refresh(engine: sa.Engine) -> None:
    """Rebuild ``rollup_queue``; the sw_meta key is removed first and written last, so a failed refresh
    leaves nothing that could be read (readers then aggregate the queue records). A database made
    before queue records (no such table) gets no rollup."""
    m = s.meta
    with engine.begin() as conn:
        conn.execute(m.delete().where(m.c.key == BUILT_KEY))
    metadata.drop_all(engine)
    if getattr(s, "queue_records", None) is None or not sa.inspect(engine).has_table(s.queue_records.name):
        return
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(rollup_queue.insert().from_select([*KEYS, "wait_min", *SUMS], build_select()))
        conn.execute(m.insert().values(key=BUILT_KEY, value="1"))
    analyze(engine, [rollup_queue])


def is_built(conn_or_wh) -> bool:  # noqa: ANN001 - a Warehouse (read) or a Connection
    """Whether the rollup is complete (sw_meta holds :data:`BUILT_KEY`)."""
    m = s.meta
    stmt = sa.select(m.c.value).where(m.c.key == BUILT_KEY)
    if hasattr(conn_or_wh, "read"):
        return len(conn_or_wh.read(stmt)) > 0
    return conn_or_wh.execute(stmt).first() is not None


__all__ = ["BUILT_KEY", "KEYS", "RESOLUTION_MIN", "SUMS", "aggregate", "build_select", "is_built", "record_columns",
           "record_from", "refresh", "rollup_queue", "seconds"]
