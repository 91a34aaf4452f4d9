"""A hall manager (营业厅主任, issue 19) on every page of the app (AppTest, the session's demo): no page
fails for a scope of outlets — the customer-level figures they may not see are empty, not errors — and
the sidebar offers only their outlet."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from page_helpers import open_page, write_users

from metrics.access.users import User
from metrics.model import schema as s
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse

PAGES = ["app.py", *sorted(f"pages/{p.name}" for p in (Path(__file__).parents[2] / "pages").glob("*.py")
                           if p.name not in ("6_Data.py", "7_Admin.py"))]


@pytest.fixture(scope="module")
def hall(fitted_duckdb_url: str) -> tuple[int, str]:
    wh = Warehouse.open(fitted_duckdb_url)
    row = wh.read(sa.select(s.outlets.c.outlet_id, s.outlets.c.name).order_by(s.outlets.c.outlet_id).limit(1))
    return int(row.iloc[0, 0]), str(row.iloc[0, 1])


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_for_a_hall_manager(page: str, fitted_duckdb_url: str, hall, tmp_path, monkeypatch) -> None:
    oid, name = hall
    user = User("hall1", "hall_manager", outlets=(str(oid),))
    write_users(tmp_path / "users.json", monkeypatch, [user])
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    at = open_page(page, {"lang": "zh"}, {"sw_user": user, "_sw_seen": time.time()})
    assert not at.exception, [e.value for e in at.exception]
    [widget] = [m for m in at.sidebar.multiselect if m.label == t("filter.outlet", "zh")]
    assert list(widget.options) == [name]
