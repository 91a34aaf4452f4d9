"""The Complaints page's Voice-of-customer section in AppTest (issue 20): the top three complaint types as the
engine counts them, checked against a pandas count from the raw tickets; quotes masked for a manager;
no quote (and no call for one) for a viewer; nothing unmasked anywhere on the page."""

from __future__ import annotations

import re
import time

import pandas as pd
import pytest
import sqlalchemy as sa
from page_helpers import default_filters, open_page, plain, show_section

from metrics.access import scope as access_scope
from metrics.access import users as access
from metrics.access.users import User
from metrics.analysis import topics as tp
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse

PAGE = "pages/2_Complaints.py"
PASSWORD = "voc-test-password-1"
UNMASKED = re.compile(r"\d{7,}|@[A-Za-z]|我叫[\u4e00-\u9fff]|身份证号?\d|My name is [A-Z]")

pytestmark = pytest.mark.usefixtures("demo_db")


def _texts(at) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "subheader", "text"):
        parts += [str(e.value) for e in getattr(at, kind)]
    for df in at.dataframe:
        parts += df.value.astype(str).to_numpy().ravel().tolist()
    return "\n".join(parts)


def test_top_three_and_masked_quotes(wh: Warehouse) -> None:
    at = show_section(open_page(PAGE, {"lang": "zh"}), "voc")
    f = default_filters(wh).with_(kinds=("complaint",))
    assert t("topics.title", "zh") in [s.value for s in at.subheader]
    # the three lines against pandas on the raw rows (tickets of the period with a tag, per topic)
    tk = wh.read(sa.select(sa.text("t.ticket_id, t.opened_at, t.kind, tt.topic"))
                 .select_from(sa.text("tickets t JOIN ticket_topics tt ON tt.ticket_id = t.ticket_id")))
    tk["opened_at"] = pd.to_datetime(tk["opened_at"])
    sel = tk[(tk["kind"] == "complaint") & (tk["opened_at"].dt.date >= f.start) & (tk["opened_at"].dt.date <= f.end)]
    counts = sel["topic"].value_counts()
    names = tp.topic_names(wh, "zh")
    shown = "\n".join(m.value for m in at.markdown)
    for rank, (topic, n) in enumerate(counts.head(3).items(), start=1):
        assert f"第 {rank} 位：{names[topic]}，{n} 条" in shown, (rank, topic, n)
    # quotes: the operator (no sign-in) sees them, masked
    tables = [d.value for d in at.dataframe if t("page.tables.quote", "zh") in d.value.columns]
    assert tables and len(tables[0]) > 0
    assert not UNMASKED.search(_texts(at)), UNMASKED.search(_texts(at))


def test_viewer_gets_no_quotes(wh: Warehouse, tmp_path, monkeypatch) -> None:
    users = tmp_path / "users.json"
    viewer = User("voc_viewer", "viewer")
    access.add_user(viewer, PASSWORD, users)
    monkeypatch.setenv(access.USERS_ENV, str(users))
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    at = show_section(open_page(PAGE, {"lang": "en"}, {"sw_user": viewer, "_sw_seen": time.time()}), "voc")
    assert t("topics.title", "en") in [s.value for s in at.subheader]
    assert not [d for d in at.dataframe if t("page.tables.quote", "en") in d.value.columns]
    assert any(t("topics.reason.viewer", "en") in plain(c.value) for c in at.caption)
    # and the engine refuses a viewer's scope too, whatever a caller asks
    scope = access_scope.scope_for(viewer, key_ids=wh.key_ids)
    with pytest.raises(access.ScopeError):
        tp.quotes(wh, default_filters(wh).with_(scope=scope), "billing", 5)


def test_a_link_reopens_the_same_voc_view(wh: Warehouse) -> None:
    """The section's choices live in the link (voc_dim, voc_topic): a link names tier and tariff, the page
    reopens on the table by tier and the tariff quotes, the engine's; the choices are written back to the URL."""
    at = open_page(PAGE, {"lang": "en", "section": "voc", "voc_dim": "tier", "voc_topic": "tariff"})
    assert not at.exception, [e.value for e in at.exception]
    f = default_filters(wh).with_(kinds=("complaint",))
    tier = t("page.complaints.dim.tier", "en")
    assert any(t("topics.by_title", "en", dim=tier) in m.value for m in at.markdown)
    by = [d.value for d in at.dataframe if tier in d.value.columns]
    engine = tp.top_types(wh, f, 3, "tier")
    assert by and len(by[0]) == len(engine) and by[0][t("page.tables.texts", "en")].tolist() == engine["n"].tolist()
    quotes = [d.value for d in at.dataframe if t("page.tables.quote", "en") in d.value.columns]
    expected = tp.quotes(wh, f, "tariff", 5)
    assert quotes and quotes[0][t("page.tables.quote", "en")].tolist() == expected["quote"].tolist()
    assert at.query_params["voc_dim"] in ("tier", ["tier"]) and at.query_params["voc_topic"] in ("tariff", ["tariff"])


def test_viewer_sees_no_small_group(wh: Warehouse, tmp_path, monkeypatch) -> None:
    """A viewer whose minimum group is above every topic's customers: no count of texts on the page (the
    top three and the table by group withheld, said in one line each), nothing fails."""
    users = tmp_path / "users.json"
    viewer = User("voc_viewer2", "viewer")
    access.add_user(viewer, PASSWORD, users)
    monkeypatch.setenv(access.USERS_ENV, str(users))
    monkeypatch.setenv(access_scope.MIN_GROUP_ENV, "1000000")
    monkeypatch.setenv("SERVICEWATCH_AUDIT_DB", f"sqlite:///{tmp_path / 'audit.sqlite'}")
    monkeypatch.delenv("SERVICEWATCH_AUTH", raising=False)
    at = show_section(open_page(PAGE, {"lang": "en"}, {"sw_user": viewer, "_sw_seen": time.time()}), "voc")
    assert not at.exception
    f = default_filters(wh).with_(kinds=("complaint",))
    top = tp.top_types(wh, f, 3)  # the operator's
    shown = "\n".join(m.value for m in at.markdown)
    assert not any(f"{int(n)} texts" in shown for n in top["n"])
    captions = [plain(c.value) for c in at.caption]
    assert any(c.startswith("3 topic groups with fewer than 1000000 customers") for c in captions), captions
    by = [d.value for d in at.dataframe if t("page.tables.texts", "en") in d.value.columns]
    assert by and by[0][t("page.tables.texts", "en")].isna().all()
