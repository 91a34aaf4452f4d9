"""The audit trail: who signed in, exported, downloaded, imported or built a report, and with what.

Rows go to the ``audit_log`` table (:data:`metrics.model.schema.audit_log`). Where: ``$SERVICEWATCH_AUDIT_DB``
if set; for a DuckDB data file, an SQLite file beside it (the dashboard holds the DuckDB file
read-only); otherwise the data database itself. ``detail`` is JSON (filters as their query string,
row counts, file names), never a password.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import UTC, datetime
from functools import lru_cache

import pandas as pd
import sqlalchemy as sa

from metrics.backends.connect import make_engine, side_store_url
from metrics.model.schema import audit_log

ACTIONS = ("sign_in", "sign_in_failed", "sign_out", "export", "download", "import", "report", "alert_ack", "deliver",
           "alert_rule", "action",  # action: a retention action assigned or closed (metrics.churn.actions_store)
           "subscription")  # subscription: one added (CLI or a page's popover) or removed (metrics.deliver.subscribe)
AUDIT_ENV = "SERVICEWATCH_AUDIT_DB"
log = logging.getLogger(__name__)


def audit_url(data_url: str) -> str:
    """``$SERVICEWATCH_AUDIT_DB``, else :func:`metrics.backends.connect.side_store_url` (an SQLite file
    beside a DuckDB file or, for Spark, in the state folder), else the data database."""
    if os.environ.get(AUDIT_ENV):
        return os.environ[AUDIT_ENV]
    return side_store_url(data_url, "audit") or data_url


@lru_cache(maxsize=8)
def _engine(url: str) -> sa.Engine:
    engine = make_engine(url)
    audit_log.create(engine, checkfirst=True)
    return engine


def filters_detail(f) -> dict:
    """The filters of a request as audit detail (the URL query string form, plus the scope)."""
    d: dict = dict(f.to_query())
    if f.scope is not None:
        d["scope_user"] = f.scope.user
    return d


def import_detail(result) -> dict:
    """An :class:`metrics.ingest.importer.ImportResult` as audit detail: table, file, row counts."""
    return {"table": result.table, "file": result.file, "dry_run": result.dry_run, "import_id": result.import_id,
            "rows_read": result.rows_read, "rows_loaded": result.rows_loaded, "rows_rejected": result.rows_rejected,
            "inserted": result.inserted, "updated": result.updated}


def cli_user(as_user: str | None) -> str:
    """Who a CLI call is recorded as: the ``--as-user`` name, else ``os:<login>`` (the operator)."""
    if as_user:
        return as_user
    import getpass

    try:
        return f"os:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no login name (containers): still recorded
        return "os:?"


def record(data_url: str, user: str, action: str, detail: dict | None = None) -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    row = {"audit_id": uuid.uuid4().hex, "at": datetime.now(UTC).replace(tzinfo=None), "user": user[:80],
           "action": action, "detail": json.dumps(detail or {}, ensure_ascii=False, default=str)}
    with _engine(audit_url(data_url)).begin() as conn:
        conn.execute(audit_log.insert(), [row])


def record_safely(data_url: str, user: str, action: str, detail: dict | None = None) -> None:
    """:func:`record`, logging (not raising) a failure: a broken audit store must not lock users out
    of signing in; the failure is in the server log."""
    try:
        record(data_url, user, action, detail)
    except Exception as exc:  # noqa: BLE001
        log.error("audit record failed (%s %s): %s", user, action, type(exc).__name__)


def read(data_url: str, limit: int = 1000) -> pd.DataFrame:
    """The newest ``limit`` audit rows: at, user, action, detail."""
    stmt = sa.select(audit_log.c.at, audit_log.c.user, audit_log.c.action, audit_log.c.detail)
    with _engine(audit_url(data_url)).connect() as conn:
        result = conn.execute(stmt.order_by(audit_log.c.at.desc()).limit(limit))
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
