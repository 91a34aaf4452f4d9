"""Subscriptions and deliveries in the database (:data:`metrics.model.schema.subscriptions`,
:data:`metrics.model.schema.deliveries`), kept beside the audit log (:func:`store_url`).

A delivery is one (subscription, recipient, due time): queued once (a unique key), claimed by one
worker at a time with a lease (``UPDATE … WHERE`` the row is queued, or its lease has expired — so
two workers never hold the same delivery), then ``sent`` or, after :data:`MAX_ATTEMPTS` tries with
back-off, ``failed``. A worker killed mid-send leaves a lease that expires; the delivery is taken up
again (at least once: the one window of a repeat is between the SMTP server's acceptance and the
row's update, milliseconds; messages carry a stable Message-ID so a mail system can fold a repeat).
While a worker builds and sends, a heartbeat renews its lease (:func:`renew`), so a pack that takes
longer than the lease is not taken up by a second worker. The leasing itself is
:mod:`metrics.deliver.lease`, shared with alert notices.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import pandas as pd
import sqlalchemy as sa

from metrics.access.audit import audit_url
from metrics.backends.connect import create_tables, make_engine
from metrics.deliver import lease as lease_rows
from metrics.deliver.lease import LEASE, now_utc
from metrics.deliver.schedule import Schedule, last_due
from metrics.model.schema import deliveries, delivery_metadata, subscriptions

KEY = ("delivery_id",)  # a delivery's key column, for the lease (metrics.deliver.lease)


def store_url(data_url: str) -> str:
    """Where subscriptions live: the audit log's database (:func:`metrics.access.audit.audit_url`)."""
    return audit_url(data_url)


@lru_cache(maxsize=8)
def engine_for(url: str) -> sa.Engine:
    """The store's engine, its tables created if missing (a store older than subscriptions)."""
    if sa.make_url(url).get_backend_name() == "sqlite":  # workers in other processes wait, not fail
        engine = sa.create_engine(url, connect_args={"timeout": 30})
    else:
        engine = make_engine(url)
    create_tables(delivery_metadata, engine)  # two workers may start together
    return engine


@dataclass(frozen=True)
class Subscription:
    subscription_id: int
    owner: str
    recipients: tuple[str, ...]
    webhooks: tuple[dict, ...]
    filters: str  # URL query string
    section: str | None
    format: str
    schedule: str
    at_time: str
    time_zone: str
    created_at: datetime
    last_due_at: datetime | None
    enabled: bool

    @property
    def when(self) -> Schedule:
        return Schedule.parse(self.schedule, self.at_time, self.time_zone)

    @classmethod
    def of(cls, row: sa.Row) -> Subscription:
        d = dict(row._mapping)
        return cls(**{**d, "recipients": tuple(json.loads(d["recipients"])),
                      "webhooks": tuple(json.loads(d["webhooks"] or "[]")), "enabled": bool(d["enabled"])})


def add(engine: sa.Engine, *, owner: str, recipients: list[str], webhooks: list[dict], filters: str,
        section: str | None, fmt: str, schedule: Schedule, now: datetime | None = None) -> int:
    """Insert a subscription; its id. Its first occurrence is the first one after ``now``."""
    with engine.begin() as conn:
        result = conn.execute(subscriptions.insert().values(
            owner=owner, recipients=json.dumps(recipients), webhooks=json.dumps(webhooks), filters=filters,
            section=section, format=fmt, schedule=schedule.every, at_time=schedule.at.strftime("%H:%M"),
            time_zone=schedule.zone.key, created_at=now or now_utc(), last_due_at=None, enabled=True))
        return int(result.inserted_primary_key[0])


def all_subscriptions(engine: sa.Engine) -> list[Subscription]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(subscriptions).order_by(subscriptions.c.subscription_id)).fetchall()
    return [Subscription.of(r) for r in rows]


def get(engine: sa.Engine, subscription_id: int) -> Subscription | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(subscriptions).where(
            subscriptions.c.subscription_id == subscription_id)).first()
    return None if row is None else Subscription.of(row)


def remove(engine: sa.Engine, subscription_id: int) -> bool:
    """Delete a subscription and its deliveries not yet sent; whether it existed."""
    with engine.begin() as conn:
        n = conn.execute(subscriptions.delete().where(subscriptions.c.subscription_id == subscription_id)).rowcount
        conn.execute(deliveries.delete().where((deliveries.c.subscription_id == subscription_id)
                                               & deliveries.c.state.in_(("queued", "failed"))))
    return bool(n)


def targets(sub: Subscription) -> list[str]:
    """Who a subscription's deliveries go to: its users, then ``webhook:<n>`` per webhook."""
    return [*sub.recipients, *(f"webhook:{i}" for i in range(len(sub.webhooks)))]


def enqueue_due(engine: sa.Engine, now: datetime | None = None) -> int:
    """Queue one delivery per target for each subscription whose newest occurrence at or before
    ``now`` (naive UTC) is after its ``last_due_at`` (or its creation); missed older occurrences are
    not queued (the newest pack holds their figures). Returns how many deliveries were queued."""
    now = now or now_utc()
    queued = 0
    for sub in all_subscriptions(engine):
        if not sub.enabled:
            continue
        due = last_due(sub.when, now.replace(tzinfo=UTC))
        if due is None:
            continue
        due = due.replace(tzinfo=None)
        if due <= (sub.last_due_at or sub.created_at):
            continue
        with engine.begin() as conn:  # the deliveries and the mark together; a rival's insert wins
            moved = conn.execute(subscriptions.update().where(
                (subscriptions.c.subscription_id == sub.subscription_id)
                & ((subscriptions.c.last_due_at.is_(None)) | (subscriptions.c.last_due_at < due)))
                .values(last_due_at=due)).rowcount
            if not moved:
                continue
            rows = [{"delivery_id": uuid.uuid4().hex, "subscription_id": sub.subscription_id, "recipient": r,
                     "due_at": due, "state": "queued", "attempts": 0, "next_try_at": due} for r in targets(sub)]
            conn.execute(deliveries.insert(), rows)
            queued += len(rows)
    return queued


def claim(engine: sa.Engine, owner: str, now: datetime | None = None, limit: int = 1,
          lease: timedelta = LEASE) -> list[dict]:
    """Lease up to ``limit`` deliveries that are due to ``owner``: each row is taken by one
    ``UPDATE … WHERE`` it is still queued (or its lease expired), so no two workers hold one."""
    return lease_rows.claim(engine, deliveries, KEY, (deliveries.c.due_at, deliveries.c.subscription_id), owner,
                            now, lease, limit)


def renew(engine: sa.Engine, delivery_id: str, owner: str, until: datetime) -> bool:
    """Extend the lease of a delivery ``owner`` holds to ``until`` (naive UTC): the heartbeat of a long
    build or send. False when the row is no longer theirs (the lease ran out and another worker took it)."""
    return lease_rows.renew(engine, deliveries, KEY, {"delivery_id": delivery_id}, owner, until)


def mark_sent(engine: sa.Engine, delivery_id: str, owner: str, now: datetime | None = None) -> bool:
    """Record a sent delivery (only by the lease's holder); whether the row was still held."""
    return lease_rows.mark_sent(engine, deliveries, KEY, {"delivery_id": delivery_id}, owner, now)


def mark_failed(engine: sa.Engine, delivery: dict, owner: str, error: str, retry: bool = True,
                now: datetime | None = None) -> str:
    """Record a failed try: queued again after the back-off, or ``failed`` after the last attempt
    (or at once when ``retry`` is False: nothing a retry could change). Returns the new state."""
    return lease_rows.mark_failed(engine, deliveries, KEY, delivery, owner, error, retry, now)


def table(engine: sa.Engine, states: tuple[str, ...] | None = None, limit: int = 500) -> pd.DataFrame:
    """Deliveries, newest due first: subscription_id, recipient, due_at, state, attempts, last_error,
    sent_at (``states`` to restrict, e.g. ("failed",) for the Admin page)."""
    cols = [deliveries.c[n] for n in ("subscription_id", "recipient", "due_at", "state", "attempts", "next_try_at",
                                      "last_error", "sent_at")]
    stmt = sa.select(*cols).order_by(deliveries.c.due_at.desc(), deliveries.c.recipient).limit(limit)
    if states:
        stmt = stmt.where(deliveries.c.state.in_(states))
    with engine.connect() as conn:
        result = conn.execute(stmt)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
