"""A subscription made on a page sends that page's part of the pack (issue 16 item 3, "subscribe to
this view"): the title, the KPI table and the page's sections (metrics.report.build.PAGE_SECTIONS); a
subscription from the Overview (or with no page) the whole pack. Through the command line and a real
SMTP server, the PDF read back."""

from __future__ import annotations

import pytest

from metrics.model.filters import Filters, preset_period
from metrics.model.i18n import t
from metrics.query.warehouse import Warehouse
from metrics.report import build_pack, sections_for
from metrics.report.build import PAGE_SECTIONS, SECTIONS

from .test_delivery import ADDED_AT, SEND_AT, _pdf_text

pytestmark = pytest.mark.filterwarnings("ignore:The kopts argument is ignored")


def test_sections_of_a_view() -> None:
    assert sections_for("sla.compliance") == sections_for("sla") == PAGE_SECTIONS["sla"]
    assert sections_for("overview") is None and sections_for(None) is None and sections_for("regions") is None
    known = {k for k, _ in SECTIONS}
    assert all(set(v) <= known for v in PAGE_SECTIONS.values())
    with pytest.raises(ValueError, match="unknown pack section"):
        build_pack(None, None, sections=("nope",))  # refused before anything is queried


def test_a_pack_for_the_sla_page_holds_its_sections_only(duckdb_url: str) -> None:
    wh = Warehouse.open(duckdb_url)
    start, end = preset_period("last_quarter", wh.as_of())
    pack = build_pack(wh, Filters(start, end), "zh", render=lambda fig: b"png", sections=sections_for("sla"))
    titles = [p.title for p in pack.pages]
    for key in ("report.kpi.title", "page.sla.title", "forecast.title"):
        assert any(x.startswith(t(key, "zh")) for x in titles), (key, titles)
    assert not {t("outlets_pack.title", "zh"), t("page.satisfaction.title", "zh")} & set(titles), titles
    assert len(titles) < len(build_pack(wh, Filters(start, end), "zh", render=lambda fig: b"png").pages)


def test_a_subscription_from_the_sla_page_sends_the_sla_pack(env, sw, mailbox, tmp_path) -> None:
    for section in ("sla.compliance", None):
        extra = ["--section", section] if section else []
        code, _, err = sw("subscription", "add", "--to", "dj", "--every", "monthly:1", "--at", "08:00", "--format",
                          "pdf", "--region", "1", "--as-user", "prov", "--now", ADDED_AT, *extra)
        assert code == 0, err
    code, out, err = sw("subscription", "send", "--due", "--now", SEND_AT)
    assert code == 0, err
    assert out.strip().startswith("2 sent"), out
    pages = sorted(_pdf_text(part.get_content(), tmp_path, f"p{k}")[0]
                   for k, msg in enumerate(mailbox.to("dj@example.com")) for part in msg.iter_attachments())
    assert len(pages) == 2 and pages[0] < pages[1]  # the SLA page's pack is the shorter one
