"""A hall manager (营业厅主任, issue 19) on every page of the app (AppTest, the session's demo): no page
fails for a scope of outlets — the customer-level figures they may not see are empty, not errors — and
the sidebar offers only their outlet.

Asserted on every page and each of its sections (review M6): no KPI card of a customer-based metric
(complaints over customer-months, churn, customers, availability, revenue: what a hall manager's scope
fails closed on) shows a number; no table or CSV download lists a customer who has no ticket or survey
at their outlet, nor a ticket of another outlet."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from page_helpers import open_page, other_sections, show_section, write_users

from metrics import alert_rules as rule_store
from metrics.access.users import User
from metrics.model import schema as s
from metrics.model.i18n import metric_label, t
from metrics.model.registry import METRICS
from metrics.query.warehouse import Warehouse

PAGES = [
    "app.py",
    *sorted(
        f"pages/{p.name}"
        for p in (Path(__file__).parents[2] / "pages").glob("*.py")
        if p.name not in ("6_Data.py", "7_Admin.py")
    ),
]
CUSTOMER_METRICS = [m.id for m in METRICS if not rule_store.outlet_figures(m.id)]


@pytest.fixture(scope="module")
def hall(fitted_duckdb_url: str) -> tuple[int, str]:
    wh = Warehouse.open(fitted_duckdb_url)
    row = wh.read(sa.select(s.outlets.c.outlet_id, s.outlets.c.name).order_by(s.outlets.c.outlet_id).limit(1))
    return int(row.iloc[0, 0]), str(row.iloc[0, 1])


@pytest.fixture(scope="module")
def theirs(fitted_duckdb_url: str, hall) -> tuple[set[int], set[int]]:
    """The customers with a ticket or a survey at the hall, and the hall's tickets (ids)."""
    oid, _ = hall
    wh = Warehouse.open(fitted_duckdb_url)
    tk, sv = s.tickets, s.surveys
    tickets = wh.read(sa.select(tk.c.ticket_id, tk.c.customer_id).where(tk.c.outlet_id == oid))
    surveys = wh.read(sa.select(sv.c.customer_id).where(sv.c.outlet_id == oid))
    customers = set(tickets["customer_id"].dropna().astype(int)) | set(surveys["customer_id"].dropna().astype(int))
    return customers, set(tickets["ticket_id"].astype(int))


def _frames(at, downloads) -> list[pd.DataFrame]:
    frames = [d.value for d in at.dataframe] + [tb.value for tb in at.table]
    return frames + [pd.read_csv(io.BytesIO(b if isinstance(b, bytes) else b.encode())) for _, b in downloads]


def _check(at, downloads, page: str, customers: set[int], tickets: set[int]) -> None:
    labels = {metric_label(m, "zh") for m in CUSTOMER_METRICS}
    cards = [
        (m.label, str(m.value))
        for m in at.metric  # a card's label may carry its unit: 投诉率 (件/千户·月)
        if any(m.label == x or m.label.startswith(f"{x} (") for x in labels)
    ]
    shown = [(label, v) for label, v in cards if re.search(r"\d", v)]
    assert not shown, f"a hall manager sees customer figures on {page}: {shown}"
    id_cols = {"customer_id", t("page.complaints.col.customer_id", "zh")}
    ticket_cols = {"ticket_id", t("page.complaints.col.ticket_id", "zh")}
    for df in _frames(at, downloads):
        for col in df.columns:
            ids = set(pd.to_numeric(df[col], errors="coerce").dropna().astype(int))
            if str(col) in id_cols:
                assert ids <= customers, f"customers of other outlets on {page}: {sorted(ids - customers)[:5]}"
            if str(col) in ticket_cols:
                assert ids <= tickets, f"tickets of other outlets on {page}: {sorted(ids - tickets)[:5]}"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_for_a_hall_manager(
    page: str, fitted_duckdb_url: str, hall, theirs, tmp_path, monkeypatch, downloads
) -> None:
    oid, name = hall
    user = User("hall1", "hall_manager", outlets=(str(oid),))
    write_users(tmp_path / "users.json", monkeypatch, [user])
    monkeypatch.setenv("SERVICEWATCH_DB", fitted_duckdb_url)
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    monkeypatch.setenv(rule_store.ALERTS_ENV, f"sqlite:///{tmp_path / 'alerts.sqlite'}")
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    at = open_page(page, {"lang": "zh"}, {"sw_user": user, "_sw_seen": time.time()})
    assert not at.exception, [e.value for e in at.exception]
    [widget] = [m for m in at.sidebar.multiselect if m.label == t("filter.outlet", "zh")]
    assert list(widget.options) == [name]
    _check(at, downloads, page, *theirs)
    for section in other_sections(at):
        downloads.clear()
        show_section(at, section)
        _check(at, downloads, f"{page} ({section})", *theirs)
