"""What the database holds and what looks wrong in it.

:func:`table_summary` gives row counts and the date range of every date column; :func:`meta_info`
the load facts of ``sw_meta``; :func:`findings` counts rows failing each data-quality check of
:data:`CHECKS`, and :func:`finding_rows` lists examples. Checks cover the whole database, not the
dashboard filters: they are about the data, not the business. No Streamlit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from metrics.model import schema as s
from metrics.model import ticket_status
from metrics.model.keys import ID_COLUMNS
from metrics.query.warehouse import Warehouse
from metrics.query.where import end_of_day

STALE_OPEN_DAYS = 90


def table_summary(wh: Warehouse) -> pd.DataFrame:
    """One row per table and date column: ``table``, ``rows``, ``column`` (None for tables without
    date columns), ``first``, ``last`` (dates). Data tables first, then derived ones."""
    parts = []
    with wh.engine.connect() as conn:  # tables added since a database was made are not in it (issue 18's)
        absent = set() if wh.dialect == "spark" else {
            t.name for t in (s.visits, s.retention_actions) if not sa.inspect(conn).has_table(t.name)}
    for table in s.DATA_TABLES + s.DERIVED_TABLES:
        if table.name in absent:
            continue
        date_cols = [c for c in table.columns if isinstance(c.type, (sa.Date, sa.DateTime))] or [None]
        for col in date_cols:
            lo = sa.func.min(col) if col is not None else sa.null()
            hi = sa.func.max(col) if col is not None else sa.null()
            parts.append(sa.select(sa.literal(table.name, sa.String).label("table"),
                                   sa.func.count().label("rows"),
                                   sa.literal(col.name if col is not None else None, sa.String).label("column"),
                                   sa.cast(lo, sa.DateTime).label("first"), sa.cast(hi, sa.DateTime).label("last"))
                         .select_from(table))
    df = wh.read(sa.union_all(*parts))
    order = {t.name: i for i, t in enumerate(s.DATA_TABLES + s.DERIVED_TABLES)}
    df["rows"] = pd.to_numeric(df["rows"]).astype(int)
    df["first"], df["last"] = df["first"].map(_day), df["last"].map(_day)
    df["column"] = df["column"].where(df["column"].notna(), None)
    df["_o"] = df["table"].map(order)
    return df.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)


def meta_info(wh: Warehouse) -> dict[str, str]:
    """The key/value facts of the last load (``as_of``, ``refreshed_at``, ``demo_seed`` …)."""
    df = wh.read(sa.select(s.meta.c.key, s.meta.c.value))
    return {str(k): str(v) for k, v in zip(df["key"], df["value"], strict=True)}


# -- checks -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Check:
    """One data-quality rule: ``rows(as_of_end)`` selects the offending rows (key columns first)."""

    id: str
    table: str
    severity: str  # "error": wrong data; "warning": suspicious, worth a look
    rows: Callable[[datetime], sa.Select]


def _missing(child: sa.Column, parent: sa.Column) -> sa.ColumnElement:
    return sa.and_(child.isnot(None), ~sa.exists().where(parent == child))


def _out_of_range(col: sa.Column, lo: int, hi: int) -> sa.ColumnElement:
    return sa.and_(col.isnot(None), sa.or_(col < lo, col > hi))


def _duplicate_tickets(_: datetime) -> sa.Select:
    """Tickets after the first with the same customer, kind, category, channel and opening time."""
    t = s.tickets
    first = (sa.select(sa.func.min(t.c.ticket_id).label("keep"), t.c.customer_id, t.c.kind, t.c.category,
                       t.c.channel, t.c.opened_at)
             .group_by(t.c.customer_id, t.c.kind, t.c.category, t.c.channel, t.c.opened_at)
             .having(sa.func.count() > 1).subquery("dup"))
    on = sa.and_(*[t.c[k] == first.c[k] for k in ("customer_id", "kind", "category", "channel", "opened_at")],
                 t.c.ticket_id != first.c.keep)
    return sa.select(t.c.ticket_id, t.c.customer_id, t.c.opened_at, t.c.kind, t.c.category).select_from(
        t.join(first, on))


_t, _c, _sv, _o, _svc = s.tickets, s.customers, s.surveys, s.outages, s.services

CHECKS: tuple[Check, ...] = (
    Check("tickets_resolved_before_opened", "tickets", "error", lambda _: sa.select(
        _t.c.ticket_id, _t.c.opened_at, _t.c.resolved_at).where(_t.c.resolved_at < _t.c.opened_at)),
    Check("tickets_response_before_opened", "tickets", "error", lambda _: sa.select(
        _t.c.ticket_id, _t.c.opened_at, _t.c.first_response_at).where(_t.c.first_response_at < _t.c.opened_at)),
    Check("tickets_unknown_customer", "tickets", "error", lambda _: sa.select(
        _t.c.ticket_id, _t.c.customer_id).where(_missing(_t.c.customer_id, _c.c.customer_id))),
    Check("surveys_score_out_of_range", "surveys", "error", lambda _: sa.select(
        _sv.c.survey_id, _sv.c.csat, _sv.c.nps, _sv.c.ces).where(sa.or_(
            _out_of_range(_sv.c.csat, 1, 5), _out_of_range(_sv.c.nps, 0, 10), _out_of_range(_sv.c.ces, 1, 7)))),
    Check("surveys_unknown_customer", "surveys", "error", lambda _: sa.select(
        _sv.c.survey_id, _sv.c.customer_id).where(_missing(_sv.c.customer_id, _c.c.customer_id))),
    Check("customers_end_before_start", "customers", "error", lambda _: sa.select(
        _c.c.customer_id, _c.c.start_date, _c.c.end_date).where(_c.c.end_date < _c.c.start_date)),
    Check("customers_unknown_region", "customers", "error", lambda _: sa.select(
        _c.c.customer_id, _c.c.region_id).where(_missing(_c.c.region_id, s.regions.c.region_id))),
    Check("services_unknown_customer", "services", "error", lambda _: sa.select(
        _svc.c.service_id, _svc.c.customer_id).where(_missing(_svc.c.customer_id, _c.c.customer_id))),
    Check("outages_restored_before_started", "outages", "error", lambda _: sa.select(
        _o.c.outage_id, _o.c.started_at, _o.c.restored_at).where(_o.c.restored_at < _o.c.started_at)),
    Check("tickets_open_over_90_days", "tickets", "warning", lambda end: sa.select(
        _t.c.ticket_id, _t.c.opened_at).where(
            ticket_status.still_open(_t, sa.literal(end, sa.DateTime)),
            _t.c.opened_at < sa.literal(end - timedelta(days=STALE_OPEN_DAYS), sa.DateTime))),
    Check("tickets_duplicate_looking", "tickets", "warning", _duplicate_tickets),
    Check("customers_churned_without_reason", "customers", "warning", lambda _: sa.select(
        _c.c.customer_id, _c.c.end_date).where(_c.c.end_date.isnot(None), _c.c.churn_reason.is_(None))),
)
BY_ID = {c.id: c for c in CHECKS}


def _as_of_end(wh: Warehouse) -> datetime:
    try:
        return end_of_day(wh.as_of())
    except Exception:  # noqa: BLE001 - an empty database: every time-based check finds nothing
        return end_of_day(date.today())


def findings(wh: Warehouse) -> pd.DataFrame:
    """Every check with the number of rows failing it: ``check``, ``table``, ``severity``, ``n``.

    Errors first, then warnings; within each, the largest counts first.
    """
    end = _as_of_end(wh)
    parts = [sa.select(sa.literal(chk.id, sa.String).label("check"), sa.func.count().label("n"))
             .select_from(chk.rows(end).subquery()) for chk in CHECKS]
    got = wh.read(sa.union_all(*parts))
    counts = dict(zip(got["check"], pd.to_numeric(got["n"]).astype(int), strict=True))
    df = pd.DataFrame([{"check": chk.id, "table": chk.table, "severity": chk.severity, "n": counts.get(chk.id, 0)}
                       for chk in CHECKS])
    df["_sev"] = df["severity"].map({"error": 0, "warning": 1})
    return df.sort_values(["_sev", "n"], ascending=[True, False]).drop(columns="_sev").reset_index(drop=True)


def finding_rows(wh: Warehouse, check_id: str, limit: int = 200) -> pd.DataFrame:
    """Up to ``limit`` rows failing one check (its key and the columns that show the problem); ids
    as the source's keys (text)."""
    stmt = BY_ID[check_id].rows(_as_of_end(wh)).limit(limit)
    columns = stmt.selected_columns.keys()
    return wh.read(stmt, keys={c: e for c, e in ID_COLUMNS.items() if c in columns})


def _day(value: object) -> date | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()
