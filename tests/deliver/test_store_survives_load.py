"""Subscriptions and deliveries live in their own tables (``schema.delivery_metadata``): on a server
database without ``$SERVICEWATCH_AUDIT_DB`` they sit in the data database, and a full reload of the
data (``replace_all`` drops and recreates the data model) keeps them; a database made before them
gets them on first use."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from metrics.deliver import store
from metrics.deliver.schedule import Schedule
from metrics.ingest.load import replace_all

pytestmark = pytest.mark.postgres


def test_reload_keeps_subscriptions(postgres_url, demo_frames, monkeypatch) -> None:
    monkeypatch.delenv("SERVICEWATCH_AUDIT_DB", raising=False)
    assert store.store_url(postgres_url) == postgres_url
    engine = store.engine_for(postgres_url)  # the demo database predates them: created here
    sid = store.add(engine, owner="prov", recipients=["dj"], webhooks=[], filters="region=4&preset=last_month",
                    section=None, fmt="digest", schedule=Schedule.parse("daily", "08:00"))
    replace_all(postgres_url, demo_frames)
    try:
        assert [s.subscription_id for s in store.all_subscriptions(engine)] == [sid]
    finally:
        store.remove(engine, sid)
    names = set(sa.inspect(engine).get_table_names())
    assert {"subscriptions", "deliveries", "customers"} <= names
