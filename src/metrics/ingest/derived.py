"""The derived tables, rebuilt from the data tables after every load, import and refresh: the region
closure, the calendar of months, the as-of date (from plausible dates only), the tickets' due times
from the commitments (:mod:`metrics.ingest.due_times`) and the rollups. The
same rules serve every database; Spark computes them in Python from the same functions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import sqlalchemy as sa

from metrics.backends.bulk import as_date
from metrics.ingest import due_times
from metrics.model import plausible, schema


def refresh_in_transaction(conn: sa.Connection) -> None:
    """Rebuild region_closure, calendar_months and the as-of in the caller's transaction, and mark
    every rollup as not built, so that readers of the committed data answer from the raw rows until
    :func:`refresh_rollups` has rebuilt them: no reader ever sees new rows with old rollups."""
    refresh_meta(conn, {})
    from metrics.churn import tenure_rollup as survival_rollup
    from metrics.ingest import open_tickets, queue_rollup, rollups

    stale = [rollups.AS_OF_KEY, rollups.SOURCES_KEY, survival_rollup.AS_OF_KEY, survival_rollup.HISTORY_KEY,
             open_tickets.BUILT_KEY, queue_rollup.BUILT_KEY]
    conn.execute(schema.meta.delete().where(schema.meta.c.key.in_(stale)))


def refresh_meta(conn: sa.Connection, meta: Mapping[str, object]) -> None:
    """The derived tables, ``sw_meta`` and the tickets' due times from the commitments
    (:mod:`metrics.ingest.due_times`; skipped on a database created before ``tickets.due_source``)."""
    if due_times.has_column(conn):
        due_times.refresh(conn)
    regions = conn.execute(sa.select(schema.regions.c.region_id, schema.regions.c.parent_id,
                                     schema.regions.c.level)).all()
    conn.execute(schema.region_closure.delete())
    rows = closure_rows(regions)
    if rows:
        conn.execute(schema.region_closure.insert(), rows)

    as_of = newest_date(conn)
    conn.execute(schema.calendar_months.delete())
    first = earliest(conn)
    if as_of is not None:
        months = month_rows(first or as_of, as_of)
        conn.execute(schema.calendar_months.insert(), months)

    values = {str(k): str(v) for k, v in meta.items()}
    values["refreshed_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if as_of is not None:
        values["as_of"] = as_of.isoformat()
        values.update(as_of_derivation(conn)[1])
    m = schema.meta
    conn.execute(m.delete().where(m.c.key.in_(list(values) + list(_KEEP_META))))
    conn.execute(m.insert(), [{"key": k, "value": v} for k, v in values.items()])
    schema.bump_data_version(conn)  # the dashboard's caches follow it

def closure_rows(regions: list) -> list[dict]:
    parent = {r.region_id: r.parent_id for r in regions}
    level = {r.region_id: r.level for r in regions}
    rows = []
    for rid in parent:
        node, depth, seen = rid, 0, set()
        while node is not None and node in parent and node not in seen:
            seen.add(node)
            rows.append({"ancestor_id": node, "descendant_id": rid, "ancestor_level": level[node],
                         "depth": depth})
            node, depth = parent[node], depth + 1
    return rows

AS_OF_SOURCE_KEY = "as_of_source"  # sw_meta: how the as-of was derived (shown on the Data page)

def _as_of_columns() -> tuple[sa.Column, ...]:
    t, s, c = schema.tickets, schema.surveys, schema.customers
    return t.c.opened_at, s.c.answered_at, c.c.start_date, c.c.end_date

def newest_date(conn: sa.Connection) -> dt.date | None:
    """Newest plausible date among ticket openings, survey answers and customer start/end dates."""
    return as_of_derivation(conn)[0]

def as_of_derivation(conn: sa.Connection) -> tuple[dt.date | None, dict[str, str]]:
    """The as-of date and how it was derived, as ``sw_meta`` rows: ``as_of_source`` (the column it
    comes from, ``tickets.opened_at``), ``as_of_ignored`` (rows with a later, implausible date that
    were left out) and ``as_of_limit`` (the last plausible day). A single ticket dated 2173 must not
    move every default view into an empty future (:mod:`metrics.model.plausible`)."""
    latest = plausible.latest_event()
    best: tuple[dt.date, str] | None = None
    ignored = 0
    for col in _as_of_columns():
        bound = latest + dt.timedelta(days=1)
        if isinstance(col.type, sa.DateTime):
            bound = dt.datetime.combine(bound, dt.time())
        top = as_date(conn.execute(sa.select(sa.func.max(col)).where(col < bound)).scalar())
        ignored += conn.execute(sa.select(sa.func.count()).where(col >= bound)).scalar() or 0
        if top is not None and (best is None or top > best[0]):
            best = (top, f"{col.table.name}.{col.name}")
    if best is None:
        return None, {}
    return best[0], {AS_OF_SOURCE_KEY: best[1], "as_of_ignored": str(ignored), "as_of_limit": latest.isoformat()}

def earliest(conn: sa.Connection) -> dt.date | None:
    """Oldest plausible date of a ticket or a customer's start (the calendar's first month)."""
    t, c = schema.tickets, schema.customers
    first = plausible.earliest()
    stmts = (sa.select(sa.func.min(t.c.opened_at)).where(t.c.opened_at >= dt.datetime.combine(first, dt.time())),
             sa.select(sa.func.min(c.c.start_date)).where(c.c.start_date >= first))
    dates = [as_date(conn.execute(stmt).scalar()) for stmt in stmts]
    dates = [d for d in dates if d is not None]
    return min(dates) if dates else None

def month_rows(first: dt.date, last: dt.date) -> list[dict]:
    out = []
    m = first.replace(day=1)
    while m <= last:
        nxt = (m + dt.timedelta(days=32)).replace(day=1)
        out.append({"month_start": m, "month_end": nxt})
        m = nxt
    return out

def refresh_rollups(engine: sa.Engine) -> None:
    """Rebuild every rollup table from the committed data (each marks itself built when done)."""
    try:
        from metrics.ingest import rollups  # written separately; optional
    except ImportError:
        return
    refresh = getattr(rollups, "refresh", None)
    if callable(refresh):
        refresh(engine)
    from metrics.churn import tenure_rollup as survival_rollup  # retention curves' tenure rollup; at-risk list
    from metrics.ingest import open_tickets, queue_rollup  # the halls' queues per outlet, day, hour (issue 19)

    survival_rollup.refresh(engine)
    open_tickets.refresh(engine)
    from metrics.ingest import topics  # complaint topics and sentiment per ticket (issue 20), incremental

    topics.refresh(engine)
    queue_rollup.refresh(engine)

_KEEP_META = ("as_of", "as_of_source", "as_of_ignored", "as_of_limit", "refreshed_at")
