"""Leasing a row of a send queue, shared by subscription deliveries (:mod:`metrics.deliver.store`) and
alert notices (:mod:`metrics.deliver.alert_notify`).

A queue row has ``state`` (queued, sending, sent, failed), ``attempts``, ``next_try_at``,
``lease_owner``, ``lease_until``, ``last_error`` and ``sent_at``, and is named by its key columns. A
worker claims a row with one ``UPDATE … WHERE`` it is still free (queued, or its lease has expired), so
no two workers hold the same row; only the lease's holder marks it sent or failed. A failed try is
queued again after a back-off (:data:`BACKOFF`), or ``failed`` after :data:`MAX_ATTEMPTS` tries or at
once when no retry can help.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from metrics.model.i18n import t

MAX_ATTEMPTS = 5
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
LEASE = timedelta(minutes=15)  # longer than building and sending one pack


@dataclass
class PassOutcome:
    """What one pass over a send queue did: rows queued, sent, queued again to retry, failed for good.
    ``lang``: the language of the notes added to the failure lines (catalogue ``deliver.lease``);
    English by default, as the lines themselves (the error's own text) and the CLI's log lines are."""

    queued: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    lines: list[str] = field(default_factory=list)  # one line per failure, no secret
    lang: str = "en"

    def count_failure(self, state: str, line: str) -> None:
        """Count a failed try by the state :func:`mark_failed` left it in, with its line (a note, catalogue
        ``deliver.lease``, when it is queued again); a try whose lease was lost is not counted, only said."""
        self.retrying += state == "queued"
        self.failed += state == "failed"
        note = None if state == "failed" else "deliver.lease.lost" if state == "lost" else "deliver.lease.retry"
        self.lines.append(line if note is None else t(note, self.lang, line=line))


def now_utc() -> datetime:
    """Now as naive UTC, as the queues store times."""
    return datetime.now(UTC).replace(tzinfo=None)


def free(table: sa.Table, now: datetime) -> sa.ColumnElement[bool]:
    """Rows free to claim at ``now``: queued, or their lease expired."""
    return (table.c.state == "queued") | ((table.c.state == "sending") & (table.c.lease_until < now))


def due(table: sa.Table, now: datetime) -> sa.ColumnElement[bool]:
    """Rows free to claim at ``now`` whose next try has come."""
    return free(table, now) & (table.c.next_try_at <= now)


def row_is(table: sa.Table, key: Sequence[str], row: Mapping[str, object]) -> sa.ColumnElement[bool]:
    """The condition naming ``row`` by its ``key`` columns."""
    return sa.and_(*(table.c[k] == row[k] for k in key))


def held_by(table: sa.Table, key: Sequence[str], row: Mapping[str, object], owner: str) -> sa.ColumnElement[bool]:
    """``row`` while ``owner`` still holds its lease."""
    return row_is(table, key, row) & (table.c.lease_owner == owner[:80]) & (table.c.state == "sending")


def claim(engine: sa.Engine, table: sa.Table, key: Sequence[str], order_by: Sequence[sa.ColumnElement],
          owner: str, now: datetime | None = None, lease: timedelta = LEASE, limit: int = 1,
          candidates: int | None = None) -> list[dict]:
    """Lease up to ``limit`` due rows (of the first ``candidates`` in ``order_by``, default ``limit``) to
    ``owner`` until ``now`` + ``lease``, each taken by one ``UPDATE … WHERE`` it is still free; the rows
    won, as dicts (``attempts`` counted up)."""
    now = now or now_utc()
    with engine.connect() as conn:
        keys = conn.execute(sa.select(*(table.c[k] for k in key)).where(due(table, now)).order_by(*order_by)
                            .limit(candidates or limit)).fetchall()
    won: list[dict] = []
    for k in keys:
        if len(won) == limit:
            break
        row = dict(k._mapping)
        with engine.begin() as conn:
            taken = conn.execute(table.update().where(row_is(table, key, row) & free(table, now)).values(
                state="sending", lease_owner=owner[:80], lease_until=now + lease,
                attempts=table.c.attempts + 1)).rowcount
            if taken == 1:
                won.append(dict(conn.execute(sa.select(table).where(row_is(table, key, row))).one()._mapping))
    return won


def renew(engine: sa.Engine, table: sa.Table, key: Sequence[str], row: Mapping[str, object], owner: str,
          until: datetime) -> bool:
    """Extend the lease ``owner`` holds on ``row`` to ``until`` (naive UTC); False when it is no longer theirs."""
    with engine.begin() as conn:
        return conn.execute(table.update().where(held_by(table, key, row, owner))
                            .values(lease_until=until)).rowcount == 1


def mark_sent(engine: sa.Engine, table: sa.Table, key: Sequence[str], row: Mapping[str, object], owner: str,
              now: datetime | None = None) -> bool:
    """Record ``row`` sent (only by the lease's holder); whether the row was still held."""
    with engine.begin() as conn:
        return conn.execute(table.update().where(held_by(table, key, row, owner)).values(
            state="sent", sent_at=now or now_utc(), lease_until=None, last_error=None)).rowcount == 1


def mark_failed(engine: sa.Engine, table: sa.Table, key: Sequence[str], row: Mapping[str, object], owner: str,
                error: str, retry: bool = True, now: datetime | None = None) -> str:
    """Record a failed try of ``row`` (its ``attempts`` as claimed): queued again after the back-off, or
    ``failed`` after the last attempt (or at once when ``retry`` is False), only by the lease's holder.
    Returns the new state, or ``lost`` when ``owner`` no longer held the row (its lease ran out and
    another worker claimed it: that worker's try decides the row's state, nothing is written)."""
    now = now or now_utc()
    attempts = int(row["attempts"])
    state = "queued" if retry and attempts < MAX_ATTEMPTS else "failed"
    wait = BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]
    with engine.begin() as conn:
        written = conn.execute(table.update().where(held_by(table, key, row, owner))
                               .values(state=state, last_error=error[:400], lease_until=None,
                                       next_try_at=now + wait)).rowcount
    return state if written == 1 else "lost"
